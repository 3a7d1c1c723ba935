//! Ports: the traits through which the engine reaches the outside world.
//!
//! Showtime's core decides; adapters act. Each port is a small async trait
//! that an adapter implements: [`PrHost`] (GitHub), [`Backend`] (a cloud that
//! runs environments), [`ImageBuilder`], [`Clock`] and an optional
//! [`Notifier`]. The engine calls them; nothing in this crate implements them
//! except the in-memory versions of the `testing` feature.
//!
//! # Contract shared by every port
//!
//! * **Idempotence.** The engine may repeat any call after a crash or a
//!   retry. Doing the same thing twice must leave the same result as doing it
//!   once: deploying an environment that already exists succeeds without a
//!   second copy; destroying one that is gone succeeds; removing a label that
//!   is not there succeeds.
//! * **Errors.** Return [`PortError::Transient`] for what may work if tried
//!   again (timeouts, 5xx, throttling), [`PortError::RateLimited`] when the
//!   API's request budget is spent or it asks to wait (a `Retry-After`), and
//!   [`PortError::Permanent`] for what will not work (bad configuration,
//!   refused permission, invalid input). The engine retries transient errors
//!   with bounded exponential backoff, waits out a rate limit that resets
//!   within [`Retry::max_rate_limit_wait`](crate::policy::Retry), and marks
//!   the environment failed on anything else, quoting the message to the PR:
//!   write it for a person.
//! * **No retries inside an adapter.** The engine is the one retry layer
//!   ([`Policy::retry`](crate::policy::Policy::retry)): an adapter makes one
//!   attempt per call and returns the transient error, so that one engine
//!   call costs at most `attempts` requests, not `attempts` squared. The one
//!   exception is a cloud SDK's own retry mode set on its client, such as
//!   the AWS SDK's standard retry mode in the ECS backend, which retries
//!   throttling and 5xx within one call and is configured there with a small
//!   attempt count.
//! * **Concurrency.** Implementations are shared between tasks (`Send +
//!   Sync`); the engine never runs two reconciles of one PR at once in a
//!   process, but different PRs proceed concurrently.
//!
//! # Versions
//!
//! The traits use [`macro@async_trait`] and chrono's [`DateTime`]`<`[`Utc`]`>`;
//! both are re-exported here, so an implementation needs no dependency of
//! its own that must match this crate's versions.
//!
//! # The starting stage
//!
//! Between [`Backend::deploy`] and ready, an environment is *starting*: its
//! backend lists it as [`Health::Starting`] and the engine waits it out with
//! [`Backend::wait_ready`] (plan step [`Step::AwaitReady`], plan reason
//! "starting"). The labels keep saying `🚦 building` meanwhile (a separate
//! `deploying` transition would cost two requests per environment); a
//! repair that finds a starting environment whose status labels were lost
//! writes `🚦 deploying` (the word superset-showtime writes,
//! [`Status::Deploying`]).
//!
//! [`Step::AwaitReady`]: crate::plan::Step::AwaitReady
//! [`Status::Deploying`]: crate::Status::Deploying

use std::fmt;
use std::time::Duration;

pub use async_trait::async_trait;
pub use chrono::{DateTime, Utc};

use crate::{Address, CommentId, Config, Login, PrNumber, Sha, ShortSha, Team};

mod error;

pub use error::PortError;

/// Whether a pull request is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrState {
    /// Open (drafts included).
    Open,
    /// Closed without merging.
    Closed,
    /// Merged.
    Merged,
}

impl PrState {
    /// Whether the PR is open.
    pub fn is_open(self) -> bool {
        self == PrState::Open
    }

    /// `open`, `closed` or `merged`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrState::Open => "open",
            PrState::Closed => "closed",
            PrState::Merged => "merged",
        }
    }
}

/// One pull request as one read of the PR host returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// Its number.
    pub number: PrNumber,
    /// Open, closed or merged.
    pub state: PrState,
    /// The head commit.
    pub head_sha: Sha,
    /// Who opened it.
    pub author: Login,
    /// Its title, as its author wrote it (for people: the dashboard, chat
    /// messages; no decision reads it).
    pub title: String,
    /// Its description (may be empty).
    pub body: String,
    /// Every label name on it, as GitHub spells them.
    pub labels: Vec<String>,
    /// When anything last happened on it (GitHub's `updated_at`: a push,
    /// a comment, a label change, an edit), when the host says; GitHub's
    /// listing does, at no extra request. The sleep schedule measures
    /// idleness from it.
    pub updated_at: Option<DateTime<Utc>>,
    /// How many comments it has, when the read says (GitHub's PR read
    /// does, its listing does not): a PR with none has no status comment
    /// to look for.
    pub comments: Option<u32>,
}

