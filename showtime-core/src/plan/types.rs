//! The planner's vocabulary: what it observes, what it may ask for, and the
//! plans of steps it answers with.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::access::Memberships;
use crate::commands::SlashCommand;
use crate::config::Config;
use crate::labels::{Codec, LabelState};
use crate::ports::{EnvId, EnvInfo, Permission, PortError, PullRequest};
use crate::{Address, CommentId, Login, Sha, Team};

use super::LabelOp;

/// Why the PR is being looked at. Events only say *which* PR to reconcile and,
/// for commands, what was asked; the decision comes from the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Something changed, or someone asked to sync: look and converge.
    Look,
    /// A new commit was pushed; the actor is the pusher.
    Push,
    /// The legacy up-label was removed: the environment is no longer wanted.
    UpLabelRemoved,
    /// The PR's description was edited: its `FEATURE_<NAME>=…` lines are
    /// applied to the environment as configuration changes (the actor is
    /// the editor). Between edits, labels and commands win; see
    /// [`crate::flags`].
    DescriptionEdited,
    /// A slash command from a comment; the actor is its author.
    Command(SlashCommand),
    /// A scheduled sweep: expire, clean up and repair, but act on no request.
    Sweep,
}

impl Event {
    /// The kind of event, one word for metrics and logs (`look`, `push`,
    /// `up_label_removed`, `description_edited`, `command`, `sweep`): a
    /// small, fixed set, unlike [`Display`](fmt::Display), which names a
    /// command's arguments.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Look => "look",
            Event::Push => "push",
            Event::UpLabelRemoved => "up_label_removed",
            Event::DescriptionEdited => "description_edited",
            Event::Command(_) => "command",
            Event::Sweep => "sweep",
        }
    }
}

impl fmt::Display for Event {
    /// The event in a few words, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Look => f.write_str("look"),
            Event::Push => f.write_str("push"),
            Event::UpLabelRemoved => f.write_str("up-label removed"),
            Event::DescriptionEdited => f.write_str("description edited"),
            Event::Command(command) => write!(f, "/circus {command}"),
            Event::Sweep => f.write_str("sweep"),
        }
    }
}

/// Who caused the event, and their permission once known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Their login.
    pub login: Login,
    /// Their repository permission; `None` until the engine has asked.
    pub permission: Option<Permission>,
}

/// Everything the planner looks at for one PR.
#[derive(Debug, Clone)]
pub struct Observation {
    /// The PR as one read returned it.
    pub pr: PullRequest,
    /// Its labels, parsed.
    pub labels: LabelState,
    /// Why we are looking.
    pub event: Event,
    /// Who caused the event (none for sweeps).
    pub actor: Option<Actor>,
    /// Every environment the backend manages, once listed.
    pub backend: Option<Vec<EnvInfo>>,
    /// Environments whose
    /// [`Backend::wait_ready`](crate::ports::Backend::wait_ready) succeeded
    /// earlier in this run, with the address it returned. They count as healthy at that
    /// address whatever the listing says: a listing may lag behind (ECS's
    /// `DescribeServices` does), and the run must not wait for it.
    pub ready: BTreeMap<EnvId, Address>,
    /// A cloud step of this run's last plan that failed. The planner then
    /// answers with the plan that records the failure, whatever else the
    /// observation says.
    pub failure: Option<StepFailure>,
    /// Team memberships asked for so far ([`Need::Membership`]): of the
    /// actor for [`Policy::allowed_teams`](crate::policy::Policy), and of
    /// requesters for team quotas.
    pub memberships: Memberships,
}

impl Observation {
    /// What a PR read says, parsed with `codec`, for `event`: no actor,
    /// backend listing or failure yet.
    pub fn new(pr: PullRequest, codec: &Codec, event: Event) -> Self {
        Observation {
            labels: codec.parse(&pr.labels),
            pr,
            event,
            actor: None,
            backend: None,
            ready: BTreeMap::new(),
            failure: None,
            memberships: Memberships::new(),
        }
    }
}

/// A cloud step that failed while a plan ran, after the engine's retries:
/// the engine stops that plan there and plans again with this filled in
/// ([`Observation::failure`]), so what a failure does is decided here, like
/// everything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailure {
    /// The step, as the plan had it.
    pub step: Step,
    /// What the port answered.
    pub error: PortError,
}

/// What the planner needs before it can decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// The actor's repository permission.
    Permission,
    /// The backend's environments.
    Backend,
    /// Whether `login` is an active member of `team`, to put in
    /// [`Observation::memberships`] (see [`crate::access`]).
    Membership {
        /// The team.
        team: Team,
        /// Whose membership.
        login: Login,
    },
}

/// The planner's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Fill in this fact and ask again.
    Observe(Need),
    /// Carry out this plan.
    Act(Plan),
}

/// What to do after a plan has run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Converged; wait for the next event.
    Done,
    /// Reconcile again now, from a fresh read.
    Requeue,
}

/// An ordered list of idempotent steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Why, in a few words (for logs, audit and `showtime plan`).
    pub reason: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// What comes after.
    pub next: Next,
    /// Set when the plan refuses what was asked: its steps only reply on
    /// the PR (and drop a refused trigger); no environment changes.
    pub refusal: Option<Refusal>,
    /// Set when the plan records a failure: the explanation its status
    /// comment gives.
    pub failure: Option<String>,
}

