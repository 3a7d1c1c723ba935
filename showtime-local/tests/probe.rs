//! The HTTP probe against hand-written servers on 127.0.0.1: what it sends,
//! how it reads each kind of answer, and each way of getting none.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use showtime_local::probe::{self, Answer, MAX_BODY_BYTES, ProbeError, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const LONG: Duration = Duration::from_secs(5);

/// A server that answers one connection with `answer` (raw bytes) and hands
/// back the request head it read.
async fn answer_once(answer: Vec<u8>) -> (SocketAddr, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let request = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut chunk = [0_u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            head.extend_from_slice(&chunk[..n]);
        }
        let _ = stream.write_all(&answer).await;
        let _ = stream.shutdown().await;
        String::from_utf8_lossy(&head).into_owned()
    });
    (addr, request)
}

fn http(status_line: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status_line}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn get_returns_status_and_body_of_one_plain_request() {
    let (addr, request) = answer_once(http("200 OK", "ok")).await;
    let answer = probe::get(addr, "/health?deep=1", LONG).await.unwrap();
    assert_eq!(
        answer,
        Answer {
            status: StatusCode::OK,
            body: "ok".to_owned()
        }
    );
    let request = request.await.unwrap().to_ascii_lowercase();
    assert!(
        request.starts_with("get /health?deep=1 http/1.1\r\n"),
        "{request}"
    );
    assert!(request.contains(&format!("host: {addr}\r\n")), "{request}");
    assert!(
        request.contains("user-agent: showtime-probe\r\n"),
        "{request}"
    );
}

#[tokio::test]
async fn a_redirect_is_an_answer_not_followed() {
    let moved = b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\n\r\n".to_vec();
    let (addr, _) = answer_once(moved.clone()).await;
    assert_eq!(probe::status(addr, "/", LONG).await, Ok(StatusCode::FOUND));
    let (addr, _) = answer_once(moved).await;
    assert!(probe::is_up(addr, "/", LONG).await);
}

#[tokio::test]
async fn only_2xx_and_3xx_are_up() {
    let (addr, _) = answer_once(http("204 No Content", "")).await;
    assert!(probe::is_up(addr, "/health", LONG).await);
    let (addr, _) = answer_once(http("503 Service Unavailable", "busy")).await;
    assert!(!probe::is_up(addr, "/health", LONG).await);
    let (addr, _) = answer_once(http("404 Not Found", "")).await;
    let answer = probe::get(addr, "/health", LONG).await.unwrap();
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_body_without_length_is_read_to_the_end_and_bounded() {
    let unbounded = format!("HTTP/1.0 200 OK\r\n\r\n{}", "x".repeat(MAX_BODY_BYTES + 10));
    let (addr, _) = answer_once(unbounded.into_bytes()).await;
    let answer = probe::get(addr, "/", LONG).await.unwrap();
    assert_eq!(answer.body.len(), MAX_BODY_BYTES);
}

#[tokio::test]
async fn silence_is_a_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let timeout = Duration::from_millis(200);
    assert_eq!(
        probe::get(addr, "/health", timeout).await,
        Err(ProbeError::Timeout { addr, timeout })
    );
    assert!(!probe::is_up(addr, "/health", timeout).await);
}

#[tokio::test]
async fn a_closed_port_is_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = probe::get(addr, "/health", LONG).await.unwrap_err();
    assert!(matches!(err, ProbeError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[tokio::test]
async fn an_answer_that_is_not_http_is_no_answer() {
    let (addr, _) = answer_once(b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()).await;
    let err = probe::status(addr, "/", LONG).await.unwrap_err();
    assert!(matches!(err, ProbeError::NoAnswer { .. }), "{err:?}");
    let (addr, _) = answer_once(Vec::new()).await;
    let err = probe::status(addr, "/", LONG).await.unwrap_err();
    assert!(matches!(err, ProbeError::NoAnswer { .. }), "{err:?}");
}

#[tokio::test]
async fn a_path_that_cannot_be_sent_is_refused_before_connecting() {
    // Port 1 on loopback: nothing is asked of it.
    let addr = SocketAddr::from(([127, 0, 0, 1], 1));
    for path in ["health", "/a b", "/a\r\nX-Evil: 1", ""] {
        assert_eq!(
            probe::get(addr, path, LONG).await,
            Err(ProbeError::BadPath {
                path: path.to_owned()
            }),
            "{path:?}"
        );
    }
}
