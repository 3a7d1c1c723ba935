//! [`EcsBackend`], the [`Backend`] port on ECS Fargate, ECR and EC2: the type,
//! its construction, and the dispatch of each port call to its flow (one a
//! file: deploy, readiness, destroy, list). It must not hold a flow's steps.
//!
//! EC2 is called once, for a task's public address, through [`Interfaces`].
//! The backend makes the AWS calls of each flow in the order documented on
//! it. It decides what is Showtime's (tag `showtime_managed=true` *and* a
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
//! | `apply_config` | DescribeServices, DescribeTaskDefinition, RegisterTaskDefinition, UpdateService, TagResource (the configuration's tag; +1 UntagResource when it shrank out of a continuation tag), then `wait_ready` = 9 at best |
//! | `destroy` | DescribeServices, DeleteService, ListTaskDefinitions, DeregisterTaskDefinition × revisions, ecr:BatchDeleteImage = 5 with one revision |
//! | `sleep` / `wake` | DescribeServices, UpdateService (desiredCount 0 / 1) = 2 (1 when already so); a wake then `wait_ready` |
//! | `list` | ListServices × ⌈N/100⌉, DescribeServices × ⌈M/10⌉, M being the services whose *name* is Showtime's |

mod crashes;
mod deploy;
mod destroy;
mod list;
mod ready;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types::{Service, ServiceField};
use aws_types::SdkConfig;
use aws_types::region::Region;
use futures_util::future::BoxFuture;
use showtime_core::ports::{Backend, EnvId, EnvInfo, EnvSpec, PortError};
use showtime_core::{Address, Config, PrNumber};

use crate::ec2::{Ec2Client, Interfaces, NetworkInterface};
use crate::ecr::EcrRegistry;
use crate::error::{self, AwsError, OPERATION_TIMEOUT};
use crate::health::{self, HealthCheck};
use crate::settings::EcsSettings;

pub use list::{
    CONFIG_TAG, CREATED_TAG, EXPIRES_TAG, MANAGED_TAG, PR_TAG, REQUESTED_BY_TAG, SHA_TAG,
};

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

    /// ECR through this backend's client, for an image builder to ask
    /// whether an image is already there ([`EcrRegistry`]).
    pub fn registry(&self) -> EcrRegistry {
        EcrRegistry::new(self.ecr.clone())
    }

    /// The settings in use.
    pub fn settings(&self) -> &EcsSettings {
        &self.settings
    }

    /// The ECS service name of an environment: `pr-{n}-{sha7}-service`.
    pub fn service_name(id: &EnvId) -> String {
        format!("{}-service", id.name())
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

    pub(super) fn progress(&self, env: &EnvId, message: impl Into<String>) {
        if let Some(report) = &self.report {
            report(&Progress {
                env: env.clone(),
                message: message.into(),
            });
        }
    }

    pub(super) fn sdk<E>(&self, operation: &str, err: SdkError<E>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        error::from_sdk(operation, &self.settings.cluster, err)
    }

    /// One DescribeServices of the environment's service (tags included);
    /// `None` when ECS does not know it.
    pub(super) async fn describe(&self, id: &EnvId) -> Result<Option<Service>, AwsError> {
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
    pub(super) async fn managed_service(&self, id: &EnvId) -> Result<Service, AwsError> {
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

    /// The refusal to touch a same-named service that is not Showtime's.
    pub(super) fn not_managed(&self, id: &EnvId) -> AwsError {
        AwsError::NotManaged {
            service: Self::service_name(id),
            cluster: self.settings.cluster.clone(),
        }
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

    fn can_sleep(&self) -> bool {
        true
    }

    /// `UpdateService desiredCount=0` (after DescribeServices: 2 calls, 1
    /// when it already sleeps): the service, its task definition and its
    /// tags stay, and no task runs or costs. Listed as asleep.
    async fn sleep(&self, id: &EnvId) -> Result<(), PortError> {
        self.scale(id, 0).await.map_err(PortError::from)
    }

    /// `UpdateService desiredCount=1` (after DescribeServices: 2 calls);
    /// the new task gets a new address, which `wait_ready` finds as after
    /// a deploy.
    async fn wake(&self, id: &EnvId) -> Result<(), PortError> {
        self.scale(id, 1).await.map_err(PortError::from)
    }

    /// Showtime's services in the cluster (optionally of one PR), with the
    /// configuration recorded in their [`CONFIG_TAG`] tags (written at
    /// deploy and by `apply_config`); the address is `None`.
    async fn list(&self, pr: Option<PrNumber>) -> Result<Vec<EnvInfo>, PortError> {
        self.environments(pr).await.map_err(PortError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
