//! GitHub's JSON as the adapter reads it (the `Wire*` models, only the fields
//! used) and the one place each becomes a `showtime_core` type. It must not
//! send requests or decide anything: conversions only translate.

use serde::Deserialize;
use showtime_core::ports::{Permission, PortError, PrState, PullRequest};
use showtime_core::{Login, PrNumber};

/// A user, as the author of a pull request.
#[derive(Deserialize)]
struct WireUser {
    login: String,
}

/// A label, on an issue or in the repository's list, with its GraphQL node
/// id (REST `node_id`).
#[derive(Deserialize)]
pub(super) struct WireLabel {
    pub(super) name: String,
    #[serde(default)]
    pub(super) node_id: Option<String>,
}

/// A team membership (`GET /orgs/{org}/teams/{slug}/memberships/{user}`).
#[derive(Deserialize)]
pub(super) struct WireMembership {
    /// `active`, or `pending` for an invitation not yet accepted.
    pub(super) state: String,
}

/// The head of a pull request.
#[derive(Deserialize)]
struct WireHead {
    sha: String,
}

/// A pull request (`GET …/pulls/{n}`, and each item of `GET …/pulls`).
#[derive(Deserialize)]
pub(super) struct WirePull {
    pub(super) number: u64,
    /// The GraphQL node id, for mutations on this PR.
    #[serde(default)]
    pub(super) node_id: Option<String>,
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
    pub(super) labels: Vec<WireLabel>,
    /// How many comments the PR has: in a read of one PR, not in listings.
    #[serde(default)]
    comments: Option<u32>,
    /// When anything last happened on the PR (RFC 3339), in reads and
    /// listings alike.
    #[serde(default)]
    updated_at: Option<String>,
}

/// A deployment (`POST …/deployments`, each item of `GET …/deployments`).
#[derive(Deserialize)]
pub(super) struct WireDeployment {
    pub(super) id: u64,
    pub(super) sha: String,
    #[serde(default)]
    pub(super) environment: Option<String>,
}

/// An issue comment.
#[derive(Deserialize)]
pub(super) struct WireComment {
    pub(super) id: u64,
    #[serde(default)]
    pub(super) body: Option<String>,
}

/// A collaborator's permission (`GET …/collaborators/{login}/permission`).
#[derive(Deserialize)]
pub(super) struct WirePermission {
    #[serde(default)]
    permission: Option<String>,
    #[serde(default)]
    role_name: Option<String>,
}

/// The one place GitHub's pull request becomes Showtime's.
pub(super) fn to_pull_request(wire: WirePull) -> Result<PullRequest, PortError> {
    let bad = |what: &str, value: &str| {
        PortError::permanent(format!(
            "GitHub returned PR #{} with an invalid {what} `{value}`",
            wire.number
        ))
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

/// The one place GitHub's permission answer becomes Showtime's.
pub(super) fn permission_of(wire: &WirePermission) -> Permission {
    // `role_name` is precise (maintain, triage); `permission` folds them.
    [wire.role_name.as_deref(), wire.permission.as_deref()]
        .into_iter()
        .flatten()
        .find_map(|p| p.parse().ok())
        .unwrap_or(Permission::None)
}
