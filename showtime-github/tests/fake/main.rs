//! The fake GitHub server, exercised over real HTTP with octocrab (typed and
//! raw) and, for malformed requests, a hand-written HTTP/1.1 client. One
//! test binary, one module per concern; the helpers live here.

mod conditional;
mod deployments;
mod faults;
mod graphql;
mod labels;
mod mutations;
mod oauth;
mod pulls;
mod server;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use octocrab::Octocrab;
use serde_json::{Value, json};
use showtime_github::fake::{FakeGitHub, FakePr, FakeState, Fault, GraphqlOperation};

const OWNER: &str = "acme";
const REPO: &str = "shop";

fn client(base: &str, token: &str) -> Octocrab {
    Octocrab::builder()
        .base_uri(base)
        .expect("base uri")
        .personal_token(token.to_string())
        .build()
        .expect("client")
}

async fn start() -> (FakeGitHub, Octocrab) {
    let fake = FakeGitHub::start(OWNER, REPO).await.expect("fake starts");
    let github = client(&fake.url(), "t");
    (fake, github)
}

/// A response with status, headers and JSON body (`Null` when empty).
struct Raw {
    status: u16,
    headers: http::HeaderMap,
    body: Value,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn names(&self) -> Vec<String> {
        self.body
            .as_array()
            .expect("array body")
            .iter()
            .map(|label| label["name"].as_str().expect("name").to_owned())
            .collect()
    }
}

async fn send(github: &Octocrab, method: &str, path: &str, body: Option<Value>) -> Raw {
    send_with(github, method, path, body, None).await
}

/// [`send`] with extra request headers.
async fn send_with(
    github: &Octocrab,
    method: &str,
    path: &str,
    body: Option<Value>,
    headers: Option<http::HeaderMap>,
) -> Raw {
    let response = match method {
        "GET" => github._get_with_headers(path, headers).await,
        "POST" => github._post(path, body.as_ref()).await,
        "PUT" => github._put(path, body.as_ref()).await,
        "PATCH" => github._patch(path, body.as_ref()).await,
        "DELETE" => github._delete(path, body.as_ref()).await,
        other => panic!("unsupported method {other}"),
    }
    .expect("request reaches the fake");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = github.body_to_string(response).await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("JSON body")
    };
    Raw {
        status,
        headers,
        body,
    }
}

/// Writes `request` to the fake and reads the whole answer, as text.
async fn exchange(addr: SocketAddr, request: String) -> String {
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream.write_all(request.as_bytes()).expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        response
    })
    .await
    .expect("client thread")
}

/// Sends raw bytes over HTTP/1.1 and returns (status, body).
async fn raw_http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, Value) {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: token t\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let response = exchange(addr, request).await;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).expect("JSON body")
    };
    (status, body)
}

fn pr(number: u64, labels: &[&str]) -> FakePr {
    FakePr {
        labels: labels.iter().map(|&l| l.to_owned()).collect(),
        ..FakePr::new(number)
    }
}

fn links(raw: &Raw) -> Vec<(String, String)> {
    raw.header("link")
        .unwrap_or_default()
        .split(", ")
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (url, rel) = part.split_once("; rel=").expect("link part");
            (
                rel.trim_matches('"').to_owned(),
                url.trim_matches(['<', '>']).to_owned(),
            )
        })
        .collect()
}

/// Posts a GraphQL document with its variables to `/graphql` and returns
/// the whole answer (`data` and `errors`); GitHub answers 200 even when the
/// document is refused.
async fn graphql(github: &Octocrab, query: &str, variables: Value) -> Value {
    let raw = send(
        github,
        "POST",
        "/graphql",
        Some(json!({ "query": query, "variables": variables })),
    )
    .await;
    assert_eq!(raw.status, 200, "{}", raw.body);
    raw.body
}

/// The `message` of every entry of a GraphQL answer's `errors`.
fn messages(answer: &Value) -> Vec<String> {
    answer["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| error["message"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}
