//! Environments recorded as GitHub Deployments, so that a pull request
//! shows each one in its timeline and a **View deployment** button.
//!
//! [`Deployments`] is told what happens to an environment — started,
//! ready at an address, failed, destroyed — and records it: environment
//! `pr-<n>` gets one deployment per commit (`ref` = the full SHA,
//! `transient_environment`, `required_contexts: []`), whose statuses go
//! `in_progress` → `success` (with `environment_url`) or `failure`, and
//! `inactive` once destroyed. A rolling update deploys a new commit, so it
//! makes a new deployment, and the old one goes `inactive` when it is
//! destroyed.
//!
//! A deployment is a record, not state: the PR's labels stay the truth and
//! nothing here is ever read back to decide anything. So every call may be
//! lost (a crash, a GitHub error) without harm beyond a status that lags,
//! which the environment's next change brings up to date; the caller logs
//! the error and goes on.
//!
//! Requests: a deployment's id is remembered for the life of the process.
//! The first event of a PR that finds no id in memory lists the
//! environment's deployments once (`GET …/deployments?environment=pr-<n>`,
//! the newest 100), which also finds the previous commit's deployment for a
//! rolling update; a commit started again reuses its deployment rather than
//! making a second one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use showtime_core::ports::{EnvId, PortError};
use showtime_core::{Address, PrNumber, Sha};

use crate::GitHubHost;
use crate::host::{DeploymentState, DeploymentStatus};

/// The GitHub environment of a PR's environments: `pr-<n>`.
pub fn environment_name(pr: PrNumber) -> String {
    format!("pr-{pr}")
}

/// What this process knows of one environment's deployment.
#[derive(Debug, Clone, Copy)]
struct Known {
    id: u64,
    /// Its last status here was `failure`: the destroy of what a failure
    /// half made keeps it (the PR shows the failure, not "destroyed").
    failed: bool,
}

/// Records environments as GitHub deployments; see the [module docs](self).
pub struct Deployments {
    host: Arc<GitHubHost>,
    known: Mutex<HashMap<EnvId, Known>>,
}

impl std::fmt::Debug for Deployments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Deployments({})", self.host.repository())
    }
}

impl Deployments {
    /// Records through `host` (the same client the engine uses, so its
    /// rate limit and credentials are shared).
    pub fn new(host: Arc<GitHubHost>) -> Self {
        Deployments {
            host,
            known: Mutex::new(HashMap::new()),
        }
    }

    fn known(&self) -> MutexGuard<'_, HashMap<EnvId, Known>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lists `pr`'s deployments once and remembers the newest of each
    /// commit; returns the one of `env`, if any.
    async fn look_up(&self, env: &EnvId) -> Result<Option<u64>, PortError> {
        if let Some(known) = self.known().get(env) {
            return Ok(Some(known.id));
        }
        let listed = self
            .host
            .deployments(&environment_name(env.pr), None)
            .await?;
        let mut known = self.known();
        // Newest first: the first of each commit is the one to use, and
        // what this process already knows stays.
        for deployment in &listed {
            let Ok(sha) = deployment.sha.parse::<Sha>() else {
                continue;
            };
            known
                .entry(EnvId::new(env.pr, sha.short()))
                .or_insert(Known {
                    id: deployment.id,
                    failed: false,
                });
        }
        Ok(known.get(env).map(|k| k.id))
    }

    async fn status(
        &self,
        env: &EnvId,
        id: u64,
        state: DeploymentState,
        description: String,
        environment_url: Option<String>,
    ) -> Result<(), PortError> {
        let status = DeploymentStatus {
            state,
            description,
            environment_url,
        };
        self.host.create_deployment_status(id, &status).await?;
        self.known().insert(
            env.clone(),
            Known {
                id,
                failed: state == DeploymentState::Failure,
            },
        );
        Ok(())
    }

    /// The build and deploy of `env` (commit `sha`) start: its deployment,
    /// made now unless one exists, goes `in_progress`.
    pub async fn started(&self, env: &EnvId, sha: &Sha) -> Result<(), PortError> {
        let id = match self.look_up(env).await? {
            Some(id) => id,
            None => {
                let description = format!("Showtime environment {env}");
                let created = self
                    .host
                    .create_deployment(&environment_name(env.pr), sha, &description)
                    .await?;
                created.id
            }
        };
        let description = format!("Building and deploying {env}");
        self.status(env, id, DeploymentState::InProgress, description, None)
            .await
    }

    /// `env` answers at `address`: `success`, with the environment URL. An
    /// environment with no deployment (one started before deployments were
    /// turned on) is left alone.
    pub async fn ready(&self, env: &EnvId, address: &Address) -> Result<(), PortError> {
        let Some(id) = self.look_up(env).await? else {
            return Ok(());
        };
        let url = address.url();
        let description = format!("Running at {url}");
        self.status(env, id, DeploymentState::Success, description, Some(url))
            .await
    }

    /// A step of `env` failed: `failure`, with the reason.
    pub async fn failed(&self, env: &EnvId, reason: &str) -> Result<(), PortError> {
        let Some(id) = self.look_up(env).await? else {
            return Ok(());
        };
        self.status(env, id, DeploymentState::Failure, reason.to_owned(), None)
            .await
    }

    /// `env` was destroyed: `inactive` (GitHub shows a transient
    /// environment as destroyed), unless its last status in this process
    /// was a failure, which the PR keeps showing.
    pub async fn destroyed(&self, env: &EnvId) -> Result<(), PortError> {
        if self.known().get(env).is_some_and(|k| k.failed) {
            return Ok(());
        }
        let Some(id) = self.look_up(env).await? else {
            return Ok(());
        };
        let description = format!("{env} was destroyed");
        self.status(env, id, DeploymentState::Inactive, description, None)
            .await
    }
}
