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
//! | `POST /webhook` | `202 {"queued": true, "pr": N}` for a delivery that names a PR; `200 {"queued": false, "reason": …}` for a ping or an event Showtime does not use; `200 {"duplicate": true}` for a delivery id already seen; `401` (signature), `400` (malformed), `413` (too large) or `403` (another repository's, however well signed) `{"error": …}` for a refused one |
//! | `GET /healthz` | `200 {"status": "ok", "pending": N}`, `N` deliveries queued or running |
//! | `GET /metrics` | `200`, every figure of [`crate::metrics`] in the Prometheus (OpenMetrics) text format; open like `/healthz` (it names no PR or person) |
//! | `GET /environments` | `200`, a JSON array of every environment the backend manages (`502` when the backend cannot list them; `401` when the dashboard requires sign-in and the request has no session) |
//! | `/dashboard…` | the [dashboard](crate::dashboard), when one is mounted ([`Server::with_dashboard`]) |
//!
//! `/environments` follows the dashboard's access rule: open to anyone who
//! can reach the port when its view is public (the default, and always
//! without a dashboard), else only with a signed-in session.
//!
//! # Limits
//!
//! The port is public (GitHub must reach it), so every route is served
//! under [`Limits`] (`[server]` in `showtime.toml`): a cap on open
//! connections (one more is answered `503` and closed), a deadline for a
//! request's headers (a connection that has not sent them in time is
//! closed), a size limit on them (`431`), a per-source rate limit (`429`
//! with `Retry-After`; a delivery whose signature holds is not counted,
//! so GitHub's traffic is never throttled), and a deadline for the whole
//! request (`408`). A
//! body over the webhook's limit is read to its end (up to
//! [`DRAIN_BYTES`], for [`DRAIN_TIME`]) and thrown away before the `413`,
//! so that its sender reads the answer rather than a connection reset.
//! Every refusal is counted in `showtime_webhook_refusals_total{reason}`
//! ([`Refusal`](crate::metrics::Refusal)), and open connections in
//! `showtime_webhook_connections`.
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
//! `tracing` events, written where [`crate::logs`] says: each delivery is
//! answered in a `delivery` span (its id, event, and once read its PR and
//! sender), each queued batch runs in a `batch` span, and the engine's
//! `reconcile` spans (reconcile id, PR, SHA, event, actor) carry every step
//! and mutation. A refused delivery is logged with its id, event and
//! reason, never its body; header values are escaped and shortened.
//!
//! # Shutdown
//!
//! [`serve`] stops accepting connections when its `shutdown` future resolves,
//! lets open requests finish, then waits until every queued delivery has run
//! before it returns.

mod limit;
mod listen;

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use showtime_core::engine::Engine;
use showtime_core::ports::WorkQueue;
use showtime_github::webhook::{DELIVERY_HEADER, EVENT_HEADER, Webhook, WebhookError};
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::audit::Sink;
use crate::dashboard::Dashboard;
use crate::metrics::{self, Metrics};
use crate::queue::{Queue, QueueSettings, Queued};
use crate::receiver::{Answer, Checked, Receiver, Served, check, refusal_of};
use crate::request::{Done, Work, report_done};

pub use limit::{MAX_SOURCES, RateLimit};
pub use listen::{DRAIN_BYTES, DRAIN_TIME, Limits};

/// The address the server listens on unless told otherwise.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 8080);

/// The longest stretch of a header value quoted in a log line.
const LOGGED_CHARS: usize = 80;

/// How the server listens and works.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Where [`Server::run`] listens (default `127.0.0.1:8080`). [`serve`]
    /// takes a listener instead and ignores it.
    pub listen: SocketAddr,
    /// The queue: concurrency and de-duplication.
    pub queue: QueueSettings,
    /// The repository served, `owner/name`. When set, deliveries about any
    /// other repository (a GitHub App installed on several, a secret shared
    /// between webhooks) are refused with `403`; compared without regard
    /// to case. `None` accepts all.
    pub repository: Option<String>,
    /// The served repository's numeric id, when known (`[server]
    /// repository_id`): deliveries naming another id are refused too (see
    /// [`Served::repository_id`]).
    pub repository_id: Option<u64>,
    /// The public endpoint's limits.
    pub limits: Limits,
    /// Where the queue's and reconciles' figures are recorded (and
    /// `GET /metrics` reads them): give the one the engine's GitHub
    /// adapter reports to, so every figure is in one place. `None`: the
    /// server keeps its own.
    pub metrics: Option<Arc<Metrics>>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: DEFAULT_LISTEN,
            queue: QueueSettings::default(),
            repository: None,
            repository_id: None,
            limits: Limits::default(),
            metrics: None,
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
    /// With one, checked deliveries go to its work queue for workers
    /// elsewhere, not to the in-process queue ([`AppState::with_work_queue`]).
    receiver: Option<Receiver>,
}