/// Where a PR's status comment is, as far as the caller knows: what
/// [`PrHost::upsert_comment`] needs in order to write it with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentAt {
    /// At this id (remembered in a `🎪 💬 <id>` label): edit it in place.
    Id(CommentId),
    /// Nowhere: the PR has no comment at all, so post a new one.
    Nowhere,
    /// Not known: find the comment carrying the marker, or post one.
    Unknown,
}

impl CommentAt {
    /// What a read of `pr` and the id its labels remember tell.
    pub fn of(pr: &PullRequest, remembered: Option<CommentId>) -> Self {
        match (remembered, pr.comments) {
            (Some(id), _) => CommentAt::Id(id),
            (None, Some(0)) => CommentAt::Nowhere,
            (None, _) => CommentAt::Unknown,
        }
    }
}

/// A user's permission on the repository, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// No access (or unknown user).
    None,
    /// Read.
    Read,
    /// Triage.
    Triage,
    /// Write (push).
    Write,
    /// Maintain.
    Maintain,
    /// Admin.
    Admin,
}

impl Permission {
    /// The word GitHub uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::None => "none",
            Permission::Read => "read",
            Permission::Triage => "triage",
            Permission::Write => "write",
            Permission::Maintain => "maintain",
            Permission::Admin => "admin",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Permission {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, crate::Error> {
        [
            Permission::None,
            Permission::Read,
            Permission::Triage,
            Permission::Write,
            Permission::Maintain,
            Permission::Admin,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
        .ok_or_else(|| crate::Error::UnknownPermission {
            input: crate::error::excerpt(s),
        })
    }
}

crate::error::serde_via_str!(Permission);

/// The host of pull requests and their labels (GitHub).
///
/// Each method makes one attempt: a 5xx or a dropped connection is
/// [`PortError::Transient`], a spent or secondary rate limit is
/// [`PortError::RateLimited`] naming when to try again, and the engine
/// decides whether and when to retry (see the [module docs](self)). A
/// listing that spans pages may be retried whole.
#[async_trait]
pub trait PrHost: Send + Sync {
    /// Reads one PR with its state, head, author, body and every label, in
    /// one request where the API allows. A missing PR is
    /// [`PortError::NotFound`].
    async fn pull_request(&self, pr: PrNumber) -> Result<PullRequest, PortError>;

    /// Every open PR with its labels (the implementation pages through them).
    async fn open_pull_requests(&self) -> Result<Vec<PullRequest>, PortError>;

    /// Adds labels to a PR in one call, creating missing definitions. Labels
    /// already present are left as they are. Never replaces the whole set: a
    /// label a person adds at the same moment must survive.
    async fn add_labels(&self, pr: PrNumber, labels: &[String]) -> Result<(), PortError>;

    /// Removes one label from a PR. A label that is not on the PR counts as
    /// removed (`Ok`).
    async fn remove_label(&self, pr: PrNumber, label: &str) -> Result<(), PortError>;

    /// The user's permission on the repository. An unknown user is
    /// [`Permission::None`], not an error.
    async fn permission(&self, user: &Login) -> Result<Permission, PortError>;

    /// Whether `user` is an active member of `team` (a pending invitation
    /// is not membership; an unknown team or user is `Ok(false)`). The
    /// engine asks only when a policy names teams
    /// ([`crate::access`]); a host should remember each answer for the
    /// process, so a person costs one request per team.
    ///
    /// The default cannot tell and answers with a permanent error, which
    /// the engine counts as no membership.
    async fn team_membership(&self, team: &Team, user: &Login) -> Result<bool, PortError> {
        let _ = user;
        Err(PortError::permanent(format!(
            "this PR host cannot check membership of team {team}"
        )))
    }

    /// Creates or edits in place the one comment of this PR whose body
    /// contains `marker` (an HTML comment), so a PR never collects more than
    /// one status comment, and returns its id. `at` says where the comment
    /// is known to be: [`CommentAt::Id`] is edited with one request (and
    /// looked for by marker if it was deleted), [`CommentAt::Nowhere`]
    /// posted with one, and only [`CommentAt::Unknown`] needs a search.
    async fn upsert_comment(
        &self,
        pr: PrNumber,
        at: CommentAt,
        marker: &str,
        body: &str,
    ) -> Result<CommentId, PortError>;

    /// Deletes comment `id` of `pr`: a second status comment, which a run
    /// racing another posted. One already gone is success.
    async fn delete_comment(&self, pr: PrNumber, id: CommentId) -> Result<(), PortError>;

    /// Creates a repository label definition, or updates its colour and
    /// description; one that already exists with these values is success.
    async fn ensure_label(
        &self,
        name: &str,
        color: &str,
        description: &str,
    ) -> Result<(), PortError>;

    /// The names of every label defined in the repository.
    async fn repository_labels(&self) -> Result<Vec<String>, PortError>;

    /// Deletes a repository label definition only if no issue or PR carries
    /// it; returns whether it was deleted. A missing definition is `Ok(false)`.
    async fn delete_label_if_unused(&self, name: &str) -> Result<bool, PortError>;

    /// One label transition on a PR: takes `remove` off and puts `add` on
    /// (defining missing labels), in one request where the host can, never
    /// replacing the whole set: a label a person adds or removes meanwhile
    /// stays as they left it. Names match as the host matches them
    /// (case-insensitively on GitHub); a name in both lists ends up on the
    /// PR. Removing a label that is not there and adding one that is are
    /// no-ops, so repeating the call is safe, and two empty lists send
    /// nothing. Where the host needs several requests it adds first, so an
    /// interruption leaves the old and the new labels together, never
    /// neither. A missing PR is [`PortError::NotFound`] when there is
    /// something to add; a call that only removes may succeed instead, with
    /// nothing left to remove.
    ///
    /// One attempt, like every method: a transient failure is returned, not
    /// retried, for the engine is the one retry layer.
    ///
    /// The default calls [`add_labels`](Self::add_labels), then
    /// [`remove_label`](Self::remove_label) once per label to remove.
    async fn change_labels(
        &self,
        pr: PrNumber,
        add: &[String],
        remove: &[String],
    ) -> Result<(), PortError> {
        if !add.is_empty() {
            self.add_labels(pr, add).await?;
        }
        for label in remove {
            let kept = add.iter().any(|a| a.to_lowercase() == label.to_lowercase());
            if !kept {
                self.remove_label(pr, label).await?;
            }
        }
        Ok(())
    }

    /// Which of `names` are label definitions attached to at least one
    /// issue or PR, open or closed, spelled as given. A name with no
    /// definition is not in use. Reads only, so any repeat is safe; one
    /// attempt, for the engine retries.
    ///
    /// The default cannot tell and answers every name as in use, the safe
    /// answer for a caller that deletes what is unused; hosts should
    /// override it with a look-up in as few requests as they can.
    async fn labels_in_use(
        &self,
        names: &[String],
    ) -> Result<std::collections::BTreeSet<String>, PortError> {
        Ok(names.iter().cloned().collect())
    }

    /// Deletes the repository label definition `name`, which takes it off
    /// every issue and PR that carries it: ask
    /// [`labels_in_use`](Self::labels_in_use) first. A missing definition is
    /// `Ok`, so repeating the call is safe. One attempt, for the engine
    /// retries.
    ///
    /// The default goes through
    /// [`delete_label_if_unused`](Self::delete_label_if_unused), so on a host
    /// that does not override it a definition still attached stays.
    async fn delete_label(&self, name: &str) -> Result<(), PortError> {
        self.delete_label_if_unused(name).await.map(|_| ())
    }

    /// [`delete_label`](Self::delete_label) for every name of `names`, in as
    /// few requests as the host can (GitHub: one GraphQL document of
    /// `deleteLabel` mutations for the definitions whose ids it knows).
    /// Ask [`labels_in_use`](Self::labels_in_use) first. Repeating the call
    /// is safe; one attempt, for the engine retries.
    ///
    /// The default deletes them one by one.
    async fn delete_labels(&self, names: &[String]) -> Result<(), PortError> {
        for name in names {
            self.delete_label(name).await?;
        }
        Ok(())
    }
}

/// Which environment: a PR and a commit. Its name, `pr-{n}-{sha7}`, is the
/// same in every backend, so a backend can find an environment after a crash
/// from nothing but this.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvId {
    /// The PR it serves.
    pub pr: PrNumber,
    /// The commit it runs.
    pub sha: ShortSha,
}

impl EnvId {
    /// The environment of commit `sha` of PR `pr`.
    pub fn new(pr: PrNumber, sha: ShortSha) -> Self {
        EnvId { pr, sha }
    }

