//! The engine over the in-memory ports: whole lifecycles, crash convergence at
//! every port call, concurrency within and across processes.

// A test fails by panicking; unwrapping known-good fixtures is the point.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use showtime_core::commands::SlashCommand;
use showtime_core::labels::{AnomalyKind, Codec};
use showtime_core::plan::Event;
use showtime_core::ports::{Health, Permission, PortError, PrState};
use showtime_core::testing::{Fault, World};
use showtime_core::{Login, PrNumber, Status};
use tokio::sync::Semaphore;

const A: &str = "aaaaaaa111111111111111111111111111111111";
const B: &str = "bbbbbbb222222222222222222222222222222222";

fn login(s: &str) -> Option<Login> {
    Some(s.parse().unwrap())
}

fn world() -> World {
    let world = World::new();
    world.host.set_permission("maxime", Permission::Write);
    world.host.set_permission("stranger", Permission::Read);
    world
}

fn push(world: &World, pr: PrNumber, sha: &str) {
    world
        .host
        .edit_pr(pr, |p| p.head_sha = sha.parse().unwrap());
}

fn add_label(world: &World, pr: PrNumber, label: &str) {
    world.host.edit_pr(pr, |p| p.labels.push(label.to_owned()));
}

/// The invariants that must hold whenever no reconcile is running.
fn assert_converged(world: &World, pr: PrNumber) {
    let labels = world.host.labels(pr);
    let state = Codec::default().parse(&labels);
    assert!(
        state.anomalies.is_empty(),
        "anomalies {:?} in {labels:?}",
        state.anomalies
    );
    assert!(
        !state
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::Conflict),
        "two pointers"
    );
    let envs: Vec<_> = world
        .backend
        .environments()
        .into_iter()
        .filter(|e| e.id.pr == pr)
        .collect();
    // No leaked environment: everything running is the active one.
    for env in &envs {
        assert_eq!(
            state.active.as_ref(),
            Some(&env.id.sha),
            "leaked {} with {labels:?}",
            env.id
        );
    }
    assert!(envs.len() <= 1, "{envs:?}");
    // No orphaned 🎪 label: every described environment exists or failed.
    for (sha, env) in &state.environments {
        let exists = envs.iter().any(|e| &e.id.sha == sha);
        assert!(
            exists || env.status == Some(Status::Failed),
            "orphaned labels of {sha}: {labels:?}"
        );
    }
    assert!(state.building.is_none(), "left building: {labels:?}");
    assert!(
        world.host.comments(pr).len() <= 1,
        "more than one status comment"
    );
}

#[tokio::test]
async fn start_trigger_creates_a_running_environment() {
    let world = world();
    let pr = world.open_pr(1, A, "maxime", &["🎪 ⚡ showtime-trigger-start", "bug"]);
    let outcome = world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    assert_eq!(outcome.plans.len(), 2, "build round, then activation round");
    assert!(outcome.failure.is_none());

    let labels = world.host.labels(pr);
    assert!(labels.contains(&"bug".to_owned()));
    let state = Codec::default().parse(&labels);
    let sha = state.active.clone().unwrap();
    assert_eq!(sha.as_str(), "aaaaaaa");
    let env = &state.environments[&sha];
    assert_eq!(env.status, Some(Status::Running));
    assert_eq!(env.requested_by.as_ref().unwrap().to_string(), "maxime");
    assert!(env.address.is_some());
    assert_eq!(state.ttl.unwrap().to_string(), "24h", "the default TTL");
    assert!(state.triggers.is_empty());

    let envs = world.backend.environments();
    assert_eq!(envs.len(), 1);
    assert_eq!(envs[0].health, Health::Healthy);
    let comments = world.host.comments(pr);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].body.contains("is running at http://10.0.0."),
        "{}",
        comments[0].body
    );
    assert!(
        comments[0].body.contains("expires 2024-01-16 12:00 UTC"),
        "{}",
        comments[0].body
    );
    assert_converged(&world, pr);
}

