//! [`EcsBackend`]: the [`Backend`] port on ECS Fargate, ECR and EC2 (one call, through [`Interfaces`]).
//!
//! This module owns the flows — deploy, readiness, configuration change,
//! destroy, list — and the AWS calls they make, in the order documented on
//! each. It decides what is Showtime's (tag `showtime_managed=true` *and* a
//! name of the form `pr-{n}-{sha7}-service`) and never changes anything
//! else. It must not block on real time in tests (waits use `tokio::time`,
//! which tests pause) and must not build HTTP clients beyond the SDK's and
//! the tiny health check of [`crate::health`].
//!
//! # AWS calls per operation
//!
//! | operation | calls |
//! | --- | --- |
//! | `deploy` (new) | DescribeServices, RegisterTaskDefinition, CreateService = 3 (+1 DescribeServices per poll while a same-named service drains) |
//! | `deploy` (exists) | DescribeServices = 1 |
//! | `wait_ready` | DescribeServices × polls until the rollout completes, then ListTasks, DescribeTasks, ec2:DescribeNetworkInterfaces for a public address (again per poll until the task has an address) = 4 at best, 3 with private addresses |
//! | `apply_config` | DescribeServices, DescribeTaskDefinition, RegisterTaskDefinition, UpdateService, then `wait_ready` = 8 at best |
//! | `destroy` | DescribeServices, DeleteService, ListTaskDefinitions, DeregisterTaskDefinition × revisions, ecr:BatchDeleteImage = 5 with one revision |
//! | `list` | ListServices × ⌈N/100⌉, DescribeServices × ⌈M/10⌉, M being the services whose *name* is Showtime's |

use std::net::{Ipv4Addr, SocketAddr};
use std::num::NonZeroU16;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, DeploymentCircuitBreaker,
    DeploymentConfiguration, DeploymentRolloutState, DesiredStatus, LaunchType,
    NetworkConfiguration, PropagateTags, Service, ServiceField, Tag, TaskDefinitionField,
    TaskDefinitionStatus,
};
use aws_types::SdkConfig;
use aws_types::region::Region;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::future::BoxFuture;
use showtime_core::ports::{Backend, EnvId, EnvInfo, EnvSpec, Health, PortError};
use showtime_core::{Address, Config, Login, PrNumber};
use tokio::time::Instant;

use crate::ec2::{Ec2Client, Interfaces, NetworkInterface};
use crate::error::{self, AwsError, OPERATION_TIMEOUT, human};
use crate::health::{self, HealthCheck};
use crate::settings::{AddressKind, Capacity, EcsSettings, Size};
use crate::template::{self, TaskDraft, Vars};

/// The tag that marks a resource as Showtime's (value `true`).
pub const MANAGED_TAG: &str = "showtime_managed";
/// The tag with the PR number.
pub const PR_TAG: &str = "showtime_pr";
/// The tag with the full commit SHA.
pub const SHA_TAG: &str = "showtime_sha";
/// The tag with who asked for the environment (`name[bot]` is written
/// `name@bot`: ECS tag values do not allow brackets).
pub const REQUESTED_BY_TAG: &str = "showtime_requested_by";
/// The tag with the creation time (RFC 3339, UTC).
pub const CREATED_TAG: &str = "showtime_created";
/// The tag with the expiry time (RFC 3339, UTC), absent without a TTL.
pub const EXPIRES_TAG: &str = "showtime_expires";

/// A progress report while the backend waits (for a draining service, a
/// rollout, an address, a health check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The environment concerned.
    pub env: EnvId,
    /// What is happening, for a person.
    pub message: String,
}

type Report = Arc<dyn Fn(&Progress) + Send + Sync>;

/// The ECS Fargate backend.
///
/// Each environment is one ECS service `pr-{n}-{sha7}-service` in the
/// configured cluster, running one task of task definition family
/// `pr-{n}-{sha7}`, tagged `showtime_managed=true`. See the module
/// documentation for the AWS calls each operation makes.
#[derive(Clone)]
pub struct EcsBackend {
    ecs: aws_sdk_ecs::Client,
    ecr: aws_sdk_ecr::Client,
    interfaces: Arc<dyn Interfaces>,
    settings: EcsSettings,
    report: Option<Report>,
    health: HealthCheck,
}

