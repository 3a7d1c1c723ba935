//! The webhook server's public endpoint under abuse, over raw TCP on
//! 127.0.0.1: oversize bodies always answered `413` (never a reset),
//! half-open connections closed after the header deadline, the cap on
//! connections, the per-source rate limit, the header size limit and the
//! request deadline, each refusal counted in the metrics.
//!
//! Nothing asserts that something happened within a tight time: tests
//! wait for a condition under a generous deadline, and read the server's
//! own connection count rather than a clock.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use showtime_core::testing::World;
use showtime_github::webhook::Webhook;
use showtime_runtime::metrics::Refusal;
use showtime_runtime::server::{Limits, RateLimit, ServerSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use support::server::{Running, start_with};
use support::*;

/// Limits that stay out of a test's way but for the one it sets.
fn relaxed() -> Limits {
    Limits {
        rate: RateLimit::OFF,
        ..Limits::default()
    }
}

async fn start(limits: Limits) -> Running {
    let settings = ServerSettings {
        limits,
        ..ServerSettings::default()
    };
    start_with(&World::new(), settings, Webhook::new(SECRET).unwrap()).await
}

/// Polls `check` until it holds; fails after a generous deadline.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Writes `raw`, then reads the whole answer: its status line and headers,
/// or the error reading it ended with (a reset, for one).
async fn raw_exchange(stream: &mut TcpStream, raw: &[u8]) -> Result<String, std::io::Error> {
    stream.write_all(raw).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

fn status_of(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// A connection from `source`, one of the loopback addresses.
async fn connect_from(source: IpAddr, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

fn get(path: &str, addr: SocketAddr) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_body_is_always_answered_413_never_reset() {
    let server = start(relaxed()).await;
    let addr = server.addr;
    let body = vec![b'x'; 2 << 20];
    let headers = github_headers("pull_request", "d-big", &body, SECRET);
    let mut head = format!(
        "POST /webhook HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in &headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(&body);

    const TIMES: usize = 30;
    for round in 0..TIMES {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let answer = raw_exchange(&mut stream, &raw)
            .await
            .unwrap_or_else(|e| panic!("round {round}: the sender saw `{e}`, not the 413"));
        assert_eq!(status_of(&answer), 413, "round {round}: {answer}");
        assert!(answer.contains("over the limit"), "{answer}");
    }

    // The same body in chunks, without a length.
    let mut chunked =
        format!("POST /webhook HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n");
    for (name, value) in &headers {
        chunked.push_str(&format!("{name}: {value}\r\n"));
    }
    chunked.push_str("\r\n");
    let mut chunked = chunked.into_bytes();
    for piece in body.chunks(64 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    for round in 0..5 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let answer = raw_exchange(&mut stream, &chunked)
            .await
            .unwrap_or_else(|e| panic!("chunked round {round}: `{e}`, not the 413"));
        assert_eq!(status_of(&answer), 413, "chunked round {round}: {answer}");
    }

    let metrics = server.state.metrics();
    assert_eq!(metrics.refusals(Refusal::TooLarge), TIMES as u64 + 5);
    let text = metrics.encode().unwrap();
    assert!(
        text.contains(&format!(
            "showtime_webhook_refusals_total{{reason=\"too_large\"}} {}",
            TIMES + 5
        )),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_are_closed_after_the_header_deadline() {
    let server = start(Limits {
        header_timeout: Duration::from_secs(1),
        ..relaxed()
    })
    .await;
    let addr = server.addr;
    const HALF_OPEN: usize = 200;
    let mut streams = Vec::new();
    for _ in 0..HALF_OPEN {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        // A request line and one header, never the blank line ending them.
        stream
            .write_all(format!("POST /webhook HTTP/1.1\r\nHost: {addr}\r\n").as_bytes())
            .await
            .unwrap();
        streams.push(stream);
    }
    let started = Instant::now();
    // Every one is closed by the server: reading ends (no answer is owed).
    let mut closed = tokio::task::JoinSet::new();
    for mut stream in streams {
        closed.spawn(async move {
            let mut rest = Vec::new();
            tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut rest))
                .await
                .expect("the server closes a connection that never finished its headers")
                .ok();
        });
    }
    while let Some(done) = closed.join_next().await {
        done.unwrap();
    }
    let took = started.elapsed();
    eventually("no connection left open", || {
        server.state.connections() == 0
    })
    .await;
    assert_eq!(
        server.state.metrics().refusals(Refusal::HeaderTimeout),
        HALF_OPEN as u64
    );
    eprintln!("{HALF_OPEN} half-open connections closed {took:?} after the last was opened");

    // The server still answers.
    let reply = http(addr, "GET", "/healthz", &[], b"").await;
    assert_eq!(reply.status, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_cap_is_answered_503() {
    let server = start(Limits {
        max_connections: 5,
        header_timeout: Duration::from_secs(120),
        ..relaxed()
    })
    .await;
    let addr = server.addr;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    eventually("five connections open", || server.state.connections() == 5).await;

    let mut extra = TcpStream::connect(addr).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), extra.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(status_of(&answer), 503, "{answer}");
    assert!(answer.contains("Retry-After: 1"), "{answer}");
    assert_eq!(server.state.metrics().refusals(Refusal::Connections), 1);

    // Once they go, there is room again.
    drop(held);
    eventually("the held connections closed", || {
        server.state.connections() == 0
    })
    .await;
    let reply = http(addr, "GET", "/healthz", &[], b"").await;
    assert_eq!(reply.status, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_over_its_rate_gets_429_with_retry_after() {
    let server = start(Limits {
        rate: RateLimit {
            per_sec: 0.2,
            burst: 3,
        },
        ..Limits::default()
    })
    .await;
    let addr = server.addr;
    let busy: IpAddr = "127.0.0.1".parse().unwrap();
    let other: IpAddr = "127.0.0.2".parse().unwrap();
    for _ in 0..3 {
        let mut stream = connect_from(busy, addr).await;
        let answer = raw_exchange(&mut stream, &get("/healthz", addr))
            .await
            .unwrap();
        assert_eq!(status_of(&answer), 200, "{answer}");
    }
    let mut stream = connect_from(busy, addr).await;
    let answer = raw_exchange(&mut stream, &get("/healthz", addr))
        .await
        .unwrap();
    assert_eq!(status_of(&answer), 429, "{answer}");
    let retry_after: u64 = answer
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After: {answer}"));
    assert!((1..=5).contains(&retry_after), "{answer}");

    // A delivery from the same source, body and all, is refused the same
    // way, and its sender reads the 429.
    let body = pull_request_event("labeled", 42, TRIGGER);
    let mut raw = format!(
        "POST /webhook HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in github_headers("pull_request", "d-1", &body, SECRET) {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(&body);
    let mut stream = connect_from(busy, addr).await;
    let answer = raw_exchange(&mut stream, &raw).await.unwrap();
    assert_eq!(status_of(&answer), 429, "{answer}");

    // Another source is not affected.
    let mut stream = connect_from(other, addr).await;
    let answer = raw_exchange(&mut stream, &get("/healthz", addr))
        .await
        .unwrap();
    assert_eq!(status_of(&answer), 200, "{answer}");
    assert_eq!(server.state.metrics().refusals(Refusal::RateLimited), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_deliveries_are_never_throttled_forged_ones_are() {
    let world = World::new();
    world.open_pr(42, HEAD, AUTHOR, &[]);
    let settings = ServerSettings {
        limits: Limits {
            rate: RateLimit {
                per_sec: 0.2,
                burst: 3,
            },
            ..Limits::default()
        },
        ..ServerSettings::default()
    };
    let server = start_with(&world, settings, Webhook::new(SECRET).unwrap()).await;
    let addr = server.addr;
    // A bot relabels: many more deliveries than the burst, from one address.
    let body = pull_request_event("unlabeled", 42, "bug");
    for n in 0..50 {
        let reply = deliver(addr, "pull_request", &format!("d-{n}"), &body).await;
        assert!(reply.status < 300, "delivery {n}: {reply:?}");
    }
    assert_eq!(server.state.metrics().refusals(Refusal::RateLimited), 0);
    // Forged ones from the same address wear the bucket down.
    let forged = github_headers("pull_request", "f", &body, b"a guess");
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(http(addr, "POST", "/webhook", &forged, &body).await.status);
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    server.state.idle().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_headers_are_answered_431() {
    let server = start(Limits {
        max_header_bytes: 4096,
        ..relaxed()
    })
    .await;
    let addr = server.addr;
    let raw = format!(
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(8192)
    );
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let answer = raw_exchange(&mut stream, raw.as_bytes()).await.unwrap();
    assert_eq!(status_of(&answer), 431, "{answer}");
    eventually("the refusal counted", || {
        server.state.metrics().refusals(Refusal::HeadersTooLarge) == 1
    })
    .await;
    // Headers within the limit are served.
    let reply = http(
        addr,
        "GET",
        "/healthz",
        &[("X-Padding", "a".repeat(1024))],
        b"",
    )
    .await;
    assert_eq!(reply.status, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_body_never_ends_is_answered_408() {
    let server = start(Limits {
        request_timeout: Duration::from_secs(1),
        ..relaxed()
    })
    .await;
    let addr = server.addr;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /webhook HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 1000\r\n\
         X-GitHub-Event: ping\r\n\r\n{{\"zen\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(status_of(&answer), 408, "{answer}");
    assert_eq!(server.state.metrics().refusals(Refusal::Timeout), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_for_idle_connections() {
    let server = start(Limits {
        header_timeout: Duration::from_secs(600),
        ..relaxed()
    })
    .await;
    let _idle = TcpStream::connect(server.addr).await.unwrap();
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    let keep_alive = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr);
    kept.write_all(keep_alive.as_bytes()).await.unwrap();
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    eventually("both connections open", || server.state.connections() == 2).await;
    // `stop` fails the test if serve has not returned within 30 s.
    server.stop().await;
}
