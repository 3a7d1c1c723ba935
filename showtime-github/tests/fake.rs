//! The fake GitHub server, exercised over real HTTP with octocrab (typed and
//! raw) and, for malformed requests, a hand-written HTTP/1.1 client.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use octocrab::Octocrab;
use serde_json::{Value, json};
use showtime_github::fake::{FakeGitHub, FakePr, FakeState, Fault};

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
    let response = match method {
        "GET" => github._get(path).await,
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

/// Sends raw bytes over HTTP/1.1 and returns (status, body).
async fn raw_http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, Value) {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: token t\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let response = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream.write_all(request.as_bytes()).expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        response
    })
    .await
    .expect("client thread");
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

#[tokio::test]
async fn pagination_past_one_hundred() {
    let (fake, github) = start().await;
    for number in 1..=250 {
        fake.add_pull_request(FakePr::new(number));
    }
    let base = format!("{}repos/{OWNER}/{REPO}/pulls", fake.url());

    let first = send(
        &github,
        "GET",
        "/repos/acme/shop/pulls?state=all&per_page=100",
        None,
    )
    .await;
    assert_eq!(first.status, 200);
    let numbers: Vec<u64> = first
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers.len(), 100);
    assert_eq!(numbers.first(), Some(&250), "number descending");
    assert_eq!(numbers.last(), Some(&151));
    assert_eq!(
        links(&first),
        [
            (
                "next".to_owned(),
                format!("{base}?state=all&per_page=100&page=2")
            ),
            (
                "last".to_owned(),
                format!("{base}?state=all&per_page=100&page=3")
            ),
        ]
    );

    let second = send(
        &github,
        "GET",
        "/repos/acme/shop/pulls?state=all&per_page=100&page=2",
        None,
    )
    .await;
    assert_eq!(second.body.as_array().unwrap().len(), 100);
    let rels: Vec<String> = links(&second).into_iter().map(|(rel, _)| rel).collect();
    assert_eq!(rels, ["prev", "next", "last", "first"]);

    let last = send(
        &github,
        "GET",
        "/repos/acme/shop/pulls?state=all&per_page=100&page=3",
        None,
    )
    .await;
    let items = last.body.as_array().unwrap();
    assert_eq!(items.len(), 50);
    assert_eq!(items.last().unwrap()["number"], 1);
    assert_eq!(
        links(&last),
        [
            (
                "prev".to_owned(),
                format!("{base}?state=all&per_page=100&page=2")
            ),
            (
                "first".to_owned(),
                format!("{base}?state=all&per_page=100&page=1")
            ),
        ]
    );

    // per_page is clamped to 100; the default is 30.
    let clamped = send(&github, "GET", "/repos/acme/shop/pulls?per_page=1000", None).await;
    assert_eq!(clamped.body.as_array().unwrap().len(), 100);
    let default = send(&github, "GET", "/repos/acme/shop/pulls", None).await;
    assert_eq!(default.body.as_array().unwrap().len(), 30);
    assert!(
        links(&default)
            .iter()
            .any(|(rel, url)| rel == "last" && url.ends_with("?page=9"))
    );

    // octocrab's typed paging follows the Link header to the end.
    let page = github
        .pulls(OWNER, REPO)
        .list()
        .state(octocrab::params::State::All)
        .per_page(100)
        .send()
        .await
        .expect("typed list");
    assert!(page.next.is_some());
    let all = github.all_pages(page).await.expect("all pages");
    assert_eq!(all.len(), 250);
    assert_eq!(fake.count("GET", "/repos/acme/shop/pulls"), 8);
    fake.shutdown().await;
}

