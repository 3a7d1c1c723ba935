//! Requests: what a PR asks for (triggers, slash commands, the event) and
//! whether its actor may ask it; stop, help, status and TTL requests.

use crate::access::{Access, access, refusal_reason};
use crate::commands::SlashCommand;
use crate::config::ConfCommand;
use crate::flags::from_description;
use crate::labels::Trigger;
use crate::ports::Permission;
use crate::{Ttl, TtlUnit};

use super::{Actor, Decision, Event, LabelOp, Need, Next, Planner, Refusal, Step, act, refused};

/// What the PR asks for, gathered from its triggers and the event.
#[derive(Debug, Default, Clone)]
pub(super) struct Requests {
    pub(super) start: bool,
    pub(super) stop: bool,
    pub(super) sync: bool,
    pub(super) conf: Vec<ConfCommand>,
    pub(super) ttl: Option<TtlRequest>,
    pub(super) status: bool,
    pub(super) help: bool,
    pub(super) wake: bool,
    /// Trigger labels to remove once the requests are handled or refused.
    pub(super) consumed: Vec<Trigger>,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum TtlRequest {
    Extend(Ttl),
    KeepAlive,
}

impl Requests {
    /// Whether only `/circus status` or `/circus help` is asked: a look that
    /// changes nothing but the status comment, which a refusal would write
    /// too, so it needs no permission look-up.
    pub(super) fn only_looks(&self) -> bool {
        (self.status || self.help)
            && !(self.start || self.stop || self.sync || self.wake)
            && self.conf.is_empty()
            && self.ttl.is_none()
            && self.consumed.is_empty()
    }

    pub(super) fn any(&self) -> bool {
        self.start
            || self.stop
            || self.sync
            || !self.conf.is_empty()
            || self.ttl.is_some()
            || self.status
            || self.help
            || self.wake
    }
}

impl Planner<'_> {
    pub(super) fn gather(&self) -> Requests {
        let mut r = Requests::default();
        for trigger in &self.labels().triggers {
            match trigger {
                Trigger::Up => continue,
                Trigger::Start => r.start = true,
                Trigger::Stop => r.stop = true,
                Trigger::Sync => r.sync = true,
                Trigger::Conf(conf) => r.conf.push(conf.command().clone()),
            }
            r.consumed.push(trigger.clone());
        }
        match &self.obs.event {
            Event::UpLabelRemoved => r.stop = true,
            Event::Command(command) => match command {
                SlashCommand::Refresh => r.start = true,
                SlashCommand::Destroy => r.stop = true,
                SlashCommand::Extend(ttl) => r.ttl = Some(TtlRequest::Extend(*ttl)),
                SlashCommand::KeepAlive => r.ttl = Some(TtlRequest::KeepAlive),
                SlashCommand::Status => r.status = true,
                SlashCommand::Help => r.help = true,
                SlashCommand::Wake => r.wake = true,
                SlashCommand::Enable(name) => r.conf.push(ConfCommand::Enable(name.clone())),
                SlashCommand::Disable(name) => r.conf.push(ConfCommand::Disable(name.clone())),
                SlashCommand::Debug(on) => r.conf.push(ConfCommand::Debug(*on)),
                SlashCommand::Size(size) => r.conf.push(ConfCommand::Size(size.clone())),
            },
            Event::DescriptionEdited => r.conf.extend(self.description_changes()),
            Event::Look | Event::Push | Event::Sweep => {}
        }
        r
    }

    /// The PR description's feature flags that differ from the labels', as
    /// configuration commands; none while the PR has no environment (a
    /// create reads the description itself).
    pub(super) fn description_changes(&self) -> Vec<ConfCommand> {
        let labels = self.labels();
        if labels.primary().is_none() {
            return Vec::new();
        }
        from_description(&self.obs.pr.body)
            .flags
            .into_iter()
            .filter(|(name, on)| labels.config.features.get(name) != Some(on))
            .map(|(name, on)| match on {
                true => ConfCommand::Enable(name),
                false => ConfCommand::Disable(name),
            })
            .collect()
    }

