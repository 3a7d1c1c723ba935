//! Readiness: waiting for the service's rollout, finding its task's address
//! (from ECS, or EC2 for a public IP) and health-checking it over HTTP.
//! It changes nothing in AWS, and waits only through `tokio::time`.

use std::net::{Ipv4Addr, SocketAddr};
use std::num::NonZeroU16;

use aws_sdk_ecs::types::{DeploymentRolloutState, DesiredStatus, Service};
use showtime_core::Address;
use showtime_core::ports::EnvId;
use tokio::time::Instant;

use super::EcsBackend;
use crate::ec2::NetworkInterface;
use crate::error::{AwsError, human};
use crate::settings::AddressKind;

/// Where a service's rollout stands.
pub(super) enum Rollout {
    /// The primary deployment has completed with its tasks running.
    Ready,
    /// ECS stopped the rollout, for this reason.
    Failed(String),
    /// Still going: how far, for a person.
    Pending(String),
}

impl EcsBackend {
    /// Readiness: see [`Backend::wait_ready`](showtime_core::ports::Backend::wait_ready).
    pub(super) async fn ready(&self, id: &EnvId) -> Result<Address, AwsError> {
        let timeout = self.settings.ready_timeout;
        let started = Instant::now();
        let deadline = started + timeout;
        let name = Self::service_name(id);
        let unhealthy = |reason: String| AwsError::Unhealthy {
            service: name.clone(),
            reason,
        };

        // 1. The rollout.
        let service = loop {
            let service = self.managed_service(id).await?;
            if service.desired_count() == 0 {
                return Err(AwsError::Asleep {
                    service: name.clone(),
                });
            }
            match rollout(&service) {
                Rollout::Ready => break service,
                Rollout::Failed(reason) => {
                    return Err(unhealthy(format!(
                        "the ECS deployment failed: {reason}. Fix: read the service's events \
                         and the task's logs (CloudWatch) to see why its tasks stop"
                    )));
                }
                Rollout::Pending(state) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(unhealthy(format!(
                            "not running after {}: {state}. Fix: read the service's events \
                             (image pull, capacity, roles) and the task's logs",
                            human(timeout)
                        )));
                    }
                    self.progress(
                        id,
                        format!(
                            "{state} ({} of at most {})",
                            human(now - started),
                            human(timeout)
                        ),
                    );
                    self.pause(deadline).await;
                }
            }
        };

        // 2. Its address.
        let ip = loop {
            match self.task_ip(&service).await? {
                Ok(ip) => break ip,
                Err(why) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(unhealthy(format!(
                            "no address after {}: {why}. Fix: check the subnets and \
                             assign_public_ip (public addresses need a public subnet)",
                            human(timeout)
                        )));
                    }
                    self.progress(id, format!("waiting for the task's address: {why}"));
                    self.pause(deadline).await;
                }
            }
        };

        // 3. Its health.
        self.health_check(id, ip).await?;
        Ok(Address::new(
            ip,
            NonZeroU16::new(self.settings.container_port),
        ))
    }

    async fn pause(&self, deadline: Instant) {
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(self.settings.poll_interval.min(left)).await;
    }

    /// The service's tasks of `status` (one listing, then one description
    /// of at most 100); none listed, no description asked.
    pub(super) async fn tasks_of(
        &self,
        service: &Service,
        status: DesiredStatus,
    ) -> Result<Vec<aws_sdk_ecs::types::Task>, AwsError> {
        let listed = self
            .ecs
            .list_tasks()
            .cluster(&self.settings.cluster)
            .service_name(service.service_name().unwrap_or_default())
            .desired_status(status)
            .send()
            .await
            .map_err(|e| self.sdk("ecs:ListTasks", e))?;
        if listed.task_arns().is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .ecs
            .describe_tasks()
            .cluster(&self.settings.cluster)
            .set_tasks(Some(listed.task_arns().iter().take(100).cloned().collect()))
            .send()
            .await
            .map_err(|e| self.sdk("ecs:DescribeTasks", e))?
            .tasks()
            .to_vec())
    }

    /// The IP of the service's running task, or why there is none yet.
    async fn task_ip(&self, service: &Service) -> Result<Result<Ipv4Addr, String>, AwsError> {
        let tasks = self.tasks_of(service, DesiredStatus::Running).await?;
        if tasks.is_empty() {
            return Ok(Err("no running task is listed yet".to_owned()));
        }
        let primary_td = primary(service).and_then(|d| d.task_definition());
        let running = |t: &&aws_sdk_ecs::types::Task| t.last_status() == Some("RUNNING");
        let task = tasks
            .iter()
            .filter(running)
            .find(|t| primary_td.is_none() || t.task_definition_arn() == primary_td)
            .or_else(|| tasks.iter().find(running));
        let Some(task) = task else {
            let states: Vec<&str> = tasks
                .iter()
                .map(|t| t.last_status().unwrap_or("unknown"))
                .collect();
            return Ok(Err(format!(
                "no task is RUNNING yet ({})",
                if states.is_empty() {
                    "none described".to_owned()
                } else {
                    states.join(", ")
                }
            )));
        };
        let detail = |key: &str| -> Option<String> {
            task.attachments()
                .iter()
                .filter(|a| a.r#type() == Some("ElasticNetworkInterface"))
                .flat_map(|a| a.details())
                .find(|d| d.name() == Some(key))
                .and_then(|d| d.value())
                .map(str::to_owned)
        };
        let Some(eni) = detail("networkInterfaceId") else {
            return Ok(Err("the task has no network interface yet".to_owned()));
        };
        if self.settings.address == AddressKind::Private {
            // ECS names the private address itself: no EC2 call needed.
            return Ok(match detail("privateIPv4Address") {
                None => Err(format!("network interface {eni} has no private IP yet")),
                Some(text) => text.parse::<Ipv4Addr>().map_err(|_| {
                    format!("network interface {eni} reports `{text}`, not an IPv4 address")
                }),
            });
        }
        Ok(match self.interfaces.describe(&eni).await? {
            None => Err(format!("network interface {eni} is not visible yet")),
            Some(NetworkInterface {
                public_ip: Some(ip),
                ..
            }) => Ok(ip),
            Some(_) => Err(format!(
                "network interface {eni} has no public IP (is assign_public_ip on, in a \
                 public subnet?)"
            )),
        })
    }

    async fn health_check(&self, id: &EnvId, ip: Ipv4Addr) -> Result<(), AwsError> {
        let s = &self.settings;
        if s.health_paths.is_empty() || s.health_attempts == 0 {
            return Ok(());
        }
        let addr = SocketAddr::new(ip.into(), s.container_port);
        for attempt in 1..=s.health_attempts {
            for path in &s.health_paths {
                if (self.health)(addr, path.as_str()).await {
                    self.progress(id, format!("http://{addr}{path} answers"));
                    return Ok(());
                }
            }
            self.progress(
                id,
                format!(
                    "health check {attempt} of {}: http://{addr} does not answer {} yet",
                    s.health_attempts,
                    s.health_paths.join(" or ")
                ),
            );
            if attempt < s.health_attempts {
                tokio::time::sleep(s.health_interval).await;
            }
        }
        Err(AwsError::Unhealthy {
            service: Self::service_name(id),
            reason: format!(
                "http://{addr} answered none of {} with 2xx or 3xx in {} attempts over {}. \
                 Fix: read the task's logs (CloudWatch) for a crash or a slow start, check \
                 that the security groups admit port {} from here and that the application \
                 listens on it",
                s.health_paths.join(", "),
                s.health_attempts,
                human(s.health_interval * s.health_attempts.saturating_sub(1)),
                s.container_port
            ),
        })
    }
}