impl std::fmt::Debug for EcsBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcsBackend")
            .field("settings", &self.settings)
            .field("progress", &self.report.is_some())
            .finish_non_exhaustive()
    }
}

/// The SDK's retries: standard mode (exponential backoff with jitter,
/// throttling and 5xx retried), 5 attempts in all.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(5)
}

/// The SDK's timeouts: 10 s to connect, 30 s per attempt, 2 minutes per
/// call with its retries.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(10))
        .operation_attempt_timeout(Duration::from_secs(30))
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The interface lookup of [`EcsBackend::from_clients`]: none.
struct NoInterfaces;

#[async_trait]
impl Interfaces for NoInterfaces {
    async fn describe(&self, _id: &str) -> Result<Option<NetworkInterface>, AwsError> {
        Err(AwsError::Setting {
            name: "address".into(),
            message: "a public address needs EC2's DescribeNetworkInterfaces, and this \
                      backend was built without an interface lookup. Build it with \
                      EcsBackend::from_sdk_config, or give one with \
                      EcsBackend::with_interfaces, or use private addresses \
                      (SHOWTIME_ECS_ADDRESS=private)"
                .into(),
        })
    }
}

enum Rollout {
    Ready,
    Failed(String),
    Pending(String),
}

impl EcsBackend {
    /// A backend on the default AWS configuration: the credential chain,
    /// `AWS_REGION`, `AWS_ENDPOINT_URL` and profiles as the AWS CLI reads
    /// them, with `settings.region` overriding the region. HTTPS is rustls
    /// with ring.
    ///
    /// Fails only when no region is configured at all.
    pub async fn from_env(settings: EcsSettings) -> Result<Self, AwsError> {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .retry_config(retry_config())
            .timeout_config(timeout_config());
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let config = loader.load().await;
        Self::from_sdk_config(&config, settings)
    }

    /// A backend on an SDK configuration, with this crate's retry
    /// ([`retry_config`]) and timeout ([`timeout_config`]) settings and
    /// `settings.region`, when set, overriding the configuration's region.
    ///
    /// Fails only when no region is configured at all.
    pub fn from_sdk_config(config: &SdkConfig, settings: EcsSettings) -> Result<Self, AwsError> {
        let interfaces = Ec2Client::from_sdk_config(config, settings.region.as_deref())?;
        let region = settings.region.clone().map(Region::new);
        let ecs = aws_sdk_ecs::config::Builder::from(config)
            .retry_config(retry_config())
            .timeout_config(timeout_config());
        let ecr = aws_sdk_ecr::config::Builder::from(config)
            .retry_config(retry_config())
            .timeout_config(timeout_config());
        let (ecs, ecr) = match region {
            Some(r) => (ecs.region(r.clone()), ecr.region(r)),
            None => (ecs, ecr),
        };
        Ok(Self::from_clients(
            aws_sdk_ecs::Client::from_conf(ecs.build()),
            aws_sdk_ecr::Client::from_conf(ecr.build()),
            settings,
        )
        .with_interfaces(interfaces))
    }

    /// A backend on ready-made clients, used as they are (tests give clients
    /// with canned answers). Until [`EcsBackend::with_interfaces`] says
    /// otherwise, it has no way to look up network interfaces, so it can
    /// report only private addresses (from ECS) and public ones fail.
    pub fn from_clients(
        ecs: aws_sdk_ecs::Client,
        ecr: aws_sdk_ecr::Client,
        settings: EcsSettings,
    ) -> Self {
        EcsBackend {
            ecs,
            ecr,
            interfaces: Arc::new(NoInterfaces),
            settings,
            report: None,
            health: health::default_check(),
        }
    }

    /// Looks up task network interfaces (for their public IP) with
    /// `interfaces` — by default, in [`EcsBackend::from_sdk_config`], an
    /// [`Ec2Client`].
    pub fn with_interfaces(mut self, interfaces: impl Interfaces + 'static) -> Self {
        self.interfaces = Arc::new(interfaces);
        self
    }

    /// Reports progress through `report` while waiting.
    pub fn with_progress(mut self, report: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.report = Some(Arc::new(report));
        self
    }

