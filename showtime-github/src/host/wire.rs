//! GitHub's answers as the adapter reads them: one function per kind of
//! answer, from the body's text to Showtime's types. Each is the decoding
//! and conversion the host runs on that answer (the `Wire*` models keep only
//! the fields used, and each becomes a `showtime_core` type here, in one
//! place), public so that it can be tested and fuzzed on any input: it never
//! panics, and a body it cannot read is a [`WireError`] that says what was
//! wrong. It must not send requests or decide anything: it only translates.
//!
//! ```
//! let body = r#"{"number": 7, "state": "open", "node_id": "PR_7",
//!     "head": {"sha": "0123456789abcdef0123456789abcdef01234567"},
//!     "user": {"login": "octocat"}, "labels": [{"name": "bug", "node_id": "LA_1"}]}"#;
//! let read = showtime_github::wire::pull(body).unwrap();
//! assert_eq!(read.value.number.get(), 7);
//! assert_eq!(read.ids.labels, [("bug".to_owned(), "LA_1".to_owned())]);
//! assert!(showtime_github::wire::pull("{}").is_err());
//! ```

use serde::Deserialize;
use serde::de::DeserializeOwned;
use showtime_core::ports::{Permission, PrState, PullRequest};
use showtime_core::{Login, PrNumber};

use super::deployments::Deployment;
pub use super::graphql::{
    FoundLabel, GraphqlAnswer, GraphqlError, LABELS_PER_QUERY, LabelLookup, graphql, label_lookup,
};

/// The most characters of an unreadable value an error quotes.
const QUOTED_MAX: usize = 80;

/// The most characters of serde_json's reason an error keeps.
const REASON_MAX: usize = 200;

/// Why an answer could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The body is not the JSON GitHub's API documents for this answer.
    #[error("GitHub's answer is not what its API documents for {answer}: {reason}")]
    Shape {
        /// The kind of answer expected (`a pull request`, …).
        answer: &'static str,
        /// What serde_json found wrong, with its line and column, cut to a
        /// few hundred characters (serde quotes the offending value whole).
        reason: String,
    },
    /// A pull request with a value Showtime does not accept.
    #[error("GitHub returned PR #{number} with an invalid {field} `{value}`")]
    InvalidPull {
        /// The PR's number as answered.
        number: u64,
        /// Which field (`number`, `head SHA`, `author`).
        field: &'static str,
        /// The value, cut to a few dozen characters.
        value: String,
    },
    /// GraphQL answered, but not what was asked (a missing field, or
    /// errors beside the data).
    #[error("GraphQL {query} failed: {reason}")]
    Graphql {
        /// The query (`label query`, …).
        query: &'static str,
        /// What was wrong, or GitHub's error messages.
        reason: String,
    },
    /// GitHub's GraphQL rate limit is spent (an error of type
    /// `RATE_LIMITED` in a `200` answer); the answer's headers say when
    /// to try again.
    #[error("GitHub's GraphQL rate limit is spent")]
    RateLimited,
}

/// `value`, cut to [`QUOTED_MAX`] characters for an error message.
pub(super) fn quoted(value: &str) -> String {
    let mut out: String = value.chars().take(QUOTED_MAX).collect();
    if out.len() < value.len() {
        out.push('…');
    }
    out
}

/// What an answer says, with the GraphQL node ids it carries (a later
/// label transition uses them instead of a look-up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<T> {
    /// What the answer says.
    pub value: T,
    /// The node ids in it.
    pub ids: NodeIds,
}

/// GraphQL node ids seen in an answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeIds {
    /// Pull requests' ids, by number.
    pub pulls: Vec<(PrNumber, String)>,
    /// Label definitions' ids, by name as GitHub spells it.
    pub labels: Vec<(String, String)>,
}

impl NodeIds {
    fn add_labels(&mut self, labels: &[WireLabel]) {
        self.labels.extend(
            labels
                .iter()
                .filter_map(|l| Some((l.name.clone(), l.node_id.clone()?))),
        );
    }
}

/// A comment on an issue or pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Its id (REST).
    pub id: u64,
    /// Its text, if GitHub sent it.
    pub body: Option<String>,
}

fn decode<T: DeserializeOwned>(answer: &'static str, body: &str) -> Result<T, WireError> {
    serde_json::from_str(body).map_err(|e| shape(answer, &e))
}