#[tokio::test]
async fn rolling_update_keeps_the_old_environment_until_the_new_is_healthy() {
    let world = world();
    let pr = world.open_pr(1, A, "maxime", &["testenv-up"]);
    let engine = world.engine();
    engine
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    push(&world, pr, B);
    let outcome = engine
        .reconcile(pr, Event::Push, login("maxime"))
        .await
        .unwrap();

    let actions: Vec<&str> = outcome.audit.iter().map(|a| a.action.as_str()).collect();
    let ready = actions
        .iter()
        .position(|a| *a == "await pr-1-bbbbbbb healthy")
        .unwrap();
    let switch = actions
        .iter()
        .position(|a| a.contains("active bbbbbbb"))
        .unwrap();
    let retire = actions
        .iter()
        .position(|a| *a == "destroy pr-1-aaaaaaa")
        .unwrap();
    assert!(ready < switch && switch < retire, "{actions:#?}");

    let state = Codec::default().parse(world.host.labels(pr));
    assert_eq!(state.active.unwrap().as_str(), "bbbbbbb");
    assert_eq!(world.backend.environments().len(), 1);
    assert_converged(&world, pr);
}

#[tokio::test]
async fn failed_rolling_update_keeps_the_old_environment_active() {
    let world = world();
    let pr = world.open_pr(1, A, "maxime", &["testenv-up"]);
    let engine = world.engine();
    engine
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    push(&world, pr, B);
    world.backend.make_unhealthy("bbbbbbb");
    let outcome = engine
        .reconcile(pr, Event::Push, login("maxime"))
        .await
        .unwrap();
    assert!(outcome.failure.unwrap().contains("`aaaaaaa` keeps serving"));

    let state = Codec::default().parse(world.host.labels(pr));
    assert_eq!(state.active.as_ref().unwrap().as_str(), "aaaaaaa");
    assert_eq!(
        state.environments[state.active.as_ref().unwrap()].status,
        Some(Status::Running)
    );
    assert_eq!(
        state.environments[&"bbbbbbb".parse().unwrap()].status,
        Some(Status::Failed)
    );
    let ids: Vec<String> = world
        .backend
        .environments()
        .iter()
        .map(|e| e.id.name())
        .collect();
    assert_eq!(ids, ["pr-1-aaaaaaa"]);
    assert!(world.host.comments(pr)[0].body.contains("failed"));
    assert_converged(&world, pr);
}

#[tokio::test]
async fn transient_errors_are_retried_and_permanent_ones_recorded() {
    let world = world();
    let pr = world.open_pr(1, A, "maxime", &["testenv-up"]);
    world.faults.on_method(
        "backend.deploy",
        vec![
            Fault::Fail(PortError::transient("503 from the cloud")),
            Fault::Fail(PortError::transient("503 again")),
        ],
    );
    let outcome = world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    assert!(outcome.failure.is_none());
    assert_eq!(world.backend.calls("deploy"), 3);
    assert!(
        world.clock.slept() > std::time::Duration::ZERO,
        "backoff waited"
    );
    assert_converged(&world, pr);

    let world = self::world();
    let pr = world.open_pr(1, A, "maxime", &["testenv-up"]);
    world.builder.break_sha("aaaaaaa");
    let outcome = world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    assert!(outcome.failure.unwrap().contains("docker build failed"));
    assert_eq!(world.builder.calls(), 1, "a permanent error is not retried");
    let state = Codec::default().parse(world.host.labels(pr));
    assert_eq!(
        state.environments.values().next().unwrap().status,
        Some(Status::Failed)
    );
    assert!(world.backend.environments().is_empty());
    // The up-label does not retry a failed commit by itself; a trigger does.
    let again = world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    assert_eq!(world.builder.calls(), 1, "{:?}", again.plans);
}

