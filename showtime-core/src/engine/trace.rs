//! What a reconcile tells the logs: one span per reconcile carrying the PR,
//! its head SHA once read, the event, the actor and a reconcile id, so that
//! every line the reconcile (and the adapters it calls) writes can be found
//! together. It only emits `tracing` events: where they go (terminal, JSON
//! lines, nowhere) is the program's choice. Nothing here may log a secret, a
//! comment's or a PR's text, or a webhook body: fields are typed values and
//! step descriptions.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use tracing::Span;

use crate::plan::{Event, Step};
use crate::{Login, PrNumber};

use super::{EngineError, Outcome};

/// Reconciles started by this process so far: the id's sequence part.
static STARTED: AtomicU64 = AtomicU64::new(0);

/// The span of one reconcile of `pr` after `event` by `actor`; its `sha`
/// is recorded once the PR is read ([`read`]).
pub(super) fn reconcile_span(
    pr: PrNumber,
    event: &Event,
    actor: Option<&Login>,
    now: DateTime<Utc>,
) -> Span {
    let id = reconcile_id(now);
    tracing::info_span!(
        "reconcile",
        reconcile_id = %id,
        pr = pr.get(),
        sha = tracing::field::Empty,
        event = %event,
        trigger = event.kind(),
        actor = actor.map_or("-", |a| a.as_str()),
    )
}

/// Records the head SHA on the current reconcile's span.
pub(super) fn read(sha: &str) {
    Span::current().record("sha", sha);
}

/// A short id, unique within the process and, with the start time mixed
/// in, unlikely to repeat across processes that log to one place:
/// 16 hexadecimal digits.
fn reconcile_id(now: DateTime<Utc>) -> String {
    let sequence = STARTED.fetch_add(1, Ordering::Relaxed);
    let seed = (now.timestamp_micros() as u64).rotate_left(17) ^ sequence;
    // splitmix64: spreads consecutive ids apart, so they read as distinct.
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    format!("{:016x}", z ^ (z >> 31))
}

/// One step carried out, and how it went. A comment's or notification's
/// text is left out: it can quote what people wrote.
pub(super) fn step<E: std::fmt::Display>(step: &Step, result: &Result<(), E>) {
    let what = match step {
        Step::Comment(_) => "status comment".to_owned(),
        Step::DeleteComment(_) => "delete status comment".to_owned(),
        Step::Notify(_) => "notify".to_owned(),
        other => other.to_string(),
    };
    match result {
        Ok(()) => tracing::info!(step = %what, "step done"),
        Err(error) => tracing::warn!(step = %what, %error, "step failed"),
    }
}

/// The reconcile's last line: what it decided, or why it stopped.
pub(super) fn finished(result: &Result<Outcome, EngineError>) {
    match result {
        Ok(outcome) => {
            let reasons: Vec<&str> = outcome.plans.iter().map(|p| p.reason.as_str()).collect();
            let reasons = reasons.join("; ");
            match &outcome.failure {
                Some(failure) => tracing::warn!(reasons, failure, "reconcile recorded a failure"),
                None if outcome.refusal().is_some() => {
                    tracing::info!(reasons, "reconcile refused what was asked")
                }
                None if outcome.out_of_rounds => {
                    tracing::warn!(reasons, "reconcile ran out of rounds; the next one goes on")
                }
                None => tracing::info!(reasons, "reconcile done"),
            }
        }
        Err(error) => tracing::warn!(
            %error,
            transient = error.is_transient(),
            "reconcile could not finish; the next event or sweep of the PR tries again"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconcile_ids_differ_within_a_process() {
        let now = DateTime::UNIX_EPOCH;
        let a = reconcile_id(now);
        let b = reconcile_id(now);
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
