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
//!
//! Failures and sweeps are decided here too. A cloud step that fails is an
//! input like any other: the engine stops that plan and plans again with
//! [`Observation::failure`] set, and the answer records the failure (labels,
//! a destroy of what was half made, the comment, a notice). A sweep is
//! [`sweep`], a pure function from what the PR host and the backend list to
//! a [`SweepPlan`].
//!
//! Each concern has its own file: the vocabulary (observations, steps,
//! plans), label operations, requests and authorization, create and rolling
//! update, configuration, teardown, the expiry warning, repair, failure,
//! self-healing, and the sweep.
//!
//! # Self-healing
//!
//! An environment that served and then died is noticed by any reconcile
//! that lists the backend, the sweep's included: one the backend lists as
//! [`Health::Failed`], or as [`Health::Unhealthy`] for at least
//! [`Policy::heal_after`], while its labels say `running` and nothing else
//! is being built. Its status becomes `failed`, the status comment and the
//! notifier get the backend's reason, and it is redeployed once (the head
//! commit only: only its full SHA is known), recorded first as
//! `🎪 🩹 <sha7>`. When that environment dies again it stays `failed`,
//! left for a person: `/circus refresh`, a start trigger or a new commit
//! builds afresh and clears the record.

mod configure;
mod create;
mod expiry;
mod failure;
mod heal;
mod ops;
mod repair;
mod requests;
mod sleep;
mod sweep;
mod teardown;
mod types;

use chrono::{DateTime, Utc};

use crate::labels::{Detail, LabelState};
use crate::policy::Policy;
use crate::ports::{EnvId, EnvInfo, Health};
use crate::{Login, ShortSha, Status};

pub use ops::LabelOp;
pub use sweep::{SweepObservation, SweepPlan, sweep, sweep_reads, unused_label_definitions};
pub use types::{
    Actor, Decision, Deployment, Event, Need, Next, Observation, Plan, Refusal, Step, StepFailure,
};

/// Decides what to do for one PR. Pure: the same observation, policy and time
/// always give the same decision.
pub fn plan(obs: &Observation, policy: &Policy, now: DateTime<Utc>) -> Decision {
    let backend = obs
        .backend
        .as_ref()
        .map(|listed| with_ready(listed, obs, now));
    let decision = Planner {
        obs,
        policy,
        now,
        backend,
    }
    .decide();
    match decision {
        Decision::Act(plan) => Decision::Act(delete_second_comments(plan, &obs.labels)),
        observe => observe,
    }
}

/// Two runs at once may each post a status comment and label it: the parser
/// keeps the oldest and reports the others' `🎪 💬` labels, which the plan's
/// first label change forgets. Their comments are deleted just before, so
/// that none is left behind without a label to find it by; a run cut short
/// in between deletes again (a comment already gone is success).
fn delete_second_comments(mut plan: Plan, labels: &LabelState) -> Plan {
    let Some(first) = plan.steps.iter().position(|s| matches!(s, Step::Labels(_))) else {
        return plan;
    };
    let seconds: Vec<Step> = labels
        .anomalies
        .iter()
        .filter(|a| a.detail == Some(Detail::Comment))
        // `🎪 💬 <id>`: the id is the last word.
        .filter_map(|a| a.label.rsplit(' ').next()?.parse().ok())
        .map(Step::DeleteComment)
        .collect();
    plan.steps.splice(first..first, seconds);
    plan
}

struct Planner<'a> {
    obs: &'a Observation,
    policy: &'a Policy,
    now: DateTime<Utc>,
    /// The backend's listing, corrected by what this run saw become ready.
    backend: Option<Vec<EnvInfo>>,
}

/// The backend's listing with [`Observation::ready`] applied: an environment
/// whose `wait_ready` succeeded is healthy at the address it returned, even
/// while the listing lags behind (clouds are eventually consistent).
fn with_ready(listed: &[EnvInfo], obs: &Observation, now: DateTime<Utc>) -> Vec<EnvInfo> {
    let mut envs = listed.to_vec();
    for (id, address) in &obs.ready {
        match envs.iter_mut().find(|e| &e.id == id) {
            Some(env) => {
                env.health = Health::Healthy;
                env.address = Some(*address);
            }
            None => {
                let labelled = obs.labels.environments.get(&id.sha);
                envs.push(EnvInfo {
                    id: id.clone(),
                    health: Health::Healthy,
                    address: Some(*address),
                    created_at: labelled
                        .and_then(|e| e.created_at)
                        .map_or(now, |t| t.as_datetime()),
                    requested_by: labelled
                        .and_then(|e| e.requested_by.as_ref())
                        .map(|r| r.login().clone()),
                    config: obs.labels.config.clone(),
                });
            }
        }
    }
    envs
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
        self.backend
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

    fn need_backend(&self) -> Option<Decision> {
        self.obs
            .backend
            .is_none()
            .then_some(Decision::Observe(Need::Backend))
    }

    fn decide(&self) -> Decision {
        if let Some(failure) = &self.obs.failure {
            return self.record_failure(failure);
        }
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

        // A sweep warns, once per expiry time, of an expiry drawing near.
        if let Some(warning) = self.expiry_warning() {
            return warning;
        }
        // A sweep puts an idle environment to sleep, per the schedule.
        if let Some(sleep) = self.sleep_due() {
            return sleep;
        }

        // A frozen PR ignores new commits, whoever pushed them.
        let pushed = self.obs.event == Event::Push && self.needs_update() && !labels.frozen;
        let wants_creation = self.wants_creation();
        if requests.any() || pushed || wants_creation {
            if self.obs.event == Event::Sweep || self.obs.actor.is_none() {
                // Nobody to act for: requests wait for an event with an actor.
                return self.repair_from(Vec::new(), false);
            }
            if (requests.stop && self.stop_needs_no_permission()) || requests.only_looks() {
                return self.handle(&requests);
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
}

fn act(reason: &str, steps: Vec<Step>, next: Next) -> Decision {
    Decision::Act(Plan {
        reason: reason.to_owned(),
        steps,
        next,
        refusal: None,
        failure: None,
    })
}

fn refused(refusal: Refusal, reason: &str, steps: Vec<Step>) -> Decision {
    Decision::Act(Plan {
        reason: reason.to_owned(),
        steps,
        next: Next::Done,
        refusal: Some(refusal),
        failure: None,
    })
}
