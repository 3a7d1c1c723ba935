//! One small HTTP client for the runtime's own outgoing calls: notifications
//! and the dashboard's GitHub sign-in. HTTP/1.1, over rustls with the
//! system's roots for `https://` or plain for `http://`; every exchange is
//! bounded in time and in the size of the answer read.
//!
//! It gives no call a meaning: callers build the request and read the
//! answer. GitHub's REST API has its own client in `showtime-github`.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{HeaderMap, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// Why an exchange failed. Messages never include a request's body or
/// headers (they may hold a secret).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The system's TLS roots could not be loaded.
    #[error("cannot load the system's TLS certificates: {0}")]
    Tls(String),
    /// No complete answer within the time allowed.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The request could not be sent (connection refused, reset, DNS).
    #[error("{0}")]
    Send(String),
    /// The answer's body could not be read, or was over the limit.
    #[error("reading the answer failed: {0}")]
    Read(String),
}

/// An answer: status, headers and the whole body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// The client; cheap to clone (clones share connections).
#[derive(Clone)]
pub struct HttpClient {
    client: Client<Https, Full<Bytes>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpClient")
    }
}

impl HttpClient {
    /// A client for `http://` and `https://` URLs. Must be called within a
    /// tokio runtime.
    pub fn new() -> Result<Self, HttpError> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| HttpError::Tls(e.to_string()))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(HttpClient {
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }

    /// Sends `request` and reads the answer, all within `timeout`, refusing
    /// a body over `max_body` bytes.
    pub async fn send(
        &self,
        request: Request<Full<Bytes>>,
        timeout: Duration,
        max_body: usize,
    ) -> Result<Answer, HttpError> {
        let exchange = async {
            let answer = self
                .client
                .request(request)
                .await
                .map_err(|e| HttpError::Send(describe(&e)))?;
            let (parts, body) = answer.into_parts();
            let body = Limited::new(body, max_body)
                .collect()
                .await
                .map_err(|e| HttpError::Read(e.to_string()))?
                .to_bytes();
            Ok(Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| HttpError::Timeout(timeout))?
    }
}

/// The error and its causes on one line (hyper's own message is terse).
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
