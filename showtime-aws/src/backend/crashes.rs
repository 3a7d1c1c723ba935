//! Crashes: a service whose rollout completed and that has fewer running
//! tasks than it wants is one whose tasks die (a crash, a failed container
//! or load balancer health check, which ECS answers by stopping the task).
//! It is listed as [`Health::Unhealthy`] since the first of its recent
//! stopped tasks, with the last one's reason and exit code, which is what
//! the planner's self-healing quotes on the PR.
//!
//! A listing costs two more calls only for such a service (`ListTasks`
//! with `desiredStatus=STOPPED`, `DescribeTasks`); a healthy one costs
//! nothing more. ECS keeps stopped tasks for about an hour, so "since"
//! reaches back at most that far. A task that is between two crashes
//! (running again for a while) makes the service look healthy to that one
//! listing; the next listing that sees the gap finds the whole history.
//! Its AWS calls only read.

use aws_sdk_ecs::types::{DeploymentRolloutState, DesiredStatus, Service, Task};
use chrono::{DateTime, Utc};
use showtime_core::ports::Health;

use super::EcsBackend;
use crate::error::AwsError;

/// The longest reason quoted from ECS, in characters.
const MAX_REASON: usize = 400;

impl EcsBackend {
    /// How a service that [`lost_tasks`] is doing, from its recent stopped
    /// tasks.
    pub(super) async fn crash_health(&self, service: &Service) -> Result<Health, AwsError> {
        let tasks = self.tasks_of(service, DesiredStatus::Stopped).await?;
        Ok(health_of(service, &tasks))
    }
}

/// Whether the service reached steady state once (its primary deployment's
/// rollout completed) and now runs fewer tasks than it wants.
pub(super) fn lost_tasks(service: &Service) -> bool {
    let Some(primary) = super::ready::primary(service) else {
        return false;
    };
    primary.rollout_state() == Some(&DeploymentRolloutState::Completed)
        && primary.desired_count() > 0
        && primary.running_count() < primary.desired_count()
}

/// The health of a service that lost tasks, given its stopped tasks:
/// [`Health::Unhealthy`] since the first that stopped after the service
/// was created (a service of the same name, destroyed before, left its
/// own), with the reason of the last; [`Health::Starting`] when no stopped
/// task says why (a replacement being placed).
pub(super) fn health_of(service: &Service, tasks: &[Task]) -> Health {
    let created = service.created_at().and_then(to_chrono);
    let mut stopped: Vec<(DateTime<Utc>, &Task)> = tasks
        .iter()
        .filter_map(|t| Some((t.stopped_at().and_then(to_chrono)?, t)))
        .filter(|(at, _)| created.is_none_or(|c| *at >= c))
        .collect();
    stopped.sort_by_key(|(at, _)| *at);
    let (Some((since, _)), Some((at, last))) = (stopped.first(), stopped.last()) else {
        return Health::Starting;
    };
    let (running, desired) =
        super::ready::primary(service).map_or((0, 0), |d| (d.running_count(), d.desired_count()));
    Health::Unhealthy {
        since: *since,
        reason: format!(
            "{running} of {desired} tasks running; {} tasks stopped since {}, the last at {}: {}",
            stopped.len(),
            since.format("%H:%M:%S UTC"),
            at.format("%H:%M:%S UTC"),
            why(last)
        ),
    }
}

/// Why one task stopped: ECS's reason, and its failing container's exit
/// code and reason.
fn why(task: &Task) -> String {
    let mut out = task
        .stopped_reason()
        .unwrap_or("no reason given")
        .to_owned();
    let container = task
        .containers()
        .iter()
        .find(|c| c.exit_code().is_some_and(|code| code != 0))
        .or_else(|| task.containers().iter().find(|c| c.reason().is_some()));
    if let Some(c) = container {
        let name = c.name().unwrap_or("its container");
        match (c.exit_code(), c.reason()) {
            (Some(code), Some(reason)) => {
                out.push_str(&format!(" ({name} exited with code {code}: {reason})"));
            }
            (Some(code), None) => out.push_str(&format!(" ({name} exited with code {code})")),
            (None, Some(reason)) => out.push_str(&format!(" ({name}: {reason})")),
            (None, None) => {}
        }
    }
    if out.chars().count() > MAX_REASON {
        out = out.chars().take(MAX_REASON).collect::<String>() + "…";
    }
    out
}

fn to_chrono(t: &aws_sdk_ecs::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos())
}