    /// Replaces the HTTP health check (by default
    /// [`health::http_get_ok`] with a 5-second timeout): `check(addr, path)`
    /// says whether `path` answers on `addr`.
    pub fn with_health_check(
        mut self,
        check: impl Fn(SocketAddr, &str) -> BoxFuture<'static, bool> + Send + Sync + 'static,
    ) -> Self {
        self.health = Arc::new(check);
        self
    }

    /// The settings in use.
    pub fn settings(&self) -> &EcsSettings {
        &self.settings
    }

    /// The ECS service name of an environment: `pr-{n}-{sha7}-service`.
    pub fn service_name(id: &EnvId) -> String {
        format!("{}-service", id.name())
    }

    /// Reads a service name of the form `pr-{n}-{sha7}-service` exactly;
    /// anything else is not Showtime's.
    pub fn parse_service_name(name: &str) -> Option<EnvId> {
        let base = name.strip_suffix("-service")?;
        EnvId::parse_name(base).filter(|id| id.name() == base)
    }

    /// The task definition family of an environment: `pr-{n}-{sha7}`.
    pub fn family(id: &EnvId) -> String {
        id.name()
    }

    /// The image for `spec` when it names none, from
    /// [`EcsSettings::image_template`].
    pub fn default_image(&self, spec: &EnvSpec) -> String {
        self.settings.image(&spec.id, &spec.sha)
    }

    /// Whether a described service is Showtime's: tagged
    /// `showtime_managed=true` and named `pr-{n}-{sha7}-service`.
    pub fn is_managed(service: &Service) -> bool {
        service
            .service_name()
            .and_then(Self::parse_service_name)
            .is_some()
            && tag(service.tags(), MANAGED_TAG) == Some("true")
    }

    fn progress(&self, env: &EnvId, message: impl Into<String>) {
        if let Some(report) = &self.report {
            report(&Progress {
                env: env.clone(),
                message: message.into(),
            });
        }
    }

    fn sdk<E>(&self, operation: &str, err: SdkError<E>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        error::from_sdk(operation, &self.settings.cluster, err)
    }

    fn size_of(&self, config: &Config) -> Result<Size, AwsError> {
        match &config.size {
            Some(size) => self.settings.size(size.as_str()),
            None => self
                .settings
                .sizes
                .get(&self.settings.default_size)
                .copied()
                .ok_or_else(|| AwsError::Setting {
                    name: "default_size".to_owned(),
                    message: format!(
                        "the default size `{}` is not in the size table ({}); name one of them",
                        self.settings.default_size,
                        self.settings.size_names()
                    ),
                }),
        }
    }

    fn template_text(&self) -> &str {
        self.settings
            .task_definition_template
            .as_deref()
            .unwrap_or(template::DEFAULT_TEMPLATE)
    }

    fn vars(&self, id: &EnvId, sha: &str) -> Vars {
        Vars {
            region: self.ecs.config().region().map(|r| r.to_string()),
            cluster: self.settings.cluster.clone(),
            name: id.name(),
            pr: id.pr.to_string(),
            sha: sha.to_owned(),
            sha7: id.sha.to_string(),
            port: self.settings.container_port,
        }
    }

    /// One DescribeServices of the environment's service (tags included);
    /// `None` when ECS does not know it.
    async fn describe(&self, id: &EnvId) -> Result<Option<Service>, AwsError> {
        let name = Self::service_name(id);
        let out = self
            .ecs
            .describe_services()
            .cluster(&self.settings.cluster)
            .services(&name)
            .include(ServiceField::Tags)
            .send()
            .await
            .map_err(|e| self.sdk("ecs:DescribeServices", e))?;
        Ok(out
            .services()
            .iter()
            .find(|s| s.service_name() == Some(name.as_str()))
            .cloned())
    }

    /// The environment's service when it is active and Showtime's;
    /// [`AwsError::NotFound`] or [`AwsError::NotManaged`] otherwise.
    async fn managed_service(&self, id: &EnvId) -> Result<Service, AwsError> {
        let service = self
            .describe(id)
            .await?
            .filter(|s| s.status() == Some("ACTIVE"))
            .ok_or_else(|| AwsError::NotFound {
                service: Self::service_name(id),
                cluster: self.settings.cluster.clone(),
            })?;
        if !Self::is_managed(&service) {
            return Err(self.not_managed(id));
        }
        Ok(service)
    }