    /// The deterministic name, `pr-{n}-{sha7}`.
    pub fn name(&self) -> String {
        format!("pr-{}-{}", self.pr, self.sha)
    }

    /// The image tag, `pr-{n}-{sha7}-ci`.
    pub fn image_tag(&self) -> String {
        format!("pr-{}-{}-ci", self.pr, self.sha)
    }

    /// Reads a name of the form `pr-{n}-{sha7}` exactly; anything else is not
    /// Showtime's.
    pub fn parse_name(name: &str) -> Option<EnvId> {
        let rest = name.strip_prefix("pr-")?;
        let (pr, sha) = rest.split_once('-')?;
        if pr.starts_with('0') {
            return None;
        }
        Some(EnvId {
            pr: pr.parse().ok()?,
            sha: sha.parse().ok()?,
        })
    }
}

impl fmt::Display for EnvId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pr-{}-{}", self.pr, self.sha)
    }
}

/// Everything a backend needs to run one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvSpec {
    /// Which environment.
    pub id: EnvId,
    /// The full commit SHA.
    pub sha: Sha,
    /// The image to run, as the [`ImageBuilder`] returned it.
    pub image: String,
    /// Configuration: feature flags, debug, size.
    pub config: Config,
    /// Who asked for it (for tags and quotas).
    pub requested_by: Option<Login>,
    /// When it was asked for, by the engine's clock. Keep it with the
    /// environment (a tag, a record) and list it back as
    /// [`EnvInfo::created_at`].
    pub created_at: DateTime<Utc>,
    /// When it expires by TTL, if it does.
    pub expires_at: Option<DateTime<Utc>>,
}

