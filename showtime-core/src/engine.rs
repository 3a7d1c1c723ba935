//! The engine: runs plans through the ports.
//!
//! [`Engine::reconcile`] converges one PR: it reads the PR once, asks the
//! [planner](crate::plan) what to do (filling in the backend's view or the
//! actor's permission when the planner asks for them), carries the plan out
//! step by step, and starts another round on [`Next::Requeue`]. The engine
//! decides nothing itself beyond one generic rule: a cloud step that fails
//! marks its environment failed, with the reason in the PR's comment.
//!
//! Reconciles of one PR never interleave within a process; different PRs run
//! concurrently up to [`Policy::max_concurrent`]. Transient port errors are
//! retried with bounded exponential backoff and jitter.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Mutex as AsyncMutex, Semaphore};

use crate::comment;
use crate::labels::{LabelState, diff};
use crate::plan::{
    Actor, Decision, Event, LabelOp, Need, Next, Observation, Plan, Refusal, Step, failure_message,
    failure_ops, plan,
};
use crate::policy::Policy;
use crate::ports::{
    Backend, Clock, EnvId, EnvInfo, EnvSpec, ImageBuilder, Notice, Notifier, Permission, PortError,
    PrHost, PullRequest,
};
use crate::{Login, PrNumber};

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

/// One mutation, for the audit log: who, which PR, what, and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// The PR.
    pub pr: PrNumber,
    /// Who caused it (none for sweeps).
    pub actor: Option<Login>,
    /// What was done, as a plan step prints.
    pub action: String,
    /// `Ok` or the error message.
    pub result: Result<(), String>,
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
}

impl Outcome {
    /// Why the reconcile refused what was asked, if a plan refused it (the
    /// CLI exits with its "refused" code then).
    pub fn refusal(&self) -> Option<Refusal> {
        self.plans.iter().find_map(|plan| plan.refusal)
    }
}

/// Runs reconciles of PRs through [`Ports`] under a [`Policy`].
pub struct Engine {
    ports: Ports,
    policy: Policy,
    locks: Mutex<HashMap<PrNumber, Arc<AsyncMutex<()>>>>,
    slots: Semaphore,
    defined: Mutex<HashSet<String>>,
    jitter: Mutex<u64>,
}

impl Engine {
    /// An engine over `ports` following `policy`.
    pub fn new(ports: Ports, policy: Policy) -> Self {
        let seed = ports.clock.now().timestamp_subsec_nanos();
        Engine {
            slots: Semaphore::new(policy.max_concurrent.max(1)),
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
        self.reconcile_with(pr, event, actor, None, None).await
    }

    /// [`Engine::reconcile`] reusing a PR and a backend listing already read
    /// (as a sweep has them), which saves the first round's reads.
    pub async fn reconcile_with(
        &self,
        pr: PrNumber,
        event: Event,
        actor: Option<Login>,
        read: Option<PullRequest>,
        backend: Option<Vec<EnvInfo>>,
    ) -> Result<Outcome, EngineError> {
        let lock = self.lock_for(pr);
        let _serial = lock.lock().await;
        let _slot = self.slots.acquire().await;
        let mut run = Run::new(self, pr, actor.clone());
        let mut event = event;
        let mut read = read;
        let mut backend = backend;
        let mut permission: Option<Permission> = None;
        for _ in 0..self.policy.max_rounds.max(1) {
            let current = match read.take() {
                Some(current) => current,
                None => self
                    .retry(|| self.ports.host.pull_request(pr))
                    .await
                    .map_err(|source| EngineError::Host { pr, source })?,
            };
            let mut obs = Observation {
                labels: self.policy.codec.parse(&current.labels),
                pr: current,
                event: event.clone(),
                actor: actor.clone().map(|login| Actor { login, permission }),
                backend: backend.take(),
            };
            let plan = self.settle(&mut obs).await?;
            permission = obs.actor.as_ref().and_then(|a| a.permission);
            run.start_round(obs.pr, obs.labels);
            let next = run.execute(&plan).await?;
            run.outcome.plans.push(plan);
            if next == Next::Done {
                break;
            }
            // Later rounds look again; a sweep stays a sweep.
            if event != Event::Sweep {
                event = Event::Look;
            }
        }
        run.outcome.labels = run.current;
        Ok(run.outcome)
    }

    /// Reads one PR, with the engine's retries: for a caller that hands the
    /// same read to several reconciles ([`Engine::reconcile_with`]).
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
        let current = self
            .retry(|| self.ports.host.pull_request(pr))
            .await
            .map_err(|source| EngineError::Host { pr, source })?;
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
        let mut obs = Observation {
            labels: self.policy.codec.parse(&current.labels),
            pr: current,
            event,
            actor,
            backend,
        };
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
                        // Fail closed: an error reading the permission refuses.
                        let p = self
                            .retry(|| self.ports.host.permission(&actor.login))
                            .await
                            .unwrap_or(Permission::None);
                        actor.permission = Some(p);
                    }
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
        let host = &self.ports.host;
        let read = self
            .retry(|| host.pull_request(pr))
            .await
            .map_err(|source| EngineError::Host { pr, source })?;
        let labels = self.policy.codec.parse(&read.labels);
        let body = comment::render(
            &read,
            &labels,
            &malformed_message(actor, errors),
            self.policy.default_ttl,
            self.ports.clock.now(),
        );
        self.retry(|| host.upsert_comment(pr, comment::MARKER, &body))
            .await
            .map_err(|source| EngineError::Host { pr, source })
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
            .map_err(|source| EngineError::Listing {
                what: "repository labels",
                source,
            })?;
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

