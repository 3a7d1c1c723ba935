//! Carrying out what events ask, through the engine: one function for every
//! program (the CLI, the webhook server's queue, the demo).
//!
//! An event only says which PR to look at and, for a command, what was asked
//! (the design's level-triggered reconcile). [`Work`] gathers the events of
//! one PR as [`Intent`]s, in order; [`Work::merge`] coalesces the work of
//! several deliveries into one, keeping what each asked and dropping what
//! another reconcile makes redundant; [`carry_out`] runs it, reading the PR
//! once for the whole of it. Nothing here decides what happens to an
//! environment: that is the planner's.

use chrono::{DateTime, Utc};
use showtime_core::commands::SlashCommand;
use showtime_core::engine::{Engine, EngineError, Outcome, ReconcileOptions};
use showtime_core::labels::Codec;
use showtime_core::plan::Event;
use showtime_core::ports::{Permission, PullRequest};
use showtime_core::{Login, PrNumber};
use showtime_github::webhook::Request;

use crate::audit::Sink;

/// One thing a PR is asked: an event, and who caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// What happened or was asked.
    pub event: Event,
    /// Who caused it (none for a schedule).
    pub actor: Option<Login>,
}

/// Malformed command lines of one comment, to answer on the PR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// The comment's author.
    pub actor: Option<Login>,
    /// One error per line, each saying what is valid.
    pub errors: Vec<showtime_core::Error>,
}

/// The work of one PR: intents in order, and malformed command lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Work {
    /// The PR.
    pub pr: PrNumber,
    /// What to reconcile for, in order.
    pub intents: Vec<Intent>,
    /// Comments whose command lines could not be read.
    pub malformed: Vec<Malformed>,
    /// An actor's permission the caller has already read (the CLI checks
    /// it before touching the PR): not asked of GitHub again.
    pub known: Option<(Login, Permission)>,
}

impl Work {
    /// Nothing to do yet for `pr`.
    pub fn new(pr: PrNumber) -> Self {
        Work {
            pr,
            intents: Vec::new(),
            malformed: Vec::new(),
            known: None,
        }
    }

    /// What a webhook delivery (or a GitHub Actions event) asks.
    pub fn from_request(request: Request) -> Self {
        let mut work = Work::new(request.pr);
        for event in request.events {
            work.push(Intent {
                event,
                actor: request.actor.clone(),
            });
        }
        if !request.command_errors.is_empty() {
            work.malformed.push(Malformed {
                actor: request.actor,
                errors: request.command_errors,
            });
        }
        work
    }