/// How an environment is doing, as its backend sees it.
///
/// A listing reports what it sees now, and the planner decides (see
/// [self-healing](crate::plan#self-healing)): an environment that served
/// and is now [`Health::Failed`], or [`Health::Unhealthy`] for longer than
/// [`Policy::heal_after`](crate::policy::Policy::heal_after), is marked
/// `failed` on its PR and redeployed once. The default is
/// [`Health::Healthy`], for a backend that cannot tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Health {
    /// Created, not yet answering: the starting stage (see the
    /// [module docs](self#the-starting-stage)).
    Starting,
    /// Answering its health check.
    #[default]
    Healthy,
    /// Crashed, or failing its health check, for good: nothing will bring
    /// it back without a deploy (its process is gone, its rollout was
    /// stopped).
    Failed {
        /// Why, for a person.
        reason: String,
    },
    /// Put to sleep with [`Backend::sleep`]: it exists, runs nothing and
    /// answers nothing until [`Backend::wake`]. Not a failure: a sweep
    /// leaves it alone.
    Asleep,
    /// It served, and now crashes or fails its health check, while the
    /// platform keeps trying (ECS starting replacement tasks): it may
    /// recover by itself, so the planner waits
    /// [`Policy::heal_after`](crate::policy::Policy::heal_after) from
    /// `since` before it acts. `since` is the backend's own record (the
    /// first of the recent stopped tasks on ECS), so the wait holds across
    /// processes without a label.
    Unhealthy {
        /// Since when, as far as the backend's records go.
        since: DateTime<Utc>,
        /// Why: the last stopped task's reason and exit code, for a person.
        reason: String,
    },
}

impl Health {
    /// Why it is not healthy, for a [`Health::Failed`] or
    /// [`Health::Unhealthy`] environment.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Health::Failed { reason } | Health::Unhealthy { reason, .. } => Some(reason),
            Health::Starting | Health::Healthy | Health::Asleep => None,
        }
    }
}

/// One environment as its backend lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvInfo {
    /// Which environment.
    pub id: EnvId,
    /// How it is doing. A backend that lists an environment once served
    /// as [`Health::Starting`] hides a crash from the planner: report
    /// [`Health::Unhealthy`] or [`Health::Failed`] instead.
    pub health: Health,
    /// Where it answers, once known.
    pub address: Option<Address>,
    /// The [`EnvSpec::created_at`] it was deployed with; only when that was
    /// lost, when the backend created it. The engine compares it with its
    /// own clock: a sweep spares an environment no label claims while it is
    /// younger than [`Policy::orphan_grace`](crate::policy::Policy) (a
    /// concurrent run may be creating it), and the TTL counts from it when
    /// the labels lost the creation time.
    pub created_at: DateTime<Utc>,
    /// Who asked for it, from its tags.
    pub requested_by: Option<Login>,
    /// The configuration it runs with.
    pub config: Config,
}

