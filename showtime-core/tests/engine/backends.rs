//! The engine over backends other than the in-memory one: a listing that
//! lags behind `wait_ready`, an address only `wait_ready` knows, faults in
//! any backend, and a reconcile that runs out of rounds.

use showtime_core::ports::{Backend, EnvId, EnvInfo, EnvSpec};
use showtime_core::testing::MemoryBackend;
use showtime_core::{Address, Config, async_trait};

use super::*;

/// A backend whose listing lags for ever: everything it lists is still
/// starting, at no known address. Only `wait_ready` tells the truth.
#[derive(Default)]
struct Lagging(MemoryBackend);

#[async_trait]
impl Backend for Lagging {
    async fn deploy(&self, spec: &EnvSpec) -> Result<(), PortError> {
        self.0.deploy(spec).await
    }

    async fn wait_ready(&self, id: &EnvId) -> Result<Address, PortError> {
        self.0.wait_ready(id).await
    }

    async fn apply_config(&self, id: &EnvId, config: &Config) -> Result<(), PortError> {
        self.0.apply_config(id, config).await
    }

    async fn destroy(&self, id: &EnvId) -> Result<(), PortError> {
        self.0.destroy(id).await
    }

    async fn list(&self, pr: Option<PrNumber>) -> Result<Vec<EnvInfo>, PortError> {
        let mut envs = self.0.list(pr).await?;
        for env in &mut envs {
            env.health = Health::Starting;
            env.address = None;
        }
        Ok(envs)
    }
}

fn lagging_world() -> World<Lagging> {
    let world = World::with_backend(Lagging::default());
    world.host.set_permission("maxime", Permission::Write);
    world
}

#[tokio::test]
async fn a_listing_that_lags_behind_wait_ready_converges_at_the_address_it_returned() {
    let world = lagging_world();
    let pr = world.open_pr(1, A, "maxime", &["🎪 ⚡ showtime-trigger-start"]);
    let outcome = world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();

    assert!(!outcome.out_of_rounds, "{:#?}", outcome.plans);
    assert_eq!(outcome.plans.len(), 2, "build round, then activation round");
    let state = Codec::default().parse(world.host.labels(pr));
    let active = state.active.clone().unwrap();
    let env = &state.environments[&active];
    assert_eq!(env.status, Some(Status::Running));
    // The listing never knows the address: the label has wait_ready's.
    assert_eq!(env.address.unwrap().to_string(), "10.0.0.1:8080");
    let comment = &world.host.comments(pr)[0].body;
    assert!(comment.contains("http://10.0.0.1:8080"), "{comment}");
    assert!(!comment.contains("address unknown"), "{comment}");

    // A later run, with the listing still lagging, leaves it as it is.
    let again = world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    assert!(
        again.plans.iter().all(|p| p.is_empty()),
        "{:#?}",
        again.plans
    );
}

#[tokio::test]
async fn a_reconcile_that_runs_out_of_rounds_says_so() {
    let mut world = world();
    world.policy.max_rounds = 1;
    let pr = world.open_pr(1, A, "maxime", &["🎪 ⚡ showtime-trigger-start"]);
    let outcome = world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    assert!(outcome.out_of_rounds);
    assert!(outcome.failure.is_none());
    assert_eq!(outcome.plans.len(), 1);

    // Nothing is lost: the next reconcile goes on from the labels.
    world.policy.max_rounds = 6;
    let outcome = world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    assert!(!outcome.out_of_rounds);
    assert_converged(&world, pr);
}

#[tokio::test]
async fn faults_and_call_counts_cover_any_backend_in_the_world() {
    let world = lagging_world();
    let pr = world.open_pr(1, A, "maxime", &["🎪 ⚡ showtime-trigger-start"]);
    world.faults.on_method(
        "backend.deploy",
        vec![Fault::Fail(PortError::permanent("no capacity"))],
    );
    let outcome = world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();

    assert!(outcome.failure.unwrap().contains("no capacity"));
    assert_eq!(world.backend.calls("deploy"), 1);
    assert_eq!(world.backend.calls("destroy"), 1, "what was half made");
    assert!(world.backend.inner().0.environments().is_empty());
}
