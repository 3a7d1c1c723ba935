//! The in-memory PR host.

use std::collections::BTreeSet;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::labels::is_showtime_label;
use crate::ports::{Clock, CommentAt, Permission, PortError, PrHost, PullRequest};
use crate::{CommentId, Login, PrNumber, Team};

use super::faults::{Counter, Faults};
use super::lock;

/// A comment on a PR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryComment {
    /// Its id.
    pub id: u64,
    /// Its body.
    pub body: String,
}

#[derive(Default)]
struct HostState {
    prs: BTreeMap<PrNumber, PullRequest>,
    permissions: HashMap<String, Permission>,
    /// Active members by team, logins lowercased.
    teams: HashMap<Team, BTreeSet<String>>,
    comments: BTreeMap<PrNumber, Vec<MemoryComment>>,
    definitions: BTreeMap<String, (String, String, String)>,
    next_comment: u64,
}

/// An in-memory PR host with GitHub's label semantics (case-insensitive names,
/// removing an absent label is fine for the port, adding never replaces).
pub struct MemoryHost {
    state: Mutex<HostState>,
    faults: Arc<Faults>,
    counts: Counter,
    /// When set, every change to a PR (labels, comments) stamps its
    /// `updated_at`, as GitHub does.
    clock: Mutex<Option<Arc<dyn Clock>>>,
}

impl MemoryHost {
    /// An empty host sharing `faults`.
    pub fn new(faults: Arc<Faults>) -> Self {
        MemoryHost {
            state: Mutex::new(HostState::default()),
            faults,
            counts: Counter::default(),
            clock: Mutex::new(None),
        }
    }

    /// Stamps each PR's `updated_at` with `clock` whenever it changes (a
    /// [`World`](super::World)'s host follows the world's clock).
    pub fn follow_clock(&self, clock: Arc<dyn Clock>) {
        *lock(&self.clock) = Some(clock);
    }

    fn touch(&self, state: &mut HostState, pr: PrNumber) {
        let now = lock(&self.clock).as_ref().map(|c| c.now());
        if let (Some(now), Some(p)) = (now, state.prs.get_mut(&pr)) {
            p.updated_at = Some(now);
        }
    }

    /// Adds or replaces a PR.
    pub fn put_pr(&self, pr: PullRequest) {
        let number = pr.number;
        let mut state = lock(&self.state);
        let fresh = pr.updated_at.is_none();
        state.prs.insert(number, pr);
        if fresh {
            self.touch(&mut state, number);
        }
    }

    /// The PR as stored.
    pub fn pr(&self, pr: PrNumber) -> Option<PullRequest> {
        lock(&self.state).prs.get(&pr).cloned()
    }

    /// The PR's labels, sorted.
    pub fn labels(&self, pr: PrNumber) -> Vec<String> {
        let mut labels = self.pr(pr).map(|p| p.labels).unwrap_or_default();
        labels.sort();
        labels
    }

    /// The PR's 🎪 labels, sorted, without `🎪 💬 <id>`: that one only says
    /// where the status comment is, outlives every environment, and is
    /// missing after a run cut short before its comment.
    pub fn showtime_labels(&self, pr: PrNumber) -> Vec<String> {
        self.labels(pr)
            .into_iter()
            .filter(|l| is_showtime_label(l) && !l.contains('💬'))
            .collect()
    }

    /// Changes a PR as a person would (outside Showtime, uncounted).
    ///
    /// The edit counts as activity: `updated_at` is stamped first (when
    /// the host follows a clock), so the edit may still set it.
    pub fn edit_pr(&self, pr: PrNumber, edit: impl FnOnce(&mut PullRequest)) {
        let mut state = lock(&self.state);
        self.touch(&mut state, pr);
        if let Some(p) = state.prs.get_mut(&pr) {
            edit(p);
        }
    }

    /// Sets a user's permission.
    pub fn set_permission(&self, login: &str, permission: Permission) {
        lock(&self.state)
            .permissions
            .insert(login.to_lowercase(), permission);
    }