    fn not_managed(&self, id: &EnvId) -> AwsError {
        AwsError::NotManaged {
            service: Self::service_name(id),
            cluster: self.settings.cluster.clone(),
        }
    }

    /// Describes the service until it is not DRAINING, for at most
    /// `draining_timeout`.
    async fn describe_after_draining(&self, id: &EnvId) -> Result<Option<Service>, AwsError> {
        let started = Instant::now();
        let timeout = self.settings.draining_timeout;
        loop {
            let service = self.describe(id).await?;
            match service {
                Some(s) if s.status() == Some("DRAINING") => {
                    let waited = started.elapsed();
                    if waited >= timeout {
                        return Err(AwsError::Draining {
                            service: Self::service_name(id),
                            waited,
                        });
                    }
                    self.progress(
                        id,
                        format!(
                            "the previous service {} is still being deleted (DRAINING); \
                             waiting ({} of at most {})",
                            Self::service_name(id),
                            human(waited),
                            human(timeout)
                        ),
                    );
                    tokio::time::sleep(self.settings.poll_interval.min(timeout - waited)).await;
                }
                other => return Ok(other),
            }
        }
    }

    fn showtime_tags(spec: &EnvSpec) -> Vec<Tag> {
        let mut tags = vec![
            new_tag(MANAGED_TAG, "true"),
            new_tag(PR_TAG, &spec.id.pr.to_string()),
            new_tag(SHA_TAG, spec.sha.as_str()),
            new_tag(CREATED_TAG, &rfc3339(spec.created_at)),
        ];
        if let Some(login) = &spec.requested_by {
            tags.push(new_tag(REQUESTED_BY_TAG, &encode_login(login)));
        }
        if let Some(expires) = spec.expires_at {
            tags.push(new_tag(EXPIRES_TAG, &rfc3339(expires)));
        }
        tags
    }

    /// The task definition of a new environment, from the template.
    fn deploy_draft(&self, spec: &EnvSpec, size: Size) -> Result<TaskDraft, AwsError> {
        let vars = self.vars(&spec.id, spec.sha.as_str());
        let mut draft = template::parse(self.template_text(), &vars)?;
        draft.set_size(size);
        let image = if spec.image.trim().is_empty() {
            self.default_image(spec)
        } else {
            spec.image.clone()
        };
        let container = draft.container_mut(self.settings.container_name.as_deref())?;
        container.image = Some(image);
        let base = container.environment().to_vec();
        template::apply_config(container, base, &spec.config, &self.settings.feature_prefix);
        template::ensure_port(container, self.settings.container_port);
        let ours = Self::showtime_tags(spec);
        let mut tags: Vec<Tag> = draft
            .tags
            .iter()
            .filter(|t| !ours.iter().any(|o| o.key() == t.key()))
            .cloned()
            .collect();
        tags.extend(ours);
        draft.tags = tags;
        Ok(draft)
    }

    async fn register(&self, draft: TaskDraft, family: &str) -> Result<String, AwsError> {
        let out = draft
            .request(&self.ecs, family)
            .send()
            .await
            .map_err(|e| self.sdk("ecs:RegisterTaskDefinition", e))?;
        out.task_definition()
            .and_then(|td| td.task_definition_arn())
            .map(str::to_owned)
            .ok_or_else(|| AwsError::Sdk {
                operation: "ecs:RegisterTaskDefinition".to_owned(),
                message: "the answer carries no task definition ARN".to_owned(),
                transient: true,
            })
    }

