//! Sleep and wake through the engine, over the in-memory ports: a sweep
//! puts an idle environment to sleep (dry-run only says so), `/circus wake`
//! brings it back at a new address, a wake in quiet hours is not undone by
//! the next sweep, and what each costs in port calls.

use chrono::Duration;
use showtime_core::schedule::SleepSchedule;

use super::*;

fn sleepy_world(quiet: Option<&str>) -> World {
    let mut world = world();
    world.policy.sleep = Some(SleepSchedule {
        after_idle: Some(Duration::hours(8)),
        quiet_hours: quiet.map(|q| q.parse().unwrap()),
        weekends: false,
        time_zone: "UTC".parse().unwrap(),
    });
    world
}

async fn running_env(world: &World) -> PrNumber {
    running_env_with(world, &[]).await
}

async fn running_env_with(world: &World, labels: &[&str]) -> PrNumber {
    let mut labels = labels.to_vec();
    labels.push("🎪 ⚡ showtime-trigger-start");
    let pr = world.open_pr(1, A, "maxime", &labels);
    world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    assert_eq!(world.backend.environments()[0].health, Health::Healthy);
    pr
}

fn status(world: &World, pr: PrNumber) -> Option<Status> {
    let state = Codec::default().parse(world.host.labels(pr));
    let active = state.active?;
    state.environments.get(&active)?.status
}

#[tokio::test]
async fn an_idle_environment_sleeps_at_a_sweep_and_wakes_on_command() {
    let world = sleepy_world(None);
    let pr = running_env(&world).await;

    // Seven hours later: not idle long enough.
    world.clock.advance(Duration::hours(7));
    let report = world.engine().sweep(false).await.unwrap();
    assert!(report.audit.is_empty(), "{:?}", report.audit);
    assert_eq!(status(&world, pr), Some(Status::Running));

    // Nine: a dry run says what it would do, and does nothing.
    world.clock.advance(Duration::hours(2));
    let dry = world.engine().sweep(true).await.unwrap();
    assert!(
        dry.prs[&pr][0].reason.starts_with("sleep (idle for 9h"),
        "{dry:?}"
    );
    assert_eq!(world.backend.environments()[0].health, Health::Healthy);

    world.backend.reset_counts();
    world.host.reset_counts();
    let report = world.engine().sweep(false).await.unwrap();
    assert_eq!(world.backend.environments()[0].health, Health::Asleep);
    assert_eq!(status(&world, pr), Some(Status::Sleeping));
    assert_eq!(world.backend.calls("sleep"), 1);
    // Listing, labels, comment; no PR read beyond the sweep's listing.
    assert_eq!(world.host.calls("pull_request"), 0);
    assert_eq!(world.host.calls("upsert_comment"), 1);
    let slept: Vec<_> = report
        .audit
        .iter()
        .filter_map(|a| a.change.as_ref())
        .collect();
    assert_eq!(slept.len(), 1);
    assert_eq!(slept[0].kind, showtime_core::engine::ChangeKind::Slept);
    assert!(world.host.comments(pr)[0].body.contains("/circus wake"));
    assert_converged(&world, pr);

    // Another sweep leaves it asleep, changing nothing.
    let report = world.engine().sweep(false).await.unwrap();
    assert!(report.audit.is_empty(), "{:?}", report.audit);

    world.backend.reset_counts();
    let outcome = world
        .engine()
        .reconcile(pr, Event::Command(SlashCommand::Wake), login("maxime"))
        .await
        .unwrap();
    assert!(!outcome.out_of_rounds);
    assert_eq!(world.backend.calls("wake"), 1);
    assert_eq!(world.backend.calls("wait_ready"), 1);
    assert_eq!(world.backend.environments()[0].health, Health::Healthy);
    assert_eq!(status(&world, pr), Some(Status::Running));
    let state = Codec::default().parse(world.host.labels(pr));
    let active = state.active.clone().unwrap();
    assert!(state.environments[&active].address.is_some(), "{state:?}");
    let kinds: Vec<_> = outcome
        .audit
        .iter()
        .filter_map(|a| a.change.as_ref().map(|c| c.kind))
        .collect();
    assert_eq!(kinds, [showtime_core::engine::ChangeKind::Woke]);
    assert_converged(&world, pr);

    // Woken means active: the next sweep does not put it back to sleep.
    world.clock.advance(Duration::hours(1));
    world.engine().sweep(false).await.unwrap();
    assert_eq!(status(&world, pr), Some(Status::Running));
}

