//! Whole lifecycles through the engine: create, rolling update, failure,
//! retries, commands and expiry, close.

use super::*;

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
        .position(|a| *a == "await pr-1-bbbbbbb ready")
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
        ["testenv-up", "🎪 💬 1"],
        "the up-label is people's (and the status comment stays where it is)"
    );
}
