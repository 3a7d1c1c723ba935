//! The planner: one PR's observation in, an ordered plan of idempotent steps out.
//!
//! [`plan`] is a pure function of an [`Observation`], the [`Policy`] and the
//! time. It never calls a port: when it needs a fact it was not given (the
//! backend's environments, the actor's permission) it answers
//! [`Decision::Observe`] and the engine asks again with the fact filled in.
//!
//! A plan records intent in labels before each cloud step and the outcome
//! after it, and every step is idempotent, so a plan cut short at any point is
//! finished by the next reconcile of the same PR. Long flows end in
//! [`Next::Requeue`]: the pointer switch of a create or rolling update happens
//! in a fresh reconcile, on a fresh read of the PR, so that a stop or a newer
//! commit that arrived during the build wins.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::commands::SlashCommand;
use crate::config::{ConfCommand, Config};
use crate::flags::from_description;
use crate::labels::{AnomalyKind, LabelState, Requester, Trigger};
use crate::policy::{OrphanPolicy, Policy};
use crate::ports::{EnvId, EnvInfo, Health, Permission, PullRequest};
use crate::{Address, Login, Sha, ShortSha, Status, Timestamp, Ttl, TtlUnit};

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
}

/// What the planner needs before it can decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The actor's repository permission.
    Permission,
    /// The backend's environments.
    Backend,
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
    /// The TTL asked for is not allowed (`manual`, or over the maximum).
    Ttl,
}

impl Refusal {
    /// A short stable name: `blocked`, `permission`, `untrusted_commit`,
    /// `quota`, `ttl`.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Blocked => "blocked",
            Refusal::Permission => "permission",
            Refusal::UntrustedCommit => "untrusted_commit",
            Refusal::Quota => "quota",
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
    /// Change the 🎪 labels (one add call, one remove call per label).
    Labels(Vec<LabelOp>),
    /// Remove a label outside the 🎪 namespace (the legacy up-label, on stop).
    RemoveLabel(String),
    /// Build (or find) the image of a commit.
    Build {
        /// The environment the image is for.
        env: EnvId,
        /// The full commit SHA.
        sha: Sha,
    },
    /// Start the environment (after a [`Step::Build`] of the same plan).
    Deploy(Deployment),
    /// Wait until the environment is healthy.
    AwaitReady(EnvId),
    /// Apply configuration without a rebuild.
    ApplyConfig(EnvId, Config),
    /// Destroy an environment.
    Destroy(EnvId),
    /// Update the sticky status comment, with a message for this event.
    Comment(String),
    /// Tell the notifier.
    Notify(String),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Labels(ops) => {
                let ops: Vec<String> = ops.iter().map(ToString::to_string).collect();
                write!(f, "labels: {}", ops.join("; "))
            }
            Step::RemoveLabel(label) => write!(f, "remove label `{label}`"),
            Step::Build { env, .. } => write!(f, "build image {}", env.image_tag()),
            Step::Deploy(d) => write!(f, "deploy {}", d.env),
            Step::AwaitReady(env) => write!(f, "await {} healthy", env),
            Step::ApplyConfig(env, _) => write!(f, "apply configuration to {env}"),
            Step::Destroy(env) => write!(f, "destroy {env}"),
            Step::Comment(message) => write!(f, "status comment: {message}"),
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

/// One change to the label state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelOp {
    /// Set an environment's status.
    Status(ShortSha, Status),
    /// Point `🎯` at an environment, or nowhere.
    Active(Option<ShortSha>),
    /// Point `🏗️` at an environment, or nowhere.
    Building(Option<ShortSha>),
    /// Start an environment's record afresh: creation time and requester.
    Created(ShortSha, Timestamp, Option<Requester>),
    /// Set or clear an environment's address.
    Address(ShortSha, Option<Address>),
    /// Mark an environment `destroying` and drop its other details, which
    /// no longer matter (fewer labels to write and then remove).
    Retire(ShortSha),
    /// Drop everything the labels say about an environment.
    Forget(ShortSha),
    /// Set or clear the TTL.
    Ttl(Option<Ttl>),
    /// Replace the configuration.
    Config(Config),
    /// Remove a trigger (it has been acted on, or refused).
    Consume(Trigger),
    /// Set or clear the freeze flag.
    Frozen(bool),
    /// Remove all Showtime state, keeping triggers not yet acted on and the
    /// freeze and blocked flags.
    Reset,
}

impl fmt::Display for LabelOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelOp::Status(sha, status) => write!(f, "{sha} {status}"),
            LabelOp::Active(Some(sha)) => write!(f, "active {sha}"),
            LabelOp::Active(None) => write!(f, "no active"),
            LabelOp::Building(Some(sha)) => write!(f, "building {sha}"),
            LabelOp::Building(None) => write!(f, "no building"),
            LabelOp::Created(sha, at, _) => write!(f, "{sha} created {}", at.label()),
            LabelOp::Address(sha, Some(a)) => write!(f, "{sha} at {a}"),
            LabelOp::Address(sha, None) => write!(f, "{sha} no address"),
            LabelOp::Retire(sha) => write!(f, "retire {sha}"),
            LabelOp::Forget(sha) => write!(f, "forget {sha}"),
            LabelOp::Ttl(Some(ttl)) => write!(f, "ttl {ttl}"),
            LabelOp::Ttl(None) => write!(f, "no ttl"),
            LabelOp::Config(_) => write!(f, "configuration"),
            LabelOp::Consume(trigger) => write!(f, "consume {trigger}"),
            LabelOp::Frozen(on) => write!(f, "frozen {on}"),
            LabelOp::Reset => write!(f, "reset"),
        }
    }
}