    /// Makes `login` an active member of `team` (`true`) or not.
    pub fn set_team_member(&self, team: &Team, login: &str, member: bool) {
        let mut state = lock(&self.state);
        let members = state.teams.entry(team.clone()).or_default();
        if member {
            members.insert(login.to_lowercase());
        } else {
            members.remove(&login.to_lowercase());
        }
    }

    /// The PR's comments.
    pub fn comments(&self, pr: PrNumber) -> Vec<MemoryComment> {
        lock(&self.state)
            .comments
            .get(&pr)
            .cloned()
            .unwrap_or_default()
    }

    /// Repository label definitions: name → (colour, description).
    pub fn definitions(&self) -> BTreeMap<String, (String, String)> {
        lock(&self.state)
            .definitions
            .values()
            .map(|(name, color, desc)| (name.clone(), (color.clone(), desc.clone())))
            .collect()
    }

    /// Defines a repository label directly (uncounted).
    pub fn ensure_label_for_tests(&self, name: &str) {
        lock(&self.state).definitions.insert(
            name.to_lowercase(),
            (name.to_owned(), "ededed".to_owned(), String::new()),
        );
    }

    /// Calls of one method so far (e.g. `"pull_request"`).
    pub fn calls(&self, method: &str) -> u64 {
        self.counts.get(method)
    }

    /// Calls of every method so far.
    pub fn total_calls(&self) -> u64 {
        self.counts.total()
    }

    /// Resets the call counts.
    pub fn reset_counts(&self) {
        self.counts.reset();
    }

    async fn enter(&self, method: &'static str) -> Result<(), PortError> {
        self.counts.bump(method);
        self.faults
            .enter(match method {
                "pull_request" => "host.pull_request",
                "open_pull_requests" => "host.open_pull_requests",
                "add_labels" => "host.add_labels",
                "remove_label" => "host.remove_label",
                "permission" => "host.permission",
                "team_membership" => "host.team_membership",
                "upsert_comment" => "host.upsert_comment",
                "ensure_label" => "host.ensure_label",
                "repository_labels" => "host.repository_labels",
                _ => "host.delete_label_if_unused",
            })
            .await
    }
}

#[async_trait]
impl PrHost for MemoryHost {
    async fn pull_request(&self, pr: PrNumber) -> Result<PullRequest, PortError> {
        self.enter("pull_request").await?;
        let state = lock(&self.state);
        let mut read = state
            .prs
            .get(&pr)
            .cloned()
            .ok_or_else(|| PortError::NotFound {
                what: format!("PR #{pr}"),
            })?;
        // Like GitHub's PR read (its listing does not say).
        let count = state.comments.get(&pr).map_or(0, Vec::len);
        read.comments = Some(u32::try_from(count).unwrap_or(u32::MAX));
        Ok(read)
    }

    async fn open_pull_requests(&self) -> Result<Vec<PullRequest>, PortError> {
        self.enter("open_pull_requests").await?;
        Ok(lock(&self.state)
            .prs
            .values()
            .filter(|p| p.state.is_open())
            .cloned()
            .collect())
    }

    async fn add_labels(&self, pr: PrNumber, labels: &[String]) -> Result<(), PortError> {
        self.enter("add_labels").await?;
        let mut state = lock(&self.state);
        let mut new_definitions = Vec::new();
        let p = state.prs.get_mut(&pr).ok_or_else(|| PortError::NotFound {
            what: format!("PR #{pr}"),
        })?;
        for label in labels {
            if label.chars().count() > crate::labels::MAX_LABEL_LEN {
                return Err(PortError::permanent(format!("label `{label}` is too long")));
            }
            if !p
                .labels
                .iter()
                .any(|l| l.to_lowercase() == label.to_lowercase())
            {
                p.labels.push(label.clone());
            }
            new_definitions.push(label.clone());
        }
        self.touch(&mut state, pr);
        for label in new_definitions {
            state.definitions.entry(label.to_lowercase()).or_insert((
                label,
                "ededed".to_owned(),
                String::new(),
            ));
        }
        Ok(())
    }