#[tokio::test]
async fn list_filters_by_state() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));
    fake.add_pull_request(FakePr {
        state: FakeState::Closed,
        ..FakePr::new(2)
    });
    fake.add_pull_request(FakePr {
        state: FakeState::Merged,
        ..FakePr::new(3)
    });
    fake.add_issue(4, "bob", &[]);
    let numbers = |raw: Raw| -> Vec<u64> {
        raw.body
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["number"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(
        numbers(send(&github, "GET", "/repos/acme/shop/pulls", None).await),
        [1]
    );
    assert_eq!(
        numbers(send(&github, "GET", "/repos/acme/shop/pulls?state=closed", None).await),
        [3, 2]
    );
    assert_eq!(
        numbers(send(&github, "GET", "/repos/acme/shop/pulls?state=all", None).await),
        [3, 2, 1]
    );
    let listed = send(&github, "GET", "/repos/acme/shop/pulls?state=closed", None).await;
    assert!(listed.body[0]["merged_at"].is_string());
    assert!(listed.body[1]["merged_at"].is_null());
    assert!(
        listed.body[0].get("merged").is_none(),
        "listings lack `merged`, as on GitHub"
    );
    let bad = send(&github, "GET", "/repos/acme/shop/pulls?state=bogus", None).await;
    assert_eq!(bad.status, 422);
}

#[tokio::test]
async fn pull_requests_and_issues_deserialize_into_octocrab_models() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr {
        author: "alice".into(),
        body: Some("Preview please".into()),
        head_repo: Some("alice/shop".into()),
        ..pr(7, &["🎪 ⌛ 48h"])
    });
    fake.add_issue(8, "bob", &["bug"]);
    fake.set_head(7, "0123456789abcdef0123456789abcdef01234567");

    let pull = github.pulls(OWNER, REPO).get(7).await.expect("typed PR");
    assert_eq!(pull.number, 7);
    assert_eq!(pull.head.sha, "0123456789abcdef0123456789abcdef01234567");
    assert_eq!(pull.head.ref_field, "feature-7");
    assert_eq!(pull.user.as_ref().map(|u| u.login.as_str()), Some("alice"));
    assert_eq!(pull.body.as_deref(), Some("Preview please"));
    assert_eq!(pull.merged, Some(false));
    assert!(pull.merged_at.is_none());
    assert_eq!(
        pull.head.repo.as_ref().and_then(|r| r.full_name.as_deref()),
        Some("alice/shop")
    );
    let labels: Vec<String> = pull
        .labels
        .unwrap_or_default()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(labels, ["🎪 ⌛ 48h"]);

    fake.set_state(7, FakeState::Merged);
    let raw = send(&github, "GET", "/repos/acme/shop/pulls/7", None).await;
    assert_eq!(raw.body["state"], "closed");
    assert_eq!(raw.body["merged"], true);
    assert!(
        raw.body["merged_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(fake.state_of(7), FakeState::Merged);

    let issue = github
        .issues(OWNER, REPO)
        .get(8)
        .await
        .expect("typed issue");
    assert!(issue.pull_request.is_none());
    assert_eq!(issue.user.login, "bob");
    let as_issue = github
        .issues(OWNER, REPO)
        .get(7)
        .await
        .expect("PR as issue");
    assert!(as_issue.pull_request.is_some());
    let raw_issue = send(&github, "GET", "/repos/acme/shop/issues/8", None).await;
    assert!(raw_issue.body.get("pull_request").is_none());

    // An issue is not a pull request; absent numbers are 404.
    assert_eq!(
        send(&github, "GET", "/repos/acme/shop/pulls/8", None)
            .await
            .status,
        404
    );
    let absent = send(&github, "GET", "/repos/acme/shop/pulls/99", None).await;
    assert_eq!(absent.status, 404);
    assert_eq!(absent.body["message"], "Not Found");
    assert!(absent.body["documentation_url"].is_string());
}

#[tokio::test]
async fn adding_labels_is_case_insensitive_and_keeps_the_others() {
    let (fake, github) = start().await;
    fake.define_label("🎪 Feature", "0e8a16", Some("A feature"));
    fake.add_pull_request(pr(1, &["🎪 Feature", "keep-me"]));

    let added = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        Some(json!({ "labels": ["🎪 FEATURE", "🎪 new", "🎪 NEW"] })),
    )
    .await;
    assert_eq!(added.status, 200);
    assert_eq!(added.names(), ["🎪 Feature", "keep-me", "🎪 new"]);
    assert_eq!(added.body[0]["color"], "0e8a16");
    assert_eq!(added.body[0]["default"], false);
    assert_eq!(fake.labels(1), ["🎪 Feature", "keep-me", "🎪 new"]);
    let definitions = fake.definitions();
    assert!(definitions.contains(&("🎪 new".to_owned(), "ededed".to_owned(), None)));
    assert!(definitions.contains(&(
        "🎪 Feature".to_owned(),
        "0e8a16".to_owned(),
        Some("A feature".to_owned())
    )));

    // A bare array works too, and octocrab's typed call.
    let bare = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        Some(json!(["x"])),
    )
    .await;
    assert_eq!(bare.names().last().map(String::as_str), Some("x"));
    let typed = github
        .issues(OWNER, REPO)
        .add_labels(1, &["🎪 y".to_owned()])
        .await
        .expect("typed add");
    assert_eq!(typed.len(), 5);

    // Labels of a missing issue: 404.
    let missing = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/9/labels",
        Some(json!({"labels": ["a"]})),
    )
    .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn overlong_label_names_are_rejected_whole() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));
    let fifty = "🎪".repeat(50);
    let fifty_one = "🎪".repeat(51);

    let ok = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        Some(json!({ "labels": [fifty] })),
    )
    .await;
    assert_eq!(
        ok.status, 200,
        "50 scalar values are fine even at 200 bytes"
    );

    let rejected = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        Some(json!({ "labels": ["fine", fifty_one] })),
    )
    .await;
    assert_eq!(rejected.status, 422);
    assert_eq!(rejected.body["message"], "Validation Failed");
    assert_eq!(
        rejected.body["errors"],
        json!([{ "resource": "Label", "code": "invalid", "field": "name" }])
    );
    assert!(rejected.body["documentation_url"].is_string());
    assert_eq!(fake.labels(1), [fifty], "nothing added");
    assert_eq!(fake.definitions().len(), 1);
}