#[tokio::test]
async fn a_rate_limit_that_resets_soon_is_waited_out_and_a_later_one_is_returned() {
    let world = world();
    let pr = world.open_pr(1, A, "maxime", &["bug"]);
    let reset = world.clock.now_for_tests() + chrono::Duration::seconds(30);
    world.faults.on_method(
        "host.pull_request",
        vec![Fault::Fail(PortError::RateLimited { reset })],
    );
    world
        .engine()
        .reconcile(pr, Event::Look, None)
        .await
        .unwrap();
    assert!(world.clock.slept() >= std::time::Duration::from_secs(30));
    assert_eq!(world.host.calls("pull_request"), 2, "one wait, one retry");

    let world = self::world();
    let pr = world.open_pr(1, A, "maxime", &["bug"]);
    let reset = world.clock.now_for_tests() + chrono::Duration::hours(1);
    world.faults.on_method(
        "host.pull_request",
        vec![Fault::Fail(PortError::RateLimited { reset })],
    );
    let error = world
        .engine()
        .reconcile(pr, Event::Look, None)
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert_eq!(world.host.calls("pull_request"), 1, "no pointless retries");
    assert_eq!(world.clock.slept(), std::time::Duration::ZERO);
}

#[tokio::test]
async fn whole_lifecycle_through_commands_and_expiry() {
    let world = world();
    let pr = world.open_pr(7, A, "maxime", &["🎪 ⚡ showtime-trigger-start"]);
    let engine = world.engine();
    engine
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();

    let enable = SlashCommand::Enable("ALERTS".parse().unwrap());
    engine
        .reconcile(pr, Event::Command(enable), login("maxime"))
        .await
        .unwrap();
    let env = &world.backend.environments()[0];
    assert_eq!(env.config.features.len(), 1, "applied without a rebuild");
    assert_eq!(world.builder.calls(), 1);

    let extend = SlashCommand::Extend("48h".parse().unwrap());
    world.clock.advance(chrono::Duration::hours(20));
    engine
        .reconcile(pr, Event::Command(extend), login("maxime"))
        .await
        .unwrap();
    let state = Codec::default().parse(world.host.labels(pr));
    assert_eq!(state.ttl.unwrap().to_string(), "68h");

    // A stranger cannot destroy it.
    engine
        .reconcile(pr, Event::Command(SlashCommand::Destroy), login("stranger"))
        .await
        .unwrap();
    assert_eq!(world.backend.environments().len(), 1);
    assert!(world.host.comments(pr)[0].body.contains("refused"));

    world.clock.advance(chrono::Duration::hours(49));
    let report = engine.sweep(false).await.unwrap();
    assert!(report.prs.contains_key(&pr));
    assert!(world.backend.environments().is_empty());
    assert!(world.host.showtime_labels(pr).is_empty());
    assert!(world.host.comments(pr)[0].body.contains("expired"));
    assert_converged(&world, pr);
}

#[tokio::test]
async fn closing_the_pr_destroys_the_environment() {
    let world = world();
    let pr = world.open_pr(1, A, "maxime", &["testenv-up"]);
    let engine = world.engine();
    engine
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    world.host.edit_pr(pr, |p| p.state = PrState::Merged);
    engine.reconcile(pr, Event::Look, None).await.unwrap();
    assert!(world.backend.environments().is_empty());
    assert!(world.host.showtime_labels(pr).is_empty());
    assert_eq!(
        world.host.labels(pr),
        ["testenv-up"],
        "the up-label is people's"
    );
}

/// One flow to test under crashes: set-up (run crash-free), then the flow.
struct Flow {
    name: &'static str,
    setup: fn(&World) -> PrNumber,
    prepare: fn(&World, PrNumber),
    event: fn() -> Event,
    sweep: bool,
}

async fn run_flow(world: &World, flow: &Flow, pr: PrNumber) {
    let engine = world.engine();
    if flow.sweep {
        let _ = engine.sweep(false).await;
    } else {
        let _ = engine.reconcile(pr, (flow.event)(), login("maxime")).await;
    }
}

async fn prepared(flow: &Flow) -> (World, PrNumber) {
    let world = world();
    let pr = (flow.setup)(&world);
    world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    (flow.prepare)(&world, pr);
    (world, pr)
}

fn snapshot(world: &World, pr: PrNumber) -> (Vec<String>, Vec<(String, Health, usize)>) {
    let envs = world
        .backend
        .environments()
        .into_iter()
        .map(|e| (e.id.name(), e.health, e.config.features.len()))
        .collect();
    (world.host.showtime_labels(pr), envs)
}

