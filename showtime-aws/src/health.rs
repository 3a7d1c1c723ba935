//! The HTTP health check of an environment: one tiny HTTP/1.1 GET.
//!
//! This module owns [`http_get_ok`], the default checker of
//! [`crate::EcsBackend`], and the [`HealthCheck`] type through which tests
//! replace it. It speaks just enough HTTP to read a status line over a
//! tokio `TcpStream`, bounded by a timeout per attempt; it must not follow
//! redirects, read bodies, or pull in an HTTP client crate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Checks one path of one address: `true` when it answers 2xx or 3xx.
pub type HealthCheck = Arc<dyn Fn(SocketAddr, &str) -> BoxFuture<'static, bool> + Send + Sync>;

/// How long one health-check request may take, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The most of the answer read to find its status line.
const MAX_HEAD: usize = 1024;

/// The default checker: [`http_get_ok`] with [`REQUEST_TIMEOUT`].
pub fn default_check() -> HealthCheck {
    Arc::new(|addr, path| {
        let path = path.to_owned();
        Box::pin(async move { http_get_ok(addr, &path, REQUEST_TIMEOUT).await })
    })
}

/// Sends `GET {path}` to `addr` and returns whether the status is 2xx or 3xx
/// within `timeout`. Any failure (refused, reset, timeout, not HTTP) is
/// `false`.
pub async fn http_get_ok(addr: SocketAddr, path: &str, timeout: Duration) -> bool {
    matches!(
        tokio::time::timeout(timeout, get_status(addr, path)).await,
        Ok(Some(200..=399))
    )
}

async fn get_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: showtime-health\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < MAX_HEAD {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    parse_status(&head)
}

/// The status code of an HTTP/1.x status line.
fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\r' || *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(
            parse_status(b"HTTP/1.0 302 Found\r\nLocation: /"),
            Some(302)
        );
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status(b""), None);
    }

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
