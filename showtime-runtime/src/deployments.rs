//! GitHub Deployments (`[github] deployments = true`), hooked in at the
//! ports: the image builder and the backend are wrapped so that, as the
//! engine calls them, each environment's life is recorded as a GitHub
//! deployment ([`showtime_github::deployments`]). The engine, the planner
//! and the labels do not know about it.
//!
//! | port call | deployment |
//! |---|---|
//! | `ImageBuilder::build` starts | made (or found) for the commit, `in_progress` |
//! | `build`, `Backend::deploy` or `wait_ready` fails | `failure`, with the reason |
//! | `wait_ready` returns an address | `success`, `environment_url` = that address |
//! | `Backend::destroy` succeeds | `inactive` (kept `failure` after a failure) |
//!
//! Why at the ports rather than from a reconcile's outcome: a create is
//! one reconcile (build, deploy, wait, then the pointer switch), so an
//! observer of the outcome would only learn of the build once the
//! environment is already running; at the port calls `in_progress` shows
//! while the build and deploy run. Each record is best effort and never
//! fails or delays the call it follows beyond its own request: an error is
//! logged (standard error) and dropped, for the labels stay the truth and
//! the next change of the environment brings its deployment up to date.

use std::sync::Arc;

use async_trait::async_trait;
use showtime_core::ports::{Backend, EnvId, EnvInfo, EnvSpec, ImageBuilder, PortError};
use showtime_core::{Address, Config, PrNumber, Sha};
use showtime_github::deployments::Deployments;

/// Wraps `backend` and `builder` so that the environments they make are
/// recorded through `deployments`.
pub fn record(
    backend: Arc<dyn Backend>,
    builder: Arc<dyn ImageBuilder>,
    deployments: Arc<Deployments>,
) -> (Arc<dyn Backend>, Arc<dyn ImageBuilder>) {
    (
        Arc::new(RecordedBackend {
            inner: backend,
            deployments: deployments.clone(),
        }),
        Arc::new(RecordedBuilder {
            inner: builder,
            deployments,
        }),
    )
}

/// Whether an error ends the step: the engine retries a transient one and
/// waits out a rate limit, so those are not failures yet.
fn settled(error: &PortError) -> bool {
    !error.is_transient() && !matches!(error, PortError::RateLimited { .. })
}

/// A record that could not be made: said, then dropped.
fn dropped(what: &str, env: &EnvId, result: Result<(), PortError>) {
    if let Err(e) = result {
        eprintln!("showtime: warning: the GitHub deployment of {env} was not marked {what}: {e}");
    }
}

/// A backend whose environments are recorded as GitHub deployments.
pub struct RecordedBackend {
    inner: Arc<dyn Backend>,
    deployments: Arc<Deployments>,
}

#[async_trait]
impl Backend for RecordedBackend {
    async fn deploy(&self, spec: &EnvSpec) -> Result<(), PortError> {
        let result = self.inner.deploy(spec).await;
        if let Some(e) = result.as_ref().err().filter(|e| settled(e)) {
            let recorded = self.deployments.failed(&spec.id, &e.to_string()).await;
            dropped("failed", &spec.id, recorded);
        }
        result
    }

    async fn wait_ready(&self, id: &EnvId) -> Result<Address, PortError> {
        let result = self.inner.wait_ready(id).await;
        let recorded = match &result {
            Ok(address) => ("ready", self.deployments.ready(id, address).await),
            Err(e) if !settled(e) => return result,
            Err(e) => ("failed", self.deployments.failed(id, &e.to_string()).await),
        };
        dropped(recorded.0, id, recorded.1);
        result
    }

    async fn apply_config(&self, id: &EnvId, config: &Config) -> Result<(), PortError> {
        self.inner.apply_config(id, config).await
    }

    fn can_sleep(&self) -> bool {
        self.inner.can_sleep()
    }

    async fn sleep(&self, id: &EnvId) -> Result<(), PortError> {
        self.inner.sleep(id).await
    }

    // The `wait_ready` that follows a wake records the deployment ready
    // again, as after a deploy.
    async fn wake(&self, id: &EnvId) -> Result<(), PortError> {
        self.inner.wake(id).await
    }

    async fn destroy(&self, id: &EnvId) -> Result<(), PortError> {
        let result = self.inner.destroy(id).await;
        if result.is_ok() {
            dropped("inactive", id, self.deployments.destroyed(id).await);
        }
        result
    }

    async fn list(&self, pr: Option<PrNumber>) -> Result<Vec<EnvInfo>, PortError> {
        self.inner.list(pr).await
    }
}

/// An image builder whose builds start GitHub deployments.
pub struct RecordedBuilder {
    inner: Arc<dyn ImageBuilder>,
    deployments: Arc<Deployments>,
}

#[async_trait]
impl ImageBuilder for RecordedBuilder {
    async fn build(&self, pr: PrNumber, sha: &Sha) -> Result<String, PortError> {
        let env = EnvId::new(pr, sha.short());
        dropped(
            "in progress",
            &env,
            self.deployments.started(&env, sha).await,
        );
        let result = self.inner.build(pr, sha).await;
        if let Some(e) = result.as_ref().err().filter(|e| settled(e)) {
            dropped(
                "failed",
                &env,
                self.deployments.failed(&env, &e.to_string()).await,
            );
        }
        result
    }
}
