//! The receiving half of a scaled-out set-up: a delivery is checked exactly
//! as the webhook server checks it, then sent to the durable work queue
//! ([`WorkQueue`], SQS FIFO) for the workers ([`crate::worker`]) to carry
//! out.
//!
//! [`check`] is the one place a delivery is judged (size, signature, JSON,
//! then the repository served: another repository's delivery is refused); the webhook server's in-process path and
//! [`Receiver`] both start with it. A [`Receiver`] needs no engine, no
//! GitHub credentials and no backend: `showtime-webhook` in receiver mode
//! uses it, and so does the Lambda receiver, which has only the webhook
//! secret and the queue.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use showtime_core::PrNumber;
use showtime_core::ports::WorkQueue;
use showtime_github::webhook::{DELIVERY_HEADER, EVENT_HEADER, Outcome, Request, Webhook};

use crate::metrics::{Metrics, Refusal};
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

/// The header naming the kind of resource a webhook was created on
/// (`repository`, `organization`, `integration` for a GitHub App).
pub const TARGET_TYPE_HEADER: &str = "x-github-hook-installation-target-type";
/// The header carrying that resource's numeric id: on a repository webhook,
/// the repository's id.
pub const TARGET_ID_HEADER: &str = "x-github-hook-installation-target-id";

/// Which repository deliveries must be about. Both `None`: every repository
/// (a GitHub App installed on several, served by one process).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Served {
    /// `owner/name`, compared without regard to case.
    pub repository: Option<String>,
    /// The repository's numeric id, which survives renames and is not
    /// reused: when known, a delivery naming another id is refused.
    pub repository_id: Option<u64>,
}