#[tokio::test]
async fn removing_labels() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(1, &["🎪 abc 🟢 running", "other"]));
    fake.define_label("unused", "ffffff", None);

    // Percent-encoded, case-insensitive; answers the remaining labels.
    let removed = send(
        &github,
        "DELETE",
        "/repos/acme/shop/issues/1/labels/%F0%9F%8E%AA%20ABC%20%F0%9F%9F%A2%20RUNNING",
        None,
    )
    .await;
    assert_eq!(removed.status, 200);
    assert_eq!(removed.names(), ["other"]);

    let absent = send(
        &github,
        "DELETE",
        "/repos/acme/shop/issues/1/labels/unused",
        None,
    )
    .await;
    assert_eq!(absent.status, 404);
    assert_eq!(absent.body["message"], "Label does not exist");
    let undefined = send(
        &github,
        "DELETE",
        "/repos/acme/shop/issues/1/labels/nope",
        None,
    )
    .await;
    assert_eq!(undefined.body["message"], "Label does not exist");
    assert_eq!(fake.labels(1), ["other"]);

    // octocrab's typed removal percent-encodes for us.
    let remaining = github
        .issues(OWNER, REPO)
        .remove_label(1, "OTHER")
        .await
        .expect("typed remove");
    assert!(remaining.is_empty());
    // The definitions stay.
    assert_eq!(fake.definitions().len(), 3);
    assert_eq!(
        fake.count("DELETE", "/repos/acme/shop/issues/1/labels/🎪 ABC"),
        1
    );
}

#[tokio::test]
async fn replacing_labels_exists_and_is_logged() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(1, &["a", "b"]));
    let replaced = send(
        &github,
        "PUT",
        "/repos/acme/shop/issues/1/labels",
        Some(json!({ "labels": ["C", "c"] })),
    )
    .await;
    assert_eq!(replaced.status, 200);
    assert_eq!(replaced.names(), ["C"]);
    assert_eq!(fake.count("PUT", "/repos/acme/shop/issues/1/labels"), 1);
    let cleared = send(&github, "DELETE", "/repos/acme/shop/issues/1/labels", None).await;
    assert_eq!(cleared.status, 204);
    assert!(fake.labels(1).is_empty());
}