fn flows() -> Vec<Flow> {
    vec![
        Flow {
            name: "create",
            setup: |w| w.open_pr(1, A, "maxime", &[]),
            prepare: |w, pr| add_label(w, pr, "🎪 ⚡ showtime-trigger-start"),
            event: || Event::Look,
            sweep: false,
        },
        Flow {
            name: "rolling update",
            setup: |w| w.open_pr(1, A, "maxime", &["testenv-up"]),
            prepare: |w, pr| push(w, pr, B),
            event: || Event::Push,
            sweep: false,
        },
        Flow {
            name: "destroy",
            setup: |w| w.open_pr(1, A, "maxime", &["testenv-up"]),
            prepare: |w, pr| add_label(w, pr, "🎪 🛑 showtime-trigger-stop"),
            event: || Event::Look,
            sweep: false,
        },
        Flow {
            name: "configuration change",
            setup: |w| w.open_pr(1, A, "maxime", &["testenv-up"]),
            prepare: |_, _| {},
            event: || Event::Command(SlashCommand::Enable("ALERTS".parse().unwrap())),
            sweep: false,
        },
        Flow {
            name: "sweep",
            setup: |w| w.open_pr(1, A, "maxime", &["testenv-up"]),
            prepare: |w, _| w.clock.advance(chrono::Duration::hours(72)),
            event: || Event::Sweep,
            sweep: true,
        },
    ]
}

#[tokio::test]
async fn every_flow_converges_after_a_crash_at_any_port_call() {
    for flow in flows() {
        let (clean, pr) = prepared(&flow).await;
        let before = clean.calls();
        run_flow(&clean, &flow, pr).await;
        let calls = clean.calls() - before;
        let expected = snapshot(&clean, pr);
        assert!(calls > 3, "{}: only {calls} calls", flow.name);

        for k in 1..=calls {
            let (world, pr) = prepared(&flow).await;
            world.faults.at_call(world.calls() + k, Fault::Crash);
            tokio::select! {
                () = run_flow(&world, &flow, pr) => panic!("{}: no crash at call {k}", flow.name),
                () = world.faults.crashed() => {}
            }
            world.faults.clear();
            // The process restarts and the same event is delivered again.
            run_flow(&world, &flow, pr).await;
            assert_eq!(
                snapshot(&world, pr),
                expected,
                "{}: crash at call {k} of {calls}",
                flow.name
            );
            assert_converged(&world, pr);
            assert_eq!(
                world.host.comments(pr).len(),
                1,
                "{}: crash at {k}",
                flow.name
            );
        }
    }
}

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