impl Served {
    /// Deliveries about `repository` (`None`: any).
    pub fn repository(repository: Option<String>) -> Self {
        Served {
            repository,
            repository_id: None,
        }
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
    /// It is acknowledged without work: a ping, or an event Showtime does
    /// not use.
    Answered(Answer),
    /// It is refused (`4xx`): the answer, and why, for the metrics.
    Refused {
        /// Why.
        reason: Refusal,
        /// The answer: `{"error": …}`.
        answer: Answer,
    },
}

/// Judges a delivery whose body was read in full: `webhook` checks its
/// size, signature and JSON; then a delivery about a repository other than
/// the one `served` is refused with `403` (a valid signature proves who
/// sent it, not that it is meant for this server: a GitHub App installed
/// on several repositories, or a secret shared between webhooks). Logs what
/// it decided, and records the PR and actor on the current span.
pub fn check(webhook: &Webhook, served: &Served, headers: &HeaderMap, body: &[u8]) -> Checked {
    let delivery = match webhook.receive(headers, body) {
        Ok(delivery) => delivery,
        Err(refused) => {
            let status =
                StatusCode::from_u16(refused.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            tracing::warn!(status = status.as_u16(), reason = %refused, "delivery refused");
            let answer = Answer::new(status, json!({ "error": refused.to_string() }));
            return match refusal_of(status) {
                Some(reason) => Checked::Refused { reason, answer },
                None => Checked::Answered(answer),
            };
        }
    };
    if let Err(message) = about_served(served, headers, body) {
        tracing::warn!(status = 403, reason = %message, "delivery refused");
        return Checked::Refused {
            reason: Refusal::Repository,
            answer: Answer::new(StatusCode::FORBIDDEN, json!({ "error": message })),
        };
    }
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

/// The refusal a `4xx` of [`WebhookError::status`] stands for; `None` for
/// a `500` (the server's misconfiguration, not the sender's fault).
///
/// [`WebhookError::status`]: showtime_github::webhook::WebhookError::status
pub fn refusal_of(status: StatusCode) -> Option<Refusal> {
    match status.as_u16() {
        401 => Some(Refusal::Signature),
        400 => Some(Refusal::Malformed),
        413 => Some(Refusal::TooLarge),
        _ => None,
    }
}

/// The repository a payload names, when it names one (a ping from an
/// organization's webhook, or many events an App receives, do not).
#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    repository: Option<NamedRepository>,
}

#[derive(Deserialize)]
struct NamedRepository {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    full_name: Option<String>,
}

/// Whether a delivery, already verified, is about the repository served:
/// its payload's `repository.full_name` and `repository.id` (signed), and
/// on a repository webhook `X-GitHub-Hook-Installation-Target-ID` (not
/// signed, so only ever a reason to refuse, never to accept). `Err` says
/// why not.
fn about_served(served: &Served, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
    let named = serde_json::from_slice::<Named>(body)
        .ok()
        .and_then(|n| n.repository);
    let (name, id) = named.map_or((None, None), |r| (r.full_name, r.id));
    if let (Some(served), Some(name)) = (&served.repository, &name)
        && !served.eq_ignore_ascii_case(name)
    {
        return Err(format!(
            "the delivery is about repository {}, not the one served here ({served})",
            shorten(name)
        ));
    }
    if let (Some(served), Some(id)) = (served.repository_id, id)
        && served != id
    {
        return Err(format!(
            "the delivery is about repository id {id}, not the one served here ({served})"
        ));
    }
    let target_is_repository = headers
        .get(TARGET_TYPE_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("repository"));
    let target = headers
        .get(TARGET_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let (true, Some(target)) = (target_is_repository, target) {
        if let Some(served) = served.repository_id
            && served != target
        {
            return Err(format!(
                "the webhook belongs to repository id {target}, not the one served here ({served})"
            ));
        }
        if let Some(id) = id
            && id != target
        {
            return Err(format!(
                "the webhook belongs to repository id {target} but its payload is about {id}"
            ));
        }
    }
    Ok(())
}

/// At most 100 characters of a name taken from a payload, for a message.
fn shorten(text: &str) -> String {
    let mut shown: String = text.chars().take(100).collect();
    if text.chars().nth(100).is_some() {
        shown.push('…');
    }
    shown
}

/// Checks deliveries and sends those that name a PR to a work queue.
#[derive(Clone)]
pub struct Receiver {
    webhook: Webhook,
    served: Served,
    queue: Arc<dyn WorkQueue>,
    metrics: Option<Arc<Metrics>>,
}

impl Receiver {
    /// A receiver checking with `webhook`, serving `repository` (`None`:
    /// every repository), sending to `queue`.
    pub fn new(webhook: Webhook, repository: Option<String>, queue: Arc<dyn WorkQueue>) -> Self {
        Receiver {
            webhook,
            served: Served::repository(repository),
            queue,
            metrics: None,
        }
    }

    /// The same receiver, also refusing deliveries about another repository
    /// id than `id` (see [`Served::repository_id`]).
    pub fn repository_id(mut self, id: Option<u64>) -> Self {
        self.served.repository_id = id;
        self
    }

    /// The same receiver, counting each refusal in `metrics`
    /// ([`Metrics::refused`]).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The repository deliveries must be about.
    pub fn served(&self) -> &Served {
        &self.served
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
        match check(&self.webhook, &self.served, headers, body) {
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
            Checked::Refused { reason, answer } => {
                if let Some(metrics) = &self.metrics {
                    metrics.refused(reason);
                }
                answer
            }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn headers(target_type: &str, target: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(TARGET_TYPE_HEADER, target_type.parse().unwrap());
        headers.insert(TARGET_ID_HEADER, target.parse().unwrap());
        headers
    }

    const BODY: &[u8] = br#"{"repository": {"id": 7, "full_name": "Octo-Org/Hello"}}"#;

    #[test]
    fn the_served_repository_is_compared_by_name_and_id() {
        let any = Served::default();
        assert_eq!(about_served(&any, &HeaderMap::new(), BODY), Ok(()));
        let named = Served::repository(Some("octo-org/hello".to_owned()));
        assert_eq!(
            about_served(&named, &HeaderMap::new(), BODY),
            Ok(()),
            "case"
        );
        let other = Served::repository(Some("octo-org/other".to_owned()));
        assert!(about_served(&other, &HeaderMap::new(), BODY).is_err());
        let id = Served {
            repository: None,
            repository_id: Some(8),
        };
        assert!(about_served(&id, &HeaderMap::new(), BODY).is_err());
        // A payload naming no repository (an organization's ping) passes.
        assert_eq!(about_served(&other, &HeaderMap::new(), b"{}"), Ok(()));
        assert_eq!(about_served(&other, &HeaderMap::new(), b"not json"), Ok(()));
    }

    #[test]
    fn a_repository_hook_target_must_agree_with_the_payload() {
        let any = Served::default();
        assert_eq!(
            about_served(&any, &headers("repository", "7"), BODY),
            Ok(())
        );
        assert!(about_served(&any, &headers("repository", "9"), BODY).is_err());
        // Another kind of target (a GitHub App, an organization) carries
        // another kind of id.
        assert_eq!(
            about_served(&any, &headers("integration", "9"), BODY),
            Ok(())
        );
        let id = Served {
            repository: None,
            repository_id: Some(7),
        };
        assert!(about_served(&id, &headers("repository", "9"), b"{}").is_err());
    }
}