#[tokio::test]
async fn deleting_a_definition_detaches_it_everywhere() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(1, &["🎪 doomed", "stay"]));
    fake.add_pull_request(FakePr {
        state: FakeState::Closed,
        ..pr(2, &["🎪 DOOMED"])
    });
    fake.add_issue(3, "bob", &["🎪 doomed"]);

    let deleted = send(
        &github,
        "DELETE",
        "/repos/acme/shop/labels/%F0%9F%8E%AA%20Doomed",
        None,
    )
    .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(deleted.body, Value::Null);
    assert_eq!(fake.labels(1), ["stay"]);
    assert!(fake.labels(2).is_empty());
    assert!(fake.labels(3).is_empty());
    assert_eq!(
        fake.definitions(),
        [("stay".to_owned(), "ededed".to_owned(), None)]
    );
    assert_eq!(
        send(
            &github,
            "GET",
            "/repos/acme/shop/labels/%F0%9F%8E%AA%20doomed",
            None
        )
        .await
        .status,
        404
    );
    assert_eq!(
        send(
            &github,
            "DELETE",
            "/repos/acme/shop/labels/%F0%9F%8E%AA%20doomed",
            None
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn label_definitions_are_validated_like_github() {
    let (fake, github) = start().await;
    let create = |body: Value| {
        let github = github.clone();
        async move { send(&github, "POST", "/repos/acme/shop/labels", Some(body)).await }
    };

    let created =
        create(json!({ "name": "🎪 x", "color": "FF0000", "description": "d".repeat(100) })).await;
    assert_eq!(created.status, 201);
    assert_eq!(created.body["name"], "🎪 x");
    assert_eq!(created.body["color"], "ff0000");

    let long_description =
        create(json!({ "name": "y", "color": "ff0000", "description": "d".repeat(101) })).await;
    assert_eq!(long_description.status, 422);
    assert_eq!(long_description.body["errors"][0]["field"], "description");
    assert_eq!(long_description.body["errors"][0]["code"], "invalid");

    let hash_color = create(json!({ "name": "y", "color": "#ff0000" })).await;
    assert_eq!(hash_color.status, 422);
    assert_eq!(hash_color.body["errors"][0]["field"], "color");

    let long_name = create(json!({ "name": "n".repeat(51), "color": "ff0000" })).await;
    assert_eq!(long_name.status, 422);
    assert_eq!(long_name.body["errors"][0]["field"], "name");

    let duplicate = create(json!({ "name": "🎪 X", "color": "00ff00" })).await;
    assert_eq!(duplicate.status, 422);
    assert_eq!(duplicate.body["message"], "Validation Failed");
    assert_eq!(
        duplicate.body["errors"],
        json!([{ "resource": "Label", "code": "already_exists", "field": "name" }])
    );

    let missing_name = create(json!({ "color": "00ff00" })).await;
    assert_eq!(missing_name.status, 422);
    assert_eq!(fake.definitions().len(), 1);

    // Update: rename, recolour, clear the description; clashes are 422.
    create(json!({ "name": "other" })).await;
    let patched = send(
        &github,
        "PATCH",
        "/repos/acme/shop/labels/%F0%9F%8E%AA%20X",
        Some(json!({ "new_name": "🎪 renamed", "color": "abcdef", "description": null })),
    )
    .await;
    assert_eq!(patched.status, 200);
    assert_eq!(patched.body["name"], "🎪 renamed");
    assert!(patched.body["description"].is_null());
    let clash = send(
        &github,
        "PATCH",
        "/repos/acme/shop/labels/other",
        Some(json!({ "new_name": "🎪 RENAMED" })),
    )
    .await;
    assert_eq!(clash.body["errors"][0]["code"], "already_exists");
    let recase = send(
        &github,
        "PATCH",
        "/repos/acme/shop/labels/other",
        Some(json!({ "new_name": "OTHER" })),
    )
    .await;
    assert_eq!(recase.status, 200);

    let listed = send(&github, "GET", "/repos/acme/shop/labels?per_page=1", None).await;
    assert_eq!(listed.names(), ["🎪 renamed"]);
    assert_eq!(links(&listed).len(), 2);
    let typed = github
        .issues(OWNER, REPO)
        .get_label("OTHER")
        .await
        .expect("typed label");
    assert_eq!(typed.color, "ededed");
}

#[tokio::test]
async fn rate_limit_headers_decrement_and_run_out() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));
    let first = send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    let second = send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    let remaining = |raw: &Raw| {
        raw.header("x-ratelimit-remaining")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap()
    };
    assert_eq!(first.header("x-ratelimit-limit"), Some("5000"));
    assert_eq!(remaining(&first), 4999);
    assert_eq!(remaining(&second), 4998);
    assert_eq!(second.header("x-ratelimit-used"), Some("2"));
    assert_eq!(second.header("x-ratelimit-resource"), Some("core"));
    let reset: i64 = second.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!(
        reset > chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now()).timestamp()
    );
    // Errors carry them too.
    let missing = send(&github, "GET", "/repos/acme/shop/pulls/2", None).await;
    assert_eq!(remaining(&missing), 4997);

    fake.set_rate_limit_remaining(1);
    assert_eq!(
        send(&github, "GET", "/repos/acme/shop/pulls/1", None)
            .await
            .status,
        200
    );
    let limited = send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    assert_eq!(limited.status, 403);
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
    assert!(
        limited.body["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded for")
    );
    assert_eq!(fake.rate_limit_remaining(), 0);

    // GraphQL has its own budget and resource name.
    fake.define_label("l", "ededed", None);
    let graphql = send(
        &github,
        "POST",
        "/graphql",
        Some(json!({ "query": "query { repository { label(name: $label) { issues { totalCount } } } }",
                     "variables": { "owner": OWNER, "name": REPO, "label": "l" } })),
    )
    .await;
    assert_eq!(graphql.status, 200);
    assert_eq!(graphql.header("x-ratelimit-resource"), Some("graphql"));
    assert_eq!(graphql.header("x-ratelimit-remaining"), Some("4999"));
}

