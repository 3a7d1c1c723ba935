//! Self-healing through the engine: a running environment that crashes is
//! marked failed, notified and redeployed once by a sweep; a second crash
//! is left for a person; a crash at any port call of the heal never
//! redeploys twice.

use showtime_core::ports::{EnvId, Notice};

use super::*;

const HEALED: &str = "🎪 🩹 aaaaaaa";

fn env_a(pr: PrNumber) -> EnvId {
    EnvId::new(pr, "aaaaaaa".parse().unwrap())
}

fn crash(world: &World, pr: PrNumber, reason: &str) {
    let known = world.backend.inner().set_health(
        &env_a(pr),
        Health::Failed {
            reason: reason.to_owned(),
        },
    );
    assert!(known, "no environment to crash");
}

/// A world with PR 1 running `A`.
async fn running() -> (World, PrNumber) {
    let world = world();
    let pr = world.open_pr(1, A, "maxime", &["testenv-up"]);
    world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    assert!(world.host.labels(pr).contains(&"🎪 🚦 running".to_owned()));
    (world, pr)
}

fn texts(notices: &[Notice]) -> Vec<String> {
    notices.iter().map(|n| n.text.clone()).collect()
}

fn last_comment(world: &World, pr: PrNumber) -> String {
    world.host.comments(pr).last().unwrap().body.clone()
}

#[tokio::test]
async fn a_crash_is_failed_notified_and_redeployed_once_then_left_for_a_person() {
    let (world, pr) = running().await;
    let deploys = world.backend.calls("deploy");

    // 1. It crashes; the sweep notices, says why, and redeploys it.
    crash(&world, pr, "process 7 is no longer running");
    let notices = world.notifier.notices().len();
    let report = world.engine().sweep(false).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(
        report.prs[&pr][0].reason,
        "self-heal: failed while serving, redeploy once"
    );
    let labels = world.host.labels(pr);
    assert!(labels.contains(&"🎪 🚦 running".to_owned()), "{labels:?}");
    assert!(labels.contains(&HEALED.to_owned()), "{labels:?}");
    assert_eq!(world.backend.calls("deploy"), deploys + 1);
    let envs = world.backend.environments();
    assert_eq!(envs.len(), 1);
    assert_eq!(envs[0].health, Health::Healthy);
    let comment = last_comment(&world, pr);
    assert!(
        comment.contains("process 7 is no longer running"),
        "{comment}"
    );
    let told = texts(&world.notifier.notices()[notices..]);
    assert!(
        told.iter().any(|t| t.contains("redeploying it once")),
        "{told:?}"
    );
    assert_converged(&world, pr);

    // 2. It crashes again: failed, told, and left as it is.
    crash(&world, pr, "exit code 1");
    let notices = world.notifier.notices().len();
    world.engine().sweep(false).await.unwrap();
    let labels = world.host.labels(pr);
    assert!(labels.contains(&"🎪 🚦 failed".to_owned()), "{labels:?}");
    assert_eq!(
        world.backend.calls("deploy"),
        deploys + 1,
        "no second redeploy"
    );
    assert!(last_comment(&world, pr).contains("failed again"));
    let told = texts(&world.notifier.notices()[notices..]);
    assert!(
        told.iter().any(|t| t.contains("left for a person")),
        "{told:?}"
    );

    // 3. Later sweeps leave it, and tell no one again.
    let notices = world.notifier.notices().len();
    let report = world.engine().sweep(false).await.unwrap();
    assert!(report.prs[&pr].iter().all(|p| p.is_empty()), "{report:?}");
    assert_eq!(world.notifier.notices().len(), notices);

    // 4. A person's `/circus refresh` deploys it again and clears the record.
    world
        .engine()
        .reconcile(pr, Event::Command(SlashCommand::Refresh), login("maxime"))
        .await
        .unwrap();
    let labels = world.host.labels(pr);
    assert!(labels.contains(&"🎪 🚦 running".to_owned()), "{labels:?}");
    assert!(!labels.contains(&HEALED.to_owned()), "{labels:?}");
    assert_converged(&world, pr);
}