pub(super) fn primary(service: &Service) -> Option<&aws_sdk_ecs::types::Deployment> {
    service
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
}

/// Where the service's rollout stands.
pub(super) fn rollout(service: &Service) -> Rollout {
    let Some(primary) = primary(service) else {
        return Rollout::Pending("no deployment yet".to_owned());
    };
    let (running, desired) = (primary.running_count(), primary.desired_count());
    let state = primary.rollout_state();
    if state == Some(&DeploymentRolloutState::Failed) {
        let mut reason = primary
            .rollout_state_reason()
            .unwrap_or("ECS stopped the rollout")
            .to_owned();
        if let Some(event) = service.events().first().and_then(|e| e.message()) {
            reason.push_str(&format!(" (latest event: {event})"));
        }
        return Rollout::Failed(reason);
    }
    let steady = desired > 0 && running == desired;
    let ready = match state {
        Some(DeploymentRolloutState::Completed) => steady,
        None => steady && service.deployments().len() == 1,
        Some(_) => false,
    };
    if ready {
        Rollout::Ready
    } else {
        Rollout::Pending(format!(
            "{running} of {desired} tasks running, {} pending, rollout {}",
            primary.pending_count(),
            state.map(|s| s.as_str()).unwrap_or("in progress")
        ))
    }
}

impl EcsBackend {
    /// Sleep or wake: the service's desired count set to `desired` (0 or
    /// 1), when it is not already; see
    /// [`Backend::sleep`](showtime_core::ports::Backend::sleep).
    pub(super) async fn scale(&self, id: &EnvId, desired: i32) -> Result<(), AwsError> {
        let service = self.managed_service(id).await?;
        if service.desired_count() == desired {
            return Ok(());
        }
        self.ecs
            .update_service()
            .cluster(&self.settings.cluster)
            .service(Self::service_name(id))
            .desired_count(desired)
            .send()
            .await
            .map_err(|e| self.sdk("ecs:UpdateService", e))?;
        let what = if desired == 0 { "asleep" } else { "waking" };
        self.progress(id, format!("desired count {desired}: {what}"));
        Ok(())
    }
}
