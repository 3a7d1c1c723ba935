//! An HTTP probe any backend can use: one `GET` of one path on one address,
//! bounded by a timeout.
//!
//! A backend learns that an environment is up by asking it, over HTTP, the
//! way its users will. [`get`] sends `GET {path}` to an address and returns
//! the [`Answer`]: its status and its body (read up to [`MAX_BODY_BYTES`]);
//! [`status`] stops at the status and leaves the body unread; [`is_up`]
//! says only whether the status is 2xx or 3xx, which is what a health check
//! asks. Whatever goes wrong — a refused connection, a reset, an answer
//! that is not HTTP, silence past the timeout — is a [`ProbeError`] that
//! says which.
//!
//! The probe never follows a redirect: a `302` is the answer, because the
//! question is whether *this* address answers, not where it points. It
//! speaks plain HTTP/1.1 (no TLS) to an IP address and port, one fresh
//! connection per request, and keeps no connection open afterwards. The
//! timeout covers everything: connecting, sending, the status line and
//! headers, and for [`get`] the body.
//!
//! It is hyper's client (through `hyper-util`'s connector and executor), so
//! it needs a tokio runtime. It decides nothing about what an answer means
//! for an environment; that is each backend's business.
//!
//! ```no_run
//! use std::net::SocketAddr;
//! use std::time::Duration;
//!
//! # async fn check() -> Result<(), showtime_local::probe::ProbeError> {
//! let addr = SocketAddr::from(([127, 0, 0, 1], 8088));
//! let answer = showtime_local::probe::get(addr, "/health", Duration::from_secs(2)).await?;
//! println!("{} {}", answer.status, answer.body);
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, CONNECTION, USER_AGENT};
use hyper::{Request, Response, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub use hyper::StatusCode;

/// The most of a body [`get`] reads; the rest is left unread.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The `User-Agent` of every probe.
const AGENT: &str = "showtime-probe";

/// What an address answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: StatusCode,
    /// The body, decoded as UTF-8 (invalid sequences replaced), at most
    /// [`MAX_BODY_BYTES`] of it.
    pub body: String,
}

/// Why a probe got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The path cannot be sent.
    #[error(
        "`{path}` cannot be requested: a path starts with `/` and holds no spaces \
         or control characters"
    )]
    BadPath {
        /// The path given.
        path: String,
    },
    /// Nothing accepted the connection.
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// The address.
        addr: SocketAddr,
        /// What the system said (`Connection refused`, …).
        reason: String,
    },
    /// The connection was made, but no HTTP answer came back on it.
    #[error("{addr} gave no HTTP answer: {reason}")]
    NoAnswer {
        /// The address.
        addr: SocketAddr,
        /// What went wrong (closed early, not HTTP, …).
        reason: String,
    },
    /// The timeout passed first.
    #[error("no answer from {addr} within {}s", timeout.as_secs_f32())]
    Timeout {
        /// The address.
        addr: SocketAddr,
        /// The time it was given.
        timeout: Duration,
    },
}

/// Sends `GET {path}` to `addr` and returns the status and body, within
/// `timeout` in all. Redirects are answers, not followed.
pub async fn get(addr: SocketAddr, path: &str, timeout: Duration) -> Result<Answer, ProbeError> {
    within(addr, timeout, async {
        let response = send(addr, path).await?;
        let status = response.status();
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while bytes.len() < MAX_BODY_BYTES {
            match body.frame().await {
                None => break,
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        bytes.extend_from_slice(data);
                    }
                }
                // What arrived before the connection broke is the body.
                Some(Err(_)) if !bytes.is_empty() => break,
                Some(Err(e)) => return Err(no_answer(addr, &e)),
            }
        }
        bytes.truncate(MAX_BODY_BYTES);
        Ok(Answer {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    })
    .await
}

/// Sends `GET {path}` to `addr` and returns the status within `timeout`,
/// without reading the body.
pub async fn status(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<StatusCode, ProbeError> {
    within(addr, timeout, async {
        Ok(send(addr, path).await?.status())
    })
    .await
}

/// Whether `GET {path}` on `addr` answers 2xx or 3xx within `timeout`. Any
/// failure (refused, reset, timeout, not HTTP) is `false`.
pub async fn is_up(addr: SocketAddr, path: &str, timeout: Duration) -> bool {
    status(addr, path, timeout)
        .await
        .is_ok_and(|s| s.is_success() || s.is_redirection())
}

/// `probe`, or [`ProbeError::Timeout`] once `timeout` has passed.
async fn within<T>(
    addr: SocketAddr,
    timeout: Duration,
    probe: impl Future<Output = Result<T, ProbeError>>,
) -> Result<T, ProbeError> {
    tokio::time::timeout(timeout, probe)
        .await
        .unwrap_or(Err(ProbeError::Timeout { addr, timeout }))
}

/// Sends the request and waits for the status line and headers.
async fn send(addr: SocketAddr, path: &str) -> Result<Response<Incoming>, ProbeError> {
    let bad_path = || ProbeError::BadPath {
        path: path.to_owned(),
    };
    if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad_path());
    }
    let uri: Uri = format!("http://{addr}{path}")
        .parse()
        .map_err(|_| bad_path())?;
    let request = Request::get(uri)
        .header(USER_AGENT, AGENT)
        .header(ACCEPT, "*/*")
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|_| bad_path())?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    // No pool: a probe's connection is closed once its answer is read.
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(connector);
    client.request(request).await.map_err(|e| {
        if e.is_connect() {
            ProbeError::Connect {
                addr,
                reason: root_cause(&e),
            }
        } else {
            no_answer(addr, &e)
        }
    })
}

fn no_answer(addr: SocketAddr, error: &(dyn std::error::Error + 'static)) -> ProbeError {
    ProbeError::NoAnswer {
        addr,
        reason: root_cause(error),
    }
}

/// The innermost error of a chain: the one that says what happened
/// (`Connection refused`), not which layer saw it.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
