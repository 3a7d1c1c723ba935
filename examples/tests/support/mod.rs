//! What the webhook tests share: GitHub's delivery payloads and headers, and
//! a minimal HTTP/1.1 client for 127.0.0.1.

// Each test binary that includes this module uses only part of it.
#![allow(dead_code)]

pub mod consistency;
pub mod queue;
pub mod receiver;
pub mod server;
pub mod site;

use std::net::SocketAddr;

use serde_json::{Value, json};
use showtime_github::webhook::sign;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const SECRET: &[u8] = b"It's a Secret to Everybody";
pub const REPO: &str = "octo-org/hello-circus";
/// The trigger label that asks for an environment.
pub const TRIGGER: &str = "🎪 ⚡ showtime-trigger-start";
pub const HEAD: &str = "abc123f0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6";
pub const AUTHOR: &str = "maxime";

/// A port of 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP answer: status and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

/// Sends one HTTP/1.1 request and reads the whole answer; `body` is `None`
/// to announce `content_length` without sending a body.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Reply {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut raw = request.into_bytes();
    raw.extend_from_slice(body);
    exchange(addr, &raw).await
}

/// Writes `raw` and reads the answer to the end.
pub async fn exchange(addr: SocketAddr, raw: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8(answer).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap()
    };
    Reply { status, body }
}

/// The headers GitHub sends with a delivery, signed with `secret`.
pub fn github_headers(
    event: &str,
    id: &str,
    body: &[u8],
    secret: &[u8],
) -> Vec<(&'static str, String)> {
    vec![
        ("User-Agent", "GitHub-Hookshot/8e03811".to_owned()),
        ("Content-Type", "application/json".to_owned()),
        ("X-GitHub-Event", event.to_owned()),
        ("X-GitHub-Delivery", id.to_owned()),
        ("X-GitHub-Hook-ID", "512345678".to_owned()),
        ("X-Hub-Signature-256", sign(secret, body).unwrap()),
    ]
}

pub fn user(login: &str, id: u64) -> Value {
    json!({
        "login": login,
        "id": id,
        "node_id": format!("MDQ6VXNlcj{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "url": format!("https://api.github.com/users/{login}"),
        "html_url": format!("https://github.com/{login}"),
        "type": "User",
        "site_admin": false
    })
}

pub fn repository() -> Value {
    json!({
        "id": 186853002,
        "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=",
        "name": "hello-circus",
        "full_name": REPO,
        "private": false,
        "owner": { "login": "octo-org", "id": 6811672, "type": "Organization" },
        "html_url": format!("https://github.com/{REPO}"),
        "default_branch": "main"
    })
}

/// A `pull_request` delivery: `action` on PR `number`, about `label`.
pub fn pull_request_event(action: &str, number: u64, label: &str) -> Vec<u8> {
    let label = json!({
        "id": 6214471532u64,
        "node_id": "LA_kwDOCyMkes8AAAAB6214471532",
        "url": format!("https://api.github.com/repos/{REPO}/labels/{label}"),
        "name": label,
        "color": "FFD700",
        "default": false,
        "description": "Start a preview environment"
    });
    serde_json::to_vec(&json!({
        "action": action,
        "number": number,
        "pull_request": {
            "url": format!("https://api.github.com/repos/{REPO}/pulls/{number}"),
            "id": 1694726800 + number,
            "html_url": format!("https://github.com/{REPO}/pull/{number}"),
            "number": number,
            "state": "open",
            "locked": false,
            "title": "Add filters to the dashboard",
            "user": user(AUTHOR, 487433),
            "body": "Adds a date filter.",
            "labels": [label],
            "draft": false,
            "merged": false,
            "head": { "label": "octo-org:filters", "ref": "filters", "sha": HEAD, "repo": repository() },
            "base": { "label": "octo-org:main", "ref": "main", "sha": "0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e", "repo": repository() }
        },
        "label": label,
        "repository": repository(),
        "sender": user(AUTHOR, 487433),
        "installation": { "id": 41234567, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDEyMzQ1Njc=" }
    }))
    .unwrap()
}

/// An `issue_comment` delivery: `body` commented on PR `number` by `author`.
pub fn comment_event(number: u64, body: &str, author: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "action": "created",
        "issue": {
            "url": format!("https://api.github.com/repos/{REPO}/issues/{number}"),
            "id": 2694726800u64 + number,
            "number": number,
            "title": "Add filters to the dashboard",
            "user": user(AUTHOR, 487433),
            "state": "open",
            "pull_request": {
                "url": format!("https://api.github.com/repos/{REPO}/pulls/{number}"),
                "html_url": format!("https://github.com/{REPO}/pull/{number}")
            }
        },
        "comment": {
            "id": 1987654321,
            "html_url": format!("https://github.com/{REPO}/pull/{number}#issuecomment-1987654321"),
            "user": user(author, 583231),
            "created_at": "2024-01-15T12:00:00Z",
            "author_association": "MEMBER",
            "body": body
        },
        "repository": repository(),
        "sender": user(author, 583231),
        "installation": { "id": 41234567 }
    }))
    .unwrap()
}

pub fn ping_event() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "zen": "Keep it logically awesome.",
        "hook_id": 512345678,
        "hook": { "type": "Repository", "id": 512345678, "active": true, "events": ["pull_request", "issue_comment"] },
        "repository": repository(),
        "sender": user(AUTHOR, 487433)
    }))
    .unwrap()
}

/// Sends a delivery signed with the right secret.
pub async fn deliver(addr: SocketAddr, event: &str, id: &str, body: &[u8]) -> Reply {
    let headers = github_headers(event, id, body, SECRET);
    http(addr, "POST", "/webhook", &headers, body).await
}
