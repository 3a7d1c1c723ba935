//! Self-healing: a serving environment that died is noticed, marked
//! `failed` with the backend's reason, and redeployed once; a second
//! failure is left for a person.
//!
//! It is part of repair, so every reconcile that lists the backend (the
//! sweep's, and any event's that needs the listing) notices, and no flow
//! lists the backend for it alone. "Once" holds across processes because
//! it is recorded in the labels (`🎪 🩹 <sha7>`) before the redeploy
//! starts, together with the `failed` status: a crash between the two
//! leaves the environment `failed`, never redeployed twice. How long an
//! environment has been unhealthy is the backend's own record
//! ([`Health::Unhealthy::since`](crate::ports::Health::Unhealthy)), so the
//! wait costs no label either.

use crate::ports::Health;
use crate::{ShortSha, Status};

use super::{Decision, LabelOp, Next, Plan, Planner, RETRY_HINT, Step};

impl Planner<'_> {
    /// Why the serving environment `sha` has failed long enough to act on,
    /// if it has: listed [`Health::Failed`], or [`Health::Unhealthy`] for
    /// at least [`Policy::heal_after`](crate::policy::Policy::heal_after).
    fn dead(&self, sha: &ShortSha) -> Option<String> {
        let after = self.policy.heal_after?;
        if self.status_of(sha) != Some(Status::Running) {
            return None;
        }
        match &self.backend_env(sha)?.health {
            Health::Failed { reason } => Some(reason.clone()),
            Health::Unhealthy { since, reason } if self.now - *since >= after => {
                Some(reason.clone())
            }
            // Asleep beside `running`: a sleep cut short, which the sleep rules repair.
            Health::Unhealthy { .. } | Health::Starting | Health::Healthy | Health::Asleep => None,
        }
    }

    /// The plan for the active environment `sha` when it died while
    /// serving, after the label changes `ops`; `None` while it serves (or
    /// may still recover by itself).
    pub(super) fn heal(&self, sha: &ShortSha, ops: &[LabelOp]) -> Option<Decision> {
        let reason = self.dead(sha)?;
        let pr = self.obs.pr.number;
        let head = self.head();
        let mut ops = ops.to_vec();
        ops.push(LabelOp::Status(sha.clone(), Status::Failed));
        // Only the head commit's full SHA is known (the labels keep seven
        // characters), and a build needs it; an older commit is left for a
        // person, who may want the head deployed instead.
        let redeploy = self.labels().healed.as_ref() != Some(sha) && sha == &head;
        let (why, message, notice) = if redeploy {
            (
                "self-heal: failed while serving, redeploy once",
                format!(
                    "Environment `{sha}` stopped working while serving: {reason}. It was marked \
                     failed, and Showtime redeploys it once; a second failure is left for a \
                     person ({RETRY_HINT})."
                ),
                format!(
                    "PR #{pr}: environment {sha} failed while serving: {reason}; redeploying it once"
                ),
            )
        } else if sha != &head {
            (
                "self-heal: failed while serving, not the head commit",
                format!(
                    "Environment `{sha}` stopped working while serving: {reason}. It is not \
                     redeployed by itself, because the PR has moved on to `{head}`: \
                     {RETRY_HINT}."
                ),
                format!("PR #{pr}: environment {sha} failed while serving: {reason}"),
            )
        } else {
            (
                "self-heal: failed again after its redeploy",
                format!(
                    "Environment `{sha}` failed again after Showtime redeployed it: {reason}. It \
                     is left as it is: {RETRY_HINT}."
                ),
                format!(
                    "PR #{pr}: environment {sha} failed again after its automatic redeploy: \
                     {reason}; left for a person"
                ),
            )
        };
        // Recorded before anything is redeployed: a crash after this write
        // leaves a `failed` environment, never a second redeploy.
        if redeploy {
            ops.push(LabelOp::Healed(Some(sha.clone())));
        }
        let mut steps = vec![
            Step::Labels(ops),
            Step::Comment(message.clone()),
            Step::Notify(notice),
        ];
        if redeploy {
            self.redeploy(sha, &mut steps);
        }
        Some(Decision::Act(Plan {
            reason: why.to_owned(),
            steps,
            next: if redeploy { Next::Requeue } else { Next::Done },
            refusal: None,
            failure: Some(message),
        }))
    }

    /// The steps that deploy the head commit `sha` again in place of its
    /// dead environment, keeping its creation time (the TTL does not start
    /// again), requester and configuration; the next round activates it
    /// once ready, as after any build.
    fn redeploy(&self, sha: &ShortSha, steps: &mut Vec<Step>) {
        let l = self.labels();
        let labelled = l.environments.get(sha);
        let listed = self.backend_env(sha);
        let created_at = labelled
            .and_then(|e| e.created_at)
            .map(|t| t.as_datetime())
            .or(listed.map(|e| e.created_at))
            .unwrap_or(self.now);
        let requester = labelled
            .and_then(|e| e.requested_by.as_ref())
            .map(|r| r.login().clone())
            .or_else(|| listed.and_then(|e| e.requested_by.clone()));
        // The name is the commit's, so the new environment cannot run
        // beside the old one: the old one goes first, and the intent says
        // so (additions only, one request) as a rebuild's does.
        steps.push(Step::Intent(vec![
            LabelOp::Active(None),
            LabelOp::Building(Some(sha.clone())),
            LabelOp::Status(sha.clone(), Status::Building),
        ]));
        steps.push(Step::Destroy(self.id(sha)));
        self.pipeline(sha, l.config.clone(), requester, created_at, steps);
    }
}
