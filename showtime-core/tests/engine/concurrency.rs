//! Concurrency within and across processes: one environment per PR
//! whatever the races, and the newest commit or a stop wins.

use showtime_core::comment::MARKER;
use showtime_core::ports::{CommentAt, PrHost};

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_reconciles_of_one_pr_at_once_make_one_environment() {
    let world = world();
    let pr = world.open_pr(1, A, "maxime", &["🎪 ⚡ showtime-trigger-start"]);
    let engine = Arc::new(world.engine());
    let runs = (0..50).map(|_| {
        let engine = engine.clone();
        tokio::spawn(async move { engine.reconcile(pr, Event::Look, login("maxime")).await })
    });
    for run in futures_util::future::join_all(runs).await {
        run.unwrap().unwrap();
    }
    assert_eq!(world.backend.environments().len(), 1);
    assert_eq!(world.builder.calls(), 1);
    assert_converged(&world, pr);
}

/// Two processes that each found no status comment both post one, and
/// each labels its own: the next reconcile keeps the oldest and deletes the
/// other, before its label goes.
#[tokio::test]
async fn a_second_status_comment_is_deleted_by_the_next_reconcile() {
    let world = world();
    let pr = world.open_pr(1, A, "maxime", &["🎪 ⚡ showtime-trigger-start"]);
    let engine = world.engine();
    engine
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    let first = world.host.comments(pr)[0].id;
    let second = world
        .host
        .upsert_comment(pr, CommentAt::Nowhere, MARKER, &format!("{MARKER}\nrace"))
        .await
        .unwrap();
    world
        .host
        .add_labels(pr, &[format!("🎪 💬 {second}")])
        .await
        .unwrap();

    engine
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    let left: Vec<u64> = world.host.comments(pr).iter().map(|c| c.id).collect();
    assert_eq!(left, [first]);
    let labels = world.host.labels(pr);
    assert!(labels.contains(&format!("🎪 💬 {first}")), "{labels:?}");
    assert!(!labels.contains(&format!("🎪 💬 {second}")), "{labels:?}");
    assert_converged(&world, pr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_prs_reconcile_concurrently() {
    let mut world = world();
    world.policy.quota_total = None;
    world.policy.quota_per_requester = None;
    let prs: Vec<PrNumber> = (1..=100)
        .map(|n| world.open_pr(n, A, "maxime", &["🎪 ⚡ showtime-trigger-start"]))
        .collect();
    let engine = Arc::new(world.engine());
    let runs = prs.iter().map(|&pr| {
        let engine = engine.clone();
        tokio::spawn(async move { engine.reconcile(pr, Event::Look, login("maxime")).await })
    });
    for run in futures_util::future::join_all(runs).await {
        run.unwrap().unwrap();
    }
    assert_eq!(world.backend.environments().len(), 100);
    for pr in prs {
        assert_converged(&world, pr);
        let state = Codec::default().parse(world.host.labels(pr));
        assert_eq!(
            state.environments[&state.active.unwrap()].status,
            Some(Status::Running)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn newest_commit_wins_when_an_older_build_finishes_last() {
    let world = world();
    let pr = world.open_pr(1, A, "maxime", &["🎪 ⚡ showtime-trigger-start"]);
    // Process one starts building A and is held inside the build.
    let gate = Arc::new(Semaphore::new(0));
    world
        .faults
        .on_method("builder.build", vec![Fault::Gate(gate.clone())]);
    let slow = world.engine();
    let slow_run =
        tokio::spawn(async move { slow.reconcile(pr, Event::Look, login("maxime")).await });
    while world.builder.calls() == 0 {
        tokio::task::yield_now().await;
    }
    // Meanwhile B is pushed and a second process deploys it completely.
    push(&world, pr, B);
    world
        .engine()
        .reconcile(pr, Event::Push, login("maxime"))
        .await
        .unwrap();
    world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    // Only now does the first build finish.
    gate.add_permits(1);
    slow_run.await.unwrap().unwrap();

    let state = Codec::default().parse(world.host.labels(pr));
    assert_eq!(state.active.as_ref().unwrap().as_str(), "bbbbbbb");
    let ids: Vec<String> = world
        .backend
        .environments()
        .iter()
        .map(|e| e.id.name())
        .collect();
    assert_eq!(ids, ["pr-1-bbbbbbb"]);
    world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    assert_converged(&world, pr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stop_during_a_build_wins() {
    let world = world();
    let pr = world.open_pr(1, A, "maxime", &["🎪 ⚡ showtime-trigger-start"]);
    let gate = Arc::new(Semaphore::new(0));
    world
        .faults
        .on_method("builder.build", vec![Fault::Gate(gate.clone())]);
    let slow = world.engine();
    let slow_run =
        tokio::spawn(async move { slow.reconcile(pr, Event::Look, login("maxime")).await });
    while world.builder.calls() == 0 {
        tokio::task::yield_now().await;
    }
    add_label(&world, pr, "🎪 🛑 showtime-trigger-stop");
    world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    gate.add_permits(1);
    slow_run.await.unwrap().unwrap();

    assert!(
        world.backend.environments().is_empty(),
        "{:?}",
        world.backend.environments()
    );
    let state = Codec::default().parse(world.host.labels(pr));
    assert!(state.active.is_none() && state.building.is_none());
    world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    assert!(world.backend.environments().is_empty());
    assert_converged(&world, pr);
}
