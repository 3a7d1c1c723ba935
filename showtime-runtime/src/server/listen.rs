//! The connection side of the webhook server: accepting connections under
//! a cap, hyper's HTTP/1.1 with a header deadline and a header size limit,
//! the per-source rate limit and the per-request deadline, and graceful
//! shutdown.
//!
//! `axum::serve` offers none of the first three, so connections are served
//! here with hyper's own connection builder; the [router](super::router)
//! answers every request that passes. Whatever is refused here is counted
//! ([`Metrics::refused`]) and never reaches a handler.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use http_body_util::BodyExt;
use hyper::body::{Buf, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::AppState;
use super::limit::RateLimit;
use crate::config::ServerSection;
use crate::metrics::Refusal;

/// The public endpoint's limits (`[server]` in `showtime.toml`).
///
/// The defaults let a busy repository's real traffic through untouched:
/// a delivery whose signature holds gives its request back to its source's
/// bucket, so GitHub's deliveries (from a few address ranges, in bursts
/// when a bot relabels or closes a hundred PRs) are never throttled
/// however many there are; the rate binds requests that are not signed
/// deliveries (forgeries, scans, the dashboard and `/environments`, whose
/// listing asks the backend). A dashboard polled every 15 seconds by a
/// whole office behind one NAT stays far under 10 a second. Behind a
/// reverse proxy every request shares the proxy's address, so one flood
/// through it would throttle everyone: raise the rate or turn it off there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Connections held open at most; one more is answered `503` and
    /// closed at once (default 512).
    pub max_connections: usize,
    /// How long a connection may take to send a request's headers, an idle
    /// keep-alive connection's next request included, before it is closed
    /// (default 10 s: GitHub gives up on a delivery after 10 s anyway).
    pub header_timeout: Duration,
    /// How long a request may take, reading its body included, before it
    /// is answered `408` (default 30 s).
    pub request_timeout: Duration,
    /// The largest request line and headers, in bytes; larger ones are
    /// answered `431` (default 16 KiB; GitHub's take about 1 KiB).
    pub max_header_bytes: usize,
    /// Requests per source address (default 10 a second, bursts of 100).
    pub rate: RateLimit,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_header_bytes: 16 * 1024,
            rate: RateLimit {
                per_sec: 10.0,
                burst: 100,
            },
        }
    }
}

impl Limits {
    /// The defaults, with what `[server]` sets (already checked when the
    /// file was read).
    pub fn from_section(section: &ServerSection) -> Self {
        let default = Limits::default();
        Limits {
            max_connections: section
                .max_connections
                .unwrap_or(default.max_connections)
                .max(1),
            header_timeout: section
                .header_timeout_secs
                .map_or(default.header_timeout, Duration::from_secs),
            request_timeout: section
                .request_timeout_secs
                .map_or(default.request_timeout, Duration::from_secs),
            max_header_bytes: section.max_header_bytes.unwrap_or(default.max_header_bytes),
            rate: RateLimit {
                per_sec: section.rate_limit_per_sec.unwrap_or(default.rate.per_sec),
                burst: section.rate_limit_burst.unwrap_or(default.rate.burst),
            },
        }
    }
}

/// How much of a refused request's body is read and thrown away so that
/// its sender, still sending, reads the answer rather than a connection
/// reset: GitHub's largest payload (25 MB) fits.
pub const DRAIN_BYTES: u64 = 32 << 20;
/// How long that reading may take before the connection is closed anyway.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);