#[tokio::test]
async fn sweep_destroys_expired_closed_and_orphaned_environments() {
    use showtime_core::ports::{EnvId, EnvInfo};
    let world = world();
    let engine = world.engine();
    let expired = world.open_pr(1, A, "maxime", &["testenv-up"]);
    let closed = world.open_pr(2, A, "maxime", &["testenv-up"]);
    let kept = world.open_pr(3, A, "maxime", &["testenv-up", "🎪 ⌛ 1w"]);
    for pr in [expired, closed, kept] {
        engine
            .reconcile(pr, Event::Look, login("maxime"))
            .await
            .unwrap();
    }
    world.host.edit_pr(closed, |p| p.state = PrState::Closed);
    let orphan = |pr: u64, age_hours: i64| EnvInfo {
        id: EnvId {
            pr: PrNumber::new(pr).unwrap(),
            sha: "ddddddd".parse().unwrap(),
        },
        health: Health::Healthy,
        address: None,
        created_at: world.clock.now_for_tests() - chrono::Duration::hours(age_hours),
        requested_by: None,
        config: Default::default(),
    };
    world.clock.advance(chrono::Duration::hours(49));
    world.backend.insert(orphan(99, 2));
    world.backend.insert(orphan(98, 0));
    // A per-value label definition nothing carries any more, and one a
    // closed PR still carries.
    world
        .host
        .ensure_label_for_tests("🎪 abc1234 📅 2024-01-01T00-00");
    let manual = world.open_pr(4, A, "maxime", &["🎪 ⌛ manual", "🎪 abc1234 🚦 failed"]);
    world.host.edit_pr(manual, |p| p.state = PrState::Closed);
    world.host.ensure_label_for_tests("🎪 abc1234 🚦 failed");

    let before = (
        world.backend.environments(),
        world.host.labels(expired),
        world.host.definitions(),
    );
    let dry = engine.sweep(true).await.unwrap();
    assert_eq!(
        (
            world.backend.environments(),
            world.host.labels(expired),
            world.host.definitions()
        ),
        before,
        "a dry run changes nothing"
    );

    let report = engine.sweep(false).await.unwrap();
    for r in [&dry, &report] {
        let reason = |pr: PrNumber| r.prs[&pr][0].reason.clone();
        assert_eq!(reason(expired), "TTL expired");
        assert_eq!(reason(closed), "PR closed");
        assert!(r.prs[&kept][0].is_empty(), "{:?}", r.prs[&kept]);
        assert_eq!(
            r.orphans.iter().map(EnvId::name).collect::<Vec<_>>(),
            ["pr-99-ddddddd"]
        );
        assert_eq!(
            r.young_orphans.iter().map(EnvId::name).collect::<Vec<_>>(),
            ["pr-98-ddddddd"]
        );
        assert!(
            r.deleted_labels
                .contains(&"🎪 abc1234 📅 2024-01-01T00-00".to_owned())
        );
    }
    assert!(
        !report
            .deleted_labels
            .contains(&"🎪 abc1234 🚦 failed".to_owned()),
        "still attached"
    );
    let left: Vec<String> = world
        .backend
        .environments()
        .iter()
        .map(|e| e.id.name())
        .collect();
    assert_eq!(left, ["pr-3-aaaaaaa", "pr-98-ddddddd"]);
    assert!(world.host.showtime_labels(expired).is_empty());
    assert_eq!(
        world.host.labels(expired),
        Vec::<String>::new(),
        "expiry removes the up-label"
    );
    assert!(world.host.comments(closed)[0].body.contains("closed"));
    assert!(
        world
            .host
            .definitions()
            .contains_key("🎪 abc1234 🚦 failed")
    );
}

#[tokio::test]
async fn one_read_per_round_and_one_permission_lookup_per_run() {
    let world = world();
    let pr = world.open_pr(1, A, "maxime", &["🎪 ⚡ showtime-trigger-start"]);
    let outcome = world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    assert_eq!(world.host.calls("pull_request"), outcome.plans.len() as u64);
    assert_eq!(world.host.calls("permission"), 1);
    let label_steps = outcome
        .plans
        .iter()
        .flat_map(|p| &p.steps)
        .filter(|s| matches!(s, showtime_core::plan::Step::Labels(_)))
        .count() as u64;
    assert!(world.host.calls("add_labels") <= label_steps);
    assert_eq!(world.backend.calls("list"), outcome.plans.len() as u64);

    // Nothing to do: one read, and neither the backend nor permissions asked.
    world.host.reset_counts();
    world.backend.reset_counts();
    let idle = world.open_pr(2, A, "maxime", &["bug"]);
    world
        .engine()
        .reconcile(idle, Event::Look, login("maxime"))
        .await
        .unwrap();
    assert_eq!(world.host.total_calls(), 1);
    assert_eq!(world.backend.total_calls(), 0);
}

#[tokio::test]
async fn setup_labels_defines_every_reusable_label_with_its_colour() {
    let world = world();
    let names = world.engine().setup_labels().await.unwrap();
    let definitions = world.host.definitions();
    assert_eq!(definitions.len(), names.len());
    assert_eq!(definitions["🎪 🚦 running"].0, "28a745");
    assert_eq!(definitions["🎪 ⚡ showtime-trigger-start"].0, "FFD700");
    assert!(definitions.contains_key("testenv-up"));
    assert!(definitions.contains_key("🎪 ⚙️ size-large"));
    assert!(
        definitions
            .values()
            .all(|(_, d)| !d.is_empty() && d.chars().count() <= 100)
    );
    // Running it again changes nothing and fails nothing.
    world.engine().setup_labels().await.unwrap();
    assert_eq!(world.host.definitions(), definitions);
}
