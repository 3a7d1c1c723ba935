//! Create and rolling update: build, deploy and await the head commit, then
//! switch traffic to it in a later round.

use chrono::{DateTime, Utc};

use crate::access::{TeamQuota, team_quota};
use crate::config::Config;
use crate::flags::from_description;
use crate::labels::{Requester, Trigger};
use crate::ports::EnvInfo;
use crate::{Login, ShortSha, Status, Timestamp};

use super::requests::{Requests, consume, consume_step};
use super::{Decision, Deployment, LabelOp, Need, Next, Planner, Refusal, Step, act, refused};

/// The plan reason's words for a quota refusal: `quota` as before, `team
/// quota` for a team's.
pub(super) fn refusal_words(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::TeamQuota => "team quota",
        _ => "quota",
    }
}

impl Planner<'_> {
    /// Whether the head commit differs from what is active or being built.
    pub(super) fn needs_update(&self) -> bool {
        let head = self.head();
        let l = self.labels();
        (l.active.is_some() || l.building.is_some())
            && l.active.as_ref() != Some(&head)
            && l.building.as_ref() != Some(&head)
    }

    /// Whether the legacy up-label asks for an environment that does not exist.
    pub(super) fn wants_creation(&self) -> bool {
        let l = self.labels();
        l.triggers.contains(&Trigger::Up)
            && l.active.is_none()
            && l.building.is_none()
            && self.status_of(&self.head()) != Some(Status::Failed)
    }

    /// Which quota a new environment would exceed, and why in words; or a
    /// membership the team quotas need first.
    pub(super) fn quota_refusal(&self) -> Result<Option<(Refusal, String)>, Need> {
        let others: Vec<&EnvInfo> = self
            .backend
            .iter()
            .flatten()
            .filter(|e| e.id.pr != self.obs.pr.number)
            .collect();
        if let Some(max) = self.policy.quota_total {
            if others.len() >= max {
                return Ok(Some((
                    Refusal::Quota,
                    format!(
                        "the total quota is reached: {} of {max} environments are running",
                        others.len()
                    ),
                )));
            }
        }
        let Some(login) = self.actor_login() else {
            return Ok(None);
        };
        if let Some(max) = self.policy.quota_per_requester {
            let mine: Vec<String> = others
                .iter()
                .filter(|e| e.requested_by.as_ref() == Some(login))
                .map(|e| format!("#{}", e.id.pr))
                .collect();
            if mine.len() >= max {
                return Ok(Some((
                    Refusal::Quota,
                    format!(
                        "@{login} already has {} of {max} environments ({})",
                        mine.len(),
                        mine.join(", ")
                    ),
                )));
            }
        }
        match team_quota(self.policy, login, &others, &self.obs.memberships) {
            TeamQuota::Within => Ok(None),
            TeamQuota::Ask(team, login) => Err(Need::Membership { team, login }),
            TeamQuota::Reached { team, max, prs } => {
                let prs: Vec<String> = prs.iter().map(|pr| format!("#{pr}")).collect();
                Ok(Some((
                    Refusal::TeamQuota,
                    format!(
                        "team `{team}` has {} of {max} environments ({})",
                        prs.len(),
                        prs.join(", ")
                    ),
                )))
            }
            TeamQuota::Unchecked {
                team,
                login,
                reason,
            } => Ok(Some((
                Refusal::TeamQuota,
                format!(
                    "the quota of team `{team}` could not be checked: the membership of \
                     @{login} is unknown ({reason})"
                ),
            ))),
        }
    }

    pub(super) fn start(&self, requests: &Requests) -> Decision {
        let head = self.head();
        let l = self.labels();
        if l.building.as_ref() == Some(&head) && self.status_of(&head) != Some(Status::Failed) {
            // Nothing new to start; finish the build in progress (or resume
            // it after a crash, when its trigger is still there and its
            // labels may be half-switched to `running`) as any reconcile
            // would.
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
        match self.quota_refusal() {
            Err(need) => return Decision::Observe(need),
            Ok(Some((refusal, why))) => {
                let mut steps = consume_step(requests);
                steps.push(Step::Comment(format!(
                    "{}: not started, because {why}. Stop an environment or wait for one to \
                     expire.",
                    self.mention()
                )));
                return refused(
                    refusal,
                    &format!("refused: {}", refusal_words(refusal)),
                    steps,
                );
            }
            Ok(None) => {}
        }
        self.build(requests, "create", None)
    }

    /// Builds the head commit while `serving` (if any) keeps serving.
    pub(super) fn roll(&self, requests: &Requests, why: &str) -> Decision {
        let serving = self.labels().active.clone();
        self.build(requests, &format!("rolling update ({why})"), serving)
    }

    /// The build-and-deploy pipeline for the head commit, up to readiness.
    pub(super) fn build(
        &self,
        requests: &Requests,
        reason: &str,
        serving: Option<ShortSha>,
    ) -> Decision {
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
        // The triggers stay until the environment runs: the intent below is
        // then additions only (one request), and a run cut short finds the
        // trigger and finishes what it asked. The activation consumes them.
        let mut intent = Vec::new();
        if config != l.config {
            intent.push(LabelOp::Config(config.clone()));
        }
        intent.push(LabelOp::Frozen(false));
        // A build people asked for starts afresh: a later failure is
        // redeployed by itself once more.
        if l.healed.is_some() {
            intent.push(LabelOp::Healed(None));
        }
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
        // The serving environment stays `running` while the new one builds
        // beside it: the labels say so with `🏗️`, and rewriting its status
        // would make the intent a removal too (two requests, not one).
        intent.push(LabelOp::Status(head.clone(), Status::Building));
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
        // The comment is written once the run ends, with the state it left
        // (running, or what failed): only what that state cannot say goes
        // here.
        let mut note = String::new();
        if serving.is_none() && !description.errors.is_empty() {
            note.push_str("These lines of the PR description were not applied:");
            for error in &description.errors {
                note.push_str(&format!("\n- {error}"));
            }
        }
        steps.push(Step::Comment(note));
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
    pub(super) fn pipeline(
        &self,
        sha: &ShortSha,
        config: Config,
        requester: Option<Login>,
        created_at: DateTime<Utc>,
        steps: &mut Vec<Step>,
    ) {
        let env = self.id(sha);
        let full = self.obs.pr.head_sha.clone();
        // No `deploying` transition between build and deploy: the building
        // intent already covers the deploy after a crash (the next round
        // finds the environment in the backend and awaits it), and the
        // transition would cost two requests per environment.
        steps.push(Step::Build {
            env: env.clone(),
            sha: full.clone(),
        });
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

    /// Switches traffic to a ready environment and retires the others.
    pub(super) fn activate(&self, sha: &ShortSha, mut ops: Vec<LabelOp>) -> Decision {
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
}