    async fn create_service(&self, spec: &EnvSpec, task_definition: &str) -> Result<(), AwsError> {
        let s = &self.settings;
        let vpc = AwsVpcConfiguration::builder()
            .set_subnets(Some(s.subnets.clone()))
            .set_security_groups(if s.security_groups.is_empty() {
                None
            } else {
                Some(s.security_groups.clone())
            })
            .assign_public_ip(if s.assign_public_ip {
                AssignPublicIp::Enabled
            } else {
                AssignPublicIp::Disabled
            })
            .build()
            .map_err(|e| AwsError::Setting {
                name: "SHOWTIME_ECS_SUBNETS".to_owned(),
                message: e.to_string(),
            })?;
        // The circuit breaker turns tasks that keep failing into a FAILED
        // rollout instead of retrying forever; nothing to roll back to.
        let breaker = DeploymentCircuitBreaker::builder()
            .enable(true)
            .rollback(false)
            .build();
        let mut request = self
            .ecs
            .create_service()
            .cluster(&s.cluster)
            .service_name(Self::service_name(&spec.id))
            .task_definition(task_definition)
            .desired_count(1)
            .network_configuration(
                NetworkConfiguration::builder()
                    .awsvpc_configuration(vpc)
                    .build(),
            )
            .deployment_configuration(
                DeploymentConfiguration::builder()
                    .deployment_circuit_breaker(breaker)
                    .build(),
            )
            .propagate_tags(PropagateTags::Service)
            .enable_ecs_managed_tags(true)
            .set_tags(Some(Self::showtime_tags(spec)));
        request = match s.capacity {
            Capacity::Fargate => request.launch_type(LaunchType::Fargate),
            Capacity::FargateSpot => request.capacity_provider_strategy(
                CapacityProviderStrategyItem::builder()
                    .capacity_provider("FARGATE_SPOT")
                    .weight(1)
                    .build()
                    .map_err(|e| AwsError::Setting {
                        name: "SHOWTIME_ECS_CAPACITY".to_owned(),
                        message: e.to_string(),
                    })?,
            ),
        };
        request
            .send()
            .await
            .map_err(|e| self.sdk("ecs:CreateService", e))?;
        Ok(())
    }

    /// Deploy: see [`Backend::deploy`].
    async fn deploy_env(&self, spec: &EnvSpec) -> Result<(), AwsError> {
        let id = &spec.id;
        if self.settings.subnets.is_empty() {
            return Err(AwsError::Setting {
                name: "SHOWTIME_ECS_SUBNETS".to_owned(),
                message: "no subnets configured: set it to the comma-separated subnet IDs the \
                          tasks run in (public subnets for public addresses)"
                    .to_owned(),
            });
        }
        let size = self.size_of(&spec.config)?;
        let draft = self.deploy_draft(spec, size)?;
        if let Some(existing) = self.describe_after_draining(id).await? {
            if existing.status() == Some("ACTIVE") {
                if Self::is_managed(&existing) {
                    self.progress(id, "the service already exists; nothing to create");
                    return Ok(());
                }
                return Err(self.not_managed(id));
            }
        }
        let arn = self.register(draft, &Self::family(id)).await?;
        self.create_service(spec, &arn).await?;
        self.progress(
            id,
            format!(
                "created service {} in cluster {} ({arn})",
                Self::service_name(id),
                self.settings.cluster
            ),
        );
        Ok(())
    }

