//! Repair: converge what the backend runs with what the labels say, finish
//! interrupted flows and remove anomalous labels.

use std::collections::BTreeSet;

use crate::labels::{AnomalyKind, Detail};
use crate::policy::OrphanPolicy;
use crate::ports::{EnvInfo, Health};
use crate::{ShortSha, Status};

use super::failure::failure_ops;
use super::requests::Requests;
use super::{Decision, Event, LabelOp, Next, Plan, Planner, RETRY_HINT, Step, act, refused};

impl Planner<'_> {
    /// Converges what exists with what the labels say, after the label
    /// changes `ops`: finishes interrupted flows, activates a ready build,
    /// and repairs anomalies.
    pub(super) fn repair_from(&self, mut ops: Vec<LabelOp>, may_create: bool) -> Decision {
        let l = self.labels();
        // An environment this run started counts as state even when the
        // labels no longer claim it (someone stopped the PR meanwhile): it
        // must be found in the backend and destroyed.
        let has_state =
            !l.environments.is_empty() || l.primary().is_some() || !self.obs.ready.is_empty();
        if !has_state && !may_create && l.anomalies.is_empty() && self.obs.backend.is_none() {
            return Decision::Act(Plan::nothing("no environment"));
        }
        if let Some(need) = self.need_backend() {
            return need;
        }
        if may_create {
            match self.quota_refusal() {
                Err(need) => return Decision::Observe(need),
                Ok(Some((refusal, why))) => {
                    return refused(
                        refusal,
                        &format!("refused: {}", super::create::refusal_words(refusal)),
                        vec![Step::Comment(format!(
                            "Not started, because {why}. Stop an environment or wait for one \
                             to expire."
                        ))],
                    );
                }
                Ok(None) => {}
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
                    // An unhealthy environment served: it is `running`
                    // until self-healing says otherwise.
                    Health::Healthy | Health::Unhealthy { .. } => Status::Running,
                    Health::Starting => Status::Deploying,
                    Health::Failed { .. } => Status::Failed,
                    Health::Asleep => Status::Sleeping,
                };
                ops.push(LabelOp::Status(a.clone(), status));
                reasons.push("status restored");
            }
            // A sleeping one has no address; its wake is repaired below.
            let asleep = labelled.and_then(|e| e.status) == Some(Status::Sleeping);
            if labelled.and_then(|e| e.address).is_none() && env.address.is_some() && !asleep {
                ops.push(LabelOp::Address(a.clone(), env.address));
                reasons.push("address restored");
            }
        }

        // Asleep or awake where the labels say otherwise.
        if let Some(a) = active.clone() {
            let before = ops.len();
            let await_wake = self.repair_sleep(&a, &mut ops);
            if !await_wake.is_empty() {
                if !ops.is_empty() {
                    steps.push(Step::Labels(ops));
                }
                steps.extend(await_wake);
                return act("woken: await ready", steps, Next::Requeue);
            }
            if ops.len() > before {
                reasons.push("sleep state restored");
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
            let env = self.backend_env(&building);
            // A healthy environment listed without its address (a backend
            // may not list addresses) is awaited for it, not activated
            // address-less.
            let addressless = env.is_some_and(|e| e.address.is_none());
            match env.map(|e| &e.health) {
                Some(Health::Healthy) if !addressless => return self.activate(&building, ops),
                // A build that crashes while starting is the wait's to
                // judge: `wait_ready` has its own bound.
                Some(Health::Healthy | Health::Starting | Health::Unhealthy { .. }) => {
                    if !ops.is_empty() {
                        steps.push(Step::Labels(ops));
                    }
                    steps.push(Step::AwaitReady(self.id(&building)));
                    return act("starting: await ready", steps, Next::Requeue);
                }
                Some(Health::Failed { reason }) => {
                    return self.fail(&building, reason, ops);
                }
                Some(Health::Asleep) => {
                    // Nothing puts a build to sleep; one found asleep is
                    // woken and awaited like one that is starting.
                    if !ops.is_empty() {
                        steps.push(Step::Labels(ops));
                    }
                    let id = self.id(&building);
                    steps.push(Step::Wake(id.clone()));
                    steps.push(Step::AwaitReady(id));
                    return act("starting: wake and await ready", steps, Next::Requeue);
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

        // A serving environment that died: failed, and redeployed once.
        let building = l.building.is_some() && !ops.contains(&LabelOp::Building(None));
        if let Some(a) = active.as_ref().filter(|_| !building) {
            if let Some(decision) = self.heal(a, &ops) {
                return decision;
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
        // The comment is written last in a run: one cut short just before
        // leaves a serving environment whose PR was never told (no `💬`).
        let serving = active
            .as_ref()
            .and_then(|a| self.backend_env(a))
            .is_some_and(|e| e.health == Health::Healthy);
        if serving && l.comment.is_none() && steps.is_empty() {
            steps.push(Step::Comment(String::new()));
            reasons.push("status comment missing");
        }
        if !destroy.is_empty() {
            reasons.push("unclaimed environments");
            let intent = destroy
                .iter()
                .map(|s| LabelOp::Status(s.clone(), Status::Destroying))
                .collect();
            // The other changes go with the last transition, which removes
            // labels anyway: the intent stays one request.
            let mut plan_steps = vec![Step::Intent(intent)];
            plan_steps.extend(destroy.iter().map(|s| Step::Destroy(self.id(s))));
            ops.extend(destroy.iter().map(|s| LabelOp::Forget(s.clone())));
            plan_steps.push(Step::Labels(ops));
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

    pub(super) fn pointer_conflict(&self) -> bool {
        self.labels()
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::Conflict && a.detail == Some(Detail::Active))
    }
}