/// The error for a body that is not `answer`'s JSON. serde_json's message
/// quotes the value it did not expect in full (a megabyte string is a
/// megabyte message, in logs and in the PR's status comment): past
/// [`REASON_MAX`] characters it is cut, and where it was found is kept.
pub(super) fn shape(answer: &'static str, error: &serde_json::Error) -> WireError {
    let full = error.to_string();
    let reason = match full.chars().count() > REASON_MAX {
        false => full,
        true => format!(
            "{}… at line {} column {}",
            full.chars().take(REASON_MAX).collect::<String>(),
            error.line(),
            error.column()
        ),
    };
    WireError::Shape { answer, reason }
}

/// A pull request as `GET …/pulls/{n}` answers it, with its node id and
/// its labels' ids.
pub fn pull(body: &str) -> Result<Decoded<PullRequest>, WireError> {
    let wire: WirePull = decode("a pull request", body)?;
    let mut ids = NodeIds::default();
    let value = to_pull_request(wire, &mut ids)?;
    Ok(Decoded { value, ids })
}

/// One page of `GET …/pulls`, with the node ids of the pull requests and
/// their labels.
pub fn pulls(body: &str) -> Result<Decoded<Vec<PullRequest>>, WireError> {
    let wires: Vec<WirePull> = decode("a list of pull requests", body)?;
    let mut ids = NodeIds::default();
    let value = wires
        .into_iter()
        .map(|wire| to_pull_request(wire, &mut ids))
        .collect::<Result<_, _>>()?;
    Ok(Decoded { value, ids })
}

/// A list of labels' names (a page of `GET …/labels`, or an issue's labels
/// as `POST`/`DELETE …/issues/{n}/labels` answer), with their node ids.
pub fn labels(body: &str) -> Result<Decoded<Vec<String>>, WireError> {
    let wires: Vec<WireLabel> = decode("a list of labels", body)?;
    let mut ids = NodeIds::default();
    ids.add_labels(&wires);
    let value = wires.into_iter().map(|l| l.name).collect();
    Ok(Decoded { value, ids })
}

/// One label definition's name (`POST …/labels`, `PATCH …/labels/{name}`),
/// with its node id.
pub fn label(body: &str) -> Result<Decoded<String>, WireError> {
    let wire: WireLabel = decode("a label", body)?;
    let mut ids = NodeIds::default();
    ids.add_labels(std::slice::from_ref(&wire));
    Ok(Decoded {
        value: wire.name,
        ids,
    })
}

/// One page of an issue's comments (`GET …/issues/{n}/comments`).
pub fn comments(body: &str) -> Result<Vec<Comment>, WireError> {
    let wires: Vec<WireComment> = decode("a list of comments", body)?;
    Ok(wires.into_iter().map(to_comment).collect())
}

/// A comment as `POST …/issues/{n}/comments` answers it.
pub fn comment(body: &str) -> Result<Comment, WireError> {
    decode("a comment", body).map(to_comment)
}

/// A collaborator's permission
/// (`GET …/collaborators/{login}/permission`); a role Showtime does not
/// know is no permission.
pub fn permission(body: &str) -> Result<Permission, WireError> {
    let wire: WirePermission = decode("a collaborator's permission", body)?;
    // `role_name` is precise (maintain, triage); `permission` folds them.
    Ok([wire.role_name.as_deref(), wire.permission.as_deref()]
        .into_iter()
        .flatten()
        .find_map(|p| p.parse().ok())
        .unwrap_or(Permission::None))
}

/// Whether a team membership (`GET /orgs/{org}/teams/{slug}/memberships/
/// {user}`) is active: a pending invitation is not membership.
pub fn membership(body: &str) -> Result<bool, WireError> {
    let wire: WireMembership = decode("a team membership", body)?;
    Ok(wire.state == "active")
}

/// A page of `GET …/deployments`.
pub fn deployments(body: &str) -> Result<Vec<Deployment>, WireError> {
    let wires: Vec<WireDeployment> = decode("a list of deployments", body)?;
    Ok(wires.into_iter().map(to_deployment).collect())
}

/// A deployment as `POST …/deployments` answers it.
pub fn deployment(body: &str) -> Result<Deployment, WireError> {
    decode("a deployment", body).map(to_deployment)
}

/// A user, as the author of a pull request.
#[derive(Deserialize)]
struct WireUser {
    login: String,
}

/// A label, on an issue or in the repository's list, with its GraphQL node
/// id (REST `node_id`).
#[derive(Deserialize)]
struct WireLabel {
    name: String,
    #[serde(default)]
    node_id: Option<String>,
}

/// A team membership.
#[derive(Deserialize)]
struct WireMembership {
    /// `active`, or `pending` for an invitation not yet accepted.
    state: String,
}