    /// Readiness: see [`Backend::wait_ready`].
    async fn ready(&self, id: &EnvId) -> Result<Address, AwsError> {
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

    /// The IP of the service's running task, or why there is none yet.
    async fn task_ip(&self, service: &Service) -> Result<Result<Ipv4Addr, String>, AwsError> {
        let name = service.service_name().unwrap_or_default();
        let listed = self
            .ecs
            .list_tasks()
            .cluster(&self.settings.cluster)
            .service_name(name)
            .desired_status(DesiredStatus::Running)
            .send()
            .await
            .map_err(|e| self.sdk("ecs:ListTasks", e))?;
        if listed.task_arns().is_empty() {
            return Ok(Err("no running task is listed yet".to_owned()));
        }
        let described = self
            .ecs
            .describe_tasks()
            .cluster(&self.settings.cluster)
            .set_tasks(Some(listed.task_arns().iter().take(100).cloned().collect()))
            .send()
            .await
            .map_err(|e| self.sdk("ecs:DescribeTasks", e))?;
        let primary_td = primary(service).and_then(|d| d.task_definition());
        let running = |t: &&aws_sdk_ecs::types::Task| t.last_status() == Some("RUNNING");
        let task = described
            .tasks()
            .iter()
            .filter(running)
            .find(|t| primary_td.is_none() || t.task_definition_arn() == primary_td)
            .or_else(|| described.tasks().iter().find(running));
        let Some(task) = task else {
            let states: Vec<&str> = described
                .tasks()
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

    /// Configuration change: see [`Backend::apply_config`].
    async fn reconfigure(&self, id: &EnvId, config: &Config) -> Result<(), AwsError> {
        let size = self.size_of(config)?;
        let service = self.managed_service(id).await?;
        let current = service
            .task_definition()
            .ok_or_else(|| AwsError::Sdk {
                operation: "ecs:DescribeServices".to_owned(),
                message: format!("service {} has no task definition", Self::service_name(id)),
                transient: false,
            })?
            .to_owned();
        let described = self
            .ecs
            .describe_task_definition()
            .task_definition(&current)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|e| self.sdk("ecs:DescribeTaskDefinition", e))?;
        let Some(td) = described.task_definition() else {
            return Err(AwsError::Sdk {
                operation: "ecs:DescribeTaskDefinition".to_owned(),
                message: format!("no task definition in the answer for {current}"),
                transient: true,
            });
        };
        let mut draft = TaskDraft::from_existing(td, described.tags());
        draft.set_size(size);

        // The template's own values of the variables a configuration sets,
        // to restore what the previous configuration changed.
        let sha = tag(service.tags(), SHA_TAG)
            .unwrap_or(id.sha.as_str())
            .to_owned();
        let template_draft = template::parse(self.template_text(), &self.vars(id, &sha))?;
        let container_name = self.settings.container_name.as_deref();
        let template_env = {
            let mut t = template_draft;
            t.container_mut(container_name)
                .map(|c| c.environment().to_vec())
                .unwrap_or_default()
        };
        let prefix = &self.settings.feature_prefix;
        let container = draft.container_mut(container_name)?;
        let base = template::reset_config_env(container.environment(), &template_env, prefix);
        template::apply_config(container, base, config, prefix);

        let family = td
            .family()
            .map(str::to_owned)
            .unwrap_or_else(|| Self::family(id));
        let arn = self.register(draft, &family).await?;
        self.ecs
            .update_service()
            .cluster(&self.settings.cluster)
            .service(Self::service_name(id))
            .task_definition(&arn)
            .force_new_deployment(true)
            .send()
            .await
            .map_err(|e| self.sdk("ecs:UpdateService", e))?;
        self.progress(id, format!("deploying the new configuration ({arn})"));
        self.ready(id).await.map(|_| ())
    }

    /// Destroy: see [`Backend::destroy`].
    async fn remove(&self, id: &EnvId) -> Result<(), AwsError> {
        let name = Self::service_name(id);
        if let Some(service) = self.describe(id).await? {
            let status = service.status().unwrap_or_default();
            if status != "INACTIVE" && !Self::is_managed(&service) {
                return Err(self.not_managed(id));
            }
            if status == "ACTIVE" {
                match self
                    .ecs
                    .delete_service()
                    .cluster(&self.settings.cluster)
                    .service(&name)
                    .force(true)
                    .send()
                    .await
                {
                    Ok(_) => self.progress(id, format!("deleting service {name}")),
                    Err(e)
                        if matches!(
                            error::code(&e),
                            Some("ServiceNotFoundException" | "ServiceNotActiveException")
                        ) => {}
                    Err(e) => return Err(self.sdk("ecs:DeleteService", e)),
                }
            }
        }
        self.deregister_family(id).await?;
        self.delete_image(id).await
    }

    async fn deregister_family(&self, id: &EnvId) -> Result<(), AwsError> {
        let family = Self::family(id);
        let mut arns = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .ecs
                .list_task_definitions()
                .family_prefix(&family)
                .status(TaskDefinitionStatus::Active)
                .max_results(100)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| self.sdk("ecs:ListTaskDefinitions", e))?;
            arns.extend(
                out.task_definition_arns()
                    .iter()
                    .filter(|arn| family_of(arn) == Some(family.as_str()))
                    .cloned(),
            );
            token = out.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        for arn in arns {
            match self
                .ecs
                .deregister_task_definition()
                .task_definition(&arn)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if gone(&e) => {}
                Err(e) => return Err(self.sdk("ecs:DeregisterTaskDefinition", e)),
            }
        }
        Ok(())
    }