impl LabelOp {
    /// Applies this change to a label state.
    pub fn apply(&self, state: &mut LabelState) {
        match self {
            LabelOp::Status(sha, status) => {
                state.environments.entry(sha.clone()).or_default().status = Some(*status);
            }
            LabelOp::Active(sha) => state.active = sha.clone(),
            LabelOp::Building(sha) => state.building = sha.clone(),
            LabelOp::Created(sha, at, requester) => {
                let env = state.environments.entry(sha.clone()).or_default();
                env.created_at = Some(*at);
                env.requested_by = requester.clone();
                env.address = None;
            }
            LabelOp::Address(sha, address) => {
                state.environments.entry(sha.clone()).or_default().address = *address;
            }
            LabelOp::Retire(sha) => {
                state.environments.insert(
                    sha.clone(),
                    crate::labels::Environment {
                        status: Some(Status::Destroying),
                        ..Default::default()
                    },
                );
            }
            LabelOp::Forget(sha) => {
                state.environments.remove(sha);
                if state.active.as_ref() == Some(sha) {
                    state.active = None;
                }
                if state.building.as_ref() == Some(sha) {
                    state.building = None;
                }
            }
            LabelOp::Ttl(ttl) => state.ttl = *ttl,
            LabelOp::Config(config) => state.config = config.clone(),
            LabelOp::Consume(trigger) => {
                state.triggers.remove(trigger);
            }
            LabelOp::Frozen(on) => state.frozen = *on,
            LabelOp::Reset => {
                *state = LabelState {
                    frozen: state.frozen,
                    blocked: state.blocked,
                    triggers: std::mem::take(&mut state.triggers),
                    other_labels: std::mem::take(&mut state.other_labels),
                    ..LabelState::default()
                };
            }
        }
    }
}

/// Decides what to do for one PR. Pure: the same observation, policy and time
/// always give the same decision.
pub fn plan(obs: &Observation, policy: &Policy, now: DateTime<Utc>) -> Decision {
    Planner { obs, policy, now }.decide()
}

/// What the PR asks for, gathered from its triggers and the event.
#[derive(Debug, Default)]
struct Requests {
    start: bool,
    stop: bool,
    sync: bool,
    conf: Vec<ConfCommand>,
    ttl: Option<TtlRequest>,
    status: bool,
    help: bool,
    /// Trigger labels to remove once the requests are handled or refused.
    consumed: Vec<Trigger>,
}

#[derive(Debug, Clone, Copy)]
enum TtlRequest {
    Extend(Ttl),
    KeepAlive,
}

impl Requests {
    fn any(&self) -> bool {
        self.start
            || self.stop
            || self.sync
            || !self.conf.is_empty()
            || self.ttl.is_some()
            || self.status
            || self.help
    }
}

struct Planner<'a> {
    obs: &'a Observation,
    policy: &'a Policy,
    now: DateTime<Utc>,
}

/// The words of a plan's comments that list what people can do next.
const RETRY_HINT: &str =
    "comment `/circus refresh` or add `🎪 ⚡ showtime-trigger-start` to try again";