/// The head of a pull request.
#[derive(Deserialize)]
struct WireHead {
    sha: String,
}

/// A pull request (`GET …/pulls/{n}`, and each item of `GET …/pulls`).
#[derive(Deserialize)]
struct WirePull {
    number: u64,
    /// The GraphQL node id, for mutations on this PR.
    #[serde(default)]
    node_id: Option<String>,
    state: String,
    #[serde(default)]
    merged: Option<bool>,
    #[serde(default)]
    merged_at: Option<String>,
    head: WireHead,
    user: WireUser,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    labels: Vec<WireLabel>,
    /// How many comments the PR has: in a read of one PR, not in listings.
    #[serde(default)]
    comments: Option<u32>,
    /// When anything last happened on the PR (RFC 3339), in reads and
    /// listings alike.
    #[serde(default)]
    updated_at: Option<String>,
}

/// A deployment.
#[derive(Deserialize)]
struct WireDeployment {
    id: u64,
    sha: String,
    #[serde(default)]
    environment: Option<String>,
}

/// An issue comment.
#[derive(Deserialize)]
struct WireComment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
}

/// A collaborator's permission.
#[derive(Deserialize)]
struct WirePermission {
    #[serde(default)]
    permission: Option<String>,
    #[serde(default)]
    role_name: Option<String>,
}

/// The one place GitHub's pull request becomes Showtime's; its node ids go
/// to `ids`.
fn to_pull_request(wire: WirePull, ids: &mut NodeIds) -> Result<PullRequest, WireError> {
    let bad = |field: &'static str, value: &str| WireError::InvalidPull {
        number: wire.number,
        field,
        value: quoted(value),
    };
    let number = PrNumber::new(wire.number).ok_or_else(|| bad("number", "0"))?;
    let merged = wire.merged.unwrap_or(false) || wire.merged_at.is_some();
    let state = match (wire.state.as_str(), merged) {
        ("open", _) => PrState::Open,
        (_, true) => PrState::Merged,
        _ => PrState::Closed,
    };
    let head_sha = wire
        .head
        .sha
        .to_ascii_lowercase()
        .parse()
        .map_err(|_| bad("head SHA", &wire.head.sha))?;
    let author: Login = wire
        .user
        .login
        .parse()
        .map_err(|_| bad("author", &wire.user.login))?;
    if let Some(id) = wire.node_id {
        ids.pulls.push((number, id));
    }
    ids.add_labels(&wire.labels);
    Ok(PullRequest {
        number,
        state,
        head_sha,
        author,
        title: wire.title.unwrap_or_default(),
        body: wire.body.unwrap_or_default(),
        labels: wire.labels.into_iter().map(|l| l.name).collect(),
        comments: wire.comments,
        // A time that does not parse is treated as unknown: the sleep
        // schedule then counts from the environment's creation instead.
        updated_at: wire
            .updated_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc)),
    })
}

/// The one place GitHub's deployment becomes the adapter's.
fn to_deployment(wire: WireDeployment) -> Deployment {
    Deployment {
        id: wire.id,
        sha: wire.sha.to_ascii_lowercase(),
        environment: wire.environment.unwrap_or_default(),
    }
}

fn to_comment(wire: WireComment) -> Comment {
    Comment {
        id: wire.id,
        body: wire.body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_pull_names_the_field_and_quotes_the_value_short() {
        let login = "x".repeat(500);
        let body = format!(
            r#"{{"number": 3, "state": "open", "head": {{"sha": "{}"}}, "user": {{"login": "{login} "}}}}"#,
            "a".repeat(40)
        );
        let message = pull(&body).unwrap_err().to_string();
        assert!(
            message.contains("PR #3 with an invalid author"),
            "{message}"
        );
        assert!(message.len() < 200, "{message}");
        let message = pull("[]").unwrap_err().to_string();
        assert!(message.contains("for a pull request"), "{message}");
        // Found by the `wire` fuzz target: serde_json quotes a value of
        // the wrong type whole.
        let message = pull(&format!("\"{}\"", "f".repeat(5_000)))
            .unwrap_err()
            .to_string();
        assert!(message.len() < 400, "{message}");
        assert!(message.ends_with("at line 1 column 5002"), "{message}");
    }

    #[test]
    fn a_failed_conversion_teaches_no_ids() {
        let body = r#"[{"number": 1, "node_id": "PR_1", "state": "open",
            "head": {"sha": "nope"}, "user": {"login": "a"}}]"#;
        assert!(matches!(
            pulls(body),
            Err(WireError::InvalidPull {
                field: "head SHA",
                ..
            })
        ));
    }
}
