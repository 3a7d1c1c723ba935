//! One reconcile run: carries out plans step by step through the ports,
//! keeping what it believes the PR's labels to be. It decides nothing: a
//! cloud step that fails is handed back, and the planner says what follows.

use std::collections::{BTreeMap, HashMap};

use crate::comment;
use crate::labels::{LabelState, Trigger, diff};
use crate::plan::{Actor, Decision, Event, LabelOp, Observation, Plan, Step, StepFailure, plan};
use crate::ports::{CommentAt, EnvId, EnvSpec, Notice, Permission, PortError, PullRequest};
use crate::{Address, Login, PrNumber};

use super::{AuditEvent, Engine, EngineError, EnvChange, Outcome};

/// What to do when a cloud step fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OnFailure {
    /// Stop the plan and hand the failure back, to be planned for.
    Stop,
    /// Note it in the audit and go on (the plan records a failure already).
    Continue,
}

/// The state of one reconcile run.
pub(super) struct Run<'a> {
    engine: &'a Engine,
    pr: PrNumber,
    actor: Option<Login>,
    read: Option<PullRequest>,
    /// The labels as this run believes them to be on the PR.
    current: Vec<String>,
    /// What they say.
    state: LabelState,
    images: HashMap<EnvId, String>,
    /// Environments whose `wait_ready` succeeded in this run, with the
    /// address it returned.
    ready: BTreeMap<EnvId, Address>,
    /// The status comment's messages of this run, in order: the comment is
    /// written once, when the run ends and its outcome is known
    /// ([`Run::write_comment`]); `None` while no plan asked for it.
    comment: Option<Vec<String>>,
    pub(super) outcome: Outcome,
}

impl<'a> Run<'a> {
    pub(super) fn new(engine: &'a Engine, pr: PrNumber, actor: Option<Login>) -> Self {
        Run {
            engine,
            pr,
            actor,
            read: None,
            current: Vec::new(),
            state: LabelState::default(),
            images: HashMap::new(),
            ready: BTreeMap::new(),
            comment: None,
            outcome: Outcome {
                pr,
                plans: Vec::new(),
                audit: Vec::new(),
                labels: Vec::new(),
                failure: None,
                out_of_rounds: false,
                permission: None,
            },
        }
    }

    pub(super) fn start_round(&mut self, read: PullRequest, state: LabelState) {
        super::trace::read(read.head_sha.as_str());
        self.current = read.labels.clone();
        self.state = state;
        self.read = Some(read);
    }

    /// Keeps a plan that has run in the outcome.
    pub(super) fn record(&mut self, plan: Plan) {
        if let Some(failure) = &plan.failure {
            self.outcome.failure = Some(failure.clone());
        }
        self.outcome.plans.push(plan);
    }

    /// Environments whose `wait_ready` succeeded in this run, with the
    /// address it returned (see [`Observation::ready`]).
    pub(super) fn ready(&self) -> &BTreeMap<EnvId, Address> {
        &self.ready
    }

    /// The outcome, with the labels at the end of the run as far as it
    /// knows.
    pub(super) fn finish(mut self, out_of_rounds: bool, permission: Option<Permission>) -> Outcome {
        self.outcome.labels = self.current;
        self.outcome.out_of_rounds = out_of_rounds;
        self.outcome.permission = permission;
        self.outcome
    }

    /// The plan that records `failure`: the planner's answer for the labels
    /// as this run left them.
    pub(super) fn failure_plan(
        &self,
        failure: StepFailure,
        event: Event,
        actor: Option<Actor>,
    ) -> Result<Plan, EngineError> {
        let engine = self.engine;
        let mut read = self.read.clone().ok_or_else(|| EngineError::Plan {
            pr: self.pr,
            message: "a step failed before the PR was read".to_owned(),
        })?;
        read.labels = self.current.clone();
        let obs = Observation {
            pr: read,
            labels: self.state.clone(),
            event,
            actor,
            backend: None,
            ready: self.ready.clone(),
            failure: Some(failure),
            memberships: Default::default(),
        };
        match plan(&obs, &engine.policy, engine.ports.clock.now()) {
            Decision::Act(plan) => Ok(plan),
            Decision::Observe(need) => Err(EngineError::Plan {
                pr: self.pr,
                message: format!("the planner asked for {need:?} to record a failure"),
            }),
        }
    }

