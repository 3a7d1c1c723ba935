//! End-to-end tests of the webhook server: signed GitHub deliveries sent over
//! real HTTP on 127.0.0.1 to [`serve`], reconciled by an engine over the
//! in-memory ports of `showtime_core::testing`.
//!
//! Nothing here waits for a fixed time and then asserts: tests wait for the
//! queue to drain ([`AppState::idle`]) or poll for a condition.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use showtime_core::ports::{EnvId, EnvInfo, Health, Permission};
use showtime_core::testing::{Fault, World};
use showtime_core::{Address, Config};
use showtime_github::webhook::Webhook;
use showtime_runtime::metrics::Refusal;
use showtime_runtime::server::{DRAIN_BYTES, ServerSettings};
use tokio::sync::Semaphore;

use support::server::{start, start_with};
use support::*;

/// A world with one open PR by [`AUTHOR`], who may deploy.
fn world_with_pr(number: u64, labels: &[&str]) -> World {
    let world = World::new();
    world.open_pr(number, HEAD, AUTHOR, labels);
    world.host.set_permission(AUTHOR, Permission::Write);
    world
}

/// Polls `check` until it holds; fails after a generous deadline.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn number(n: u64) -> showtime_core::PrNumber {
    showtime_core::PrNumber::new(n).unwrap()
}