/// A connection over the cap is answered this, before anything is read.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
    Connection: close\r\nRetry-After: 1\r\nContent-Type: application/json\r\n\
    Content-Length: 51\r\n\r\n{\"error\":\"too many connections; try again shortly\"}";

/// Serves `router` on `listener` under `state`'s limits until `shutdown`
/// resolves, then lets open requests finish (idle connections close at
/// once).
pub(super) async fn serve_connections(
    listener: TcpListener,
    state: AppState,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let limits = state.inner.limits;
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits.max_header_bytes);
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (closing, closed) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            state.inner.metrics.refused(Refusal::Connections);
            turn_away(&stream);
            continue;
        };
        let connection = Connection {
            state: state.clone(),
            router: router.clone(),
            builder: builder.clone(),
            peer,
        };
        let closed = closed.clone();
        connections.spawn(async move {
            connection.run(stream, closed).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = closing.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// A failed `accept`: the peer gave up before it was accepted (nothing to
/// do), or the process is out of file descriptors or memory (wait a little
/// so as not to spin, as other servers do).
async fn accept_failed(error: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(%error, "accepting a connection failed; retrying shortly");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Answers a connection over the cap `503` and closes it, without a task:
/// a fresh socket's send buffer takes the few bytes at once, and what the
/// client already sent is read first so that closing does not reset the
/// connection under the answer.
fn turn_away(stream: &TcpStream) {
    let mut sink = [0u8; 4096];
    for _ in 0..16 {
        match stream.try_read(&mut sink) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    let _ = stream.try_write(OVER_CAPACITY);
    tracing::debug!("connection refused: at the cap on open connections");
}

/// One accepted connection.
struct Connection {
    state: AppState,
    router: Router,
    builder: Arc<http1::Builder>,
    peer: SocketAddr,
}

impl Connection {
    async fn run(self, stream: TcpStream, mut closed: watch::Receiver<bool>) {
        let Connection {
            state,
            router,
            builder,
            peer,
        } = self;
        let open = Open::new(&state);
        let requests = Arc::new(AtomicUsize::new(0));
        let service = {
            let tower = TowerToHyperService::new(router);
            let (state, requests) = (state.clone(), requests.clone());
            hyper::service::service_fn(move |request: Request<Incoming>| {
                requests.fetch_add(1, Ordering::Relaxed);
                let (state, tower) = (state.clone(), tower.clone());
                async move { Ok::<_, Infallible>(answer(&state, &tower, peer, request).await) }
            })
        };
        let served = builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(served);
        let result = tokio::select! {
            result = served.as_mut() => result,
            () = async { drop(closed.wait_for(|c| *c).await) } => {
                served.as_mut().graceful_shutdown();
                served.await
            }
        };
        if let Err(e) = result {
            let metrics = &state.inner.metrics;
            if e.is_timeout() {
                // An idle keep-alive connection closing after its requests
                // is normal; one that never sent a whole request is not.
                if requests.load(Ordering::Relaxed) == 0 {
                    metrics.refused(Refusal::HeaderTimeout);
                    tracing::debug!(%peer, "connection closed: no request headers in time");
                }
            } else if e.is_parse_too_large() {
                metrics.refused(Refusal::HeadersTooLarge);
                tracing::debug!(%peer, "request refused: headers over the limit (431)");
            } else {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        }
        drop(open);
    }
}

/// Counts a connection as open while it lives.
struct Open(AppState);

impl Open {
    fn new(state: &AppState) -> Self {
        let open = state.inner.open.fetch_add(1, Ordering::Relaxed) + 1;
        state.inner.metrics.connections(open);
        Open(state.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        let open = self.0.inner.open.fetch_sub(1, Ordering::Relaxed) - 1;
        self.0.inner.metrics.connections(open);
    }
}

/// The address a request came from, in its extensions for the handlers.
#[derive(Debug, Clone, Copy)]
pub(super) struct Source(pub(super) std::net::IpAddr);

/// How much of a rate-limited request's body is read and thrown away (see
/// [`drain`]): a delivery's worth.
const REFUSED_DRAIN_BYTES: u64 = 1 << 20;
/// How long that may take.
const REFUSED_DRAIN_TIME: Duration = Duration::from_secs(2);

/// Admits a request under the source's rate limit, then has the router
/// answer it within the request deadline.
async fn answer(
    state: &AppState,
    router: &TowerToHyperService<Router>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Body> {
    let inner = &state.inner;
    if let Err(wait) = inner.limiter.admit(peer.ip(), Instant::now()) {
        inner.metrics.refused(Refusal::RateLimited);
        tracing::debug!(%peer, "request refused: over the source's rate limit (429)");
        drain(request.into_body(), REFUSED_DRAIN_BYTES, REFUSED_DRAIN_TIME).await;
        let seconds = wait.as_secs_f64().ceil().max(1.0);
        let mut response = refusal(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests from this address; try again after Retry-After seconds",
        );
        if let Ok(value) = HeaderValue::from_str(&format!("{seconds:.0}")) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let mut request = request.map(Body::new);
    request.extensions_mut().insert(Source(peer.ip()));
    let routed = hyper::service::Service::call(router, request);
    match tokio::time::timeout(inner.limits.request_timeout, routed).await {
        Ok(Ok(response)) => response,
        Ok(Err(never)) => match never {},
        Err(_) => {
            inner.metrics.refused(Refusal::Timeout);
            tracing::debug!(%peer, "request refused: not done in time (408)");
            refusal(
                StatusCode::REQUEST_TIMEOUT,
                "the request took too long to arrive",
            )
        }
    }
}

/// A refusal answered by the server itself: `{"error": …}`, and the
/// connection closed after it (what is left of the request is not read).
fn refusal(status: StatusCode, message: &str) -> Response<Body> {
    let mut response = (status, axum::Json(json!({ "error": message }))).into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Reads and throws away what is left of `body`, at most `bytes` of it and
/// for at most `time`: a sender still sending when the answer comes and
/// the connection closes would see a reset rather than the answer. Whether
/// it was read to its end.
pub(super) async fn drain<B>(mut body: B, bytes: u64, time: Duration) -> bool
where
    B: hyper::body::Body + Unpin,
{
    let read = async {
        let mut left = bytes;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return false;
            };
            let n = frame.data_ref().map_or(0, Buf::remaining);
            let n = u64::try_from(n).unwrap_or(u64::MAX);
            if n > left {
                return false;
            }
            left -= n;
        }
        true
    };
    tokio::time::timeout(time, read).await.unwrap_or(false)
}