#[tokio::test]
async fn a_wake_in_quiet_hours_lasts_until_the_next_quiet_time() {
    // The world's clock starts at 12:00 UTC; quiet from 13:00 to 15:00.
    let world = sleepy_world(Some("13:00-15:00"));
    let pr = running_env_with(&world, &["🎪 ⌛ 1w"]).await;
    world.clock.advance(Duration::minutes(90));
    world.engine().sweep(false).await.unwrap();
    assert_eq!(status(&world, pr), Some(Status::Sleeping));
    world
        .engine()
        .reconcile(pr, Event::Command(SlashCommand::Wake), login("maxime"))
        .await
        .unwrap();
    assert_eq!(status(&world, pr), Some(Status::Running));
    world.clock.advance(Duration::minutes(20));
    world.engine().sweep(false).await.unwrap();
    assert_eq!(
        status(&world, pr),
        Some(Status::Running),
        "woken in quiet hours"
    );
    // The next day's quiet time puts it to sleep again.
    world.clock.advance(Duration::hours(24));
    world.engine().sweep(false).await.unwrap();
    assert_eq!(status(&world, pr), Some(Status::Sleeping));
}

#[tokio::test]
async fn a_new_commit_replaces_a_sleeping_environment_with_an_awake_one() {
    let world = sleepy_world(None);
    let pr = running_env(&world).await;
    world.clock.advance(Duration::hours(9));
    world.engine().sweep(false).await.unwrap();
    assert_eq!(status(&world, pr), Some(Status::Sleeping));
    push(&world, pr, B);
    world
        .engine()
        .reconcile(pr, Event::Push, login("maxime"))
        .await
        .unwrap();
    let envs = world.backend.environments();
    assert_eq!(envs.len(), 1, "{envs:?}");
    assert_eq!(envs[0].id.sha.as_str(), "bbbbbbb");
    assert_eq!(envs[0].health, Health::Healthy);
    assert_eq!(status(&world, pr), Some(Status::Running));
    assert_converged(&world, pr);
}

#[tokio::test]
async fn the_ttl_expires_a_sleeping_environment() {
    let world = sleepy_world(None);
    let pr = running_env(&world).await;
    world.clock.advance(Duration::hours(9));
    world.engine().sweep(false).await.unwrap();
    assert_eq!(status(&world, pr), Some(Status::Sleeping));
    // The default TTL is 24h from creation.
    world.clock.advance(Duration::hours(16));
    world.engine().sweep(false).await.unwrap();
    assert!(world.backend.environments().is_empty());
    assert_converged(&world, pr);
}

#[tokio::test]
async fn a_backend_that_cannot_sleep_is_never_asked() {
    struct Insomniac(showtime_core::testing::MemoryBackend);
    #[showtime_core::async_trait]
    impl showtime_core::ports::Backend for Insomniac {
        async fn deploy(&self, spec: &showtime_core::ports::EnvSpec) -> Result<(), PortError> {
            self.0.deploy(spec).await
        }
        async fn wait_ready(
            &self,
            id: &showtime_core::ports::EnvId,
        ) -> Result<showtime_core::Address, PortError> {
            self.0.wait_ready(id).await
        }
        async fn apply_config(
            &self,
            id: &showtime_core::ports::EnvId,
            config: &showtime_core::Config,
        ) -> Result<(), PortError> {
            self.0.apply_config(id, config).await
        }
        async fn destroy(&self, id: &showtime_core::ports::EnvId) -> Result<(), PortError> {
            self.0.destroy(id).await
        }
        async fn list(
            &self,
            pr: Option<PrNumber>,
        ) -> Result<Vec<showtime_core::ports::EnvInfo>, PortError> {
            self.0.list(pr).await
        }
    }
    let mut world = World::with_backend(Insomniac(Default::default()));
    world.host.set_permission("maxime", Permission::Write);
    world.policy.sleep = sleepy_world(None).policy.sleep;
    let pr = world.open_pr(1, A, "maxime", &["🎪 ⚡ showtime-trigger-start"]);
    world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    world.clock.advance(Duration::hours(9));
    world.engine().sweep(false).await.unwrap();
    assert_eq!(world.backend.calls("sleep"), 0);
    assert_eq!(
        Codec::default()
            .parse(world.host.labels(pr))
            .environments
            .values()
            .next()
            .and_then(|e| e.status),
        Some(Status::Running)
    );
}
