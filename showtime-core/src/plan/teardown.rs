//! Teardown: expiry, closed PRs and stops destroy every environment of a PR
//! and reset its labels.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::labels::Trigger;
use crate::{ShortSha, Status, Ttl};

use super::requests::{Requests, consume, consume_step};
use super::{Decision, LabelOp, Next, Plan, Planner, Step, act};

impl Planner<'_> {
    pub(super) fn ttl(&self) -> Ttl {
        self.labels().ttl.unwrap_or(self.policy.default_ttl)
    }

    /// The primary environment's creation time, from labels or the backend.
    pub(super) fn created_at(&self) -> Option<DateTime<Utc>> {
        let sha = self.labels().primary()?;
        self.labels()
            .environments
            .get(sha)
            .and_then(|e| e.created_at)
            .map(|t| t.as_datetime())
            .or_else(|| self.backend_env(sha).map(|e| e.created_at))
    }

    pub(super) fn expired_at(&self) -> Option<DateTime<Utc>> {
        let at = self.ttl().expires_at(self.created_at()?)?;
        (at <= self.now).then_some(at)
    }

    pub(super) fn closed(&self, requests: &Requests) -> Decision {
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
            // Triggers a closed PR still carries were never acted on (it
            // closed first): they are taken off, as a teardown takes them
            // off, so that reopening it later does not act on a stale
            // request, and the labels say nothing is asked.
            let consumed = consume_step(requests);
            if consumed.is_empty() {
                return Decision::Act(Plan::nothing("PR closed; nothing to clean up"));
            }
            return act("PR closed; pending triggers dropped", consumed, Next::Done);
        }
        self.teardown(
            "PR closed",
            "The PR was closed, so its environment was destroyed.".to_owned(),
            false,
            requests,
        )
    }

    /// Every environment this PR has, by labels or in the backend.
    pub(super) fn all_shas(&self) -> BTreeSet<ShortSha> {
        let l = self.labels();
        l.environments
            .keys()
            .cloned()
            .chain(l.active.clone())
            .chain(l.building.clone())
            .chain(self.backend_envs().into_iter().map(|e| e.id.sha.clone()))
            .collect()
    }

    pub(super) fn teardown(
        &self,
        reason: &str,
        message: String,
        remove_up_label: bool,
        requests: &Requests,
    ) -> Decision {
        let shas = self.all_shas();
        // The intent adds `destroying` beside each status (one request);
        // the last transition takes everything off at once, triggers and
        // the up-label included, so a run cut short in between still finds
        // a stop to finish (`destroying` reads over the other status).
        let intent: Vec<LabelOp> = shas
            .iter()
            .map(|sha| LabelOp::Status(sha.clone(), Status::Destroying))
            .collect();
        let mut steps = Vec::new();
        if !intent.is_empty() {
            steps.push(Step::Intent(intent));
        }
        steps.extend(shas.iter().map(|sha| Step::Destroy(self.id(sha))));
        let mut reset = vec![LabelOp::Reset];
        reset.extend(consume(requests));
        if remove_up_label && self.labels().triggers.contains(&Trigger::Up) {
            reset.push(LabelOp::Consume(Trigger::Up));
        }
        steps.push(Step::Labels(reset));
        steps.push(Step::Comment(message.clone()));
        steps.push(Step::Notify(format!(
            "PR #{}: environment destroyed ({reason})",
            self.obs.pr.number
        )));
        act(reason, steps, Next::Done)
    }
}