    /// Records that `step` was carried out, with `result`: in the log and
    /// in the outcome's audit events.
    fn audit(&mut self, step: &Step, result: Result<(), String>) {
        super::trace::step(step, &result);
        let sha = step
            .environment()
            .map(|env| env.sha.clone())
            .or_else(|| self.read.as_ref().map(|pr| pr.head_sha.short()));
        self.outcome.audit.push(AuditEvent {
            pr: self.pr,
            actor: self.actor.clone(),
            sha,
            action: step.to_string(),
            result,
            change: EnvChange::of(step),
        });
    }

    fn host_error(&self, source: PortError) -> EngineError {
        EngineError::Host {
            pr: self.pr,
            source,
        }
    }

    /// Carries out `plan`'s steps in order. Host failures end the run with
    /// an error; a cloud step that fails is handed back under
    /// [`OnFailure::Stop`], or noted and passed under
    /// [`OnFailure::Continue`].
    pub(super) async fn execute(
        &mut self,
        plan: &Plan,
        on_failure: OnFailure,
    ) -> Result<Option<StepFailure>, EngineError> {
        for step in &plan.steps {
            let result = match step {
                Step::Labels(ops) | Step::Intent(ops) => {
                    for op in ops {
                        op.apply(&mut self.state);
                    }
                    let removing = matches!(step, Step::Labels(_));
                    let result = self.write_labels(removing).await;
                    self.audit(step, result.clone().map_err(|e| e.to_string()));
                    result.map_err(|e| self.host_error(e))?;
                    continue;
                }
                Step::Comment(message) => {
                    let messages = self.comment.get_or_insert_with(Vec::new);
                    if !message.is_empty() && !messages.contains(message) {
                        messages.push(message.clone());
                    }
                    continue;
                }
                Step::Notify(text) => {
                    self.notify(step, text).await;
                    continue;
                }
                Step::DeleteComment(id) => {
                    let engine = self.engine;
                    let result = engine
                        .retry(|| engine.ports.host.delete_comment(self.pr, *id))
                        .await;
                    self.audit(step, result.clone().map_err(|e| e.to_string()));
                    result.map_err(|e| self.host_error(e))?;
                    continue;
                }
                cloud => self.cloud(cloud).await,
            };
            self.audit(step, result.clone().map_err(|e| e.to_string()));
            if let Err(error) = result {
                if on_failure == OnFailure::Stop {
                    return Ok(Some(StepFailure {
                        step: step.clone(),
                        error,
                    }));
                }
            }
        }
        Ok(None)
    }

    /// Carries out one cloud step.
    async fn cloud(&mut self, step: &Step) -> Result<(), PortError> {
        let engine = self.engine;
        let ports = &engine.ports;
        match step {
            Step::Build { env, sha } => {
                let image = engine.retry(|| ports.builder.build(env.pr, sha)).await?;
                self.images.insert(env.clone(), image);
                Ok(())
            }
            Step::Deploy(d) => {
                let Some(image) = self.images.get(&d.env).cloned() else {
                    return Err(PortError::permanent(format!(
                        "deploy of {} without a build (a planner bug)",
                        d.env
                    )));
                };
                let spec = EnvSpec {
                    id: d.env.clone(),
                    sha: d.sha.clone(),
                    image,
                    config: d.config.clone(),
                    requested_by: d.requested_by.clone(),
                    created_at: d.created_at,
                    expires_at: d.expires_at,
                };
                engine.retry(|| ports.backend.deploy(&spec)).await
            }
            Step::AwaitReady(env) => {
                let address = engine.retry(|| ports.backend.wait_ready(env)).await?;
                self.ready.insert(env.clone(), address);
                Ok(())
            }
            Step::ApplyConfig(env, config) => {
                engine
                    .retry(|| ports.backend.apply_config(env, config))
                    .await
            }
            Step::Destroy(env) => engine.retry(|| ports.backend.destroy(env)).await,
            Step::Sleep(env) => engine.retry(|| ports.backend.sleep(env)).await,
            Step::Wake(env) => engine.retry(|| ports.backend.wake(env)).await,
            Step::Labels(_)
            | Step::Intent(_)
            | Step::Comment(_)
            | Step::DeleteComment(_)
            | Step::Notify(_) => Ok(()),
        }
    }