    /// What a comment's `/circus` lines ask, as `actor`.
    pub fn from_comment(pr: PrNumber, body: &str, actor: Login, codec: &Codec) -> Self {
        let mut work = Work::new(pr);
        let mut errors = Vec::new();
        for line in showtime_core::commands::parse(body, codec.sizes()) {
            match line {
                Ok(command) => work.push(Intent {
                    event: Event::Command(command),
                    actor: Some(actor.clone()),
                }),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            work.malformed.push(Malformed {
                actor: Some(actor),
                errors,
            });
        }
        work
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.intents.is_empty() && self.malformed.is_empty()
    }

    /// Adds one intent, coalescing: of several plain looks (or sweeps)
    /// one is kept, first, and only while no intent of the batch converges
    /// the PR by itself (a push, an up-label removal, `refresh`,
    /// `destroy`); of several pushes only the latest counts (its pusher
    /// decides whether the head deploys); an up-label removal or a
    /// description edit counts once; commands all run, in order.
    ///
    /// A command that answers or sets a value (`status`, `help`,
    /// `extend`, a configuration change) is planned for itself alone and
    /// does not act on what the labels ask (an up-label added, a start
    /// trigger), so the look that carried that change still runs, before
    /// the commands: dropping it lost the change until the PR's next event.
    pub fn push(&mut self, intent: Intent) {
        let passive = |e: &Event| matches!(e, Event::Look | Event::Sweep);
        let converges = |e: &Event| {
            matches!(
                e,
                Event::Push
                    | Event::UpLabelRemoved
                    | Event::Command(SlashCommand::Refresh | SlashCommand::Destroy)
            )
        };
        if passive(&intent.event) {
            let redundant = self
                .intents
                .iter()
                .any(|i| passive(&i.event) || converges(&i.event));
            if !redundant {
                self.intents.insert(0, intent);
            }
            return;
        }
        let drops_looks = converges(&intent.event);
        self.intents.retain(|earlier| {
            let replaced = matches!(
                (&earlier.event, &intent.event),
                (Event::Push, Event::Push)
                    | (Event::UpLabelRemoved, Event::UpLabelRemoved)
                    | (Event::DescriptionEdited, Event::DescriptionEdited)
            );
            let redundant = drops_looks && passive(&earlier.event);
            !(replaced || redundant)
        });
        self.intents.push(intent);
    }

    /// Adds what `later` asks after what this asks (the same PR's).
    pub fn merge(&mut self, later: Work) {
        for intent in later.intents {
            self.push(intent);
        }
        self.malformed.extend(later.malformed);
        self.known = self.known.take().or(later.known);
    }
}

/// What [`carry_out`] did.
#[derive(Debug)]
pub struct Done {
    /// The PR.
    pub pr: PrNumber,
    /// Each intent with its reconcile's outcome, in order.
    pub outcomes: Vec<(Intent, Result<Outcome, EngineError>)>,
    /// The replies to malformed command lines, in order.
    pub replies: Vec<Result<(), EngineError>>,
    /// For each of [`Done::outcomes`], in order: how long after
    /// [`carry_out`] started its reconcile ended (for the time-to-ready
    /// and time-to-destroy metrics).
    pub elapsed: Vec<std::time::Duration>,
}

impl Done {
    /// Every mutation of this work, as the audit trail keeps them, done by
    /// `program` at `at`.
    pub fn records(
        &self,
        program: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Vec<crate::audit::Record> {
        self.outcomes
            .iter()
            .filter_map(|(_, o)| o.as_ref().ok())
            .flat_map(|o| crate::audit::Record::from_outcome(o, program, at))
            .collect()
    }

    /// The first outcome that refused what was asked.
    pub fn refused(&self) -> Option<&Outcome> {
        self.outcomes
            .iter()
            .filter_map(|(_, o)| o.as_ref().ok())
            .find(|o| o.refusal().is_some())
    }

    /// The first failure recorded on the PR, if a step failed.
    pub fn failure(&self) -> Option<&str> {
        self.outcomes
            .iter()
            .filter_map(|(_, o)| o.as_ref().ok())
            .find_map(|o| o.failure.as_deref())
    }

    /// The first reconcile or reply that could not finish.
    pub fn error(&self) -> Option<&EngineError> {
        self.outcomes
            .iter()
            .filter_map(|(_, o)| o.as_ref().err())
            .chain(self.replies.iter().filter_map(|r| r.as_ref().err()))
            .next()
    }
}

/// Carries out `work`: a reconcile per intent, in order, then the replies to
/// malformed command lines. The PR is read once (by the first reconcile or
/// given as `read`); each later reconcile starts from it with the labels the
/// previous one left, so coalesced work costs one read, not one per intent.
/// A reconcile that cannot finish does not stop the next: reconciling is
/// level-triggered, and the next event or sweep finishes the work.
pub async fn carry_out(engine: &Engine, mut work: Work, read: Option<PullRequest>) -> Done {
    let started = std::time::Instant::now();
    let pr = work.pr;
    let mut read = match read {
        Some(read) => Some(read),
        // One intent reads the PR itself; several share one read.
        None if work.intents.len() > 1 => engine.read_pr(pr).await.ok(),
        None => None,
    };
    let mut outcomes: Vec<(Intent, Result<Outcome, EngineError>)> =
        Vec::with_capacity(work.intents.len());
    let mut elapsed = Vec::with_capacity(work.intents.len());
    let intents = std::mem::take(&mut work.intents);
    for intent in intents {
        let current = read.take();
        let before = current.clone();
        // The same actor's permission, read by the previous reconcile, is
        // not asked for again.
        let known = match outcomes.last() {
            Some((last, Ok(done))) if last.actor == intent.actor => done.permission,
            _ => None,
        }
        .or_else(|| {
            let (login, permission) = work.known.as_ref()?;
            (intent.actor.as_ref() == Some(login)).then_some(*permission)
        });
        let options = ReconcileOptions::new()
            .actor(intent.actor.clone())
            .permission(known)
            .read(current);
        let outcome = engine
            .reconcile_with(pr, intent.event.clone(), options)
            .await;
        // The next reconcile starts where this one left the labels, when
        // this one saw nothing but the read it was handed. One that ran
        // more rounds read the PR again (its head may have moved, it may
        // have closed): handing on the first read would plan from a stale
        // head (a rolling update back to a commit already replaced, a
        // second deploy of it). After that, or after one that could not
        // finish, the next reads afresh.
        read = match (&outcome, before) {
            (Ok(done), Some(before)) if done.plans.len() <= 1 => Some(PullRequest {
                labels: done.labels.clone(),
                ..before
            }),
            _ => None,
        };
        outcomes.push((intent, outcome));
        elapsed.push(started.elapsed());
    }
    let mut replies = Vec::new();
    for malformed in work.malformed {
        replies.push(
            engine
                .reply_to_malformed(pr, malformed.actor.as_ref(), &malformed.errors)
                .await,
        );
    }
    Done {
        pr,
        outcomes,
        replies,
        elapsed,
    }
}

/// Logs a finished piece of work and records it in the audit trail, as
/// `program`; a trail that cannot be written is logged, the work stays done.
pub(crate) fn report_done(
    done: &Done,
    deliveries: &[String],
    audit: Option<&dyn Sink>,
    program: &str,
    now: DateTime<Utc>,
) {
    log_done(done, deliveries);
    if let Some(sink) = audit
        && let Err(e) = sink.write(&done.records(program, now))
    {
        tracing::error!(error = %e, "cannot write the audit trail");
    }
}

/// Logs what the engine does not: the replies to malformed command lines.
/// (Each reconcile logs its own steps and result, in its span.)
pub(crate) fn log_done(done: &Done, deliveries: &[String]) {
    let carried = deliveries.join(",");
    for reply in &done.replies {
        match reply {
            Ok(()) => tracing::info!(
                pr = done.pr.get(),
                deliveries = %carried,
                "replied to malformed command lines"
            ),
            Err(e) => tracing::warn!(
                pr = done.pr.get(),
                deliveries = %carried,
                error = %e,
                "replying to malformed command lines failed"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn intent(event: Event, who: &str) -> Intent {
        Intent {
            event,
            actor: Some(who.parse().unwrap()),
        }
    }

    fn events(work: &Work) -> Vec<String> {
        work.intents
            .iter()
            .map(|i| format!("{} by {}", i.event, i.actor.as_ref().unwrap()))
            .collect()
    }

    #[test]
    fn looks_count_once_and_only_beside_what_does_not_converge() {
        let mut work = Work::new(PrNumber::new(1).unwrap());
        for _ in 0..10 {
            work.push(intent(Event::Look, "a"));
        }
        assert_eq!(events(&work), ["look by a"]);
        // `status` answers and ends: the look (an up-label added, say)
        // still runs, first, once.
        work.push(intent(Event::Command(SlashCommand::Status), "b"));
        work.push(intent(Event::Look, "c"));
        assert_eq!(events(&work), ["look by a", "/circus status by b"]);
        // A push converges the PR: the look adds nothing to it.
        work.push(intent(Event::Push, "d"));
        work.push(intent(Event::Look, "e"));
        assert_eq!(events(&work), ["/circus status by b", "push by d"]);
    }

    #[test]
    fn a_look_after_a_command_runs_before_it() {
        // The soak's case: `opened`, a `/circus status` comment, then the
        // up-label added: the look that carries the label must not be
        // dropped for the status.
        let mut work = Work::new(PrNumber::new(1).unwrap());
        work.push(intent(Event::Command(SlashCommand::Status), "a"));
        work.push(intent(Event::Look, "b"));
        assert_eq!(events(&work), ["look by b", "/circus status by a"]);
    }

    #[test]
    fn the_latest_push_counts_and_commands_keep_their_order() {
        let mut work = Work::new(PrNumber::new(1).unwrap());
        work.push(intent(Event::Push, "outsider"));
        work.push(intent(Event::Command(SlashCommand::Refresh), "a"));
        work.push(intent(Event::Command(SlashCommand::KeepAlive), "b"));
        work.push(intent(Event::Push, "maintainer"));
        work.push(intent(Event::UpLabelRemoved, "a"));
        work.push(intent(Event::UpLabelRemoved, "c"));
        assert_eq!(
            events(&work),
            [
                "/circus refresh by a",
                "/circus keep-alive by b",
                "push by maintainer",
                "up-label removed by c",
            ]
        );
    }

    #[test]
    fn a_comment_gives_its_commands_and_its_malformed_lines() {
        let work = Work::from_comment(
            PrNumber::new(1).unwrap(),
            "Thanks!\n/circus extend\n/circus launch\n/circus debug",
            "a".parse().unwrap(),
            &Codec::default(),
        );
        assert_eq!(
            events(&work),
            ["/circus extend 24h by a", "/circus debug on by a"]
        );
        assert_eq!(work.malformed.len(), 1);
        assert_eq!(work.malformed[0].errors.len(), 1);
    }
}
