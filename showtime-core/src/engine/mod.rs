//! The engine: runs plans through the ports.
//!
//! [`Engine::reconcile`] converges one PR: it reads the PR once, asks the
//! [planner](crate::plan) what to do (filling in the backend's view or the
//! actor's permission when the planner asks for them), carries the plan out
//! step by step, and starts another round on [`Next::Requeue`]. The engine
//! decides nothing itself: when a cloud step fails it stops that plan and
//! asks the planner again with the failure as an input
//! ([`Observation::failure`]), then carries out the plan that records it.
//!
//! Reconciles of one PR never interleave within a process. How many PRs run
//! at once is the caller's one limit (a program's queue; a sweep's fan-out,
//! [`Policy::max_concurrent`]), not a second one here. The engine is the one retry
//! layer: transient port errors are retried with bounded exponential backoff
//! and jitter, and a spent rate limit is waited out when it resets soon
//! ([`Retry`](crate::policy::Retry)).

mod retry;
mod run;
mod trace;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::sync::Mutex as AsyncMutex;
use tracing::Instrument;

use crate::access::{Access, Authorization, Membership, Memberships, access};
use crate::plan::{Actor, Decision, Event, Need, Next, Observation, Plan, Refusal, Step, plan};
use crate::policy::Policy;
use crate::ports::{
    Backend, Clock, EnvId, EnvInfo, ImageBuilder, Notifier, Permission, PortError, PrHost,
    PullRequest,
};

use crate::{Login, PrNumber, ShortSha, SizeName};
use run::{OnFailure, Run};

/// The adapters the engine works through.
#[derive(Clone)]
pub struct Ports {
    /// The PR host (GitHub).
    pub host: Arc<dyn PrHost>,
    /// Where environments run.
    pub backend: Arc<dyn Backend>,
    /// Builds images.
    pub builder: Arc<dyn ImageBuilder>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Optional notifications beside the PR comment.
    pub notifier: Option<Arc<dyn Notifier>>,
}

/// Why a reconcile stopped without converging.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The PR host failed; labels may be part-written, and the next reconcile
    /// of the PR finishes the work.
    #[error("PR #{pr}: GitHub call failed: {source}")]
    Host {
        /// The PR.
        pr: PrNumber,
        /// What the port said.
        source: PortError,
    },
    /// The backend could not be listed.
    #[error("PR #{pr}: listing the backend's environments failed: {source}")]
    Backend {
        /// The PR.
        pr: PrNumber,
        /// What the port said.
        source: PortError,
    },
    /// A listing that concerns no PR in particular (a sweep's) failed.
    #[error("listing {what} failed: {source}")]
    Listing {
        /// What was being listed.
        what: &'static str,
        /// What the port said.
        source: PortError,
    },
    /// The plan needed a result an earlier step should have produced (a bug).
    #[error("PR #{pr}: {message}")]
    Plan {
        /// The PR.
        pr: PrNumber,
        /// What was missing.
        message: String,
    },
}

impl EngineError {
    /// The error of a failed listing of `what`.
    pub(crate) fn listing(what: &'static str) -> impl FnOnce(PortError) -> EngineError {
        move |source| EngineError::Listing { what, source }
    }

    /// Whether running the reconcile again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            EngineError::Host { source, .. }
            | EngineError::Backend { source, .. }
            | EngineError::Listing { source, .. } => {
                source.is_transient() || matches!(source, PortError::RateLimited { .. })
            }
            EngineError::Plan { .. } => false,
        }
    }
}

/// One mutation, for the audit log: who, which PR and commit, what, and how
/// it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// The PR.
    pub pr: PrNumber,
    /// Who caused it (none for sweeps).
    pub actor: Option<Login>,
    /// The commit it concerns: the environment's for a cloud step, else
    /// the PR's head when the PR was read.
    pub sha: Option<ShortSha>,
    /// What was done, as a plan step prints.
    pub action: String,
    /// `Ok` or the error message.
    pub result: Result<(), String>,
    /// The environment's life, when the step changed it (what a usage and
    /// cost report counts).
    pub change: Option<EnvChange>,
}