    /// `Ok(true)` when the actor may act, `Ok(false)` when refused, or the
    /// need to ask for their permission first.
    pub(super) fn authorized(&self) -> Result<bool, Need> {
        match &self.obs.actor {
            None => Ok(false),
            Some(Actor {
                permission: None, ..
            }) => Err(Need::Permission),
            Some(Actor {
                login,
                permission: Some(p),
            }) => match access(self.policy, login, *p, &self.obs.memberships) {
                Access::Allowed(_) => Ok(true),
                Access::Refused => Ok(false),
                Access::Ask(team) => Err(Need::Membership {
                    team,
                    login: login.clone(),
                }),
            },
        }
    }

    /// Whether a stop may go ahead without asking for the actor's
    /// permission (a request GitHub counts): when the up-label was removed
    /// (GitHub let that person change labels, and the trigger is gone
    /// whatever Showtime answers), or when the actor requested the
    /// environment (their permission was checked then, and dismissing one's
    /// own environment costs nobody anything).
    pub(super) fn stop_needs_no_permission(&self) -> bool {
        if self.obs.event == Event::UpLabelRemoved {
            return true;
        }
        let Some(login) = self.actor_login() else {
            return false;
        };
        let environments = &self.labels().environments;
        !environments.is_empty()
            && environments
                .values()
                .all(|e| e.requested_by.as_ref().is_some_and(|r| r.login() == login))
    }

    pub(super) fn refuse(&self, requests: &Requests, pushed: bool) -> Decision {
        let permission = self
            .obs
            .actor
            .as_ref()
            .and_then(|a| a.permission)
            .unwrap_or(Permission::None);
        let required = self.policy.required_permission;
        let teams = !self.policy.allowed_teams.is_empty();
        // With allowed teams, the reply names both rules that refused.
        let why = self
            .actor_login()
            .map(|login| refusal_reason(self.policy, login, permission, &self.obs.memberships));
        let mut steps = Vec::new();
        let mut consumed = consume(requests);
        if pushed {
            consumed.push(LabelOp::Frozen(true));
            steps.push(Step::Labels(consumed));
            let whose = match (&why, teams) {
                (Some(why), true) => format!("who has {why}"),
                _ => format!("whose permission is `{permission}` (`{required}` is needed)"),
            };
            let who_can = match teams {
                true => format!("with `{required}` permission or in an allowed team"),
                false => format!("with `{required}` permission"),
            };
            steps.push(Step::Comment(format!(
                "Commit `{}` was pushed by {}, {whose}, so it was not deployed and the \
                 environment is frozen. Someone {who_can} can deploy it with `/circus refresh`.",
                self.head(),
                self.mention()
            )));
            return refused(
                Refusal::UntrustedCommit,
                "untrusted commit not deployed",
                steps,
            );
        }
        if !consumed.is_empty() {
            steps.push(Step::Labels(consumed));
        }
        let message = match (&why, teams) {
            (Some(why), true) => format!(
                "{}: refused. You have {why}. Nothing was changed.",
                self.mention()
            ),
            _ => format!(
                "{}: refused. Your permission on this repository is `{permission}`; Showtime \
                 acts for `{required}` and above. Nothing was changed.",
                self.mention()
            ),
        };
        steps.push(Step::Comment(message));
        refused(Refusal::Permission, "refused: permission", steps)
    }

