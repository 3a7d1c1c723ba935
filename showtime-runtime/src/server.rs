//! The webhook server: GitHub deliveries in, reconciles of PRs out.
//!
//! This module owns the HTTP side and the work queue. A delivery is checked
//! by [`Webhook::receive`] (size, then signature, then JSON), answered at
//! once (`202 Accepted`), and its reconciles run later, in the background.
//! It decides nothing about environments: each delivery becomes
//! [`Engine::reconcile`] calls, exactly as
//! [`Request`](showtime_github::webhook::Request) describes them.
//!
//! # Routes
//!
//! | route | answer |
//! |---|---|
//! | `POST /webhook` | `202 {"queued": true, "pr": N}` for a delivery that names a PR; `200 {"queued": false, "reason": …}` for a ping, an event Showtime does not use, or another repository's delivery; `200 {"duplicate": true}` for a delivery id already seen; `401`, `400` or `413` `{"error": …}` for a refused one |
//! | `GET /healthz` | `200 {"status": "ok", "pending": N}`, `N` deliveries queued or running |
//! | `GET /environments` | `200`, a JSON array of every environment the backend manages (`502` when the backend cannot list them; `401` when the dashboard requires sign-in and the request has no session) |
//! | `/dashboard…` | the [dashboard](crate::dashboard), when one is mounted ([`Server::with_dashboard`]) |
//!
//! `/environments` follows the dashboard's access rule: open to anyone who
//! can reach the port when its view is public (the default, and always
//! without a dashboard), else only with a signed-in session.
//!
//! # The queue
//!
//! Accepted deliveries go to a [`Queue`]: one lane per PR, coalescing,
//! bounded concurrency and delivery de-duplication (see [`crate::queue`]).
//! A reconcile that fails is logged and not retried here: the engine
//! already retries transient port errors, and reconciliation is
//! level-triggered, so the next event or sweep of the PR finishes the work.
//! Malformed `/circus` lines are answered on the PR's status comment.
//!
//! # Logging
//!
//! One line per event on standard error, prefixed with the UTC time: each
//! accepted or refused delivery, and each mutation as an audit line (PR,
//! actor, action, result). A refused delivery is logged with its id, event
//! and reason, never its body.
//!
//! # Shutdown
//!
//! [`serve`] stops accepting connections when its `shutdown` future resolves,
//! lets open requests finish, then waits until every queued delivery has run
//! before it returns.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, SecondsFormat, Utc};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use showtime_core::Login;
use showtime_core::engine::Engine;
use showtime_github::webhook::{DELIVERY_HEADER, EVENT_HEADER, Outcome, Webhook, WebhookError};
use tokio::net::TcpListener;

use crate::audit::Sink;
use crate::dashboard::Dashboard;
use crate::queue::{Queue, QueueSettings, Queued};
use crate::request::{Done, Work};

/// The address the server listens on unless told otherwise.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 8080);

/// The longest stretch of a header value quoted in a log line.
const LOGGED_CHARS: usize = 80;

/// How the server listens and works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// Where [`Server::run`] listens (default `127.0.0.1:8080`). [`serve`]
    /// takes a listener instead and ignores it.
    pub listen: SocketAddr,
    /// The queue: concurrency and de-duplication.
    pub queue: QueueSettings,
    /// The repository served, `owner/name`. When set, deliveries from any
    /// other repository (a GitHub App installed on several) are acknowledged
    /// and ignored; compared without regard to case. `None` accepts all.
    pub repository: Option<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: DEFAULT_LISTEN,
            queue: QueueSettings::default(),
            repository: None,
        }
    }
}

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}: {source} (is another process using it? try --listen)")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the system said.
        source: io::Error,
    },
    /// Accepting connections failed.
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] io::Error),
}

/// What the handlers share: the webhook verifier and the queue.
///
/// Cheap to clone; every clone is the same server.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
    dashboard: Option<Dashboard>,
}

struct Inner {
    webhook: Webhook,
    repository: Option<String>,
    queue: Queue,
}