/// A change in an environment's life, as an audit event records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvChange {
    /// The environment.
    pub env: EnvId,
    /// What happened to it.
    pub kind: ChangeKind,
    /// The size it runs with from now on (deploys and configuration
    /// changes; `None` is the backend's default size).
    pub size: Option<SizeName>,
}

/// What happened to an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Deployed: it runs (and costs) from now on.
    Deployed,
    /// Its configuration changed in place, perhaps its size.
    Configured,
    /// Destroyed: it costs nothing from now on.
    Destroyed,
    /// Put to sleep (scaled to zero): it costs nothing until it wakes.
    Slept,
    /// Woken from sleep: it runs (and costs) again from now on.
    Woke,
}

impl EnvChange {
    /// The change `step` makes, if it is a deploy, a configuration change,
    /// a destroy, a sleep or a wake.
    pub fn of(step: &Step) -> Option<EnvChange> {
        let (env, kind, size) = match step {
            Step::Deploy(d) => (&d.env, ChangeKind::Deployed, d.config.size.clone()),
            Step::ApplyConfig(env, config) => (env, ChangeKind::Configured, config.size.clone()),
            Step::Destroy(env) => (env, ChangeKind::Destroyed, None),
            Step::Sleep(env) => (env, ChangeKind::Slept, None),
            Step::Wake(env) => (env, ChangeKind::Woke, None),
            _ => return None,
        };
        Some(EnvChange {
            env: env.clone(),
            kind,
            size,
        })
    }
}

/// What a reconcile did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The PR.
    pub pr: PrNumber,
    /// The plan of each round, in order.
    pub plans: Vec<Plan>,
    /// Every mutation with its result.
    pub audit: Vec<AuditEvent>,
    /// The PR's labels at the end, as far as this run knows.
    pub labels: Vec<String>,
    /// The failure recorded on the PR, if a step failed.
    pub failure: Option<String>,
    /// Set when the last round still asked for another
    /// ([`Next::Requeue`]) and [`Policy::max_rounds`] was reached: the PR
    /// did not converge in this run. Nothing is lost (the labels say where
    /// it stopped, and the next reconcile goes on from there), but a caller
    /// should say so: the CLI exits non-zero.
    pub out_of_rounds: bool,
    /// The actor's permission, when this run read it (or was given it): a
    /// caller running more work for the same actor hands it on
    /// ([`ReconcileOptions::permission`]) instead of asking GitHub again.
    pub permission: Option<Permission>,
}

impl Outcome {
    /// Why the reconcile refused what was asked, if a plan refused it (the
    /// CLI exits with its "refused" code then).
    pub fn refusal(&self) -> Option<Refusal> {
        self.plans.iter().find_map(|plan| plan.refusal)
    }
}

/// What a caller of [`Engine::reconcile_with`] already knows, so that the
/// engine does not ask for it again; every part is optional.
///
/// ```
/// use showtime_core::engine::ReconcileOptions;
/// use showtime_core::ports::Permission;
///
/// let options = ReconcileOptions::new()
///     .actor("maxime".parse::<showtime_core::Login>().unwrap())
///     .permission(Permission::Write);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
pub struct ReconcileOptions {
    actor: Option<Login>,
    permission: Option<Permission>,
    read: Option<PullRequest>,
    backend: Option<Vec<EnvInfo>>,
}

impl ReconcileOptions {
    /// Nothing known: no actor, and every fact read when needed.
    pub fn new() -> Self {
        ReconcileOptions::default()
    }

    /// Who caused the event; none for sweeps and scheduled runs, which act
    /// on no request.
    pub fn actor(mut self, actor: impl Into<Option<Login>>) -> Self {
        self.actor = actor.into();
        self
    }