#[tokio::test]
async fn injected_server_error_then_success() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));
    fake.inject(Fault::status(502).method("GET").path_contains("/pulls/1"));

    let failed = send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    assert_eq!(failed.status, 502);
    assert_eq!(failed.body["message"], "Server Error");
    assert!(failed.header("x-ratelimit-remaining").is_some());
    let served = send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    assert_eq!(served.status, 200);
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [502, 200]);

    // Typed calls see the error; `times` repeats it; non-matching requests pass.
    fake.inject(Fault::status(500).path_contains("/pulls/1").times(2));
    assert_eq!(
        send(&github, "GET", "/repos/acme/shop/labels", None)
            .await
            .status,
        200
    );
    assert!(github.pulls(OWNER, REPO).get(1).await.is_err());
    assert!(github.pulls(OWNER, REPO).get(1).await.is_err());
    assert!(github.pulls(OWNER, REPO).get(1).await.is_ok());

    fake.inject(Fault::status(503).times(5));
    fake.clear_faults();
    assert_eq!(
        send(&github, "GET", "/repos/acme/shop/pulls/1", None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn rate_limit_faults() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));

    fake.inject(Fault::secondary_rate_limit(403, 7).method("post"));
    let body = Some(json!({ "labels": ["x"] }));
    let secondary = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        body.clone(),
    )
    .await;
    assert_eq!(secondary.status, 403);
    assert_eq!(secondary.header("retry-after"), Some("7"));
    assert!(
        secondary.body["message"]
            .as_str()
            .unwrap()
            .starts_with("You have exceeded a secondary rate limit")
    );
    assert!(fake.labels(1).is_empty(), "a faulted request is not served");
    assert_eq!(
        send(&github, "POST", "/repos/acme/shop/issues/1/labels", body)
            .await
            .status,
        200
    );

    fake.inject(Fault::secondary_rate_limit(429, 3));
    let too_many = send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    assert_eq!(too_many.status, 429);
    assert_eq!(too_many.header("retry-after"), Some("3"));

    fake.inject(Fault::primary_rate_limit(1_900_000_000));
    let primary = send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    assert_eq!(primary.status, 403);
    assert_eq!(primary.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(primary.header("x-ratelimit-reset"), Some("1900000000"));
    assert!(
        primary.body["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded")
    );

    fake.inject(Fault::status(418).body(json!({ "message": "custom" })));
    assert_eq!(
        send(&github, "GET", "/", None).await.body["message"],
        "custom"
    );
}

#[tokio::test]
async fn latency_faults_delay_then_serve() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));
    fake.inject(Fault::delay(Duration::from_millis(250)).path_contains("/pulls/1"));
    let started = Instant::now();
    let slow = send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    assert_eq!(slow.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(250));
    let started = Instant::now();
    send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    assert!(started.elapsed() < Duration::from_millis(250));
}