impl AppState {
    /// The state of a server that reconciles with `engine` the deliveries
    /// `webhook` accepts, as `settings` say (its `listen` is not used here).
    pub fn new(engine: Arc<Engine>, webhook: Webhook, settings: &ServerSettings) -> Self {
        Self::with_audit(engine, webhook, settings, None)
    }

    /// [`AppState::new`], recording every mutation in `audit`.
    pub fn with_audit(
        engine: Arc<Engine>,
        webhook: Webhook,
        settings: &ServerSettings,
        audit: Option<Arc<dyn Sink>>,
    ) -> Self {
        let clock = engine.ports().clock.clone();
        let report = move |done: &Done, deliveries: &[String]| {
            report_done(
                done,
                deliveries,
                audit.as_deref(),
                "showtime-webhook",
                clock.now(),
            );
        };
        AppState {
            inner: Arc::new(Inner {
                webhook,
                repository: settings.repository.clone(),
                queue: Queue::with_report(engine, settings.queue, report),
            }),
            dashboard: None,
        }
    }

    /// The same state with `dashboard` mounted: [`router`] then serves its
    /// routes, and `/environments` follows its access rule.
    pub fn with_dashboard(mut self, dashboard: Dashboard) -> Self {
        self.dashboard = Some(dashboard);
        self
    }

    /// The engine deliveries are reconciled with.
    pub fn engine(&self) -> &Arc<Engine> {
        self.inner.queue.engine()
    }

    /// Deliveries queued or running now.
    pub fn pending(&self) -> usize {
        self.inner.queue.pending()
    }

    /// Resolves once no delivery is queued or running.
    pub async fn idle(&self) {
        self.inner.queue.idle().await;
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
        log(&format!("cannot write the audit trail: {e}"));
    }
}

/// Logs a finished batch: an audit line per mutation, a line per reconcile.
pub(crate) fn log_done(done: &Done, deliveries: &[String]) {
    let pr = done.pr;
    let carried = match deliveries {
        [] => "-".to_owned(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (+{} coalesced)", rest.len()),
    };
    for (intent, outcome) in &done.outcomes {
        let what = intent.event.to_string();
        match outcome {
            Ok(outcome) => {
                for audit in &outcome.audit {
                    let result = match &audit.result {
                        Ok(()) => "ok".to_owned(),
                        Err(e) => format!("error: {e}"),
                    };
                    log(&format!(
                        "audit pr={} actor={} action={:?} result={result:?}",
                        audit.pr,
                        login_or_dash(audit.actor.as_ref()),
                        audit.action,
                    ));
                }
                let reasons: Vec<&str> = outcome.plans.iter().map(|p| p.reason.as_str()).collect();
                log(&format!(
                    "delivery {carried}: PR #{pr}: {what}: {}{}",
                    reasons.join("; "),
                    outcome
                        .failure
                        .as_ref()
                        .map(|f| format!(" (failed: {f})"))
                        .unwrap_or_default()
                ));
            }
            Err(e) => {
                let later = if e.is_transient() {
                    "; the next event or sweep of the PR will try again"
                } else {
                    ""
                };
                log(&format!(
                    "delivery {carried}: PR #{pr}: {what}: reconcile failed: {e}{later}"
                ));
            }
        }
    }
    for reply in &done.replies {
        match reply {
            Ok(()) => log(&format!(
                "delivery {carried}: PR #{pr}: replied to malformed command lines"
            )),
            Err(e) => log(&format!(
                "delivery {carried}: PR #{pr}: replying to malformed command lines failed: {e}"
            )),
        }
    }
}

/// The router of the server over `state`: `POST /webhook`, `GET /healthz`
/// and `GET /environments`, and the dashboard's routes when it has one (see
/// the [module documentation](self)).
pub fn router(state: AppState) -> Router {
    let dashboard = state.dashboard.as_ref().map(Dashboard::router);
    let router = Router::new()
        .route("/webhook", post(receive))
        .route("/healthz", get(healthz))
        .route("/environments", get(environments))
        .with_state(state);
    match dashboard {
        Some(dashboard) => router.merge(dashboard),
        None => router,
    }
}

/// Serves [`router`] on `listener` until `shutdown` resolves, lets open
/// requests finish, then waits for every queued delivery to run before
/// returning.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let served = axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(shutdown)
        .await;
    let pending = state.pending();
    if pending > 0 {
        log(&format!(
            "stopped accepting deliveries; finishing {pending} queued"
        ));
    }
    state.idle().await;
    served
}

