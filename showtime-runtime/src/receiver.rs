//! The receiving half of a scaled-out set-up: a delivery is checked exactly
//! as the webhook server checks it, then sent to the durable work queue
//! ([`WorkQueue`], SQS FIFO) for the workers ([`crate::worker`]) to carry
//! out.
//!
//! [`check`] is the one place a delivery is judged (size, signature, JSON,
//! then the repository served); the webhook server's in-process path and
//! [`Receiver`] both start with it. A [`Receiver`] needs no engine, no
//! GitHub credentials and no backend: `showtime-webhook` in receiver mode
//! uses it, and so does the Lambda receiver, which has only the webhook
//! secret and the queue.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use showtime_core::PrNumber;
use showtime_core::ports::WorkQueue;
use showtime_github::webhook::{DELIVERY_HEADER, EVENT_HEADER, Outcome, Request, Webhook};

use crate::worker::Envelope;

/// What a delivery is answered: a status and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The JSON body (`{"queued": …}` or `{"error": …}`).
    pub body: Value,
}

impl Answer {
    fn new(status: StatusCode, body: Value) -> Self {
        Answer { status, body }
    }
}

/// A delivery judged by [`check`].
#[derive(Debug)]
pub enum Checked {
    /// It names a PR of the repository served: reconcile it.
    Reconcile {
        /// `X-GitHub-Delivery`, when sent.
        id: Option<String>,
        /// What it asks for.
        request: Request,
    },
    /// It is answered without work: refused (`4xx`), a ping, an event
    /// Showtime does not use, or another repository's delivery.
    Answered(Answer),
}

/// Judges a delivery whose body was read in full: `webhook` checks its
/// size, signature and JSON; a delivery for a repository other than
/// `repository` (when given; compared without regard to case) is answered
/// and ignored. Logs what it decided, and records the PR and actor on the
/// current span.
pub fn check(
    webhook: &Webhook,
    repository: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Checked {
    let delivery = match webhook.receive(headers, body) {
        Ok(delivery) => delivery,
        Err(refused) => {
            let status =
                StatusCode::from_u16(refused.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            tracing::warn!(status = status.as_u16(), reason = %refused, "delivery refused");
            return Checked::Answered(Answer::new(status, json!({ "error": refused.to_string() })));
        }
    };
    let ignored = |reason: &str| {
        Checked::Answered(Answer::new(
            StatusCode::OK,
            json!({ "queued": false, "reason": reason }),
        ))
    };
    match delivery.outcome {
        Outcome::Reconcile(request) => {
            let span = tracing::Span::current();
            span.record("pr", request.pr.get());
            if let Some(actor) = &request.actor {
                span.record("actor", actor.as_str());
            }
            if let Some(served) =
                repository.filter(|served| !served.eq_ignore_ascii_case(&request.repository))
            {
                let reason = format!(
                    "repository {} is not served here ({served})",
                    request.repository
                );
                tracing::info!(%reason, "delivery ignored");
                return ignored(&reason);
            }
            Checked::Reconcile {
                id: delivery.id,
                request,
            }
        }
        Outcome::Ping { .. } => {
            tracing::info!("ping: the webhook is set up");
            ignored("ping")
        }
        Outcome::Ignored { reason } => {
            tracing::info!(%reason, "delivery ignored");
            ignored(&reason)
        }
    }
}

/// Checks deliveries and sends those that name a PR to a work queue.
#[derive(Clone)]
pub struct Receiver {
    webhook: Webhook,
    repository: Option<String>,
    queue: Arc<dyn WorkQueue>,
}

impl Receiver {
    /// A receiver checking with `webhook`, serving `repository` (`None`:
    /// every repository), sending to `queue`.
    pub fn new(webhook: Webhook, repository: Option<String>, queue: Arc<dyn WorkQueue>) -> Self {
        Receiver {
            webhook,
            repository,
            queue,
        }
    }

    /// The webhook deliveries are checked with (its body limit, for one).
    pub fn webhook(&self) -> &Webhook {
        &self.webhook
    }

    /// Answers one delivery: `202 {"queued": true, "pr": N}` once the queue
    /// has it, `503` when the queue did not take it (GitHub shows the
    /// failure, and the delivery can be sent again), or what [`check`]
    /// answered.
    pub async fn accept(&self, headers: &HeaderMap, body: &[u8]) -> Answer {
        match check(&self.webhook, self.repository.as_deref(), headers, body) {
            Checked::Reconcile { request, .. } => {
                send(
                    self.queue.as_ref(),
                    headers,
                    &request.repository,
                    request.pr,
                    body,
                )
                .await
            }
            Checked::Answered(answer) => answer,
        }
    }
}

/// Sends a checked delivery of PR `pr` to `queue`: grouped by PR,
/// de-duplicated by its delivery id (without one, by the body's digest).
async fn send(
    queue: &dyn WorkQueue,
    headers: &HeaderMap,
    repository: &str,
    pr: PrNumber,
    body: &[u8],
) -> Answer {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let delivery = Some(header(DELIVERY_HEADER))
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body)));
    let envelope = Envelope {
        event: header(EVENT_HEADER),
        delivery,
        payload: String::from_utf8_lossy(body).into_owned(),
    };
    match queue
        .send(&crate::worker::message(repository, pr, &envelope))
        .await
    {
        Ok(()) => {
            tracing::info!("delivery sent to the work queue");
            Answer::new(
                StatusCode::ACCEPTED,
                json!({ "queued": true, "pr": pr.get() }),
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "the work queue did not take the delivery");
            Answer::new(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": format!("the work queue did not take the delivery: {e}") }),
            )
        }
    }
}