    /// Calls `f` until it succeeds, fails permanently, or the attempts run out.
    pub(crate) async fn retry<T, F, Fut>(&self, mut f: F) -> Result<T, PortError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, PortError>>,
    {
        let retry = self.policy.retry;
        let mut attempt = 1;
        loop {
            match f().await {
                Err(e) if e.is_transient() && attempt < retry.attempts => {
                    self.ports.clock.sleep(self.backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Exponential backoff with "equal jitter": half fixed, half random.
    fn backoff(&self, attempt: u32) -> Duration {
        let retry = self.policy.retry;
        let exp = retry
            .base
            .saturating_mul(
                1u32.checked_shl(attempt.saturating_sub(1))
                    .unwrap_or(u32::MAX),
            )
            .min(retry.max);
        let random = {
            let mut state = self.jitter.lock().unwrap_or_else(|p| p.into_inner());
            // xorshift64: enough to spread retries; not for secrets.
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            *state
        };
        let half = exp / 2;
        half + Duration::from_nanos(random % (half.as_nanos().max(1) as u64))
    }
}

/// The state of one reconcile run.
struct Run<'a> {
    engine: &'a Engine,
    pr: PrNumber,
    actor: Option<Login>,
    read: Option<PullRequest>,
    /// The labels as this run believes them to be on the PR.
    current: Vec<String>,
    /// What they say.
    state: LabelState,
    images: HashMap<EnvId, String>,
    outcome: Outcome,
}

impl<'a> Run<'a> {
    fn new(engine: &'a Engine, pr: PrNumber, actor: Option<Login>) -> Self {
        Run {
            engine,
            pr,
            actor,
            read: None,
            current: Vec::new(),
            state: LabelState::default(),
            images: HashMap::new(),
            outcome: Outcome {
                pr,
                plans: Vec::new(),
                audit: Vec::new(),
                labels: Vec::new(),
                failure: None,
            },
        }
    }

    fn start_round(&mut self, read: PullRequest, state: LabelState) {
        self.current = read.labels.clone();
        self.state = state;
        self.read = Some(read);
    }

    fn audit(&mut self, action: String, result: Result<(), String>) {
        self.outcome.audit.push(AuditEvent {
            pr: self.pr,
            actor: self.actor.clone(),
            action,
            result,
        });
    }

    fn host_error(&self, source: PortError) -> EngineError {
        EngineError::Host {
            pr: self.pr,
            source,
        }
    }

    async fn execute(&mut self, plan: &Plan) -> Result<Next, EngineError> {
        let engine = self.engine;
        let ports = &engine.ports;
        for step in &plan.steps {
            let action = step.to_string();
            let failed_env: Option<(EnvId, PortError)> = match step {
                Step::Labels(ops) => {
                    for op in ops {
                        op.apply(&mut self.state);
                    }
                    let result = self.write_labels().await;
                    self.audit(action, result.clone().map_err(|e| e.to_string()));
                    result.map_err(|e| self.host_error(e))?;
                    None
                }
                Step::RemoveLabel(label) => {
                    let result = engine
                        .retry(|| ports.host.remove_label(self.pr, label))
                        .await;
                    self.audit(action, result.clone().map_err(|e| e.to_string()));
                    result.map_err(|e| self.host_error(e))?;
                    self.current
                        .retain(|l| l.to_lowercase() != label.to_lowercase());
                    None
                }
                Step::Comment(message) => {
                    let read = self.read.as_ref().ok_or_else(|| EngineError::Plan {
                        pr: self.pr,
                        message: "comment before the PR was read".to_owned(),
                    })?;
                    let body = comment::render(
                        read,
                        &self.state,
                        message,
                        engine.policy.default_ttl,
                        ports.clock.now(),
                    );
                    let result = engine
                        .retry(|| ports.host.upsert_comment(self.pr, comment::MARKER, &body))
                        .await;
                    self.audit(action, result.clone().map_err(|e| e.to_string()));
                    result.map_err(|e| self.host_error(e))?;
                    None
                }
                Step::Notify(text) => {
                    if let Some(notifier) = &ports.notifier {
                        let notice = Notice {
                            pr: self.pr,
                            text: text.clone(),
                        };
                        // A notification is best effort: the PR comment is the record.
                        let result = notifier.notify(&notice).await;
                        self.audit(action, result.map_err(|e| e.to_string()));
                    }
                    None
                }
                Step::Build { env, sha } => {
                    let result = engine.retry(|| ports.builder.build(env.pr, sha)).await;
                    self.audit(
                        action,
                        result.as_ref().map(|_| ()).map_err(|e| e.to_string()),
                    );
                    match result {
                        Ok(image) => {
                            self.images.insert(env.clone(), image);
                            None
                        }
                        Err(e) => Some((env.clone(), e)),
                    }
                }
                Step::Deploy(d) => {
                    let image =
                        self.images
                            .get(&d.env)
                            .cloned()
                            .ok_or_else(|| EngineError::Plan {
                                pr: self.pr,
                                message: format!("deploy of {} without a build", d.env),
                            })?;
                    let spec = EnvSpec {
                        id: d.env.clone(),
                        sha: d.sha.clone(),
                        image,
                        config: d.config.clone(),
                        requested_by: d.requested_by.clone(),
                        created_at: d.created_at,
                        expires_at: d.expires_at,
                    };
                    let result = engine.retry(|| ports.backend.deploy(&spec)).await;
                    self.cloud_result(action, &d.env, result)
                }
                Step::AwaitReady(env) => {
                    let result = engine
                        .retry(|| ports.backend.wait_ready(env))
                        .await
                        .map(|_| ());
                    self.cloud_result(action, env, result)
                }
                Step::ApplyConfig(env, config) => {
                    let result = engine
                        .retry(|| ports.backend.apply_config(env, config))
                        .await;
                    self.cloud_result(action, env, result)
                }
                Step::Destroy(env) => {
                    let result = engine.retry(|| ports.backend.destroy(env)).await;
                    self.cloud_result(action, env, result)
                }
            };
            if let Some((env, error)) = failed_env {
                self.record_failure(step, &env, &error).await?;
                return Ok(Next::Done);
            }
        }
        Ok(plan.next)
    }

    fn cloud_result(
        &mut self,
        action: String,
        env: &EnvId,
        result: Result<(), PortError>,
    ) -> Option<(EnvId, PortError)> {
        self.audit(action, result.clone().map_err(|e| e.to_string()));
        result.err().map(|e| (env.clone(), e))
    }

    /// The engine's one rule: a failed cloud step marks its environment
    /// failed, releases what it holds, and says why on the PR.
    async fn record_failure(
        &mut self,
        step: &Step,
        env: &EnvId,
        error: &PortError,
    ) -> Result<(), EngineError> {
        let engine = self.engine;
        let ports = &engine.ports;
        let reason = error.to_string();
        let message = failure_message(&env.sha, &reason, &self.state);
        for op in failure_ops(&self.state, &env.sha) {
            op.apply(&mut self.state);
        }
        let result = self.write_labels().await;
        self.audit(
            LabelOp::Status(env.sha.clone(), crate::Status::Failed).to_string(),
            result.clone().map_err(|e| e.to_string()),
        );
        result.map_err(|e| self.host_error(e))?;
        if !matches!(step, Step::Destroy(_) | Step::ApplyConfig(..)) {
            // Nothing half-made is left running; a failed destroy is retried
            // by the next reconcile instead.
            let result = engine.retry(|| ports.backend.destroy(env)).await;
            self.audit(format!("destroy {env}"), result.map_err(|e| e.to_string()));
        }
        if let Some(read) = self.read.as_ref() {
            let body = comment::render(
                read,
                &self.state,
                &message,
                engine.policy.default_ttl,
                ports.clock.now(),
            );
            let result = engine
                .retry(|| ports.host.upsert_comment(self.pr, comment::MARKER, &body))
                .await;
            self.audit(
                "status comment: failure".to_owned(),
                result.clone().map_err(|e| e.to_string()),
            );
            result.map_err(|e| self.host_error(e))?;
        }
        if let Some(notifier) = &ports.notifier {
            let notice = Notice {
                pr: self.pr,
                text: format!("PR #{}: {message}", self.pr),
            };
            let _ = notifier.notify(&notice).await;
        }
        self.outcome.failure = Some(message);
        Ok(())
    }

    /// Writes the difference between the labels on the PR and the state: one
    /// call to add, one per label to remove.
    async fn write_labels(&mut self) -> Result<(), PortError> {
        let engine = self.engine;
        let host = &engine.ports.host;
        let desired = engine
            .policy
            .codec
            .encode(&self.state, engine.policy.dialect);
        let change = diff(&self.current, &desired);
        if !change.add.is_empty() {
            for label in &change.add {
                self.define(label).await?;
            }
            engine
                .retry(|| host.add_labels(self.pr, &change.add))
                .await?;
        }
        for label in &change.remove {
            engine.retry(|| host.remove_label(self.pr, label)).await?;
        }
        self.current = change.apply(&self.current);
        Ok(())
    }

    /// Gives a label its colour and description once per process.
    async fn define(&self, label: &str) -> Result<(), PortError> {
        let engine = self.engine;
        let key = label.to_lowercase();
        let known = engine
            .defined
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&key);
        if known || !engine.policy.define_labels {
            return Ok(());
        }
        let Some(def) = engine.policy.codec.definition(label) else {
            return Ok(());
        };
        engine
            .retry(|| {
                engine
                    .ports
                    .host
                    .ensure_label(label, def.color, &def.description)
            })
            .await?;
        engine
            .defined
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key);
        Ok(())
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