struct Inner {
    webhook: Webhook,
    served: Served,
    queue: Queue,
    metrics: Arc<Metrics>,
    limits: Limits,
    limiter: limit::RateLimiter,
    /// Connections open now.
    open: AtomicUsize,
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
        let metrics = settings.metrics.clone().unwrap_or_default();
        AppState {
            inner: Arc::new(Inner {
                webhook,
                served: Served {
                    repository: settings.repository.clone(),
                    repository_id: settings.repository_id,
                },
                queue: Queue::with_report(engine, settings.queue, report)
                    .with_metrics(metrics.clone()),
                metrics,
                limits: settings.limits,
                limiter: limit::RateLimiter::new(settings.limits.rate),
                open: AtomicUsize::new(0),
            }),
            dashboard: None,
            receiver: None,
        }
    }

    /// The same state as a receiver only: each checked delivery is sent to
    /// `queue` (grouped by PR, de-duplicated by its delivery id; see
    /// [`crate::worker`]) and answered `202` once the queue has it, or
    /// `503` when it could not take it (GitHub shows the failure, and the
    /// delivery can be sent again). Workers elsewhere carry the work out.
    pub fn with_work_queue(mut self, queue: Arc<dyn WorkQueue>) -> Self {
        let inner = &self.inner;
        let receiver = Receiver::new(
            inner.webhook.clone(),
            inner.served.repository.clone(),
            queue,
        )
        .repository_id(inner.served.repository_id)
        .with_metrics(inner.metrics.clone());
        self.receiver = Some(receiver);
        self
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

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.inner.open.load(Ordering::Relaxed)
    }

    /// The figures `GET /metrics` serves.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// Resolves once no delivery is queued or running.
    pub async fn idle(&self) {
        self.inner.queue.idle().await;
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
        .route("/metrics", get(serve_metrics))
        .route("/environments", get(environments))
        .with_state(state);
    match dashboard {
        Some(dashboard) => router.merge(dashboard),
        None => router,
    }
}

/// Serves [`router`] on `listener` under the state's [`Limits`] until
/// `shutdown` resolves, lets open requests finish, then waits for every
/// queued delivery to run before returning.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let served =
        listen::serve_connections(listener, state.clone(), router(state.clone()), shutdown).await;
    let pending = state.pending();
    if pending > 0 {
        tracing::info!(
            pending,
            "stopped accepting deliveries; finishing those queued"
        );
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

    /// The same server as a receiver only (see
    /// [`AppState::with_work_queue`]).
    pub fn with_work_queue(mut self, queue: Arc<dyn WorkQueue>) -> Self {
        self.state = self.state.with_work_queue(queue);
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
        tracing::info!("listening on http://{bound}/webhook (metrics at /metrics)");
        if self.state.dashboard.is_some() {
            tracing::info!("serving the dashboard at http://{bound}/dashboard");
        }
        serve(listener, self.state, shutdown)
            .await
            .map_err(ServerError::Serve)
    }
}

/// `POST /webhook`: answered inside a `delivery` span.
///
/// A delivery whose signature holds gives back the request it took from its
/// source's rate limit: GitHub's own traffic, however busy, never wears its
/// bucket down; only unsigned or forged requests (and other routes) do.
async fn receive(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    let (headers, source) = (
        parts.headers,
        parts.extensions.get::<listen::Source>().copied(),
    );
    let span = tracing::info_span!(
        "delivery",
        delivery = %header_for_log(&headers, DELIVERY_HEADER),
        event = %header_for_log(&headers, EVENT_HEADER),
        pr = tracing::field::Empty,
        actor = tracing::field::Empty,
    );
    let limiter_state = state.clone();
    let response = receive_in_span(state, headers, body).instrument(span).await;
    // 401: not signed with the secret; 413: refused before the signature
    // was looked at. Anything else passed the signature check.
    let signed = !matches!(
        response.status(),
        StatusCode::UNAUTHORIZED | StatusCode::PAYLOAD_TOO_LARGE
    );
    if let (true, Some(source)) = (signed, source) {
        limiter_state.inner.limiter.refund(source.0);
    }
    response
}