    async fn delete_image(&self, id: &EnvId) -> Result<(), AwsError> {
        let operation = "ecr:BatchDeleteImage";
        let out = match self
            .ecr
            .batch_delete_image()
            .repository_name(&self.settings.ecr_repository)
            .image_ids(
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_tag(id.image_tag())
                    .build(),
            )
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if matches!(
                    error::code(&e),
                    Some("RepositoryNotFoundException" | "ImageNotFoundException")
                ) =>
            {
                return Ok(());
            }
            Err(e) => return Err(self.sdk(operation, e)),
        };
        use aws_sdk_ecr::types::ImageFailureCode as Code;
        for failure in out.failures() {
            let code = failure.failure_code();
            if matches!(code, Some(Code::ImageNotFound) | None) {
                continue;
            }
            let transient = matches!(
                code,
                Some(Code::UpstreamTooManyRequests | Code::UpstreamUnavailable | Code::KmsError)
            );
            return Err(AwsError::Sdk {
                operation: operation.to_owned(),
                message: format!(
                    "image {}:{} was not deleted: {} ({})",
                    self.settings.ecr_repository,
                    id.image_tag(),
                    failure.failure_reason().unwrap_or("no reason given"),
                    code.map(|c| c.as_str()).unwrap_or_default()
                ),
                transient,
            });
        }
        Ok(())
    }

    /// List: see [`Backend::list`].
    async fn environments(&self, pr: Option<PrNumber>) -> Result<Vec<EnvInfo>, AwsError> {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .ecs
                .list_services()
                .cluster(&self.settings.cluster)
                .max_results(100)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| self.sdk("ecs:ListServices", e))?;
            for arn in out.service_arns() {
                let name = arn.rsplit('/').next().unwrap_or(arn);
                if let Some(id) = Self::parse_service_name(name) {
                    if pr.is_none_or(|pr| pr == id.pr) {
                        names.push(name.to_owned());
                    }
                }
            }
            token = out.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        let mut envs = Vec::new();
        for chunk in names.chunks(10) {
            let out = self
                .ecs
                .describe_services()
                .cluster(&self.settings.cluster)
                .set_services(Some(chunk.to_vec()))
                .include(ServiceField::Tags)
                .send()
                .await
                .map_err(|e| self.sdk("ecs:DescribeServices", e))?;
            for service in out.services() {
                if service.status() != Some("ACTIVE") || !Self::is_managed(service) {
                    continue;
                }
                if let Some(info) = env_info(service) {
                    envs.push(info);
                }
            }
        }
        envs.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(envs)
    }
}

#[async_trait]
impl Backend for EcsBackend {
    /// Registers the task definition `pr-{n}-{sha7}` from the template and
    /// creates the service; a Showtime service of that name that is already
    /// ACTIVE is success (1 call). A same-named service still DRAINING is
    /// waited out first, for at most `draining_timeout`.
    async fn deploy(&self, spec: &EnvSpec) -> Result<(), PortError> {
        self.deploy_env(spec).await.map_err(PortError::from)
    }

    /// Polls until the primary deployment has completed with its tasks
    /// running, finds the task's address, then health-checks it over HTTP.
    /// Not being ready within `ready_timeout`, a failed rollout, or no
    /// answer to the health check is permanent (the engine should not wait
    /// that long again).
    async fn wait_ready(&self, id: &EnvId) -> Result<Address, PortError> {
        self.ready(id).await.map_err(PortError::from)
    }

    /// Registers a new revision of the running task definition with the
    /// configuration's variables and size (same image), updates the service
    /// to it, and waits as [`wait_ready`](Backend::wait_ready) does,
    /// health check included.
    async fn apply_config(&self, id: &EnvId, config: &Config) -> Result<(), PortError> {
        self.reconfigure(id, config).await.map_err(PortError::from)
    }

    /// Deletes the service (forced), deregisters every revision of family
    /// `pr-{n}-{sha7}` and deletes the image tag `pr-{n}-{sha7}-ci` from the
    /// ECR repository. What is already gone counts as done; a same-named
    /// service that is not Showtime's is refused untouched.
    async fn destroy(&self, id: &EnvId) -> Result<(), PortError> {
        self.remove(id).await.map_err(PortError::from)
    }

    /// Showtime's services in the cluster (optionally of one PR). The
    /// configuration is not read back (one more call per service): it is
    /// [`Config::default`]; the address is `None`.
    async fn list(&self, pr: Option<PrNumber>) -> Result<Vec<EnvInfo>, PortError> {
        self.environments(pr).await.map_err(PortError::from)
    }
}

