//! The PR-host port on GitHub, through octocrab: [`GitHubHost`] and its
//! [`PrHost`] implementation, the endpoints each port call uses. It must not
//! send but through its transport, nor read JSON but its wire models.
//!
//! [`GitHubHost`] implements [`PrHost`] with GitHub's request budget in mind:
//!
//! * one request reads a PR with its labels, and reading it again is a
//!   conditional request (`If-None-Match` with the last `ETag`) that GitHub
//!   answers `304 Not Modified` without spending rate limit when nothing
//!   changed; open PRs are listed 100 a page, each page read the same way;
//! * a label transition is one GraphQL document
//!   (`removeLabelsFromLabelable` then `addLabelsToLabelable`) with the node
//!   ids remembered from earlier reads; a label never defined goes by REST
//!   `POST`, which defines it; a server without the mutations gets REST
//!   (`POST`, one `DELETE` per removal) for the rest of the process. Labels
//!   are never replaced as a set (`PUT`), so a label a person adds at the
//!   same moment survives;
//! * whether label definitions are still attached anywhere is one GraphQL
//!   query per 50 names;
//! * the status comment's id is remembered once found;
//! * a team membership is one request per team and person, remembered for
//!   the life of the process (a removal from the team takes effect at the
//!   next start); the token needs the organization's `members: read`
//!   permission, and a 403 says so;
//! * GitHub Deployments are one request each: list an environment's,
//!   create one, add a status (`deployments`; when to call them is
//!   [`crate::deployments`]'s).
//!
//! Nothing is retried here: the engine is the one retry layer. A 5xx or a
//! dropped connection is [`PortError::Transient`]; a spent primary rate
//! limit or a secondary one (403/429 with `Retry-After` or
//! `x-ratelimit-reset`) is [`PortError::RateLimited`] naming when to try
//! again. 401, other 403s, 404 and 422 become errors that say what to check.
//!
//! Inside: `config` (where and as whom: [`GitHubConfig`], [`Auth`]),
//! `transport` (the octocrab clients, conditional reads, paging, error
//! answers mapped to [`PortError`]), `observe` (what an [`Observer`] is
//! told of each answer, for metrics), [`wire`] (the reading of every answer:
//! GitHub's REST models and their conversion to `showtime_core` types, public
//! so that it is fuzzed), `graphql` (the GraphQL documents and their
//! answers), `ids` (the node ids seen) and `labels` (how a transition
//! or a clean-up is sent).

mod config;
mod deployments;
mod graphql;
mod ids;
mod labels;
mod observe;
mod transport;
pub mod wire;

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use async_trait::async_trait;
use serde_json::json;
use showtime_core::ports::{CommentAt, Permission, PortError, PrHost, PullRequest};
use showtime_core::{CommentId, Login, PrNumber, Team};

pub use config::{Auth, DEFAULT_API_URL, GitHubConfig, GitHubError};
pub use deployments::{Deployment, DeploymentState, DeploymentStatus, STATUS_DESCRIPTION_MAX};
use ids::NodeIds;
pub use observe::{Exchange, Observer, template};
use transport::{Method, Transport, next_link};

/// The PR host on GitHub.
pub struct GitHubHost {
    transport: Transport,
    owner: String,
    repo: String,
    comment_ids: Mutex<HashMap<PrNumber, Written>>,
    ids: NodeIds,
    /// Whether the server refused the label mutations (an older GitHub
    /// Enterprise Server): REST from then on.
    mutations_refused: AtomicBool,
    /// Team memberships answered, by team and lower-cased login: asked
    /// once per process.
    memberships: Mutex<HashMap<(Team, String), bool>>,
}

impl std::fmt::Debug for GitHubHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GitHubHost({}/{})", self.owner, self.repo)
    }
}

impl GitHubHost {
    /// Builds the client. Must be called within a tokio runtime.
    pub fn new(config: GitHubConfig) -> Result<Self, GitHubError> {
        let roots = config.api_roots()?;
        Ok(GitHubHost {
            transport: Transport::new(&roots, &config.auth, config.observer)?,
            owner: config.owner,
            repo: config.repo,
            comment_ids: Mutex::new(HashMap::new()),
            ids: NodeIds::default(),
            mutations_refused: AtomicBool::new(false),
            memberships: Mutex::new(HashMap::new()),
        })
    }