/// Where environments run (a cloud).
///
/// A backend manages only what it created: it lists, changes and destroys
/// environments it tagged as Showtime's and whose names parse exactly as
/// [`EnvId::parse_name`] reads them, never anything else.
///
/// Each method makes one attempt and returns a transient error rather than
/// retrying it: the engine retries (see the [module docs](self)). A cloud
/// SDK's own retry mode, set on its client, is the exception: the ECS
/// backend keeps the AWS SDK's standard retry mode.
///
/// A missing environment is [`PortError::NotFound`] wherever it is an
/// error (`wait_ready`, `apply_config`); [`PortError::Permanent`] is
/// accepted too, and the engine treats both alike: not retried, the step is
/// recorded as failed. `destroy` of a missing environment is success.
///
/// `showtime_core::testing::contract` (feature `testing`) checks an
/// implementation against every promise here, method by method and through
/// the engine.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Starts the environment of `spec` and returns without waiting for it
    /// to be ready.
    ///
    /// If an environment with this [`EnvId`] exists, deploy succeeds without
    /// creating a second one and without changing the running one, whatever
    /// the spec says: the engine never deploys a changed spec under an id
    /// that exists (a new image is a new commit, hence a new id; a rebuild of
    /// the same commit destroys it first), and configuration changes go
    /// through [`Backend::apply_config`]. One that exists but has failed
    /// (crashed, stopped) is started again: a deploy asks for the
    /// environment to run, and a retry after a failure deploys again.
    async fn deploy(&self, spec: &EnvSpec) -> Result<(), PortError>;

    /// Waits out the starting stage, with the backend's own bounded timeout,
    /// until the environment answers its health check, and returns the
    /// address it answers at: the engine writes that address into the `🌐`
    /// label and the PR comment, so it must be right even if
    /// [`Backend::list`] does not report it yet.
    ///
    /// A successful `wait_ready` counts as healthy for the rest of the
    /// reconcile, even while `list` still says [`Health::Starting`] (an
    /// eventually consistent listing converges). One that stays unhealthy
    /// past the timeout is [`PortError::Permanent`] with the reason; a
    /// missing environment is [`PortError::NotFound`].
    async fn wait_ready(&self, id: &EnvId) -> Result<Address, PortError>;

    /// Replaces the environment's configuration without rebuilding its image,
    /// and returns once it is healthy again. A missing environment is
    /// [`PortError::NotFound`]: `apply_config` never creates one.
    async fn apply_config(&self, id: &EnvId, config: &Config) -> Result<(), PortError>;

    /// Destroys the environment and everything created for it, half-made
    /// ones included (deployed and never ready, or deployed halfway).
    /// Destroying one that does not exist succeeds.
    async fn destroy(&self, id: &EnvId) -> Result<(), PortError>;

    /// Whether this backend can put environments to sleep
    /// ([`Backend::sleep`], [`Backend::wake`]). The default is `false`, and
    /// then the engine never asks: `[sleep]` schedules do nothing.
    fn can_sleep(&self) -> bool {
        false
    }

    /// Scales the environment to zero (ECS: `desiredCount` 0; a process:
    /// stopped) while keeping everything needed to start it again as it
    /// was: [`Backend::list`] then lists it as [`Health::Asleep`]. Putting
    /// an environment that sleeps to sleep succeeds; a missing one is
    /// [`PortError::NotFound`].
    ///
    /// The default answers [`PortError::Permanent`]: a backend that
    /// implements it says so with [`Backend::can_sleep`].
    async fn sleep(&self, id: &EnvId) -> Result<(), PortError> {
        Err(PortError::permanent(format!(
            "this backend cannot put {id} to sleep"
        )))
    }

    /// Starts a sleeping environment again, as it was before it slept, and
    /// returns without waiting: the engine then waits with
    /// [`Backend::wait_ready`], as after a deploy. Waking one that is
    /// awake (or starting) succeeds; a missing one is
    /// [`PortError::NotFound`].
    ///
    /// The default answers [`PortError::Permanent`], like
    /// [`Backend::sleep`].
    async fn wake(&self, id: &EnvId) -> Result<(), PortError> {
        Err(PortError::permanent(format!(
            "this backend cannot wake {id}"
        )))
    }

    /// Every environment this backend manages, or only those of one PR:
    /// Showtime's own, never anything else in the same cloud. A listing may
    /// lag behind the other calls for a while (see [`Backend::wait_ready`]).
    async fn list(&self, pr: Option<PrNumber>) -> Result<Vec<EnvInfo>, PortError>;
}