#[tokio::test]
async fn ghes_prefix_serves_every_route() {
    let (fake, _) = start().await;
    for number in 1..=3 {
        fake.add_pull_request(FakePr::new(number));
    }
    let github = client(&fake.ghes_url(), "t");
    let pull = github.pulls(OWNER, REPO).get(2).await.expect("GHES get");
    assert_eq!(pull.number, 2);
    assert!(pull.url.contains("/api/v3/repos/acme/shop/pulls/2"));

    let page = send(
        &github,
        "GET",
        "/api/v3/repos/acme/shop/pulls?per_page=1",
        None,
    )
    .await;
    assert!(
        links(&page)
            .iter()
            .all(|(_, url)| url.starts_with(&format!("{}repos/acme/shop/pulls?", fake.ghes_url())))
    );
    let typed = github
        .pulls(OWNER, REPO)
        .list()
        .per_page(1)
        .send()
        .await
        .expect("typed page");
    assert_eq!(github.all_pages(typed).await.expect("GHES pages").len(), 3);

    let requests = fake.requests();
    assert!(requests.iter().all(|r| r.ghes_prefix));
    assert_eq!(requests[0].path, "/repos/acme/shop/pulls/2");
    assert_eq!(fake.count("GET", "/repos/acme/shop/pulls"), 5);

    fake.define_label("l", "ededed", None);
    let graphql: Value = github
        .graphql(&json!({ "query": "query($owner:String!,$name:String!,$label:String!){repository(owner:$owner,name:$name){label(name:$label){issues{totalCount}pullRequests{totalCount}}}}",
                          "variables": { "owner": OWNER, "name": REPO, "label": "l" } }))
        .await
        .expect("GHES graphql");
    assert_eq!(graphql["repository"]["label"]["issues"]["totalCount"], 0);
}

#[tokio::test]
async fn graphql_counts_open_and_closed_attachments() {
    let (fake, github) = start().await;
    fake.add_pull_request(pr(1, &["🎪 abc 🟢 running"]));
    fake.add_pull_request(FakePr {
        state: FakeState::Closed,
        ..pr(2, &["🎪 ABC 🟢 running"])
    });
    fake.add_pull_request(FakePr {
        state: FakeState::Merged,
        ..pr(3, &["🎪 abc 🟢 running"])
    });
    fake.add_pull_request(pr(4, &["other"]));
    fake.add_issue(10, "bob", &["🎪 abc 🟢 running"]);
    fake.add_issue(11, "bob", &["🎪 abc 🟢 running"]);
    fake.set_state(11, FakeState::Closed);

    let query = "query($owner: String!, $name: String!, $label: String!) {
        repository(owner: $owner, name: $name) {
          label(name: $label) { issues { totalCount } pullRequests { totalCount } }
        }
      }";
    let ask = |label: &str| {
        let github = github.clone();
        let payload = json!({ "query": query, "variables": { "owner": OWNER, "name": REPO, "label": label } });
        async move { github.graphql::<Value>(&payload).await.expect("graphql") }
    };
    assert_eq!(
        ask("🎪 abc 🟢 running").await,
        json!({ "repository": { "label": { "issues": { "totalCount": 2 }, "pullRequests": { "totalCount": 3 } } } })
    );
    assert_eq!(
        ask("🎪 undefined").await,
        json!({ "repository": { "label": null } })
    );

    let unsupported = send(
        &github,
        "POST",
        "/graphql",
        Some(json!({ "query": "{ viewer { login } }" })),
    )
    .await;
    assert_eq!(unsupported.status, 200);
    assert!(unsupported.body["errors"].is_array());
    let wrong_repo = send(
        &github,
        "POST",
        "/graphql",
        Some(json!({ "query": query, "variables": { "owner": "x", "name": "y", "label": "l" } })),
    )
    .await;
    assert!(wrong_repo.body["data"]["repository"].is_null());
    assert_eq!(wrong_repo.body["errors"][0]["type"], "NOT_FOUND");
}