/// A webhook server: its settings and its state, ready to run.
pub struct Server {
    listen: SocketAddr,
    state: AppState,
}

impl Server {
    /// A server reconciling with `engine` the deliveries `webhook` accepts,
    /// recording every mutation in `audit` when given.
    pub fn new(
        engine: Arc<Engine>,
        webhook: Webhook,
        settings: ServerSettings,
        audit: Option<Arc<dyn Sink>>,
    ) -> Self {
        Server {
            listen: settings.listen,
            state: AppState::with_audit(engine, webhook, &settings, audit),
        }
    }

    /// The same server with `dashboard` mounted (see
    /// [`AppState::with_dashboard`]).
    pub fn with_dashboard(mut self, dashboard: Dashboard) -> Self {
        self.state = self.state.with_dashboard(dashboard);
        self
    }

    /// Its state (for [`router`] or [`serve`], or to watch the queue).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Listens on [`ServerSettings::listen`] and [`serve`]s until `shutdown`
    /// resolves and the queue is empty.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let addr = self.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let bound = listener.local_addr().unwrap_or(addr);
        log(&format!("listening on http://{bound}/webhook"));
        if self.state.dashboard.is_some() {
            log(&format!(
                "serving the dashboard at http://{bound}/dashboard"
            ));
        }
        serve(listener, self.state, shutdown)
            .await
            .map_err(ServerError::Serve)
    }
}

/// `POST /webhook`.
async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let inner = &state.inner;
    let delivery = header_for_log(&headers, DELIVERY_HEADER);
    let event = header_for_log(&headers, EVENT_HEADER);
    let received = match read_body(&inner.webhook, &headers, body).await {
        Ok(bytes) => inner.webhook.receive(&headers, &bytes),
        Err(refused) => Err(refused),
    };
    let delivery_in = match received {
        Ok(delivery_in) => delivery_in,
        Err(refused) => {
            let status =
                StatusCode::from_u16(refused.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            log(&format!(
                "delivery {delivery} ({event}): refused with {}: {refused}",
                status.as_u16()
            ));
            return reply(status, json!({ "error": refused.to_string() }));
        }
    };

    match delivery_in.outcome {
        Outcome::Reconcile(request) => {
            let elsewhere = inner
                .repository
                .as_ref()
                .filter(|served| !served.eq_ignore_ascii_case(&request.repository));
            if let Some(served) = elsewhere {
                let reason = format!(
                    "repository {} is not served here ({served})",
                    request.repository
                );
                log(&format!("delivery {delivery} ({event}): ignored: {reason}"));
                return reply(StatusCode::OK, json!({ "queued": false, "reason": reason }));
            }
            let pr = request.pr;
            let events: Vec<String> = request.events.iter().map(ToString::to_string).collect();
            log(&format!(
                "delivery {delivery} ({event}): queued PR #{pr}: {}{}",
                if events.is_empty() {
                    "no valid command".to_owned()
                } else {
                    events.join(", ")
                },
                if request.command_errors.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; {} malformed command line(s)",
                        request.command_errors.len()
                    )
                }
            ));
            let queued = inner
                .queue
                .push(delivery_in.id.as_deref(), Work::from_request(request));
            if queued == Queued::Duplicate {
                log(&format!(
                    "delivery {delivery} ({event}): already received; ignored"
                ));
                return reply(
                    StatusCode::OK,
                    json!({ "duplicate": true, "queued": false }),
                );
            }
            reply(
                StatusCode::ACCEPTED,
                json!({ "queued": true, "pr": pr.get() }),
            )
        }
        Outcome::Ping { .. } => {
            log(&format!(
                "delivery {delivery} (ping): the webhook is set up"
            ));
            reply(StatusCode::OK, json!({ "queued": false, "reason": "ping" }))
        }
        Outcome::Ignored { reason } => {
            log(&format!("delivery {delivery} ({event}): ignored: {reason}"));
            reply(StatusCode::OK, json!({ "queued": false, "reason": reason }))
        }
    }
}

