//! The backend contract suite itself: the in-memory backend keeps every
//! promise, and a backend that breaks promises is told which, and how.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use showtime_core::ports::{Backend, EnvId, EnvInfo, EnvSpec, PortError};
use showtime_core::testing::MemoryBackend;
use showtime_core::testing::contract::{self, Contract};
use showtime_core::{Address, Config, PrNumber, async_trait};

#[tokio::test]
async fn the_in_memory_backend_keeps_the_contract() {
    let report = Contract::new(|| async { MemoryBackend::default() })
        .run()
        .await;
    report.assert_passed();
    assert!(report.checks.len() >= 17, "{report}");
}

/// The in-memory backend with three bugs: a listing that forgets the
/// creation time, a destroy of a missing environment that fails, and a
/// wait_ready of a missing environment that says "try again".
#[derive(Default)]
struct Careless(MemoryBackend);

#[async_trait]
impl Backend for Careless {
    async fn deploy(&self, spec: &EnvSpec) -> Result<(), PortError> {
        self.0.deploy(spec).await
    }

    async fn wait_ready(&self, id: &EnvId) -> Result<Address, PortError> {
        match self.0.wait_ready(id).await {
            Err(PortError::NotFound { .. }) => Err(PortError::transient("not there yet")),
            other => other,
        }
    }

    async fn apply_config(&self, id: &EnvId, config: &Config) -> Result<(), PortError> {
        self.0.apply_config(id, config).await
    }

    async fn destroy(&self, id: &EnvId) -> Result<(), PortError> {
        if !self.0.environments().iter().any(|e| &e.id == id) {
            return Err(PortError::permanent(format!("{id} does not exist")));
        }
        self.0.destroy(id).await
    }

    async fn list(&self, pr: Option<PrNumber>) -> Result<Vec<EnvInfo>, PortError> {
        let mut envs = self.0.list(pr).await?;
        for env in &mut envs {
            env.created_at = chrono::DateTime::UNIX_EPOCH;
        }
        Ok(envs)
    }
}

#[tokio::test]
async fn a_backend_that_breaks_promises_is_told_which() {
    let report = Contract::new(|| async { Careless::default() })
        .settle(Duration::from_millis(200))
        .crashes(false)
        .run()
        .await;
    let failed: Vec<&str> = report.failures().map(|c| c.name).collect();
    assert_eq!(
        failed,
        [
            "deploy then wait_ready: healthy, listed with the spec's details",
            "destroy is idempotent, and of a missing environment succeeds",
            "wait_ready and apply_config of a missing environment fail and create nothing",
        ],
        "{report}"
    );
    let text = report.to_string();
    assert!(text.contains("created_at"), "{text}");
    assert!(text.contains("PortError::NotFound"), "{text}");
    let panic = std::panic::catch_unwind(|| report.assert_passed()).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("breaks its contract"), "{message}");
}

#[tokio::test]
async fn check_runs_everything_and_passes_quietly() {
    contract::check(|| async { MemoryBackend::default() }).await;
}
