//! The HTTP health check of an environment: one GET through
//! [`showtime_local::probe`].
//!
//! This module owns [`http_get_ok`], the default checker of
//! [`crate::EcsBackend`], and the [`HealthCheck`] type through which tests
//! replace it. The request itself is the shared probe's: plain HTTP/1.1,
//! bounded by a timeout per attempt, redirects not followed, the body not
//! read. This module only names the defaults.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use showtime_local::probe;

/// Checks one path of one address: `true` when it answers 2xx or 3xx.
pub type HealthCheck = Arc<dyn Fn(SocketAddr, &str) -> BoxFuture<'static, bool> + Send + Sync>;

/// How long one health-check request may take, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The default checker: [`http_get_ok`] with [`REQUEST_TIMEOUT`].
pub fn default_check() -> HealthCheck {
    Arc::new(|addr, path| {
        let path = path.to_owned();
        Box::pin(async move { http_get_ok(addr, &path, REQUEST_TIMEOUT).await })
    })
}

/// Sends `GET {path}` to `addr` and returns whether the status is 2xx or 3xx
/// within `timeout` ([`probe::is_up`]). Any failure (refused, reset,
/// timeout, not HTTP) is `false`.
pub async fn http_get_ok(addr: SocketAddr, path: &str, timeout: Duration) -> bool {
    probe::is_up(addr, path, timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    async fn serve_once(answer: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            if let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(answer.as_bytes()).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn answers_are_judged_by_status() {
        let ok = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK").await;
        assert!(http_get_ok(ok, "/health", Duration::from_secs(5)).await);
        let redirect = serve_once("HTTP/1.1 302 Found\r\nLocation: /login\r\n\r\n").await;
        assert!(http_get_ok(redirect, "/", Duration::from_secs(5)).await);
        let error = serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\n").await;
        assert!(!http_get_ok(error, "/health", Duration::from_secs(5)).await);
    }

    #[tokio::test]
    async fn silence_and_refusal_fail() {
        // Bound, never answered: the timeout ends the attempt.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent = listener.local_addr().unwrap();
        assert!(!http_get_ok(silent, "/health", Duration::from_millis(200)).await);
        drop(listener);
        // Closed port: refused at once.
        assert!(!http_get_ok(silent, "/health", Duration::from_secs(5)).await);
    }
}