impl Planner<'_> {
    fn labels(&self) -> &LabelState {
        &self.obs.labels
    }

    fn head(&self) -> ShortSha {
        self.obs.pr.head_sha.short()
    }

    fn id(&self, sha: &ShortSha) -> EnvId {
        EnvId {
            pr: self.obs.pr.number,
            sha: sha.clone(),
        }
    }

    fn actor_login(&self) -> Option<&Login> {
        self.obs.actor.as_ref().map(|a| &a.login)
    }

    fn mention(&self) -> String {
        self.actor_login()
            .map_or_else(|| "Showtime".to_owned(), |login| format!("@{login}"))
    }

    /// This PR's environments as the backend lists them.
    fn backend_envs(&self) -> Vec<&EnvInfo> {
        self.obs
            .backend
            .iter()
            .flatten()
            .filter(|e| e.id.pr == self.obs.pr.number)
            .collect()
    }

    fn backend_env(&self, sha: &ShortSha) -> Option<&EnvInfo> {
        self.backend_envs().into_iter().find(|e| &e.id.sha == sha)
    }

    fn status_of(&self, sha: &ShortSha) -> Option<Status> {
        self.labels().environments.get(sha).and_then(|e| e.status)
    }

    fn gather(&self) -> Requests {
        let mut r = Requests::default();
        for trigger in &self.labels().triggers {
            match trigger {
                Trigger::Up => continue,
                Trigger::Start => r.start = true,
                Trigger::Stop => r.stop = true,
                Trigger::Sync => r.sync = true,
                Trigger::Conf(conf) => r.conf.push(conf.command().clone()),
            }
            r.consumed.push(trigger.clone());
        }
        match &self.obs.event {
            Event::UpLabelRemoved => r.stop = true,
            Event::Command(command) => match command {
                SlashCommand::Refresh => r.start = true,
                SlashCommand::Destroy => r.stop = true,
                SlashCommand::Extend(ttl) => r.ttl = Some(TtlRequest::Extend(*ttl)),
                SlashCommand::KeepAlive => r.ttl = Some(TtlRequest::KeepAlive),
                SlashCommand::Status => r.status = true,
                SlashCommand::Help => r.help = true,
                SlashCommand::Enable(name) => r.conf.push(ConfCommand::Enable(name.clone())),
                SlashCommand::Disable(name) => r.conf.push(ConfCommand::Disable(name.clone())),
                SlashCommand::Debug(on) => r.conf.push(ConfCommand::Debug(*on)),
                SlashCommand::Size(size) => r.conf.push(ConfCommand::Size(size.clone())),
            },
            Event::DescriptionEdited => r.conf.extend(self.description_changes()),
            Event::Look | Event::Push | Event::Sweep => {}
        }
        r
    }

    /// The PR description's feature flags that differ from the labels', as
    /// configuration commands; none while the PR has no environment (a
    /// create reads the description itself).
    fn description_changes(&self) -> Vec<ConfCommand> {
        let labels = self.labels();
        if labels.primary().is_none() {
            return Vec::new();
        }
        from_description(&self.obs.pr.body)
            .flags
            .into_iter()
            .filter(|(name, on)| labels.config.features.get(name) != Some(on))
            .map(|(name, on)| match on {
                true => ConfCommand::Enable(name),
                false => ConfCommand::Disable(name),
            })
            .collect()
    }

    /// `Ok(true)` when the actor may act, `Ok(false)` when refused, or the
    /// need to ask for their permission first.
    fn authorized(&self) -> Result<bool, Need> {
        match &self.obs.actor {
            None => Ok(false),
            Some(Actor {
                permission: None, ..
            }) => Err(Need::Permission),
            Some(Actor {
                permission: Some(p),
                ..
            }) => Ok(*p >= self.policy.required_permission),
        }
    }

    fn need_backend(&self) -> Option<Decision> {
        self.obs
            .backend
            .is_none()
            .then_some(Decision::Observe(Need::Backend))
    }

    fn decide(&self) -> Decision {
        let requests = self.gather();
        let labels = self.labels();

        if labels.blocked {
            let steps = if requests.any() || self.obs.event == Event::Push {
                vec![Step::Comment(
                    "Showtime is blocked on this PR (`🎪 🔒 showtime-blocked`); \
                     remove that label to use it."
                        .to_owned(),
                )]
            } else {
                Vec::new()
            };
            return refused(Refusal::Blocked, "blocked", steps);
        }

        if !self.obs.pr.state.is_open() {
            return self.closed(&requests);
        }
        if let Some(expired_at) = self.expired_at() {
            if let Some(need) = self.need_backend() {
                return need;
            }
            let message = format!(
                "The environment expired at {} (TTL `{}`) and was destroyed. {RETRY_HINT}.",
                expired_at.format("%Y-%m-%d %H:%M UTC"),
                self.ttl()
            );
            return self.teardown("TTL expired", message, true, &requests);
        }

        // A stop recorded (`destroying`) but interrupted: finish it first.
        let stopping = [labels.active.as_ref(), labels.building.as_ref()]
            .into_iter()
            .flatten()
            .any(|sha| self.status_of(sha) == Some(Status::Destroying));
        if stopping {
            if let Some(need) = self.need_backend() {
                return need;
            }
            let message = "The environment was destroyed.".to_owned();
            return self.teardown("finish stopping", message, true, &requests);
        }

        // A frozen PR ignores new commits, whoever pushed them.
        let pushed = self.obs.event == Event::Push && self.needs_update() && !labels.frozen;
        let wants_creation = self.wants_creation();
        if requests.any() || pushed || wants_creation {
            if self.obs.event == Event::Sweep || self.obs.actor.is_none() {
                // Nobody to act for: requests wait for an event with an actor.
                return self.repair_from(Vec::new(), false);
            }
            match self.authorized() {
                Err(need) => return Decision::Observe(need),
                Ok(false) => return self.refuse(&requests, pushed),
                Ok(true) => {}
            }
            if requests.any() {
                return self.handle(&requests);
            }
            if pushed {
                if let Some(need) = self.need_backend() {
                    return need;
                }
                return self.roll(&requests, "new commit");
            }
            return self.repair_from(Vec::new(), true);
        }
        self.repair_from(Vec::new(), false)
    }

    /// Whether the head commit differs from what is active or being built.
    fn needs_update(&self) -> bool {
        let head = self.head();
        let l = self.labels();
        (l.active.is_some() || l.building.is_some())
            && l.active.as_ref() != Some(&head)
            && l.building.as_ref() != Some(&head)
    }

    /// Whether the legacy up-label asks for an environment that does not exist.
    fn wants_creation(&self) -> bool {
        let l = self.labels();
        l.triggers.contains(&Trigger::Up)
            && l.active.is_none()
            && l.building.is_none()
            && self.status_of(&self.head()) != Some(Status::Failed)
    }

    fn ttl(&self) -> Ttl {
        self.labels().ttl.unwrap_or(self.policy.default_ttl)
    }

    /// The primary environment's creation time, from labels or the backend.
    fn created_at(&self) -> Option<DateTime<Utc>> {
        let sha = self.labels().primary()?;
        self.labels()
            .environments
            .get(sha)
            .and_then(|e| e.created_at)
            .map(|t| t.as_datetime())
            .or_else(|| self.backend_env(sha).map(|e| e.created_at))
    }

    fn expired_at(&self) -> Option<DateTime<Utc>> {
        let at = self.ttl().expires_at(self.created_at()?)?;
        (at <= self.now).then_some(at)
    }

    fn closed(&self, requests: &Requests) -> Decision {
        if self.labels().ttl == Some(Ttl::MANUAL) {
            return Decision::Act(Plan::nothing("PR closed; TTL manual keeps the environment"));
        }
        if let Some(need) = self.need_backend() {
            return need;
        }
        let has_state = !self.labels().environments.is_empty()
            || self.labels().primary().is_some()
            || !self.backend_envs().is_empty();
        if !has_state {
            return Decision::Act(Plan::nothing("PR closed; nothing to clean up"));
        }
        self.teardown(
            "PR closed",
            "The PR was closed, so its environment was destroyed.".to_owned(),
            false,
            requests,
        )
    }

    /// Every environment this PR has, by labels or in the backend.
    fn all_shas(&self) -> BTreeSet<ShortSha> {
        let l = self.labels();
        l.environments
            .keys()
            .cloned()
            .chain(l.active.clone())
            .chain(l.building.clone())
            .chain(self.backend_envs().into_iter().map(|e| e.id.sha.clone()))
            .collect()
    }

    fn teardown(
        &self,
        reason: &str,
        message: String,
        remove_up_label: bool,
        requests: &Requests,
    ) -> Decision {
        let shas = self.all_shas();
        let mut intent: Vec<LabelOp> = consume(requests);
        intent.extend(
            shas.iter()
                .map(|sha| LabelOp::Status(sha.clone(), Status::Destroying)),
        );
        let mut steps = vec![Step::Labels(intent)];
        if remove_up_label && self.labels().triggers.contains(&Trigger::Up) {
            steps.push(Step::RemoveLabel(
                self.policy.codec.legacy_trigger().to_owned(),
            ));
        }
        steps.extend(shas.iter().map(|sha| Step::Destroy(self.id(sha))));
        steps.push(Step::Labels(vec![LabelOp::Reset]));
        steps.push(Step::Comment(message.clone()));
        steps.push(Step::Notify(format!(
            "PR #{}: environment destroyed ({reason})",
            self.obs.pr.number
        )));
        act(reason, steps, Next::Done)
    }

    fn refuse(&self, requests: &Requests, pushed: bool) -> Decision {
        let permission = self
            .obs
            .actor
            .as_ref()
            .and_then(|a| a.permission)
            .unwrap_or(Permission::None);
        let required = self.policy.required_permission;
        let mut steps = Vec::new();
        let mut consumed = consume(requests);
        if pushed {
            consumed.push(LabelOp::Frozen(true));
            steps.push(Step::Labels(consumed));
            steps.push(Step::Comment(format!(
                "Commit `{}` was pushed by {}, whose permission is `{permission}` (`{required}` \
                 is needed), so it was not deployed and the environment is frozen. Someone with \
                 `{required}` permission can deploy it with `/circus refresh`.",
                self.head(),
                self.mention()
            )));
            return refused(
                Refusal::UntrustedCommit,
                "untrusted commit not deployed",
                steps,
            );
        }
        if !consumed.is_empty() {
            steps.push(Step::Labels(consumed));
        }
        steps.push(Step::Comment(format!(
            "{}: refused. Your permission on this repository is `{permission}`; Showtime acts \
             for `{required}` and above. Nothing was changed.",
            self.mention()
        )));
        refused(Refusal::Permission, "refused: permission", steps)
    }

    fn handle(&self, requests: &Requests) -> Decision {
        if requests.stop {
            if let Some(need) = self.need_backend() {
                return need;
            }
            let message = format!("{} destroyed the environment.", self.mention());
            return self.teardown("stop requested", message, true, requests);
        }
        if requests.help {
            return act(
                "help",
                consume_step(requests)
                    .into_iter()
                    .chain([Step::Comment(help_text())])
                    .collect(),
                Next::Done,
            );
        }
        if let Some(ttl) = requests.ttl {
            return self.set_ttl(ttl, requests);
        }
        if requests.start || requests.sync {
            if let Some(need) = self.need_backend() {
                return need;
            }
            return self.start(requests);
        }
        if !requests.conf.is_empty() {
            return self.configure(requests);
        }
        // `status`: refresh the comment.
        act(
            "status",
            consume_step(requests)
                .into_iter()
                .chain([Step::Comment(String::new())])
                .collect(),
            Next::Done,
        )
    }

    fn set_ttl(&self, request: TtlRequest, requests: &Requests) -> Decision {
        let ttl = match request {
            TtlRequest::KeepAlive => Ttl::CLOSE,
            TtlRequest::Extend(ttl) if ttl == Ttl::MANUAL && !self.policy.allow_manual_ttl => {
                return refused(
                    Refusal::Ttl,
                    "refused: manual TTL",
                    vec![Step::Comment(
                        "A `manual` TTL is not allowed here; use `/circus keep-alive` to keep \
                         the environment until the PR closes."
                            .to_owned(),
                    )],
                );
            }
            TtlRequest::Extend(ttl) => match (ttl.duration(), self.created_at()) {
                // "extend 48h" means 48 more hours from now: the TTL counts
                // from creation, so it becomes the age plus the extension.
                (Some(extra), Some(created)) => {
                    let age_hours = (self.now - created).num_hours().max(0);
                    let hours = u32::try_from(age_hours + extra.num_hours()).unwrap_or(u32::MAX);
                    let max_hours = self.policy.max_ttl.duration().map_or(u32::MAX, |d| {
                        u32::try_from(d.num_hours()).unwrap_or(u32::MAX)
                    });
                    match Ttl::new(hours, TtlUnit::Hours) {
                        Ok(total) if hours <= max_hours => total,
                        _ => {
                            return refused(
                                Refusal::Ttl,
                                "refused: TTL over the maximum",
                                vec![Step::Comment(format!(
                                    "Extending by `{ttl}` would make the environment live \
                                     {hours} hours in all; the maximum is `{}`.",
                                    self.policy.max_ttl
                                ))],
                            );
                        }
                    }
                }
                _ => ttl,
            },
        };
        let mut ops = consume(requests);
        ops.push(LabelOp::Ttl(Some(ttl)));
        act(
            "TTL changed",
            vec![
                Step::Labels(ops),
                Step::Comment(format!("{} set the TTL to `{ttl}`.", self.mention())),
            ],
            Next::Done,
        )
    }

    fn quota_refusal(&self) -> Option<String> {
        let others: Vec<&EnvInfo> = self
            .obs
            .backend
            .iter()
            .flatten()
            .filter(|e| e.id.pr != self.obs.pr.number)
            .collect();
        if let Some(max) = self.policy.quota_total {
            if others.len() >= max {
                return Some(format!(
                    "the total quota is reached: {} of {max} environments are running",
                    others.len()
                ));
            }
        }
        if let (Some(max), Some(login)) = (self.policy.quota_per_requester, self.actor_login()) {
            let mine: Vec<String> = others
                .iter()
                .filter(|e| e.requested_by.as_ref() == Some(login))
                .map(|e| format!("#{}", e.id.pr))
                .collect();
            if mine.len() >= max {
                return Some(format!(
                    "@{login} already has {} of {max} environments ({})",
                    mine.len(),
                    mine.join(", ")
                ));
            }
        }
        None
    }

    fn start(&self, requests: &Requests) -> Decision {
        let head = self.head();
        let l = self.labels();
        if l.building.as_ref() == Some(&head)
            && matches!(
                self.status_of(&head),
                Some(Status::Requested | Status::Building | Status::Deploying)
            )
        {
            // Nothing new to start; finish the build in progress (or resume
            // it after a crash) as any reconcile would.
            let mut ops = consume(requests);
            ops.extend(self.conf_ops(requests));
            return self.repair_from(ops, false);
        }
        match &l.active {
            Some(active) if active != &head => return self.roll(requests, "start requested"),
            Some(active) if !requests.start => {
                // A sync of an environment that already runs the head commit.
                let mut steps = consume_step(requests);
                steps.push(Step::Comment(format!(
                    "`{active}` already runs the head commit."
                )));
                return act("up to date", steps, Next::Done);
            }
            Some(active) => return self.build(requests, "rebuild", Some(active.clone())),
            None => {}
        }
        if let Some(why) = self.quota_refusal() {
            let mut steps = consume_step(requests);
            steps.push(Step::Comment(format!(
                "{}: not started, because {why}. Stop an environment or wait for one to expire.",
                self.mention()
            )));
            return refused(Refusal::Quota, "refused: quota", steps);
        }
        self.build(requests, "create", None)
    }

    /// Builds the head commit while `serving` (if any) keeps serving.
    fn roll(&self, requests: &Requests, why: &str) -> Decision {
        let serving = self.labels().active.clone();
        self.build(requests, &format!("rolling update ({why})"), serving)
    }

    /// The build-and-deploy pipeline for the head commit, up to readiness.
    fn build(&self, requests: &Requests, reason: &str, serving: Option<ShortSha>) -> Decision {
        let head = self.head();
        let l = self.labels();
        let requester = self
            .actor_login()
            .and_then(|login| Requester::new(login.clone()).ok())
            .or_else(|| {
                serving
                    .as_ref()
                    .and_then(|s| l.environments.get(s))
                    .and_then(|e| e.requested_by.clone())
            });
        // A new environment takes the description's flags; commands and
        // triggers of this same request come after them.
        let mut config = l.config.clone();
        let description = from_description(&self.obs.pr.body);
        if serving.is_none() {
            for (name, on) in &description.flags {
                config.features.insert(name.clone(), *on);
            }
        }
        for command in &requests.conf {
            config.apply(command);
        }
        let mut intent = consume(requests);
        if config != l.config {
            intent.push(LabelOp::Config(config.clone()));
        }
        intent.push(LabelOp::Frozen(false));
        // A rebuild of the serving commit cannot run beside itself: the
        // environment name is the commit's.
        let rebuild_in_place = serving.as_ref() == Some(&head);
        if rebuild_in_place {
            intent.push(LabelOp::Active(None));
        }
        intent.push(LabelOp::Building(Some(head.clone())));
        intent.push(LabelOp::Created(
            head.clone(),
            Timestamp::from_datetime(self.now),
            requester.clone(),
        ));
        intent.push(LabelOp::Status(head.clone(), Status::Building));
        if let Some(serving) = serving.as_ref().filter(|s| *s != &head) {
            intent.push(LabelOp::Status(serving.clone(), Status::Updating));
        }
        if l.ttl.is_none() {
            intent.push(LabelOp::Ttl(Some(self.policy.default_ttl)));
        }
        // Environments neither serving nor wanted any more (an older build).
        let stale: Vec<ShortSha> = self
            .all_shas()
            .into_iter()
            .filter(|sha| Some(sha) != serving.as_ref() || rebuild_in_place)
            .filter(|sha| sha != &head || rebuild_in_place)
            .collect();
        let mut steps = vec![Step::Labels(intent)];
        let mut building = format!("Building `{head}`…");
        if serving.is_none() && !description.errors.is_empty() {
            building.push_str("\n\nThese lines of the PR description were not applied:");
            for error in &description.errors {
                building.push_str(&format!("\n- {error}"));
            }
        }
        steps.push(Step::Comment(building));
        for sha in &stale {
            steps.push(Step::Destroy(self.id(sha)));
        }
        let forget: Vec<LabelOp> = stale
            .iter()
            .filter(|sha| *sha != &head)
            .map(|sha| LabelOp::Forget(sha.clone()))
            .collect();
        if !forget.is_empty() {
            steps.push(Step::Labels(forget));
        }
        // A fresh record (`Created` above): the backend is told the same
        // creation time, so its tags agree with the labels on the expiry.
        self.pipeline(
            &head,
            config,
            requester.map(|r| r.login().clone()),
            self.now,
            &mut steps,
        );
        act(reason, steps, Next::Requeue)
    }

    /// Build, deploy and await `sha`; the pointer switch is the next round's.
    fn pipeline(
        &self,
        sha: &ShortSha,
        config: Config,
        requester: Option<Login>,
        created_at: DateTime<Utc>,
        steps: &mut Vec<Step>,
    ) {
        let env = self.id(sha);
        let full = self.obs.pr.head_sha.clone();
        steps.push(Step::Build {
            env: env.clone(),
            sha: full.clone(),
        });
        steps.push(Step::Labels(vec![LabelOp::Status(
            sha.clone(),
            Status::Deploying,
        )]));
        steps.push(Step::Deploy(Deployment {
            env: env.clone(),
            sha: full,
            config,
            requested_by: requester,
            created_at,
            expires_at: self.ttl().expires_at(created_at),
        }));
        steps.push(Step::AwaitReady(env));
    }

    fn conf_ops(&self, requests: &Requests) -> Vec<LabelOp> {
        if requests.conf.is_empty() {
            return Vec::new();
        }
        let mut config = self.labels().config.clone();
        for command in &requests.conf {
            config.apply(command);
        }
        vec![LabelOp::Config(config)]
    }

    fn configure(&self, requests: &Requests) -> Decision {
        let l = self.labels();
        let mut config = l.config.clone();
        for command in &requests.conf {
            config.apply(command);
        }
        let applied: Vec<String> = requests.conf.iter().map(ToString::to_string).collect();
        let applied = applied.join("`, `");
        let mut ops = consume(requests);
        ops.push(LabelOp::Config(config.clone()));
        if let Some(need) = self.need_backend() {
            return need;
        }
        // Applied at once to a healthy active environment that is not being
        // replaced; otherwise recorded for the next deploy.
        let running = l.active.clone().filter(|a| {
            l.building.is_none()
                && self
                    .backend_env(a)
                    .is_some_and(|e| e.health == Health::Healthy)
                && !matches!(self.status_of(a), Some(Status::Destroying | Status::Failed))
        });
        let Some(active) = running else {
            return act(
                "configuration recorded",
                vec![
                    Step::Labels(ops),
                    Step::Comment(format!(
                        "Recorded `{applied}`; it applies when the environment next deploys."
                    )),
                ],
                Next::Done,
            );
        };
        ops.push(LabelOp::Status(active.clone(), Status::Configuring));
        act(
            "apply configuration",
            vec![
                Step::Labels(ops),
                Step::ApplyConfig(self.id(&active), config),
                Step::Labels(vec![LabelOp::Status(active.clone(), Status::Running)]),
                Step::Comment(format!(
                    "Applied `{applied}` to `{active}` without a rebuild."
                )),
            ],
            Next::Done,
        )
    }

    /// Converges what exists with what the labels say, after the label
    /// changes `ops`: finishes interrupted flows, activates a ready build,
    /// and repairs anomalies.
    fn repair_from(&self, mut ops: Vec<LabelOp>, may_create: bool) -> Decision {
        let l = self.labels();
        let has_state = !l.environments.is_empty() || l.primary().is_some();
        if !has_state && !may_create && l.anomalies.is_empty() && self.obs.backend.is_none() {
            return Decision::Act(Plan::nothing("no environment"));
        }
        if let Some(need) = self.need_backend() {
            return need;
        }
        if may_create {
            if let Some(why) = self.quota_refusal() {
                return refused(
                    Refusal::Quota,
                    "refused: quota",
                    vec![Step::Comment(format!(
                        "Not started, because {why}. Stop an environment or wait for one to expire."
                    ))],
                );
            }
            return self.build(&Requests::default(), "create (up-label)", None);
        }

        let mut steps: Vec<Step> = Vec::new();
        let mut reasons: Vec<&str> = if ops.is_empty() {
            Vec::new()
        } else {
            vec!["requests handled"]
        };
        let mut active = l.active.clone();

        // Two active pointers: keep the newest healthy environment.
        if active.is_none() && self.pointer_conflict() {
            let mut healthy: Vec<&EnvInfo> = self
                .backend_envs()
                .into_iter()
                .filter(|e| e.health == Health::Healthy)
                .collect();
            healthy.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            if let Some(newest) = healthy.last() {
                active = Some(newest.id.sha.clone());
                ops.push(LabelOp::Active(active.clone()));
                reasons.push("two active pointers");
            }
        }

        // The active environment's status and address, when the labels lost
        // them (a crash between adding a label and removing the old one
        // leaves two statuses, which parse as a conflict), come from the backend.
        if let Some((a, env)) = active
            .as_ref()
            .and_then(|a| Some((a, self.backend_env(a)?)))
        {
            let labelled = l.environments.get(a);
            if labelled.and_then(|e| e.status).is_none() {
                let status = match env.health {
                    Health::Healthy => Status::Running,
                    Health::Starting => Status::Deploying,
                    Health::Failed { .. } => Status::Failed,
                };
                ops.push(LabelOp::Status(a.clone(), status));
                reasons.push("status restored");
            }
            if labelled.and_then(|e| e.address).is_none() && env.address.is_some() {
                ops.push(LabelOp::Address(a.clone(), env.address));
                reasons.push("address restored");
            }
        }

        // A configuration change that was recorded but not applied.
        if let Some(a) = active.as_ref().filter(|a| {
            self.status_of(a) == Some(Status::Configuring)
                && self
                    .backend_env(a)
                    .is_some_and(|e| e.health == Health::Healthy)
        }) {
            ops.push(LabelOp::Status(a.clone(), Status::Configuring));
            return act(
                "finish applying configuration",
                vec![
                    Step::Labels(ops),
                    Step::ApplyConfig(self.id(a), l.config.clone()),
                    Step::Labels(vec![LabelOp::Status(a.clone(), Status::Running)]),
                    Step::Comment(format!("Applied the configuration to `{a}`.")),
                ],
                Next::Done,
            );
        }

        // A build in progress: finish it, or activate it once ready.
        if let Some(building) = l.building.clone() {
            match self.backend_env(&building).map(|e| &e.health) {
                Some(Health::Healthy) => return self.activate(&building, ops),
                Some(Health::Starting) => {
                    if !ops.is_empty() {
                        steps.push(Step::Labels(ops));
                    }
                    steps.push(Step::AwaitReady(self.id(&building)));
                    return act("await the build", steps, Next::Requeue);
                }
                Some(Health::Failed { reason }) => {
                    return self.fail(&building, reason, ops);
                }
                None if self.status_of(&building) == Some(Status::Failed) => {
                    ops.push(LabelOp::Building(None));
                    reasons.push("failed build");
                }
                None if building != self.head() => {
                    // Interrupted, and the head moved on since this build was
                    // authorized: drop it; the new head waits for an
                    // authorized push or trigger (a sweep deploys nothing).
                    ops.extend(failure_ops(l, &building));
                    ops.push(LabelOp::Forget(building.clone()));
                    let message = format!(
                        "The build of `{building}` was interrupted and the PR has moved on to \
                         `{}`. {RETRY_HINT}.",
                        self.head()
                    );
                    return act(
                        "drop a stale build",
                        vec![Step::Labels(ops), Step::Comment(message)],
                        Next::Done,
                    );
                }
                None => {
                    // Interrupted before or during deploy: run the pipeline again.
                    if !ops.is_empty() {
                        steps.push(Step::Labels(ops));
                    }
                    let requester = l
                        .environments
                        .get(&building)
                        .and_then(|e| e.requested_by.as_ref())
                        .map(|r| r.login().clone());
                    let created_at = l
                        .environments
                        .get(&building)
                        .and_then(|e| e.created_at)
                        .map_or(self.now, |t| t.as_datetime());
                    self.pipeline(
                        &building,
                        l.config.clone(),
                        requester,
                        created_at,
                        &mut steps,
                    );
                    return act("resume the build", steps, Next::Requeue);
                }
            }
        }

        let claimed: BTreeSet<&ShortSha> = active.iter().chain(l.building.iter()).collect();
        // An active environment the backend no longer has.
        if let Some(a) = &active {
            if self.backend_env(a).is_none() {
                ops.push(LabelOp::Forget(a.clone()));
                reasons.push("active environment gone");
                steps.push(Step::Comment(format!(
                    "Environment `{a}` no longer exists in the backend. {RETRY_HINT}."
                )));
            }
        }
        // Labels of environments the backend does not have (failures are
        // kept, so the PR still says what failed).
        for (sha, env) in &l.environments {
            let gone = self.backend_env(sha).is_none() && !claimed.contains(sha);
            if gone && env.status != Some(Status::Failed) {
                ops.push(LabelOp::Forget(sha.clone()));
                reasons.push("stale labels");
            }
        }
        // Environments being destroyed, and ones no label claims.
        let mut destroy: Vec<ShortSha> = Vec::new();
        for env in self.backend_envs() {
            let sha = &env.id.sha;
            if claimed.contains(sha) {
                continue;
            }
            let destroying = self.status_of(sha) == Some(Status::Destroying);
            let young = self.now - env.created_at < self.policy.orphan_grace;
            if !destroying && self.obs.event == Event::Sweep && young {
                continue;
            }
            if !destroying
                && self.policy.orphans == OrphanPolicy::Adopt
                && active.is_none()
                && sha == &self.head()
                && env.health == Health::Healthy
            {
                return self.activate(sha, ops);
            }
            destroy.push(sha.clone());
        }
        if !destroy.is_empty() {
            reasons.push("unclaimed environments");
            let mut intent = ops;
            intent.extend(
                destroy
                    .iter()
                    .map(|s| LabelOp::Status(s.clone(), Status::Destroying)),
            );
            let mut plan_steps = vec![Step::Labels(intent)];
            plan_steps.extend(destroy.iter().map(|s| Step::Destroy(self.id(s))));
            plan_steps.push(Step::Labels(
                destroy.iter().map(|s| LabelOp::Forget(s.clone())).collect(),
            ));
            plan_steps.extend(steps);
            return act(&reasons.join(", "), plan_steps, Next::Done);
        }
        if ops.is_empty() && !l.anomalies.is_empty() {
            reasons.push("anomalous labels");
        }
        if ops.is_empty() && l.anomalies.is_empty() && steps.is_empty() {
            return Decision::Act(Plan::nothing("converged"));
        }
        let mut plan_steps = vec![Step::Labels(ops)];
        plan_steps.extend(steps);
        act(&reasons.join(", "), plan_steps, Next::Done)
    }

    fn pointer_conflict(&self) -> bool {
        self.labels()
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::Conflict && a.label.contains('🎯'))
    }

    /// Switches traffic to a ready environment and retires the others.
    fn activate(&self, sha: &ShortSha, mut ops: Vec<LabelOp>) -> Decision {
        let address = self.backend_env(sha).and_then(|e| e.address);
        let retired: Vec<ShortSha> = self.all_shas().into_iter().filter(|s| s != sha).collect();
        ops.push(LabelOp::Active(Some(sha.clone())));
        ops.push(LabelOp::Building(None));
        ops.push(LabelOp::Status(sha.clone(), Status::Running));
        ops.push(LabelOp::Address(sha.clone(), address));
        ops.extend(retired.iter().map(|s| LabelOp::Retire(s.clone())));
        let mut steps = vec![Step::Labels(ops)];
        steps.extend(retired.iter().map(|s| Step::Destroy(self.id(s))));
        if !retired.is_empty() {
            steps.push(Step::Labels(
                retired.iter().map(|s| LabelOp::Forget(s.clone())).collect(),
            ));
        }
        let url = address.map_or_else(|| "(address unknown)".to_owned(), |a| a.url());
        steps.push(Step::Comment(format!(
            "Environment `{sha}` is running at {url}."
        )));
        steps.push(Step::Notify(format!(
            "PR #{}: environment {sha} running at {url}",
            self.obs.pr.number
        )));
        act("activate", steps, Next::Done)
    }

    fn fail(&self, sha: &ShortSha, reason: &str, mut ops: Vec<LabelOp>) -> Decision {
        ops.extend(failure_ops(self.labels(), sha));
        act(
            "build failed",
            vec![
                Step::Labels(ops),
                Step::Destroy(self.id(sha)),
                Step::Comment(failure_message(sha, reason, self.labels())),
            ],
            Next::Done,
        )
    }
}