async fn receive_in_span(state: AppState, headers: HeaderMap, body: Body) -> Response {
    let inner = &state.inner;
    let bytes = match read_body(&inner.webhook, &headers, body).await {
        Ok(bytes) => bytes,
        Err(refused) => {
            let status =
                StatusCode::from_u16(refused.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            tracing::warn!(status = status.as_u16(), reason = %refused, "delivery refused");
            if let Some(reason) = refusal_of(status) {
                inner.metrics.refused(reason);
            }
            let mut response = reply(status, json!({ "error": refused.to_string() }));
            // What was sent of the body was read, not all of it perhaps:
            // the connection cannot carry another request.
            response.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            return response;
        }
    };
    if let Some(receiver) = &state.receiver {
        return answer(receiver.accept(&headers, &bytes).await);
    }
    let (id, request) = match check(&inner.webhook, &inner.served, &headers, &bytes) {
        Checked::Reconcile { id, request } => (id, request),
        Checked::Answered(answered) => return answer(answered),
        Checked::Refused {
            reason,
            answer: refused,
        } => {
            inner.metrics.refused(reason);
            return answer(refused);
        }
    };
    let pr = request.pr;
    let events: Vec<String> = request.events.iter().map(ToString::to_string).collect();
    let malformed = request.command_errors.len();
    let queued = inner.queue.push(id.as_deref(), Work::from_request(request));
    if queued == Queued::Duplicate {
        tracing::info!("delivery already received; ignored");
        return reply(
            StatusCode::OK,
            json!({ "duplicate": true, "queued": false }),
        );
    }
    tracing::info!(
        asks = %if events.is_empty() { "no valid command".to_owned() } else { events.join(", ") },
        malformed_commands = malformed,
        coalesced = queued == Queued::Coalesced,
        "delivery queued"
    );
    reply(
        StatusCode::ACCEPTED,
        json!({ "queued": true, "pr": pr.get() }),
    )
}

/// Reads the body, refusing it as soon as it is known to be over the
/// webhook's limit: from `Content-Length` before reading, else while
/// reading. A refused body is still read to its end and thrown away (see
/// [`listen::drain`]), unless its sender waits for `100 Continue` before
/// sending it or announced more than [`DRAIN_BYTES`].
async fn read_body(
    webhook: &Webhook,
    headers: &HeaderMap,
    mut body: Body,
) -> Result<Bytes, WebhookError> {
    if let Some(announced) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        && let Err(refused) = webhook.check_size(announced)
    {
        let waits = headers
            .get(header::EXPECT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
        if !waits && announced <= DRAIN_BYTES {
            listen::drain(body, DRAIN_BYTES, DRAIN_TIME).await;
        }
        return Err(refused);
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
            let read = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
            if let Err(refused) = webhook.check_size(read) {
                drop(bytes);
                listen::drain(body, DRAIN_BYTES.saturating_sub(read), DRAIN_TIME).await;
                return Err(refused);
            }
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

/// `GET /metrics`.
async fn serve_metrics(State(state): State<AppState>) -> Response {
    match state.metrics().encode() {
        Ok(text) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(_) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": "the metrics could not be encoded" }),
        ),
    }
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
            tracing::warn!(error = %e, "listing environments failed");
            reply(
                StatusCode::BAD_GATEWAY,
                json!({ "error": format!("listing the backend's environments failed: {e}") }),
            )
        }
    }
}

fn answer(answer: Answer) -> Response {
    reply(answer.status, answer.body)
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
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

/// Logs one line (a `tracing` event at `info`), as the webhook server.
pub fn log(message: &str) {
    log_as("showtime-webhook", message);
}

/// Logs one line (a `tracing` event at `info`) for `program`.
pub fn log_as(program: &str, message: &str) {
    tracing::info!(program, "{message}");
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
