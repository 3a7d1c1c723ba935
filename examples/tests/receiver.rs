//! The webhook server as a receiver only: checked deliveries go to a
//! durable work queue (here one in memory, as SQS FIFO behaves), answered
//! `202`; a worker elsewhere receives them and carries them out through the
//! engine. A forged delivery never reaches the queue, and a queue that
//! refuses makes the server answer `503`.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use showtime_core::plan::Event;
use showtime_core::ports::Permission;
use showtime_core::testing::World;
use showtime_github::webhook::Webhook;
use showtime_runtime::server::{AppState, ServerSettings, serve};
use showtime_runtime::worker::{self, EngineHandler, WorkerSettings};
use support::queue::MemoryQueue;
use support::*;

async fn receiver(world: &World, queue: Arc<MemoryQueue>) -> std::net::SocketAddr {
    let engine = Arc::new(world.engine());
    let state = AppState::new(
        engine,
        Webhook::new(SECRET).unwrap(),
        &ServerSettings::default(),
    )
    .with_work_queue(queue);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, state, std::future::pending()));
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_go_through_the_queue_to_a_worker() {
    let world = World::new();
    world.host.set_permission(AUTHOR, Permission::Write);
    let pr = world.open_pr(42, HEAD, AUTHOR, &[TRIGGER]);
    let queue = Arc::new(MemoryQueue::default());
    let addr = receiver(&world, queue.clone()).await;

    let labeled = pull_request_event("labeled", 42, TRIGGER);
    let answer = deliver(addr, "pull_request", "d-1", &labeled).await;
    assert_eq!(answer.status, 202, "{answer:?}");
    // GitHub's redelivery carries the same id: the queue drops it.
    deliver(addr, "pull_request", "d-1", &labeled).await;
    let forged = github_headers("pull_request", "d-2", &labeled, b"not the secret");
    let refused = http(addr, "POST", "/webhook", &forged, &labeled).await;
    assert_eq!(refused.status, 401);

    let sent = queue.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "the forged one never reaches the queue");
    assert!(sent.iter().all(|m| m.group == format!("{REPO}#42")));
    assert!(sent.iter().all(|m| m.dedup_id == "d-1"));
    // Nothing ran here: the receiver only receives.
    assert!(world.backend.environments().is_empty());

    // A worker elsewhere carries it out.
    let engine = Arc::new(world.engine());
    let handler = EngineHandler::new(engine);
    let settings = WorkerSettings {
        wait: Duration::from_millis(20),
        ..WorkerSettings::default()
    };
    let working = tokio::spawn({
        let queue = queue.clone();
        async move { worker::run(&*queue, &handler, settings, std::future::pending()).await }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while world.backend.environments().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker did nothing"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    working.abort();
    let labels = world.host.showtime_labels(pr);
    assert!(
        labels.iter().any(|l| l.ends_with("🚦 running")),
        "{labels:?}"
    );
    // The engine has the PR's own lock: a look now finds nothing to do.
    let outcome = world
        .engine()
        .reconcile(pr, Event::Look, None)
        .await
        .unwrap();
    assert!(outcome.plans.iter().all(|p| p.steps.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_that_refuses_makes_the_receiver_answer_503() {
    let world = World::new();
    world.open_pr(42, HEAD, AUTHOR, &[]);
    let queue = Arc::new(MemoryQueue {
        refuse: true,
        ..MemoryQueue::default()
    });
    let addr = receiver(&world, queue).await;
    let body = pull_request_event("labeled", 42, TRIGGER);
    let answer = deliver(addr, "pull_request", "d-3", &body).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    let error = answer.body["error"].as_str().unwrap();
    assert!(error.contains("the queue is down"), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn showtime_worker_needs_a_fifo_queue() {
    let site = support::site::Site::start("worker").await;
    let worker = env!("CARGO_BIN_EXE_showtime-worker");
    let none = site.run_with(worker, &[], &[]).await;
    assert_eq!(none.code, 2, "{none:?}");
    assert!(none.stderr.contains("SHOWTIME_SQS_QUEUE_URL"), "{none:?}");
    let standard = site
        .run_with(
            worker,
            &[],
            &[(
                "SHOWTIME_SQS_QUEUE_URL",
                "http://127.0.0.1:9/000000000000/showtime",
            )],
        )
        .await;
    assert_eq!(standard.code, 2, "{standard:?}");
    assert!(standard.stderr.contains("not a FIFO queue"), "{standard:?}");
    site.clean_up().await;
}