/// Builds and publishes the image of a commit.
#[async_trait]
pub trait ImageBuilder: Send + Sync {
    /// Builds and pushes the image for `sha` of `pr` and returns its
    /// reference. A builder should return at once, building nothing, when
    /// that image already exists in the registry: the engine asks again
    /// for every deploy of a commit (`/circus refresh` of the running
    /// commit, a retry after a failure), and a commit's image is the same
    /// each time. The shipped command builder
    /// (`showtime_runtime::builder::CommandBuilder`) asks ECR first
    /// (`DescribeImages` of the tag) when its image is in the configured
    /// repository, and builds when the image is absent or the question
    /// fails; the shipped workflow builds with a registry layer cache.
    async fn build(&self, pr: PrNumber, sha: &Sha) -> Result<String, PortError>;
}

/// The time, and waiting. Injected so tests and the demo can move time.
#[async_trait]
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;

    /// Waits for `duration` (for retry backoff).
    async fn sleep(&self, duration: Duration);
}

/// A message for a [`WorkQueue`]: work for one PR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// The group the message belongs to (`owner/repo#42`): the messages of a
    /// group are handed out one batch at a time, in the order they were sent.
    pub group: String,
    /// A repeat of an id sent before (a redelivered webhook's
    /// `X-GitHub-Delivery`) is dropped by the queue.
    pub dedup_id: String,
    /// The payload, for the worker.
    pub body: String,
}

/// A message handed out by [`WorkQueue::receive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Its group.
    pub group: String,
    /// The id it was sent with.
    pub dedup_id: String,
    /// Its payload.
    pub body: String,
    /// The handle that deletes it or extends its time ([`WorkQueue::delete`],
    /// [`WorkQueue::extend`]).
    pub receipt: String,
    /// How many times it has been handed out, this time included.
    pub receive_count: u32,
}

/// A durable queue with per-group order, shared by several processes (SQS
/// FIFO): the webhook receiver sends, workers receive. While a batch of a
/// group is out (received, not deleted), no one receives the group's later
/// messages; a batch not deleted before its time runs out is handed out
/// again (the worker died), and one handed out too often goes to a
/// dead-letter queue. One attempt per call, for the caller retries.
#[async_trait]
pub trait WorkQueue: Send + Sync {
    /// Sends one message.
    async fn send(&self, message: &QueueMessage) -> Result<(), PortError>;

    /// Receives up to `max` messages, waiting up to `wait` for the first,
    /// and keeps them out of others' hands for `visibility`.
    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Received>, PortError>;

    /// Deletes a message that was handled.
    async fn delete(&self, receipt: &str) -> Result<(), PortError>;

    /// Keeps a message out of others' hands for `by` more, from now.
    async fn extend(&self, receipt: &str, by: Duration) -> Result<(), PortError>;
}

/// Something worth telling people beyond the PR comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The PR concerned; `None` for the repository as a whole (a budget
    /// warning).
    pub pr: Option<PrNumber>,
    /// One line, for a chat message.
    pub text: String,
}

/// Tells people about important changes (a Slack webhook, say), beside the
/// PR's status comment. Failures are logged and otherwise ignored.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Sends one notice.
    async fn notify(&self, notice: &Notice) -> Result<(), PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_parse_exactly() {
        let id = EnvId::parse_name("pr-42-abc123f").unwrap();
        assert_eq!(id.name(), "pr-42-abc123f");
        assert_eq!(id.image_tag(), "pr-42-abc123f-ci");
        for bad in [
            "pr-42-abc123f-service",
            "pr-042-abc123f",
            "pr-0-abc123f",
            "pr-42-ABC123F",
            "xpr-42-abc123f",
            "pr--abc123f",
        ] {
            assert!(EnvId::parse_name(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn permissions_are_ordered() {
        assert!(Permission::Admin > Permission::Write);
        assert!(Permission::Triage < Permission::Write);
        assert_eq!(
            "maintain".parse::<Permission>().unwrap(),
            Permission::Maintain
        );
        assert!("owner".parse::<Permission>().is_err());
    }
}