    pub(super) fn handle(&self, requests: &Requests) -> Decision {
        if requests.stop {
            if let Some(need) = self.need_backend() {
                return need;
            }
            let message = format!("{} destroyed the environment.", self.mention());
            return self.teardown("stop requested", message, true, requests);
        }
        if requests.help {
            // Help changes nothing, so what else is asked (a start label
            // beside the comment) is still acted on, the help under its
            // reply: answering alone would consume that request unheard.
            let rest = Requests {
                help: false,
                status: false,
                ..requests.clone()
            };
            if rest.any() {
                return match self.handle(&rest) {
                    Decision::Act(mut plan) => {
                        plan.steps.push(Step::Comment(help_text()));
                        Decision::Act(plan)
                    }
                    observe => observe,
                };
            }
            return act(
                "help",
                consume_step(requests)
                    .into_iter()
                    .chain([Step::Comment(help_text())])
                    .collect(),
                Next::Done,
            );
        }
        if let Some(ttl) = requests.ttl {
            return self.set_ttl(ttl, requests);
        }
        if requests.wake && !(requests.start || requests.sync) {
            return self.wake(requests);
        }
        if requests.start || requests.sync {
            if let Some(need) = self.need_backend() {
                return need;
            }
            return self.start(requests);
        }
        if !requests.conf.is_empty() {
            return self.configure(requests);
        }
        // `status`: refresh the comment.
        act(
            "status",
            consume_step(requests)
                .into_iter()
                .chain([Step::Comment(String::new())])
                .collect(),
            Next::Done,
        )
    }

    pub(super) fn set_ttl(&self, request: TtlRequest, requests: &Requests) -> Decision {
        let ttl = match request {
            TtlRequest::KeepAlive => Ttl::CLOSE,
            TtlRequest::Extend(ttl) if ttl == Ttl::MANUAL && !self.policy.allow_manual_ttl => {
                return refused(
                    Refusal::Ttl,
                    "refused: manual TTL",
                    vec![Step::Comment(
                        "A `manual` TTL is not allowed here; use `/circus keep-alive` to keep \
                         the environment until the PR closes."
                            .to_owned(),
                    )],
                );
            }
            TtlRequest::Extend(ttl) => match (ttl.duration(), self.created_at()) {
                // "extend 48h" means 48 more hours from now: the TTL counts
                // from creation, so it becomes the age plus the extension.
                (Some(extra), Some(created)) => {
                    let age_hours = (self.now - created).num_hours().max(0);
                    let hours = u32::try_from(age_hours + extra.num_hours()).unwrap_or(u32::MAX);
                    let max_hours = self.policy.max_ttl.duration().map_or(u32::MAX, |d| {
                        u32::try_from(d.num_hours()).unwrap_or(u32::MAX)
                    });
                    match Ttl::new(hours, TtlUnit::Hours) {
                        Ok(total) if hours <= max_hours => total,
                        _ => {
                            return refused(
                                Refusal::Ttl,
                                "refused: TTL over the maximum",
                                vec![Step::Comment(format!(
                                    "Extending by `{ttl}` would make the environment live \
                                     {hours} hours in all; the maximum is `{}`.",
                                    self.policy.max_ttl
                                ))],
                            );
                        }
                    }
                }
                _ => ttl,
            },
        };
        let mut ops = consume(requests);
        ops.push(LabelOp::Ttl(Some(ttl)));
        // A new expiry deserves a new warning; dropping the old record
        // costs nothing, for the TTL's own transition carries it.
        if self.labels().expiry_warned.is_some() {
            ops.push(LabelOp::ExpiryWarned(None));
        }
        act(
            "TTL changed",
            vec![
                Step::Labels(ops),
                Step::Comment(format!("{} set the TTL to `{ttl}`.", self.mention())),
            ],
            Next::Done,
        )
    }
}

pub(super) fn consume(requests: &Requests) -> Vec<LabelOp> {
    requests
        .consumed
        .iter()
        .map(|t| LabelOp::Consume(t.clone()))
        .collect()
}

pub(super) fn consume_step(requests: &Requests) -> Vec<Step> {
    let ops = consume(requests);
    if ops.is_empty() {
        Vec::new()
    } else {
        vec![Step::Labels(ops)]
    }
}

/// The reply to `/circus help`.
pub(super) fn help_text() -> String {
    format!(
        "Showtime commands (comment one per line): {}.",
        crate::commands::VALID_COMMANDS
            .split(", ")
            .map(|c| format!("`/circus {c}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}