fn healthy_count(world: &World) -> usize {
    world
        .backend
        .environments()
        .iter()
        .filter(|e| e.health == Health::Healthy)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_label_is_accepted_at_once_and_deploys_the_head() {
    let world = world_with_pr(42, &[TRIGGER]);
    let server = start(&world).await;

    let body = pull_request_event("labeled", 42, TRIGGER);
    let reply = deliver(server.addr, "pull_request", "d-1", &body).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    assert_eq!(reply.body, json!({ "queued": true, "pr": 42 }));

    server.state.idle().await;
    let envs = world.backend.environments();
    assert_eq!(envs.len(), 1);
    assert_eq!(envs[0].id.name(), "pr-42-abc123f");
    assert_eq!(envs[0].health, Health::Healthy);
    let labels = world.host.showtime_labels(number(42));
    assert!(labels.contains(&"🎪 🚦 running".to_owned()), "{labels:?}");
    assert!(labels.contains(&"🎪 🎯 abc123f".to_owned()), "{labels:?}");
    assert!(!labels.contains(&TRIGGER.to_owned()), "{labels:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_commands_in_comments_change_the_environment() {
    let world = world_with_pr(42, &[TRIGGER]);
    let server = start(&world).await;
    let body = pull_request_event("labeled", 42, TRIGGER);
    assert_eq!(
        deliver(server.addr, "pull_request", "d-1", &body)
            .await
            .status,
        202
    );
    server.state.idle().await;
    assert_eq!(healthy_count(&world), 1);

    let body = comment_event(42, "Needs more time.\r\n\r\n/circus extend 72h\r\n", AUTHOR);
    let reply = deliver(server.addr, "issue_comment", "d-2", &body).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    server.state.idle().await;
    let labels = world.host.showtime_labels(number(42));
    assert!(labels.contains(&"🎪 ⌛ 72h".to_owned()), "{labels:?}");
    assert_eq!(healthy_count(&world), 1);

    let body = comment_event(42, "/circus destroy", AUTHOR);
    assert_eq!(
        deliver(server.addr, "issue_comment", "d-3", &body)
            .await
            .status,
        202
    );
    server.state.idle().await;
    assert!(world.backend.environments().is_empty());
    let labels = world.host.showtime_labels(number(42));
    assert!(!labels.iter().any(|l| l.contains('🚦')), "{labels:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_command_gets_a_reply_on_the_pr_and_the_valid_ones_run() {
    let world = world_with_pr(42, &[]);
    let server = start(&world).await;

    let body = comment_event(42, "/circus explode\n/circus refresh", AUTHOR);
    let reply = deliver(server.addr, "issue_comment", "d-1", &body).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    server.state.idle().await;

    assert_eq!(healthy_count(&world), 1, "the valid `refresh` ran");
    let comments = world.host.comments(number(42));
    assert_eq!(comments.len(), 1, "one sticky comment: {comments:?}");
    let reply = &comments[0].body;
    assert!(reply.contains("@maxime"), "{reply}");
    assert!(reply.contains("unknown command `explode`"), "{reply}");
    assert!(
        reply.contains("refresh"),
        "the reply says what is valid: {reply}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_of_only_malformed_commands_changes_nothing_but_the_reply() {
    let world = world_with_pr(42, &[]);
    let server = start(&world).await;

    let body = comment_event(42, "/circus extend forever", AUTHOR);
    let reply = deliver(server.addr, "issue_comment", "d-1", &body).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    server.state.idle().await;

    assert!(world.backend.environments().is_empty());
    assert!(world.host.showtime_labels(number(42)).is_empty());
    let comments = world.host.comments(number(42));
    assert_eq!(comments.len(), 1);
    assert!(comments[0].body.contains("forever"), "{}", comments[0].body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_and_unused_events_are_acknowledged_and_queue_nothing() {
    let world = world_with_pr(42, &[]);
    let server = start(&world).await;

    let reply = deliver(server.addr, "ping", "d-1", &ping_event()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, json!({ "queued": false, "reason": "ping" }));

    let body = pull_request_event("review_requested", 42, "bug");
    let reply = deliver(server.addr, "pull_request", "d-2", &body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["queued"], json!(false));
    assert!(
        reply.body["reason"]
            .as_str()
            .unwrap()
            .contains("review_requested")
    );

    let reply = deliver(server.addr, "star", "d-3", br#"{"action":"created"}"#).await;
    assert_eq!(reply.status, 200, "{reply:?}");

    server.state.idle().await;
    assert_eq!(world.calls(), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivery_is_processed_once() {
    let world = world_with_pr(42, &[TRIGGER]);
    let server = start(&world).await;
    let body = pull_request_event("labeled", 42, TRIGGER);
    let id = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

    assert_eq!(
        deliver(server.addr, "pull_request", id, &body).await.status,
        202
    );
    server.state.idle().await;
    let calls = world.calls();
    assert!(calls > 0);

    let reply = deliver(server.addr, "pull_request", id, &body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, json!({ "duplicate": true, "queued": false }));
    server.state.idle().await;
    assert_eq!(world.calls(), calls, "the redelivery reached no port");

    let reply = deliver(server.addr, "pull_request", "another-id", &body).await;
    assert_eq!(reply.status, 202, "another delivery id is new work");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_about_another_repository_are_refused_however_well_signed() {
    let world = world_with_pr(42, &[TRIGGER]);
    let settings = ServerSettings {
        repository: Some("octo-org/other".to_owned()),
        ..ServerSettings::default()
    };
    let server = start_with(&world, settings, Webhook::new(SECRET).unwrap()).await;
    let body = pull_request_event("labeled", 42, TRIGGER);
    let reply = deliver(server.addr, "pull_request", "d-1", &body).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    let message = reply.body["error"].as_str().unwrap();
    assert!(
        message.contains(REPO) && message.contains("octo-org/other"),
        "{message}"
    );
    // A ping names its repository too.
    let reply = deliver(server.addr, "ping", "d-2", &ping_event()).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    server.state.idle().await;
    assert_eq!(world.calls(), 0);
    let metrics = server.state.metrics();
    assert_eq!(metrics.refusals(Refusal::Repository), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_repository_id_is_checked_against_the_payload_and_the_hook_target() {
    let world = world_with_pr(42, &[TRIGGER]);
    let id = repository()["id"].as_u64().unwrap();
    let settings = ServerSettings {
        repository: Some(REPO.to_owned()),
        repository_id: Some(id),
        ..ServerSettings::default()
    };
    let server = start_with(&world, settings, Webhook::new(SECRET).unwrap()).await;
    let body = pull_request_event("labeled", 42, TRIGGER);
    let with_target = |delivery: &str, target: u64| {
        let mut headers = github_headers("pull_request", delivery, &body, SECRET);
        headers.push((
            "X-GitHub-Hook-Installation-Target-Type",
            "repository".to_owned(),
        ));
        headers.push(("X-GitHub-Hook-Installation-Target-ID", target.to_string()));
        headers
    };

    // The repository's own webhook: accepted.
    let reply = http(
        server.addr,
        "POST",
        "/webhook",
        &with_target("d-1", id),
        &body,
    )
    .await;
    assert_eq!(reply.status, 202, "{reply:?}");
    // The same name, another repository's webhook: refused.
    let reply = http(
        server.addr,
        "POST",
        "/webhook",
        &with_target("d-2", id + 1),
        &body,
    )
    .await;
    assert_eq!(reply.status, 403, "{reply:?}");
    // The same name, another id in the payload (deleted and made again).
    let mut payload: Value = serde_json::from_slice(&body).unwrap();
    payload["repository"]["id"] = json!(id + 1);
    let other = serde_json::to_vec(&payload).unwrap();
    let reply = deliver(server.addr, "pull_request", "d-3", &other).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    server.state.idle().await;
    assert_eq!(server.state.metrics().refusals(Refusal::Repository), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_deliveries_queue_nothing() {
    let world = world_with_pr(42, &[TRIGGER]);
    let webhook = Webhook::new(SECRET).unwrap().max_body(64 * 1024);
    let server = start_with(&world, ServerSettings::default(), webhook).await;
    let addr = server.addr;
    let body = pull_request_event("labeled", 42, TRIGGER);

    // Signed with another secret.
    let headers = github_headers("pull_request", "d-1", &body, b"a guess");
    let reply = http(addr, "POST", "/webhook", &headers, &body).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert!(reply.body["error"].as_str().unwrap().contains("secret"));

    // Not signed at all.
    let mut headers = github_headers("pull_request", "d-2", &body, SECRET);
    headers.retain(|(name, _)| *name != "X-Hub-Signature-256");
    assert_eq!(
        http(addr, "POST", "/webhook", &headers, &body).await.status,
        401
    );

    // Signed, but altered on the way.
    let headers = github_headers("pull_request", "d-3", &body, SECRET);
    let mut altered = body.clone();
    altered.extend_from_slice(b" ");
    assert_eq!(
        http(addr, "POST", "/webhook", &headers, &altered)
            .await
            .status,
        401
    );

    // Signed, but not JSON.
    let truncated = &body[..body.len() / 2];
    let reply = deliver(addr, "pull_request", "d-4", truncated).await;
    assert_eq!(reply.status, 400, "{reply:?}");
    let message = reply.body["error"].as_str().unwrap();
    assert!(message.contains("malformed"), "{message}");
    assert!(
        !message.contains("hello-circus"),
        "the body is never quoted"
    );

    // Signed, but no event header.
    let mut headers = github_headers("pull_request", "d-5", &body, SECRET);
    headers.retain(|(name, _)| *name != "X-GitHub-Event");
    assert_eq!(
        http(addr, "POST", "/webhook", &headers, &body).await.status,
        400
    );

    // Over the limit, announced by Content-Length, and more than the
    // server reads to throw away: refused before reading.
    let headers = github_headers("pull_request", "d-6", &body, SECRET);
    let mut raw = format!(
        "POST /webhook HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Length: {}\r\n",
        DRAIN_BYTES + 1
    );
    for (name, value) in &headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    let reply = exchange(addr, raw.as_bytes()).await;
    assert_eq!(reply.status, 413, "{reply:?}");

    // Over the limit, sent in chunks without a length: refused while reading.
    let big = vec![b' '; 80 * 1024];
    let headers = github_headers("pull_request", "d-7", &big, SECRET);
    let mut raw = format!(
        "POST /webhook HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Transfer-Encoding: chunked\r\n"
    );
    for (name, value) in &headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str(&format!("\r\n{:x}\r\n", big.len()));
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(&big);
    raw.extend_from_slice(b"\r\n0\r\n\r\n");
    let reply = exchange(addr, &raw).await;
    assert_eq!(reply.status, 413, "{reply:?}");

    assert_eq!(server.state.pending(), 0);
    server.state.idle().await;
    assert_eq!(world.calls(), 0, "nothing reached a port");
    let metrics = server.state.metrics();
    assert_eq!(metrics.refusals(Refusal::Signature), 3);
    assert_eq!(metrics.refusals(Refusal::Malformed), 2);
    assert_eq!(metrics.refusals(Refusal::TooLarge), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_with_the_queue_length() {
    let world = World::new();
    let server = start(&world).await;
    let reply = http(server.addr, "GET", "/healthz", &[], b"").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({ "status": "ok", "pending": 0 }));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environments_lists_every_environment_as_json() {
    let world = World::new();
    let created = world.clock.now_for_tests();
    world.backend.insert(EnvInfo {
        id: EnvId::parse_name("pr-7-def4567").unwrap(),
        health: Health::Failed {
            reason: "health check failed".to_owned(),
        },
        address: None,
        created_at: created,
        requested_by: None,
        config: Config::default(),
    });
    world.backend.insert(EnvInfo {
        id: EnvId::parse_name("pr-42-abc123f").unwrap(),
        health: Health::Healthy,
        address: Some("52-1-2-3".parse::<Address>().unwrap()),
        created_at: created,
        requested_by: Some(AUTHOR.parse().unwrap()),
        config: Config::default(),
    });
    let server = start(&world).await;

    let reply = http(server.addr, "GET", "/environments", &[], b"").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let envs = reply.body.as_array().unwrap();
    assert_eq!(envs.len(), 2);
    let by_name = |name: &str| {
        envs.iter()
            .find(|e| e["name"] == json!(name))
            .unwrap()
            .clone()
    };
    let running = by_name("pr-42-abc123f");
    assert_eq!(running["pr"], json!(42));
    assert_eq!(running["sha"], json!("abc123f"));
    assert_eq!(running["health"], json!("healthy"));
    assert_eq!(running["address"], json!("52.1.2.3"));
    assert_eq!(running["created_at"], json!("2024-01-15T12:00:00Z"));
    assert_eq!(running["requested_by"], json!(AUTHOR));
    let failed = by_name("pr-7-def4567");
    assert_eq!(failed["health"], json!("failed"));
    assert_eq!(failed["health_reason"], json!("health check failed"));
    assert_eq!(failed["address"], Value::Null);
    assert_eq!(failed["requested_by"], Value::Null);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_queued_work() {
    let world = world_with_pr(42, &[TRIGGER]);
    let gate = Arc::new(Semaphore::new(0));
    world
        .faults
        .on_method("backend.deploy", vec![Fault::Gate(gate.clone())]);
    let mut server = start(&world).await;

    let body = pull_request_event("labeled", 42, TRIGGER);
    assert_eq!(
        deliver(server.addr, "pull_request", "d-1", &body)
            .await
            .status,
        202
    );
    eventually("the deploy to start", || world.backend.calls("deploy") == 1).await;

    server.shut_down();
    // The deploy is held: however long we look, serve has not returned.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !server.served.is_finished(),
        "serve returned with work queued"
    );
    assert_eq!(server.state.pending(), 1);

    gate.add_permits(1);
    tokio::time::timeout(Duration::from_secs(30), &mut server.served)
        .await
        .expect("serve returns once the work is done")
        .unwrap()
        .unwrap();
    assert_eq!(server.state.pending(), 0);
    assert_eq!(healthy_count(&world), 1, "the held work finished");
    let labels = world.host.showtime_labels(number(42));
    assert!(labels.contains(&"🎪 🚦 running".to_owned()), "{labels:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_of_one_pr_run_in_arrival_order() {
    let world = world_with_pr(7, &[]);
    let gate = Arc::new(Semaphore::new(0));
    world
        .faults
        .on_method("backend.deploy", vec![Fault::Gate(gate.clone())]);
    let server = start(&world).await;
    let addr = server.addr;

    let refresh = comment_event(7, "/circus refresh", AUTHOR);
    assert_eq!(
        deliver(addr, "issue_comment", "d-1", &refresh).await.status,
        202
    );
    eventually("the first deploy to start", || {
        world.backend.calls("deploy") == 1
    })
    .await;

    // Queued behind the held one, in this order: stop, start again, extend.
    let destroy = comment_event(7, "/circus destroy", AUTHOR);
    let extend = comment_event(7, "/circus extend 72h", AUTHOR);
    assert_eq!(
        deliver(addr, "issue_comment", "d-2", &destroy).await.status,
        202
    );
    assert_eq!(
        deliver(addr, "issue_comment", "d-3", &refresh).await.status,
        202
    );
    assert_eq!(
        deliver(addr, "issue_comment", "d-4", &extend).await.status,
        202
    );
    assert_eq!(server.state.pending(), 4);

    gate.add_permits(1);
    server.state.idle().await;
    assert_eq!(
        world.backend.calls("deploy"),
        2,
        "deployed, destroyed, deployed"
    );
    assert!(world.backend.calls("destroy") >= 1);
    assert_eq!(healthy_count(&world), 1, "the last start wins");
    let labels = world.host.showtime_labels(number(7));
    assert!(labels.contains(&"🎪 🚦 running".to_owned()), "{labels:?}");
    assert!(labels.contains(&"🎪 ⌛ 72h".to_owned()), "{labels:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_across_prs_is_bounded() {
    let world = World::new();
    for pr in 1..=3 {
        world.open_pr(pr, HEAD, AUTHOR, &[TRIGGER]);
    }
    world.host.set_permission(AUTHOR, Permission::Write);
    let gate = Arc::new(Semaphore::new(0));
    world
        .faults
        .on_method("backend.deploy", vec![Fault::Gate(gate.clone()); 3]);
    let settings = ServerSettings {
        queue: showtime_runtime::queue::QueueSettings {
            concurrency: 2,
            ..Default::default()
        },
        ..ServerSettings::default()
    };
    let server = start_with(&world, settings, Webhook::new(SECRET).unwrap()).await;

    for pr in 1..=3 {
        let body = pull_request_event("labeled", pr, TRIGGER);
        let reply = deliver(server.addr, "pull_request", &format!("d-{pr}"), &body).await;
        assert_eq!(reply.status, 202);
    }
    eventually("two deploys to start", || {
        world.backend.calls("deploy") >= 2
    })
    .await;
    // Whatever the scheduling, the third PR has not even been read.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(world.backend.calls("deploy"), 2);
    assert_eq!(world.host.calls("pull_request"), 2);
    assert_eq!(server.state.pending(), 3);

    gate.add_permits(1);
    eventually("the third deploy to start", || {
        world.backend.calls("deploy") == 3
    })
    .await;
    gate.add_permits(2);
    server.state.idle().await;
    assert_eq!(healthy_count(&world), 3);
    server.stop().await;
}
