//! The request log: one [`LoggedRequest`] per request the fake answered,
//! REST or GraphQL, served or faulted.

use super::util;

#[cfg(doc)]
use super::FakeGitHub;

/// One request the fake answered, as [`FakeGitHub::requests`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// The HTTP method, upper case (`"GET"`).
    pub method: String,
    /// The path as sent (percent-encoded), without the `/api/v3` prefix
    /// (`/api/graphql` is logged as `/graphql`).
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// The status the fake answered with; 0 when it cut the connection
    /// ([`Fault::reset`](super::Fault::reset)).
    pub status: u16,
    /// The request body, if any (lossy UTF-8).
    pub body: Option<String>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// Whether the request came in under the GHES prefix.
    pub ghes_prefix: bool,
    /// The `If-None-Match` header of a conditional request, if any.
    pub if_none_match: Option<String>,
    /// What a GraphQL request carried (`None` for REST requests and for
    /// bodies that are not a parsable GraphQL request).
    pub graphql: Option<GraphqlCall>,
}

impl LoggedRequest {
    /// [`path`](Self::path) with percent-escapes decoded (`/labels/🎪%20x`
    /// becomes `/labels/🎪 x`); the raw path when it does not decode.
    pub fn decoded_path(&self) -> String {
        util::percent_decode(&self.path, false).unwrap_or_else(|| self.path.clone())
    }

    /// Whether the fake answered `304 Not Modified` (a conditional request
    /// that matched; it cost no rate-limit budget).
    pub fn not_modified(&self) -> bool {
        self.status == 304
    }

    /// Whether this was a GraphQL request carrying a mutation.
    pub fn is_mutation(&self) -> bool {
        self.graphql
            .as_ref()
            .is_some_and(|call| call.operation == GraphqlOperation::Mutation)
    }
}

/// The kind of a GraphQL operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GraphqlOperation {
    /// `query` (or the `{ ... }` shorthand).
    Query,
    /// `mutation`.
    Mutation,
    /// `subscription` (refused, as on GitHub).
    Subscription,
}

/// What one GraphQL request carried, as [`LoggedRequest::graphql`] records
/// it: the operation that was chosen (by `operationName`, or the only one)
/// and its top-level fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphqlCall {
    /// Query, mutation or subscription.
    pub operation: GraphqlOperation,
    /// The operation's name, if it has one.
    pub name: Option<String>,
    /// The top-level fields by name (not alias), in document order: for a
    /// label transition `["removeLabelsFromLabelable",
    /// "addLabelsToLabelable"]`, for a label query `["repository"]`.
    pub fields: Vec<String>,
}

impl GraphqlCall {
    /// Whether the operation selects top-level field `field`.
    pub fn selects(&self, field: &str) -> bool {
        self.fields.iter().any(|selected| selected == field)
    }
}
