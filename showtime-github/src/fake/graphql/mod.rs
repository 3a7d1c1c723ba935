//! GraphQL at `POST /graphql` (and `/api/graphql`): the request envelope
//! (`query`, `variables`, `operationName`), the answer (`data` and
//! `errors`, always with status 200 as on GitHub) and the description of a
//! request for the log.
//!
//! The work is done in three steps, each its own module: [`parse`] (over
//! the tokens of [`lex`]) turns the text into a document, [`validate`] checks it against the
//! [`schema`] and coerces variables (a document with errors runs nothing),
//! and [`exec`] runs it against the state.

mod exec;
mod lex;
mod parse;
mod schema;
mod validate;

use serde_json::{Map, Value, json};

use super::log::{GraphqlCall, GraphqlOperation};
use super::state::State;
use parse::{OperationKind, Pos, Selection};

/// One entry of a GraphQL `errors` array.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GqlError {
    pub(crate) message: String,
    pub(crate) pos: Option<Pos>,
    /// Response keys (and list indices) from the root to the field.
    pub(crate) path: Vec<Value>,
    /// GitHub's `type` (`NOT_FOUND`, `UNPROCESSABLE`).
    pub(crate) kind: Option<&'static str>,
    pub(crate) extensions: Option<Value>,
}

impl GqlError {
    pub(crate) fn new(message: impl Into<String>, pos: Option<Pos>) -> Self {
        Self {
            message: message.into(),
            pos,
            path: Vec::new(),
            kind: None,
            extensions: None,
        }
    }

    fn to_json(&self) -> Value {
        let mut error = Map::new();
        if let Some(kind) = self.kind {
            error.insert("type".into(), Value::from(kind));
        }
        if !self.path.is_empty() {
            error.insert("path".into(), Value::Array(self.path.clone()));
        }
        if let Some(extensions) = &self.extensions {
            error.insert("extensions".into(), extensions.clone());
        }
        if let Some(pos) = self.pos {
            error.insert(
                "locations".into(),
                json!([{ "line": pos.line, "column": pos.column }]),
            );
        }
        error.insert("message".into(), Value::from(self.message.clone()));
        Value::Object(error)
    }
}

fn errors_only(errors: &[GqlError]) -> Value {
    json!({ "errors": errors.iter().map(GqlError::to_json).collect::<Vec<_>>() })
}

/// The operation name of a request, if it gives a non-empty one.
fn operation_name(request: &Value) -> Option<&str> {
    request
        .get("operationName")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
}

/// Answers a GraphQL request body; `None` when it is not JSON (GitHub's
/// 400 "Problems parsing JSON").
pub(super) fn answer(state: &mut State, body: &[u8]) -> Option<Value> {
    let request: Value = serde_json::from_slice(body).ok()?;
    let Some(query) = request.get("query").and_then(Value::as_str) else {
        return Some(errors_only(&[GqlError::new(
            "A query attribute must be specified and must be a string.",
            None,
        )]));
    };
    let variables = match request.get("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(variables)) => variables.clone(),
        Some(_) => {
            return Some(errors_only(&[GqlError::new(
                "Variables must be a JSON object.",
                None,
            )]));
        }
    };
    let document = match parse::parse(query) {
        Ok(document) => document,
        Err(error) => {
            return Some(errors_only(&[GqlError::new(
                error.message,
                Some(error.pos),
            )]));
        }
    };
    let refused = |field: &str| state.refuses_mutation(field);
    let prepared =
        match validate::prepare(&document, operation_name(&request), &variables, &refused) {
            Ok(prepared) => prepared,
            Err(errors) => return Some(errors_only(&errors)),
        };
    let (data, errors) = exec::execute(state, &prepared);
    let mut response = json!({ "data": data });
    if let (false, Some(object)) = (errors.is_empty(), response.as_object_mut()) {
        object.insert(
            "errors".into(),
            errors.iter().map(GqlError::to_json).collect(),
        );
    }
    Some(response)
}

/// What a GraphQL request body carries, for the log: the operation chosen
/// and its top-level field names. `None` when the body is not a parsable
/// request.
pub(super) fn describe(body: &[u8]) -> Option<GraphqlCall> {
    let request: Value = serde_json::from_slice(body).ok()?;
    let document = parse::parse(request.get("query")?.as_str()?).ok()?;
    let operation = validate::select(&document, operation_name(&request)).ok()?;
    let mut fields = Vec::new();
    top_level(&operation.selection, &mut fields);
    Some(GraphqlCall {
        operation: match operation.kind {
            OperationKind::Query => GraphqlOperation::Query,
            OperationKind::Mutation => GraphqlOperation::Mutation,
            OperationKind::Subscription => GraphqlOperation::Subscription,
        },
        name: operation.name.clone(),
        fields,
    })
}

fn top_level(selection: &[Selection], into: &mut Vec<String>) {
    for item in selection {
        match item {
            Selection::Field(field) => into.push(field.name.clone()),
            Selection::Fragment { selection, .. } => top_level(selection, into),
        }
    }
}
