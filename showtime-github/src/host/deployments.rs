//! GitHub Deployments: the three REST calls that record an environment as a
//! deployment of a commit (`POST …/deployments`), give it a status
//! (`POST …/deployments/{id}/statuses`) and find the ones that exist
//! (`GET …/deployments?environment=…`). It decides nothing about when to
//! call them: that is [`crate::deployments`]'s.

use serde_json::json;
use showtime_core::Sha;
use showtime_core::ports::PortError;

use super::transport::Method;
use super::{GitHubHost, wire};

/// GitHub's limit on a deployment status description, in characters.
pub const STATUS_DESCRIPTION_MAX: usize = 140;

/// A deployment, as GitHub lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// Its id.
    pub id: u64,
    /// The commit it deploys (40 lowercase hex digits).
    pub sha: String,
    /// The environment's name.
    pub environment: String,
}

/// The states Showtime gives a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentState {
    /// Being built and deployed.
    InProgress,
    /// Ready, at its environment URL.
    Success,
    /// A step failed.
    Failure,
    /// Destroyed (a transient environment is shown as destroyed).
    Inactive,
}

impl DeploymentState {
    /// The word GitHub uses.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentState::InProgress => "in_progress",
            DeploymentState::Success => "success",
            DeploymentState::Failure => "failure",
            DeploymentState::Inactive => "inactive",
        }
    }
}

/// One status to add to a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentStatus {
    /// The state.
    pub state: DeploymentState,
    /// A short description, cut to [`STATUS_DESCRIPTION_MAX`] characters
    /// when sent.
    pub description: String,
    /// Where the environment answers (GitHub's "View deployment").
    pub environment_url: Option<String>,
}

impl GitHubHost {
    /// The newest deployments (at most 100) of `environment`, newest first,
    /// only those of `sha` when given. One request.
    pub async fn deployments(
        &self,
        environment: &str,
        sha: Option<&Sha>,
    ) -> Result<Vec<Deployment>, PortError> {
        let mut query = format!(
            "deployments?environment={}&per_page=100",
            super::segment(environment)
        );
        if let Some(sha) = sha {
            query.push_str(&format!("&sha={sha}"));
        }
        let (deployments, _) = self
            .transport
            .json(Method::Get, &self.path(&query), None, wire::deployments)
            .await?;
        Ok(deployments)
    }

    /// Creates a deployment of commit `sha` to `environment`: transient (it
    /// goes away), not production, with no required status checks (a
    /// preview is deployed whatever CI says) and no merge of the default
    /// branch. One request.
    pub async fn create_deployment(
        &self,
        environment: &str,
        sha: &Sha,
        description: &str,
    ) -> Result<Deployment, PortError> {
        let body = json!({
            "ref": sha.as_str(),
            "environment": environment,
            "description": description,
            "auto_merge": false,
            "required_contexts": [],
            "transient_environment": true,
            "production_environment": false,
        });
        let (deployment, _) = self
            .transport
            .json(
                Method::Post,
                &self.path("deployments"),
                Some(&body),
                wire::deployment,
            )
            .await?;
        Ok(deployment)
    }

    /// Adds `status` to deployment `id`, with `auto_inactive` (GitHub then
    /// marks earlier non-transient deployments of the environment inactive;
    /// Showtime's own are transient and are made inactive one by one, when
    /// destroyed). One request.
    pub async fn create_deployment_status(
        &self,
        id: u64,
        status: &DeploymentStatus,
    ) -> Result<(), PortError> {
        let description: String = status
            .description
            .chars()
            .take(STATUS_DESCRIPTION_MAX)
            .collect();
        let mut body = json!({
            "state": status.state.as_str(),
            "description": description,
            "auto_inactive": true,
        });
        if let Some(url) = &status.environment_url {
            body["environment_url"] = json!(url);
        }
        let uri = self.path(&format!("deployments/{id}/statuses"));
        self.transport.send(Method::Post, &uri, Some(&body)).await?;
        Ok(())
    }
}