    async fn remove_label(&self, pr: PrNumber, label: &str) -> Result<(), PortError> {
        self.enter("remove_label").await?;
        let mut state = lock(&self.state);
        if let Some(p) = state.prs.get_mut(&pr) {
            p.labels
                .retain(|l| l.to_lowercase() != label.to_lowercase());
        }
        self.touch(&mut state, pr);
        Ok(())
    }

    async fn permission(&self, user: &Login) -> Result<Permission, PortError> {
        self.enter("permission").await?;
        Ok(lock(&self.state)
            .permissions
            .get(&user.as_str().to_lowercase())
            .copied()
            .unwrap_or(Permission::None))
    }

    async fn team_membership(&self, team: &Team, user: &Login) -> Result<bool, PortError> {
        self.enter("team_membership").await?;
        Ok(lock(&self.state)
            .teams
            .get(team)
            .is_some_and(|members| members.contains(&user.as_str().to_lowercase())))
    }

    async fn upsert_comment(
        &self,
        pr: PrNumber,
        at: CommentAt,
        marker: &str,
        body: &str,
    ) -> Result<CommentId, PortError> {
        self.enter("upsert_comment").await?;
        let mut state = lock(&self.state);
        self.touch(&mut state, pr);
        let comments = state.comments.entry(pr).or_default();
        let found = match at {
            CommentAt::Id(id) => comments
                .iter()
                .position(|c| c.id == id.get())
                .or_else(|| comments.iter().position(|c| c.body.contains(marker))),
            CommentAt::Nowhere => None,
            CommentAt::Unknown => comments.iter().position(|c| c.body.contains(marker)),
        };
        let id = match found {
            Some(i) => {
                comments[i].body = body.to_owned();
                comments[i].id
            }
            None => {
                state.next_comment += 1;
                let id = state.next_comment;
                state.comments.entry(pr).or_default().push(MemoryComment {
                    id,
                    body: body.to_owned(),
                });
                id
            }
        };
        CommentId::new(id).ok_or_else(|| PortError::permanent("comment id 0"))
    }

    async fn delete_comment(&self, pr: PrNumber, id: CommentId) -> Result<(), PortError> {
        self.enter("delete_comment").await?;
        let mut state = lock(&self.state);
        self.touch(&mut state, pr);
        if let Some(comments) = state.comments.get_mut(&pr) {
            comments.retain(|c| c.id != id.get());
        }
        Ok(())
    }

    async fn ensure_label(
        &self,
        name: &str,
        color: &str,
        description: &str,
    ) -> Result<(), PortError> {
        self.enter("ensure_label").await?;
        lock(&self.state).definitions.insert(
            name.to_lowercase(),
            (name.to_owned(), color.to_owned(), description.to_owned()),
        );
        Ok(())
    }

    async fn repository_labels(&self) -> Result<Vec<String>, PortError> {
        self.enter("repository_labels").await?;
        Ok(lock(&self.state)
            .definitions
            .values()
            .map(|(name, _, _)| name.clone())
            .collect())
    }

    async fn delete_label_if_unused(&self, name: &str) -> Result<bool, PortError> {
        self.enter("delete_label_if_unused").await?;
        let mut state = lock(&self.state);
        let key = name.to_lowercase();
        let attached = state
            .prs
            .values()
            .any(|p| p.labels.iter().any(|l| l.to_lowercase() == key));
        Ok(!attached && state.definitions.remove(&key).is_some())
    }

    async fn labels_in_use(&self, names: &[String]) -> Result<BTreeSet<String>, PortError> {
        self.enter("labels_in_use").await?;
        let state = lock(&self.state);
        Ok(names
            .iter()
            .filter(|name| {
                let key = name.to_lowercase();
                state
                    .prs
                    .values()
                    .any(|p| p.labels.iter().any(|l| l.to_lowercase() == key))
            })
            .cloned()
            .collect())
    }

    async fn delete_label(&self, name: &str) -> Result<(), PortError> {
        self.enter("delete_label").await?;
        lock(&self.state).definitions.remove(&name.to_lowercase());
        Ok(())
    }
}