fn new_tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

fn tag<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `name[bot]` → `name@bot`: ECS tag values allow `@` but not brackets.
fn encode_login(login: &Login) -> String {
    match login.as_str().strip_suffix("[bot]") {
        Some(name) => format!("{name}@bot"),
        None => login.as_str().to_owned(),
    }
}

fn decode_login(text: &str) -> Option<Login> {
    match text.strip_suffix("@bot") {
        Some(name) => format!("{name}[bot]").parse().ok(),
        None => text.parse().ok(),
    }
}

/// The family of a task definition ARN
/// (`arn:aws:ecs:…:task-definition/{family}:{revision}`).
fn family_of(arn: &str) -> Option<&str> {
    let (left, _revision) = arn.rsplit_once(':')?;
    left.rsplit('/').next()
}

/// Whether a deregistration failed because the revision is already gone.
fn gone<E: ProvideErrorMetadata>(e: &SdkError<E>) -> bool {
    let message = e.message().unwrap_or_default().to_ascii_lowercase();
    matches!(
        e.code(),
        Some("ClientException" | "InvalidParameterException")
    ) && (message.contains("does not exist") || message.contains("inactive"))
}

fn primary(service: &Service) -> Option<&aws_sdk_ecs::types::Deployment> {
    service
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
}

/// Where the service's rollout stands.
fn rollout(service: &Service) -> Rollout {
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

fn env_info(service: &Service) -> Option<EnvInfo> {
    let id = EcsBackend::parse_service_name(service.service_name()?)?;
    let health = match rollout(service) {
        Rollout::Ready => Health::Healthy,
        Rollout::Failed(reason) => Health::Failed { reason },
        Rollout::Pending(_) => Health::Starting,
    };
    let created_at = tag(service.tags(), CREATED_TAG)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            service
                .created_at()
                .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()))
        })
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    Some(EnvInfo {
        id,
        health,
        address: None,
        created_at,
        requested_by: tag(service.tags(), REQUESTED_BY_TAG).and_then(decode_login),
        config: Config::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_parse_exactly() {
        let id = EnvId::parse_name("pr-42-abc123f").unwrap();
        assert_eq!(EcsBackend::service_name(&id), "pr-42-abc123f-service");
        assert_eq!(
            EcsBackend::parse_service_name("pr-42-abc123f-service"),
            Some(id)
        );
        for bad in [
            "pr-42-abc123f",
            "pr-42-abc123f-service-x",
            "pr-42-abc123f-svc",
            "pr-042-abc123f-service",
            "pr-+42-abc123f-service",
            "pr-42-abc123-service",
            "xpr-42-abc123f-service",
            "superset-ci-service",
        ] {
            assert!(EcsBackend::parse_service_name(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn logins_survive_tags() {
        for login in ["maxime", "dependabot[bot]"] {
            let login: Login = login.parse().unwrap();
            let encoded = encode_login(&login);
            assert!(!encoded.contains('['));
            assert_eq!(decode_login(&encoded), Some(login));
        }
    }

    /// The real HTTPS client (rustls with ring) and the SDK's retries, against
    /// a closed local port: unreachable AWS is a transient error.
    #[tokio::test(start_paused = true)]
    async fn unreachable_aws_is_transient() {
        use aws_sdk_ecs::config::{Credentials, SharedCredentialsProvider};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-west-2"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKID", "secret", None, None, "test",
            )))
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .http_client(http)
            .build();
        let settings = EcsSettings {
            region: Some("eu-west-1".to_owned()),
            ..EcsSettings::default()
        };
        let backend = EcsBackend::from_sdk_config(&config, settings).unwrap();
        assert_eq!(
            backend.ecs.config().region().map(|r| r.as_ref()),
            Some("eu-west-1"),
            "settings.region wins"
        );
        let err = backend.environments(None).await.unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert!(err.to_string().contains("ecs:ListServices"), "{err}");
    }

    #[test]
    fn families_of_arns() {
        assert_eq!(
            family_of("arn:aws:ecs:us-east-1:1:task-definition/pr-1-abc1234:12"),
            Some("pr-1-abc1234")
        );
        assert_eq!(family_of("pr-1-abc1234:3"), Some("pr-1-abc1234"));
    }
}