#[tokio::test]
async fn request_log_records_everything() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));
    send(&github, "GET", "/repos/acme/shop/pulls?state=all", None).await;
    send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        Some(json!({ "labels": ["x"] })),
    )
    .await;
    send(&github, "GET", "/repos/other/shop/pulls/1", None).await;

    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/repos/acme/shop/pulls");
    assert_eq!(requests[0].query.as_deref(), Some("state=all"));
    assert_eq!(requests[0].status, 200);
    assert_eq!(requests[0].authorization.as_deref(), Some("Bearer t"));
    assert!(requests[0].body.is_none());
    assert_eq!(requests[1].method, "POST");
    assert_eq!(requests[1].status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(requests[1].body.as_deref().unwrap()).unwrap(),
        json!({ "labels": ["x"] })
    );
    assert_eq!(requests[2].status, 404, "another repository");
    assert_eq!(fake.count("post", "/repos/acme/shop/issues/"), 1);
    assert_eq!(fake.count("GET", "/repos/"), 2);
    fake.clear_requests();
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn collaborator_permissions() {
    let (fake, github) = start().await;
    fake.set_permission("Alice", "maintain");
    fake.set_permission("tom", "triage");
    fake.set_permission("root", "admin");
    fake.set_permission("nobody", "none");
    let permission = |login: &str| {
        let github = github.clone();
        let path = format!("/repos/acme/shop/collaborators/{login}/permission");
        async move { send(&github, "GET", &path, None).await }
    };
    let alice = permission("alice").await;
    assert_eq!(alice.status, 200);
    assert_eq!(alice.body["permission"], "write");
    assert_eq!(alice.body["role_name"], "maintain");
    assert_eq!(alice.body["user"]["login"], "Alice");
    let tom = permission("tom").await;
    assert_eq!(
        (
            tom.body["permission"].as_str(),
            tom.body["role_name"].as_str()
        ),
        (Some("read"), Some("triage"))
    );
    assert_eq!(permission("root").await.body["permission"], "admin");
    assert_eq!(permission("nobody").await.body["permission"], "none");
    assert_eq!(permission("stranger").await.status, 404);
}