/// Reads the body, refusing it as soon as it is known to be over the
/// webhook's limit: from `Content-Length` before reading, else while reading.
async fn read_body(
    webhook: &Webhook,
    headers: &HeaderMap,
    mut body: Body,
) -> Result<Bytes, WebhookError> {
    if let Some(announced) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        webhook.check_size(announced)?;
    }
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            // The sender went away mid-body: nothing to check, nothing to do.
            return Err(WebhookError::Malformed {
                event: "(unknown)".to_owned(),
                message: "the request body could not be read to its end".to_owned(),
            });
        };
        if let Ok(data) = frame.into_data() {
            bytes.extend_from_slice(&data);
            webhook.check_size(u64::try_from(bytes.len()).unwrap_or(u64::MAX))?;
        }
    }
    Ok(Bytes::from(bytes))
}

/// `GET /healthz`.
async fn healthz(State(state): State<AppState>) -> Response {
    reply(
        StatusCode::OK,
        json!({ "status": "ok", "pending": state.pending() }),
    )
}

/// `GET /environments`.
async fn environments(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(dashboard) = &state.dashboard
        && !dashboard.may_read(&headers)
    {
        return reply(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "sign in with GitHub at /dashboard to see the environments" }),
        );
    }
    match state.engine().ports().backend.list(None).await {
        Ok(mut envs) => {
            envs.sort_by(|a, b| a.id.cmp(&b.id));
            reply(
                StatusCode::OK,
                Value::Array(envs.iter().map(crate::view::env_json).collect()),
            )
        }
        Err(e) => {
            log(&format!("listing environments failed: {e}"));
            reply(
                StatusCode::BAD_GATEWAY,
                json!({ "error": format!("listing the backend's environments failed: {e}") }),
            )
        }
    }
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn login_or_dash(login: Option<&Login>) -> String {
    login.map_or_else(|| "-".to_owned(), ToString::to_string)
}

/// A header's value made safe for one log line: escaped and shortened, `-`
/// when absent.
fn header_for_log(headers: &HeaderMap, name: &str) -> String {
    let Some(value) = headers.get(name) else {
        return "-".to_owned();
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    let mut shown: String = text
        .chars()
        .take(LOGGED_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().nth(LOGGED_CHARS).is_some() {
        shown.push('…');
    }
    shown
}

/// Writes one line to standard error, prefixed with the UTC time.
pub fn log(message: &str) {
    log_as("showtime-webhook", message);
}

/// Writes one line to standard error, prefixed with the UTC time and
/// `program`.
pub fn log_as(program: &str, message: &str) {
    let now = DateTime::<Utc>::from(SystemTime::now());
    eprintln!(
        "{} {program}: {message}",
        now.to_rfc3339_opts(SecondsFormat::Millis, true)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_headers_are_escaped_and_shortened() {
        let mut headers = HeaderMap::new();
        headers.insert(DELIVERY_HEADER, "a\tb".parse().unwrap());
        assert_eq!(header_for_log(&headers, DELIVERY_HEADER), "a\\tb");
        headers.insert(DELIVERY_HEADER, "x".repeat(500).parse().unwrap());
        assert_eq!(
            header_for_log(&headers, DELIVERY_HEADER).chars().count(),
            LOGGED_CHARS + 1
        );
        assert_eq!(header_for_log(&headers, EVENT_HEADER), "-");
    }
}