/// Why a plan refuses what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// Showtime is blocked on the PR (`🎪 🔒 showtime-blocked`).
    Blocked,
    /// The actor's repository permission is below the policy's.
    Permission,
    /// A commit pushed by someone below the permission level was not
    /// deployed; the PR is frozen.
    UntrustedCommit,
    /// A per-requester or total quota is reached.
    Quota,
    /// A team's quota is reached ([`Policy::team_quotas`](crate::policy::Policy)).
    TeamQuota,
    /// The TTL asked for is not allowed (`manual`, or over the maximum).
    Ttl,
}

impl Refusal {
    /// A short stable name: `blocked`, `permission`, `untrusted_commit`,
    /// `quota`, `team_quota`, `ttl`.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Blocked => "blocked",
            Refusal::Permission => "permission",
            Refusal::UntrustedCommit => "untrusted_commit",
            Refusal::Quota => "quota",
            Refusal::TeamQuota => "team_quota",
            Refusal::Ttl => "ttl",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Plan {
    /// A plan that does nothing.
    pub fn nothing(reason: impl Into<String>) -> Self {
        Plan {
            reason: reason.into(),
            steps: Vec::new(),
            next: Next::Done,
            refusal: None,
            failure: None,
        }
    }

    /// Whether the plan has no steps.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "plan: {}", self.reason)?;
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f, "  {}. {step}", i + 1)?;
        }
        match self.next {
            Next::Done => writeln!(f, "  then: done"),
            Next::Requeue => writeln!(f, "  then: reconcile again"),
        }
    }
}

/// One idempotent step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Change the 🎪 labels: one transition (one request on GitHub where
    /// every label's id is known, else an add and a removal).
    Labels(Vec<LabelOp>),
    /// Record an intent before a cloud step by adding labels only, which is
    /// one request whatever is known: the labels these changes replace stay
    /// until the next [`Step::Labels`]. Used for `destroying`, which the
    /// parser reads over the status it sits beside.
    Intent(Vec<LabelOp>),
    /// Build (or find) the image of a commit.
    Build {
        /// The environment the image is for.
        env: EnvId,
        /// The full commit SHA.
        sha: Sha,
    },
    /// Start the environment (after a [`Step::Build`] of the same plan).
    Deploy(Deployment),
    /// Wait out the environment's *starting* stage until it is ready
    /// ([`Backend::wait_ready`](crate::ports::Backend::wait_ready)).
    AwaitReady(EnvId),
    /// Apply configuration without a rebuild.
    ApplyConfig(EnvId, Config),
    /// Destroy an environment.
    Destroy(EnvId),
    /// Scale an environment to zero ([`Backend::sleep`](crate::ports::Backend::sleep)).
    Sleep(EnvId),
    /// Start a sleeping environment again
    /// ([`Backend::wake`](crate::ports::Backend::wake)); a
    /// [`Step::AwaitReady`] follows.
    Wake(EnvId),
    /// Update the sticky status comment, with a message for this event.
    Comment(String),
    /// Delete a second status comment (two runs at once each posted one);
    /// planned before the label change that forgets its `🎪 💬` label.
    DeleteComment(CommentId),
    /// Tell the notifier.
    Notify(String),
}

impl Step {
    /// The environment a cloud step acts on; `None` for label, comment and
    /// notification steps.
    pub fn environment(&self) -> Option<&EnvId> {
        match self {
            Step::Build { env, .. }
            | Step::AwaitReady(env)
            | Step::ApplyConfig(env, _)
            | Step::Destroy(env)
            | Step::Sleep(env)
            | Step::Wake(env) => Some(env),
            Step::Deploy(d) => Some(&d.env),
            Step::Labels(_)
            | Step::Intent(_)
            | Step::Comment(_)
            | Step::DeleteComment(_)
            | Step::Notify(_) => None,
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Labels(ops) => {
                let ops: Vec<String> = ops.iter().map(ToString::to_string).collect();
                write!(f, "labels: {}", ops.join("; "))
            }
            Step::Intent(ops) => {
                let ops: Vec<String> = ops.iter().map(ToString::to_string).collect();
                write!(f, "intent: {}", ops.join("; "))
            }
            Step::Build { env, .. } => write!(f, "build image {}", env.image_tag()),
            Step::Deploy(d) => write!(f, "deploy {}", d.env),
            Step::AwaitReady(env) => write!(f, "await {env} ready"),
            Step::ApplyConfig(env, _) => write!(f, "apply configuration to {env}"),
            Step::Destroy(env) => write!(f, "destroy {env}"),
            Step::Sleep(env) => write!(f, "put {env} to sleep"),
            Step::Wake(env) => write!(f, "wake {env}"),
            Step::Comment(message) => write!(f, "status comment: {message}"),
            Step::DeleteComment(id) => write!(f, "delete the second status comment {id}"),
            Step::Notify(text) => write!(f, "notify: {text}"),
        }
    }
}

/// What a [`Step::Deploy`] starts; the engine adds the image it built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// Which environment.
    pub env: EnvId,
    /// The full commit SHA.
    pub sha: Sha,
    /// Its configuration.
    pub config: Config,
    /// Who asked for it.
    pub requested_by: Option<Login>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When it expires by TTL.
    pub expires_at: Option<DateTime<Utc>>,
}
