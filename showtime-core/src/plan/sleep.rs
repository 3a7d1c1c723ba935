//! Sleep and wake: a sweep scales an idle environment to zero
//! ([`Policy::sleep`](crate::policy::Policy)), and `/circus wake` (or the
//! dashboard's Wake) starts it again. A new commit needs no wake: its rolling
//! update deploys the new commit and destroys the sleeping one.
//!
//! Both are cloud step first, labels after: a crash between them leaves
//! labels that say `running` beside an environment the backend lists
//! asleep, or `sleeping` beside one it lists awake, and repair writes what
//! the backend says. A sleeping environment keeps its `📅` creation time, so
//! its TTL counts on; expiry and a closed PR destroy it as any other.

use chrono::{DateTime, Utc};

use crate::ShortSha;
use crate::Status;
use crate::ports::Health;

use super::requests::{Requests, consume};
use super::{Decision, Event, LabelOp, Next, Planner, Step, act};

impl Planner<'_> {
    /// When anything last happened to the primary environment's PR: the
    /// PR host's `updated_at` (pushes, comments, label changes), or the
    /// environment's creation when that is later or the host does not say.
    pub(super) fn last_activity(&self, sha: &ShortSha) -> Option<DateTime<Utc>> {
        let created = self
            .labels()
            .environments
            .get(sha)
            .and_then(|e| e.created_at)
            .map(|t| t.as_datetime())
            .or_else(|| self.backend_env(sha).map(|e| e.created_at));
        match (self.obs.pr.updated_at, created) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// In a sweep, the plan that puts the serving environment to sleep when
    /// the schedule says so.
    pub(super) fn sleep_due(&self) -> Option<Decision> {
        if self.obs.event != Event::Sweep {
            return None;
        }
        let schedule = self.policy.sleep.as_ref()?;
        let l = self.labels();
        // Only a settled environment sleeps: not one with a build beside it.
        if l.building.is_some() {
            return None;
        }
        let active = l.active.as_ref()?;
        if self.status_of(active) != Some(Status::Running) {
            return None;
        }
        if self.backend_env(active)?.health != Health::Healthy {
            return None;
        }
        let reason = schedule.due(self.now, self.last_activity(active)?)?;
        let id = self.id(active);
        Some(act(
            &format!("sleep ({reason})"),
            vec![
                Step::Sleep(id),
                Step::Labels(vec![
                    LabelOp::Status(active.clone(), Status::Sleeping),
                    LabelOp::Address(active.clone(), None),
                ]),
                Step::Comment(format!(
                    "💤 The environment `{active}` was put to sleep ({reason}). Comment \
                     `/circus wake` or push a commit to wake it; its TTL still counts."
                )),
            ],
            Next::Done,
        ))
    }

    /// `/circus wake`: starts the sleeping environment again, waits for it
    /// (as after a deploy), and in the next round labels it `running` at
    /// the address it answers at.
    pub(super) fn wake(&self, requests: &Requests) -> Decision {
        let mut ops = consume(requests);
        let active = self.labels().active.clone();
        let Some(active) = active.filter(|a| self.status_of(a) == Some(Status::Sleeping)) else {
            let mut steps = Vec::new();
            if !ops.is_empty() {
                steps.push(Step::Labels(ops));
            }
            steps.push(Step::Comment(
                "There is no sleeping environment to wake.".to_owned(),
            ));
            return act("wake: nothing asleep", steps, Next::Done);
        };
        if let Some(need) = self.need_backend() {
            return need;
        }
        if let Some(address) = self
            .backend_env(&active)
            .filter(|e| e.health == Health::Healthy)
            .and_then(|e| e.address)
        {
            // Awake again (this run's wait said so): say it runs, and where.
            ops.push(LabelOp::Status(active.clone(), Status::Running));
            ops.push(LabelOp::Address(active.clone(), Some(address)));
            return act(
                "woken",
                vec![
                    Step::Labels(ops),
                    Step::Comment(format!(
                        "{} woke the environment `{active}`.",
                        self.mention()
                    )),
                ],
                Next::Done,
            );
        }
        let id = self.id(&active);
        act(
            "wake",
            vec![Step::Wake(id.clone()), Step::AwaitReady(id)],
            Next::Requeue,
        )
    }

    /// Labels that say `sleeping` or `running` where the backend says
    /// otherwise (a crash between a sleep or wake and its labels, or a
    /// change made outside Showtime): adds the label changes that agree
    /// with the backend to `ops`, and answers the steps a half-done wake
    /// still needs (await it, for its address).
    pub(super) fn repair_sleep(&self, active: &ShortSha, ops: &mut Vec<LabelOp>) -> Vec<Step> {
        let Some(env) = self.backend_env(active) else {
            return Vec::new();
        };
        match (self.status_of(active), &env.health, env.address) {
            (Some(Status::Running), Health::Asleep, _) => {
                ops.push(LabelOp::Status(active.clone(), Status::Sleeping));
                ops.push(LabelOp::Address(active.clone(), None));
                Vec::new()
            }
            (Some(Status::Sleeping), Health::Healthy, Some(address)) => {
                ops.push(LabelOp::Status(active.clone(), Status::Running));
                ops.push(LabelOp::Address(active.clone(), Some(address)));
                Vec::new()
            }
            (Some(Status::Sleeping), Health::Healthy | Health::Starting, _) => {
                vec![Step::AwaitReady(self.id(active))]
            }
            _ => Vec::new(),
        }
    }
}