    /// `owner/name`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    fn path(&self, rest: &str) -> String {
        format!("/repos/{}/{}/{rest}", self.owner, self.repo)
    }

    async fn find_comment(&self, pr: PrNumber, marker: &str) -> Result<Option<u64>, PortError> {
        let mut next = Some(self.path(&format!("issues/{pr}/comments?per_page=100")));
        while let Some(uri) = next.take() {
            let (page, headers) = self
                .transport
                .json(Method::Get, &uri, None, wire::comments)
                .await?;
            if let Some(found) = page
                .iter()
                .find(|c| c.body.as_deref().is_some_and(|b| b.contains(marker)))
            {
                return Ok(Some(found.id));
            }
            next = next_link(&headers);
        }
        Ok(None)
    }

    fn known_memberships(&self) -> std::sync::MutexGuard<'_, HashMap<(Team, String), bool>> {
        self.memberships.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remembered_comment(&self) -> std::sync::MutexGuard<'_, HashMap<PrNumber, Written>> {
        self.comment_ids.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remember_comment(&self, pr: PrNumber, id: u64) -> Result<CommentId, PortError> {
        self.remembered_comment().insert(pr, Written::At(id));
        CommentId::new(id).ok_or_else(|| PortError::permanent("GitHub returned comment id 0"))
    }
}

/// What this process's own writes tell of a PR's status comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    /// It is at this id.
    At(u64),
    /// A `POST` of it failed in a way that may hide a success (a cut
    /// connection, a 5xx): posting again could make a second one, so it is
    /// looked for first.
    MaybePosted,
}

/// Percent-encodes one path segment (label names hold emoji and spaces):
/// everything but RFC 3986's unreserved characters.
pub(crate) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[async_trait]
impl PrHost for GitHubHost {
    async fn pull_request(&self, pr: PrNumber) -> Result<PullRequest, PortError> {
        let uri = self.path(&format!("pulls/{pr}"));
        let (read, _) = self
            .transport
            .get_conditional(&uri)
            .await
            .and_then(|reply| reply.read(Method::Get, &uri, wire::pull))
            .map_err(|e| match e {
                PortError::NotFound { .. } => PortError::NotFound {
                    what: format!("PR #{pr} in {}", self.repository()),
                },
                other => other,
            })?;
        self.ids.remember(&read.ids);
        Ok(read.value)
    }

    async fn open_pull_requests(&self) -> Result<Vec<PullRequest>, PortError> {
        let pages = self
            .transport
            .pages(
                self.path("pulls?state=open&per_page=100"),
                true,
                wire::pulls,
            )
            .await?;
        let mut pulls = Vec::new();
        for page in pages {
            self.ids.remember(&page.ids);
            pulls.extend(page.value);
        }
        Ok(pulls)
    }

    async fn add_labels(&self, pr: PrNumber, labels: &[String]) -> Result<(), PortError> {
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        self.post_labels(pr, &labels).await
    }

    async fn remove_label(&self, pr: PrNumber, label: &str) -> Result<(), PortError> {
        self.delete_from(pr, label).await
    }

    async fn change_labels(
        &self,
        pr: PrNumber,
        add: &[String],
        remove: &[String],
    ) -> Result<(), PortError> {
        self.transition(pr, add, remove).await
    }

    async fn permission(&self, user: &Login) -> Result<Permission, PortError> {
        let uri = self.path(&format!(
            "collaborators/{}/permission",
            segment(user.as_str())
        ));
        match self
            .transport
            .json(Method::Get, &uri, None, wire::permission)
            .await
        {
            Ok((permission, _)) => Ok(permission),
            Err(PortError::NotFound { .. }) => Ok(Permission::None),
            Err(e) => Err(e),
        }
    }

    async fn team_membership(&self, team: &Team, user: &Login) -> Result<bool, PortError> {
        let key = (team.clone(), user.as_str().to_lowercase());
        if let Some(known) = self.known_memberships().get(&key) {
            return Ok(*known);
        }
        let uri = format!(
            "/orgs/{}/teams/{}/memberships/{}",
            segment(team.org()),
            segment(team.slug()),
            segment(user.as_str())
        );
        let reply = self.transport.get_passing(&uri, &[403, 404]).await?;
        let active = match reply.status.as_u16() {
            // Not a member, or no such team: GitHub does not tell apart.
            404 => false,
            403 => {
                return Err(PortError::permanent(format!(
                    "GET {uri}: 403: GitHub refused to tell whether @{user} is a member of \
                     team {team}; the token needs the organization permission `members: \
                     read` (a GitHub App: Organization permissions → Members → Read-only; a \
                     personal access token: `read:org`)"
                )));
            }
            _ => reply.read(Method::Get, &uri, wire::membership)?.0,
        };
        self.known_memberships().insert(key, active);
        Ok(active)
    }

