//! Failure: what happens when a step fails. The environment is marked
//! failed, a half-made one is destroyed, one that served before an update
//! serves on, and the PR's comment says why; the next trigger retries. A
//! failed destroy is the exception: it stays `destroying`, and the next
//! reconcile destroys again.

use crate::labels::LabelState;
use crate::{ShortSha, Status};

use super::{Decision, LabelOp, Next, Plan, Planner, RETRY_HINT, Step, StepFailure};

impl Planner<'_> {
    /// The plan that records `failure`, a cloud step of the run's last plan.
    pub(super) fn record_failure(&self, failure: &StepFailure) -> Decision {
        let Some(env) = failure.step.environment() else {
            // Only cloud steps are fed back; nothing else marks an environment.
            return Decision::Act(Plan::nothing("a step without an environment failed"));
        };
        if let Step::Destroy(_) = failure.step {
            return self.destroy_failed(&env.sha, &failure.error.to_string(), &failure.step);
        }
        // A build, deploy or start that failed leaves a half-made environment
        // behind: it is destroyed. A failed configuration change leaves the
        // environment as it is.
        let half_made = matches!(
            failure.step,
            Step::Build { .. } | Step::Deploy(_) | Step::AwaitReady(_)
        );
        self.failure_plan(
            &env.sha,
            &failure.error.to_string(),
            Vec::new(),
            half_made,
            &format!("failed: {}", failure.step),
        )
    }

    /// The plan for a destroy of `sha` that failed: it stays `destroying`,
    /// so the next reconcile or sweep destroys it again. Marking it `failed`
    /// would end the teardown and leave the environment running, and
    /// costing, with nothing left to ask for its end.
    fn destroy_failed(&self, sha: &ShortSha, reason: &str, step: &Step) -> Decision {
        let message = format!(
            "Destroying environment `{sha}` failed: {reason}. \
             Showtime tries again at the next event or sweep of this PR."
        );
        let mut steps = Vec::new();
        if self.status_of(sha) != Some(Status::Destroying) {
            steps.push(Step::Labels(vec![LabelOp::Status(
                sha.clone(),
                Status::Destroying,
            )]));
        }
        steps.push(Step::Comment(message.clone()));
        steps.push(Step::Notify(format!(
            "PR #{}: {message}",
            self.obs.pr.number
        )));
        Decision::Act(Plan {
            reason: format!("failed: {step}"),
            steps,
            next: Next::Done,
            refusal: None,
            failure: Some(message),
        })
    }

    /// The plan for a build the backend reports failed, after the label
    /// changes `ops`.
    pub(super) fn fail(&self, sha: &ShortSha, reason: &str, ops: Vec<LabelOp>) -> Decision {
        self.failure_plan(sha, reason, ops, true, "build failed")
    }

    fn failure_plan(
        &self,
        sha: &ShortSha,
        reason: &str,
        mut ops: Vec<LabelOp>,
        destroy: bool,
        why: &str,
    ) -> Decision {
        let message = failure_message(sha, reason, self.labels());
        ops.extend(failure_ops(self.labels(), sha));
        let mut steps = vec![Step::Labels(ops)];
        if destroy {
            steps.push(Step::Destroy(self.id(sha)));
        }
        steps.push(Step::Comment(message.clone()));
        steps.push(Step::Notify(format!(
            "PR #{}: {message}",
            self.obs.pr.number
        )));
        Decision::Act(Plan {
            reason: why.to_owned(),
            steps,
            next: Next::Done,
            refusal: None,
            failure: Some(message),
        })
    }
}

/// The label changes that record a failure of `sha`: it is marked failed, it
/// stops being built, and an environment that was updating serves on.
pub(super) fn failure_ops(labels: &LabelState, sha: &ShortSha) -> Vec<LabelOp> {
    let mut ops = vec![LabelOp::Status(sha.clone(), Status::Failed)];
    if labels.building.as_ref() == Some(sha) {
        ops.push(LabelOp::Building(None));
        // A rebuild in place (a refresh, a self-heal) destroyed the serving
        // environment first; a run cut short may have left its `🎯`.
        if labels.active.as_ref() == Some(sha) {
            ops.push(LabelOp::Active(None));
        }
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
fn failure_message(sha: &ShortSha, reason: &str, labels: &LabelState) -> String {
    let serving = labels
        .active
        .as_ref()
        .filter(|a| *a != sha)
        .map(|a| format!(" `{a}` keeps serving."))
        .unwrap_or_default();
    format!("Environment `{sha}` failed: {reason}.{serving} {RETRY_HINT}.")
}