#[tokio::test]
async fn comments_page_oldest_first_and_update() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));
    for i in 0..35 {
        fake.add_comment(1, "alice", &format!("comment {i}"));
    }
    let first = send(&github, "GET", "/repos/acme/shop/issues/1/comments", None).await;
    let bodies: Vec<&str> = first
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies.len(), 30);
    assert_eq!(bodies[0], "comment 0");
    assert!(links(&first).iter().any(|(rel, _)| rel == "next"));

    fake.set_viewer("showtime-app[bot]");
    let posted = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/comments",
        Some(json!({ "body": "🎪 status" })),
    )
    .await;
    assert_eq!(posted.status, 201);
    assert_eq!(posted.body["user"]["login"], "showtime-app[bot]");
    let id = posted.body["id"].as_u64().unwrap();

    let patched = send(
        &github,
        "PATCH",
        &format!("/repos/acme/shop/issues/comments/{id}"),
        Some(json!({ "body": "🎪 edited" })),
    )
    .await;
    assert_eq!(patched.status, 200);
    assert_eq!(patched.body["body"], "🎪 edited");
    let fetched = send(
        &github,
        "GET",
        &format!("/repos/acme/shop/issues/comments/{id}"),
        None,
    )
    .await;
    assert_eq!(fetched.body["body"], "🎪 edited");
    let comments = fake.comments(1);
    assert_eq!(comments.len(), 36);
    assert_eq!(
        comments
            .last()
            .map(|c| (c.id, c.author.as_str(), c.body.as_str())),
        Some((id, "showtime-app[bot]", "🎪 edited"))
    );

    // Typed octocrab calls (its update POSTs).
    let typed = github
        .issues(OWNER, REPO)
        .list_comments(1)
        .per_page(100)
        .send()
        .await
        .expect("typed list");
    assert_eq!(typed.items.len(), 36);
    let updated = github
        .issues(OWNER, REPO)
        .update_comment(octocrab::models::CommentId(id), "🎪 typed")
        .await
        .expect("typed update");
    assert_eq!(updated.body.as_deref(), Some("🎪 typed"));
    let created = github
        .issues(OWNER, REPO)
        .create_comment(1, "hi")
        .await
        .expect("typed create");
    assert_eq!(created.user.login, "showtime-app[bot]");

    let missing_body = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/comments",
        Some(json!({})),
    )
    .await;
    assert_eq!(missing_body.status, 422);
    let too_long = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/comments",
        Some(json!({ "body": "x".repeat(65_537) })),
    )
    .await;
    assert_eq!(too_long.status, 422);
    assert_eq!(
        send(&github, "GET", "/repos/acme/shop/issues/comments/1", None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn credentials_and_installation_tokens() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));
    fake.require_token(Some("s3cret"));
    let refused = send(&github, "GET", "/repos/acme/shop/pulls/1", None).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.body["message"], "Bad credentials");
    let good = client(&fake.url(), "s3cret");
    assert_eq!(
        send(&good, "GET", "/repos/acme/shop/pulls/1", None)
            .await
            .status,
        200
    );

    // Any bearer may mint an installation token, which then passes.
    let minted = send(
        &github,
        "POST",
        "/app/installations/42/access_tokens",
        Some(json!({})),
    )
    .await;
    assert_eq!(minted.status, 201);
    let token = minted.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ghs_fake"));
    let expires = minted.body["expires_at"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(expires).is_ok());
    let installation = client(&fake.url(), &token);
    assert_eq!(
        send(&installation, "GET", "/repos/acme/shop/pulls/1", None)
            .await
            .status,
        200
    );

    fake.require_token(None);
    assert_eq!(
        send(&github, "GET", "/repos/acme/shop/pulls/1", None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let (fake, github) = start().await;
    fake.add_pull_request(FakePr::new(1));
    let addr = fake.addr();

    let (status, body) = raw_http(
        addr,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        "{not json",
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (400, Some("Problems parsing JSON"))
    );
    let (status, _) = raw_http(addr, "POST", "/repos/acme/shop/labels", "[1,").await;
    assert_eq!(status, 400);
    let (status, _) = raw_http(addr, "POST", "/graphql", "nope").await;
    assert_eq!(status, 400);
    let (status, body) = raw_http(
        addr,
        "POST",
        "/repos/acme/shop/issues/1/comments",
        "\u{7b}\"body\": 5}",
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid request.")
    );

    let wrong_type = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        Some(json!({ "labels": 5 })),
    )
    .await;
    assert_eq!(wrong_type.status, 422);
    let wrong_item = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        Some(json!({ "labels": [5] })),
    )
    .await;
    assert_eq!(wrong_item.status, 422);
    let wrong_name = send(
        &github,
        "POST",
        "/repos/acme/shop/labels",
        Some(json!({ "name": 5 })),
    )
    .await;
    assert_eq!(wrong_name.status, 422);
    let empty_name = send(
        &github,
        "POST",
        "/repos/acme/shop/issues/1/labels",
        Some(json!({ "labels": ["  "] })),
    )
    .await;
    assert_eq!(empty_name.status, 422);

    for path in [
        "/repos/acme/shop/issues/abc/labels",
        "/repos/acme/shop/issues/99999999999999999999999/labels",
        "/repos/acme/shop/pulls/1/",
        "/repos/acme",
        "/nothing/here",
    ] {
        let raw = send(&github, "GET", path, None).await;
        assert_eq!(raw.status, 404, "{path}");
        assert_eq!(raw.body["message"], "Not Found");
    }
    let bad_escape = send(
        &github,
        "DELETE",
        "/repos/acme/shop/issues/1/labels/%ZZ",
        None,
    )
    .await;
    assert_eq!(bad_escape.body["message"], "Label does not exist");
    assert!(fake.labels(1).is_empty());
    assert!(fake.requests().iter().all(|r| r.status >= 400));
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_server() {
    let fake = FakeGitHub::start(OWNER, REPO).await.expect("start");
    let addr = fake.addr();
    assert!(fake.url().starts_with("http://127.0.0.1:"));
    assert!(fake.url().ends_with('/'));
    fake.shutdown().await;
    let refused = tokio::task::spawn_blocking(move || std::net::TcpStream::connect(addr))
        .await
        .unwrap();
    assert!(refused.is_err());

    let dropped = FakeGitHub::start(OWNER, REPO).await.expect("start");
    let addr = dropped.addr();
    drop(dropped);
    let mut closed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if tokio::task::spawn_blocking(move || std::net::TcpStream::connect(addr))
            .await
            .unwrap()
            .is_err()
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "dropping the handle stops the server");
}