    /// The actor's repository permission, already read.
    pub fn permission(mut self, permission: impl Into<Option<Permission>>) -> Self {
        self.permission = permission.into();
        self
    }

    /// The PR as just read: the first round does not read it again.
    pub fn read(mut self, pr: impl Into<Option<PullRequest>>) -> Self {
        self.read = pr.into();
        self
    }

    /// Every environment the backend manages, as just listed: the first
    /// round does not list them again.
    pub fn backend(mut self, environments: impl Into<Option<Vec<EnvInfo>>>) -> Self {
        self.backend = environments.into();
        self
    }
}

/// Runs reconciles of PRs through [`Ports`] under a [`Policy`].
pub struct Engine {
    ports: Ports,
    policy: Policy,
    locks: Mutex<HashMap<PrNumber, Arc<AsyncMutex<()>>>>,
    defined: Mutex<HashSet<String>>,
    jitter: Mutex<u64>,
}

impl Engine {
    /// An engine over `ports` following `policy`.
    pub fn new(ports: Ports, mut policy: Policy) -> Self {
        let seed = ports.clock.now().timestamp_subsec_nanos();
        // A schedule the backend cannot keep is no schedule: the planner
        // never plans a sleep it would fail.
        if !ports.backend.can_sleep() {
            policy.sleep = None;
        }
        Engine {
            ports,
            policy,
            locks: Mutex::new(HashMap::new()),
            defined: Mutex::new(HashSet::new()),
            jitter: Mutex::new(u64::from(seed) | 1),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The ports.
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// Converges one PR after `event` caused by `actor`.
    pub async fn reconcile(
        &self,
        pr: PrNumber,
        event: Event,
        actor: Option<Login>,
    ) -> Result<Outcome, EngineError> {
        self.reconcile_with(pr, event, ReconcileOptions::new().actor(actor))
            .await
    }

    /// [`Engine::reconcile`] with what the caller already knows (the actor
    /// and their permission, the PR as read, the backend's listing, as a
    /// sweep has them), which saves the first round's reads.
    /// It runs in a `reconcile` span (PR, SHA, event, actor, reconcile id).
    pub async fn reconcile_with(
        &self,
        pr: PrNumber,
        event: Event,
        options: ReconcileOptions,
    ) -> Result<Outcome, EngineError> {
        let now = self.ports.clock.now();
        let span = trace::reconcile_span(pr, &event, options.actor.as_ref(), now);
        let result = self
            .reconcile_traced(pr, event, options)
            .instrument(span.clone())
            .await;
        span.in_scope(|| trace::finished(&result));
        result
    }

    async fn reconcile_traced(
        &self,
        pr: PrNumber,
        event: Event,
        options: ReconcileOptions,
    ) -> Result<Outcome, EngineError> {
        let ReconcileOptions {
            actor,
            mut permission,
            mut read,
            mut backend,
        } = options;
        let lock = self.lock_for(pr);
        let _serial = lock.lock().await;
        let mut run = Run::new(self, pr, actor.clone());
        let mut event = event;
        let mut converged = false;
        // Memberships asked for in one round serve the later ones.
        let mut memberships = Memberships::new();
        for _ in 0..self.policy.max_rounds.max(1) {
            let current = match read.take() {
                Some(current) => current,
                None => self.read_pr(pr).await?,
            };
            let mut obs = Observation::new(current, &self.policy.codec, event.clone());
            obs.actor = actor.clone().map(|login| Actor { login, permission });
            obs.backend = backend.take();
            obs.ready = run.ready().clone();
            obs.memberships = std::mem::take(&mut memberships);
            let plan = self.settle(&mut obs).await?;
            memberships = std::mem::take(&mut obs.memberships);
            let actor = obs.actor.clone();
            permission = actor.as_ref().and_then(|a| a.permission);
            run.start_round(obs.pr, obs.labels);
            let failed = run.execute(&plan, OnFailure::Stop).await?;
            let next = plan.next;
            run.record(plan);
            if let Some(failure) = failed {
                // What a failure does is the planner's to say.
                let record = run.failure_plan(failure, event.clone(), actor)?;
                run.execute(&record, OnFailure::Continue).await?;
                run.record(record);
                converged = true;
                break;
            }
            if next == Next::Done {
                converged = true;
                break;
            }
            // Later rounds look again (a fresh read: another process may
            // have acted meanwhile, and a stop must win); a sweep stays a
            // sweep.
            if event != Event::Sweep {
                event = Event::Look;
            }
        }
        run.write_comment().await?;
        Ok(run.finish(!converged, permission))
    }

    /// Reads one PR, with the engine's retries: for a caller that hands the
    /// same read to several reconciles ([`ReconcileOptions::read`]).
    pub async fn read_pr(&self, pr: PrNumber) -> Result<PullRequest, EngineError> {
        self.retry(|| self.ports.host.pull_request(pr))
            .await
            .map_err(|source| EngineError::Host { pr, source })
    }

    /// The plan a reconcile would carry out first, without changing anything
    /// (shadow mode). Reads the PR, and the backend and permission when the
    /// planner asks for them.
    pub async fn plan_only(
        &self,
        pr: PrNumber,
        event: Event,
        actor: Option<Login>,
    ) -> Result<Plan, EngineError> {
        let current = self.read_pr(pr).await?;
        let actor = actor.map(|login| Actor {
            login,
            permission: None,
        });
        self.plan_for(current, event, actor, None).await
    }

    /// [`Engine::plan_only`] for a PR already read, with what is already
    /// known of the actor's permission and of the backend, so neither is
    /// asked for again.
    pub async fn plan_for(
        &self,
        current: PullRequest,
        event: Event,
        actor: Option<Actor>,
        backend: Option<Vec<EnvInfo>>,
    ) -> Result<Plan, EngineError> {
        let mut obs = Observation::new(current, &self.policy.codec, event);
        obs.actor = actor;
        obs.backend = backend;
        self.settle(&mut obs).await
    }

    /// Asks the planner, filling in each fact it asks for (the backend's
    /// listing, the actor's permission) once, until it decides.
    async fn settle(&self, obs: &mut Observation) -> Result<Plan, EngineError> {
        let pr = obs.pr.number;
        loop {
            match plan(obs, &self.policy, self.ports.clock.now()) {
                Decision::Act(plan) => return Ok(plan),
                Decision::Observe(Need::Backend) if obs.backend.is_none() => {
                    let listed = self
                        .retry(|| self.ports.backend.list(None))
                        .await
                        .map_err(|source| EngineError::Backend { pr, source })?;
                    obs.backend = Some(listed);
                }
                Decision::Observe(Need::Permission)
                    if obs.actor.as_ref().is_some_and(|a| a.permission.is_none()) =>
                {
                    if let Some(actor) = obs.actor.as_mut() {
                        let p = match self
                            .retry(|| self.ports.host.permission(&actor.login))
                            .await
                        {
                            Ok(p) => p,
                            // A refusal consumes the request, so only a
                            // lasting failure may refuse; a rate limit or
                            // an outage leaves the request for the next
                            // reconcile.
                            Err(source) if source.may_pass() => {
                                return Err(EngineError::Host { pr, source });
                            }
                            // Fail closed.
                            Err(_) => Permission::None,
                        };
                        actor.permission = Some(p);
                    }
                }
                Decision::Observe(Need::Membership { team, login })
                    if !obs.memberships.contains_key(&(team.clone(), login.clone())) =>
                {
                    let membership = self
                        .membership(&team, &login)
                        .await
                        .map_err(|source| EngineError::Host { pr, source })?;
                    obs.memberships.insert((team, login), membership);
                }
                Decision::Observe(need) => {
                    return Err(EngineError::Plan {
                        pr,
                        message: format!("the planner asked again for {need:?}"),
                    });
                }
            }
        }
    }

    /// Whether `user` is an active member of `team`, with the engine's
    /// retries. A lasting error is [`Membership::Unchecked`], which counts
    /// as no membership (access fails closed) and is quoted in the refusal;
    /// one that may pass (an outage, a rate limit) is returned, so that
    /// nobody is refused for it.
    async fn membership(&self, team: &crate::Team, user: &Login) -> Result<Membership, PortError> {
        match self
            .retry(|| self.ports.host.team_membership(team, user))
            .await
        {
            Err(e) if e.may_pass() => Err(e),
            read => Ok(Membership::of(read)),
        }
    }

    /// Whether `user` may act on this repository, by the rule the planner
    /// applies ([`crate::access`]): their permission is read, and their
    /// team memberships only when the permission alone does not allow. For
    /// a binding that refuses before touching a PR (`showtime start`).
    /// An error reading the permission is returned; one reading a
    /// membership counts as no membership.
    pub async fn authorize(&self, user: &Login) -> Result<Authorization, EngineError> {
        let permission = self
            .retry(|| self.ports.host.permission(user))
            .await
            .map_err(EngineError::listing("the actor's permission"))?;
        let mut memberships = Memberships::new();
        loop {
            match access(&self.policy, user, permission, &memberships) {
                Access::Ask(team) => {
                    let membership = self
                        .membership(&team, user)
                        .await
                        .map_err(EngineError::listing("a team membership"))?;
                    memberships.insert((team, user.clone()), membership);
                }
                Access::Allowed(grant) => {
                    return Ok(Authorization {
                        permission,
                        memberships,
                        grant: Some(grant),
                    });
                }
                Access::Refused => {
                    return Ok(Authorization {
                        permission,
                        memberships,
                        grant: None,
                    });
                }
            }
        }
    }

    /// Answers a comment's malformed command lines: writes `errors` (each
    /// says what is valid) at the top of the PR's status comment, over its
    /// current state, as a refusal is written. Used by every binding that
    /// reads comments, so the author learns what went wrong wherever the
    /// comment was read.
    pub async fn reply_to_malformed(
        &self,
        pr: PrNumber,
        actor: Option<&Login>,
        errors: &[crate::Error],
    ) -> Result<(), EngineError> {
        let read = self.read_pr(pr).await?;
        let labels = self.policy.codec.parse(&read.labels);
        let mut run = Run::new(self, pr, actor.cloned());
        run.start_round(read, labels);
        run.reply(malformed_message(actor, errors));
        run.write_comment().await
    }

    /// Creates or updates every reusable label definition
    /// ([`Codec::static_labels`](crate::labels::Codec::static_labels)) with
    /// its colour and description; returns their names.
    pub async fn setup_labels(&self) -> Result<Vec<String>, EngineError> {
        let mut names = Vec::new();
        for (name, def) in self.policy.codec.static_labels() {
            self.retry(|| {
                self.ports
                    .host
                    .ensure_label(&name, def.color, &def.description)
            })
            .await
            .map_err(EngineError::listing("repository labels"))?;
            names.push(name);
        }
        Ok(names)
    }

    fn lock_for(&self, pr: PrNumber) -> Arc<AsyncMutex<()>> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(pr).or_default().clone()
    }
}

/// The reply to malformed command lines: who, how many, and each error.
fn malformed_message(actor: Option<&Login>, errors: &[crate::Error]) -> String {
    let who = actor.map_or_else(String::new, |a| format!("@{a}: "));
    let what = if errors.len() == 1 {
        "a command line was not understood, so nothing was done for it"
    } else {
        "some command lines were not understood, so nothing was done for them"
    };
    let mut message = format!("{who}{what}:\n");
    for error in errors {
        message.push_str(&format!("\n- {error}"));
    }
    message
}