    async fn upsert_comment(
        &self,
        pr: PrNumber,
        at: CommentAt,
        marker: &str,
        body: &str,
    ) -> Result<CommentId, PortError> {
        let payload = json!({ "body": body });
        let remembered = self.remembered_comment().get(&pr).copied();
        let known = match (at, remembered) {
            (CommentAt::Id(id), _) => Some(id.get()),
            (_, Some(Written::At(id))) => Some(id),
            (_, Some(Written::MaybePosted) | None) => None,
        };
        let mut search = at == CommentAt::Unknown || remembered == Some(Written::MaybePosted);
        if let Some(id) = known {
            let uri = self.path(&format!("issues/comments/{id}"));
            match self
                .transport
                .send(Method::Patch, &uri, Some(&payload))
                .await
            {
                Ok(_) => return self.remember_comment(pr, id),
                // Deleted by someone: find or create it again.
                Err(PortError::NotFound { .. }) => {
                    self.remembered_comment().remove(&pr);
                    search = true;
                }
                Err(e) => return Err(e),
            }
        }
        let found = match search {
            true => self.find_comment(pr, marker).await?,
            false => None,
        };
        let id = match found {
            Some(id) => {
                let uri = self.path(&format!("issues/comments/{id}"));
                self.transport
                    .send(Method::Patch, &uri, Some(&payload))
                    .await?;
                id
            }
            None => {
                let uri = self.path(&format!("issues/{pr}/comments"));
                match self
                    .transport
                    .json(Method::Post, &uri, Some(&payload), wire::comment)
                    .await
                {
                    Ok((created, _)) => created.id,
                    Err(e) => {
                        if e.is_transient() {
                            self.remembered_comment().insert(pr, Written::MaybePosted);
                        }
                        return Err(e);
                    }
                }
            }
        };
        self.remember_comment(pr, id)
    }

    async fn delete_comment(&self, pr: PrNumber, id: CommentId) -> Result<(), PortError> {
        let uri = self.path(&format!("issues/comments/{id}"));
        match self.transport.send(Method::Delete, &uri, None).await {
            Ok(_) | Err(PortError::NotFound { .. }) => {
                let mut remembered = self.remembered_comment();
                if remembered.get(&pr) == Some(&Written::At(id.get())) {
                    remembered.remove(&pr);
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn ensure_label(
        &self,
        name: &str,
        color: &str,
        description: &str,
    ) -> Result<(), PortError> {
        let body = json!({ "name": name, "color": color, "description": description });
        let reply = match self
            .transport
            .send(Method::Post, &self.path("labels"), Some(&body))
            .await
        {
            Ok(reply) => reply,
            Err(PortError::Permanent { message }) if message.contains("already_exists") => {
                let update = json!({ "color": color, "description": description });
                let uri = self.path(&format!("labels/{}", segment(name)));
                self.transport
                    .send(Method::Patch, &uri, Some(&update))
                    .await?
            }
            Err(e) => return Err(e),
        };
        // The definition's id, for the transitions that add it.
        if let Ok(label) = wire::label(&reply.body) {
            self.ids.remember(&label.ids);
        }
        Ok(())
    }

    async fn repository_labels(&self) -> Result<Vec<String>, PortError> {
        let pages = self
            .transport
            .pages(self.path("labels?per_page=100"), false, wire::labels)
            .await?;
        let mut names = Vec::new();
        for page in pages {
            self.ids.remember(&page.ids);
            names.extend(page.value);
        }
        Ok(names)
    }

    async fn delete_label_if_unused(&self, name: &str) -> Result<bool, PortError> {
        match self.usage(&[name]).await?.first() {
            Some(Some(0)) => self.delete_definition(name).await,
            // Attached somewhere, or not defined.
            _ => Ok(false),
        }
    }

    async fn labels_in_use(&self, names: &[String]) -> Result<BTreeSet<String>, PortError> {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let usage = self.usage(&names).await?;
        Ok(names
            .into_iter()
            .zip(usage)
            .filter(|(_, attached)| attached.is_some_and(|n| n > 0))
            .map(|(name, _)| name.to_owned())
            .collect())
    }

    async fn delete_label(&self, name: &str) -> Result<(), PortError> {
        self.delete_definition(name).await.map(|_| ())
    }

    async fn delete_labels(&self, names: &[String]) -> Result<(), PortError> {
        self.delete_definitions(names).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_are_percent_encoded() {
        assert_eq!(
            segment("🎪 🚦 running"),
            "%F0%9F%8E%AA%20%F0%9F%9A%A6%20running"
        );
        assert_eq!(segment("a/b"), "a%2Fb");
    }
}