#[tokio::test]
async fn an_unhealthy_environment_is_redeployed_only_after_heal_after() {
    let (world, pr) = running().await;
    let deploys = world.backend.calls("deploy");
    world.backend.inner().set_health(
        &env_a(pr),
        Health::Unhealthy {
            since: world.clock.now_for_tests(),
            reason: "Task failed ELB health checks".to_owned(),
        },
    );
    world.clock.advance(chrono::Duration::minutes(4));
    world.engine().sweep(false).await.unwrap();
    assert_eq!(
        world.backend.calls("deploy"),
        deploys,
        "still within 5 minutes"
    );
    assert!(world.host.labels(pr).contains(&"🎪 🚦 running".to_owned()));

    world.clock.advance(chrono::Duration::minutes(1));
    world.engine().sweep(false).await.unwrap();
    assert_eq!(world.backend.calls("deploy"), deploys + 1);
    assert!(last_comment(&world, pr).contains("ELB health checks"));
    assert_converged(&world, pr);
}

#[tokio::test]
async fn a_redeploy_that_fails_leaves_the_environment_failed() {
    let (world, pr) = running().await;
    crash(&world, pr, "gone");
    world.backend.inner().make_unhealthy("aaaaaaa");
    world.engine().sweep(false).await.unwrap();

    let state = Codec::default().parse(world.host.labels(pr));
    let sha = "aaaaaaa".parse().unwrap();
    assert_eq!(state.environments[&sha].status, Some(Status::Failed));
    assert_eq!(state.healed.as_ref(), Some(&sha));
    assert!(world.backend.environments().is_empty());
    // Nothing more happens by itself, not even with the up-label there.
    let deploys = world.backend.calls("deploy");
    world.engine().sweep(false).await.unwrap();
    assert_eq!(world.backend.calls("deploy"), deploys);
}

#[tokio::test]
async fn a_crash_at_any_port_call_of_a_heal_never_redeploys_twice() {
    let (clean, pr) = running().await;
    crash(&clean, pr, "gone");
    let before = clean.calls();
    clean.engine().sweep(false).await.unwrap();
    let calls = clean.calls() - before;
    assert!(calls > 5, "only {calls} calls");

    for k in 1..=calls {
        let (world, pr) = running().await;
        crash(&world, pr, "gone");
        let deploys = world.backend.calls("deploy");
        world.faults.at_call(world.calls() + k, Fault::Crash);
        let engine = world.engine();
        tokio::select! {
            _ = engine.sweep(false) => panic!("no crash at call {k}"),
            () = world.faults.crashed() => {}
        }
        world.faults.clear();
        world.engine().sweep(false).await.unwrap();
        world.engine().sweep(false).await.unwrap();

        // A redeploy cut short is finished (a deploy call that never
        // returned may be made again), but never decided a second time.
        let decided = texts(&world.notifier.notices())
            .iter()
            .filter(|t| t.contains("redeploying it once"))
            .count();
        assert!(decided <= 1, "crash at {k}: redeployed twice");
        assert!(
            world.backend.calls("deploy") <= deploys + 2,
            "crash at {k}: redeployed twice"
        );
        let labels = world.host.labels(pr);
        let state = Codec::default().parse(&labels);
        let status = state
            .environments
            .get(&"aaaaaaa".parse().unwrap())
            .and_then(|e| e.status);
        // Either healed (running again) or, cut between the record and the
        // redeploy, failed and left for a person: never half-way.
        assert!(
            matches!(status, Some(Status::Running | Status::Failed)),
            "crash at {k}: {labels:?}"
        );
        assert!(state.anomalies.is_empty(), "crash at {k}: {labels:?}");
        assert!(state.building.is_none(), "crash at {k}: {labels:?}");
        assert!(world.host.comments(pr).len() <= 1);
    }
}