/// The label changes that record a failure of `sha`: it is marked failed, it
/// stops being built, and an environment that was updating serves on.
pub fn failure_ops(labels: &LabelState, sha: &ShortSha) -> Vec<LabelOp> {
    let mut ops = vec![LabelOp::Status(sha.clone(), Status::Failed)];
    if labels.building.as_ref() == Some(sha) {
        ops.push(LabelOp::Building(None));
    }
    if let Some(active) = labels.active.as_ref().filter(|a| *a != sha) {
        let status = labels.environments.get(active).and_then(|e| e.status);
        if matches!(status, Some(Status::Updating | Status::Configuring)) {
            ops.push(LabelOp::Status(active.clone(), Status::Running));
        }
    }
    ops
}

/// The comment that explains a failure of `sha`.
pub fn failure_message(sha: &ShortSha, reason: &str, labels: &LabelState) -> String {
    let serving = labels
        .active
        .as_ref()
        .filter(|a| *a != sha)
        .map(|a| format!(" `{a}` keeps serving."))
        .unwrap_or_default();
    format!("Environment `{sha}` failed: {reason}.{serving} {RETRY_HINT}.")
}

fn act(reason: &str, steps: Vec<Step>, next: Next) -> Decision {
    Decision::Act(Plan {
        reason: reason.to_owned(),
        steps,
        next,
        refusal: None,
    })
}

fn refused(refusal: Refusal, reason: &str, steps: Vec<Step>) -> Decision {
    Decision::Act(Plan {
        reason: reason.to_owned(),
        steps,
        next: Next::Done,
        refusal: Some(refusal),
    })
}

fn consume(requests: &Requests) -> Vec<LabelOp> {
    requests
        .consumed
        .iter()
        .map(|t| LabelOp::Consume(t.clone()))
        .collect()
}

fn consume_step(requests: &Requests) -> Vec<Step> {
    let ops = consume(requests);
    if ops.is_empty() {
        Vec::new()
    } else {
        vec![Step::Labels(ops)]
    }
}

/// The reply to `/circus help`.
pub fn help_text() -> String {
    format!(
        "Showtime commands (comment one per line): {}.",
        crate::commands::VALID_COMMANDS
            .split(", ")
            .map(|c| format!("`/circus {c}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}
