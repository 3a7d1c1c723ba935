//! The plain data of the fake's public API: the pull requests tests seed
//! ([`FakePr`], [`FakeState`]) and the comments they read back
//! ([`FakeComment`]).

use chrono::{DateTime, Utc};

#[cfg(doc)]
use super::FakeGitHub;
use super::state;

/// The state of an issue or pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FakeState {
    /// Open.
    Open,
    /// Closed without merging.
    Closed,
    /// Merged (pull requests only): closed, with `merged_at` set.
    Merged,
}

/// A pull request to seed with [`FakeGitHub::add_pull_request`].
///
/// Start from [`FakePr::new`] and override fields with struct update
/// syntax: `FakePr { author: "alice".into(), ..FakePr::new(7) }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePr {
    /// The number, shared with issues.
    pub number: u64,
    /// The title.
    pub title: String,
    /// Open, closed or merged.
    pub state: FakeState,
    /// The head commit SHA.
    pub head_sha: String,
    /// The head branch name.
    pub head_ref: String,
    /// The base branch name.
    pub base_ref: String,
    /// `owner/name` of the fork the head branch lives in; `None` for a
    /// branch of the repository itself.
    pub head_repo: Option<String>,
    /// The author's login.
    pub author: String,
    /// The description (`null` on GitHub when empty).
    pub body: Option<String>,
    /// Labels, defined (colour `ededed`) when the repository lacks them.
    pub labels: Vec<String>,
    /// Whether the pull request is a draft.
    pub draft: bool,
}

impl FakePr {
    /// An open pull request `number` by `octocat` from branch
    /// `feature-{number}` into `main`, with a deterministic 40-hex head SHA
    /// and no labels.
    pub fn new(number: u64) -> Self {
        Self {
            number,
            title: format!("PR #{number}"),
            state: FakeState::Open,
            head_sha: state::default_head_sha(number),
            head_ref: format!("feature-{number}"),
            base_ref: "main".to_owned(),
            head_repo: None,
            author: "octocat".to_owned(),
            body: None,
            labels: Vec::new(),
            draft: false,
        }
    }
}

impl Default for FakePr {
    /// [`FakePr::new`]`(1)`.
    fn default() -> Self {
        Self::new(1)
    }
}

/// An issue comment, as [`FakeGitHub::comments`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeComment {
    /// The comment id (`/issues/comments/{id}`).
    pub id: u64,
    /// The author's login.
    pub author: String,
    /// The Markdown body.
    pub body: String,
    /// When it was posted.
    pub created_at: DateTime<Utc>,
    /// When it was last edited (equal to `created_at` if never).
    pub updated_at: DateTime<Utc>,
}