    /// Asks for the status comment to be written with `message` when the
    /// run ends (a reply outside any plan).
    pub(super) fn reply(&mut self, message: String) {
        self.comment.get_or_insert_with(Vec::new).push(message);
    }

    /// Writes the status comment once, if any plan of the run asked for it:
    /// the state as the run leaves it, under its messages. The comment is
    /// found with one request where its place is known (a `🎪 💬` label, or
    /// a PR without comments), and a new comment's id is remembered in that
    /// label so that no later run has to search for it.
    pub(super) async fn write_comment(&mut self) -> Result<(), EngineError> {
        let Some(messages) = self.comment.take() else {
            return Ok(());
        };
        let engine = self.engine;
        let read = self.read.as_ref().ok_or_else(|| EngineError::Plan {
            pr: self.pr,
            message: "comment before the PR was read".to_owned(),
        })?;
        let message = messages.join("\n\n");
        let body = comment::render(
            read,
            &self.state,
            &message,
            engine.policy.default_ttl,
            engine.ports.clock.now(),
        );
        let at = CommentAt::of(read, self.state.comment);
        let result = engine
            .retry(|| {
                engine
                    .ports
                    .host
                    .upsert_comment(self.pr, at, comment::MARKER, &body)
            })
            .await;
        self.audit(
            &Step::Comment(message),
            result.clone().map(|_| ()).map_err(|e| e.to_string()),
        );
        let id = result.map_err(|e| self.host_error(e))?;
        if self.state.comment == Some(id) {
            return Ok(());
        }
        let remember = LabelOp::Comment(id);
        remember.apply(&mut self.state);
        let result = self.write_labels(true).await;
        let step = Step::Labels(vec![remember]);
        self.audit(&step, result.clone().map_err(|e| e.to_string()));
        result.map_err(|e| self.host_error(e))
    }

    /// A notification is best effort: the PR comment is the record.
    async fn notify(&mut self, step: &Step, text: &str) {
        if let Some(notifier) = &self.engine.ports.notifier {
            let notice = Notice {
                pr: Some(self.pr),
                text: text.to_owned(),
            };
            let result = notifier.notify(&notice).await;
            self.audit(step, result.map_err(|e| e.to_string()));
        }
    }

    /// Writes the difference between the labels on the PR and the state as
    /// one transition ([`PrHost::change_labels`](crate::ports::PrHost::change_labels)).
    /// Without `removing` (an intent, [`Step::Intent`]) only the additions
    /// are written, so the transition is one request; what they replace is
    /// removed by the next transition.
    async fn write_labels(&mut self, removing: bool) -> Result<(), PortError> {
        let engine = self.engine;
        let host = &engine.ports.host;
        let desired = engine
            .policy
            .codec
            .encode(&self.state, engine.policy.dialect);
        let legacy = engine.policy.codec.legacy_trigger().to_lowercase();
        let mut change = diff(&self.current, &desired);
        if !removing {
            change.remove.clear();
        } else if !self.state.triggers.contains(&Trigger::Up) {
            // The up-label is outside the 🎪 namespace, which a diff never
            // touches: it goes only when a plan consumed it (a stop).
            change.remove.extend(
                self.current
                    .iter()
                    .filter(|l| l.to_lowercase() == legacy)
                    .cloned(),
            );
        }
        if change.add.is_empty() && change.remove.is_empty() {
            return Ok(());
        }
        // A host that removes one label per request (GitHub's REST) may be
        // cut short between two: the up-label and triggers go first and the
        // statuses (a `destroying` intent) last, so what is left still says
        // to finish, never to start again.
        change.remove.sort_by_key(|label| match label {
            l if l.to_lowercase() == legacy => 0,
            l if l.contains('🚦') => 2,
            _ => 1,
        });
        for label in &change.add {
            self.define(label).await?;
        }
        // One transition, one call: the host makes it one request where it
        // can (GitHub: one GraphQL document), never replacing the whole set.
        engine
            .retry(|| host.change_labels(self.pr, &change.add, &change.remove))
            .await?;
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
