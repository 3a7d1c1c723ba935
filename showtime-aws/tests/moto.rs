//! Integration tests of [`EcsBackend`] against moto, the AWS mock, on
//! 127.0.0.1: the real SDK clients, the real wire protocols (ECS and ECR
//! JSON, EC2 query/XML), an AWS that keeps state between calls. Nothing here
//! reaches real AWS, and no container runs.
//!
//! Each test starts its own `moto_server` ([`support::Moto`]) on a free
//! loopback port and stops it when done. `scripts/check` installs moto and
//! sets `SHOWTIME_MOTO_SERVER`; alone: `scripts/moto cargo test -p
//! showtime-aws --test moto`.
//!
//! What moto (5.2.5) does and does not do, and so what is checked here:
//!
//! * Services are created with `MOTO_ECS_SERVICE_RUNNING=1`, so a service's
//!   deployment reports 1 of 1 task running, rollout COMPLETED: `list`
//!   reports such environments healthy.
//! * moto starts no task for a service, and its `RunTask` of an `awsvpc`
//!   task fails (its network interface lacks `private_dns_name`), so no task
//!   with a network interface and an address can be had. `wait_ready`
//!   therefore cannot succeed here: these tests check that it gives up with
//!   a permanent error within its timeout (and that `apply_config`, which
//!   waits the same way, has changed the service first). The success path,
//!   address and HTTP health check included, is covered by the mock tests
//!   (`tests/mocks.rs`).
//! * The HTTP health check is replaced in every test by one that records its
//!   target and answers at once: no packet ever goes to a task's address.
//! * AWS requests are counted per operation through the SDK configuration
//!   ([`support::Moto::calls`]) and checked against the table in the
//!   backend's documentation.
//!
//! This file holds the moto fixture ([`Aws`]) and the helpers the tests
//! share; the tests are in `tests/moto/`, one file per operation.

#![allow(clippy::unwrap_used)]

#[path = "moto/apply_config.rs"]
mod apply_config;
#[path = "moto/deploy.rs"]
mod deploy;
#[path = "moto/destroy.rs"]
mod destroy;
#[path = "moto/ec2.rs"]
mod ec2;
#[path = "moto/list.rs"]
mod list;
#[path = "moto/registry.rs"]
mod registry;
#[path = "moto/secrets.rs"]
mod secrets;
mod support;
#[path = "moto/wait_ready.rs"]
mod wait_ready;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{
    AwsVpcConfiguration, Compatibility, ContainerDefinition, LaunchType, NetworkConfiguration,
    NetworkMode, Service, ServiceField, Tag, TaskDefinition, TaskDefinitionStatus,
};
use aws_types::SdkConfig;
use chrono::{DateTime, Utc};
use showtime_aws::{
    AddressKind, Ec2Client, EcrImage, EcsBackend, EcsSettings, Interfaces, MANAGED_TAG, Registry,
    Secrets,
};
use showtime_core::ports::{Backend, EnvId, EnvSpec, PortError};
use showtime_core::{Config, FeatureName, Login, PrNumber, Sha};
use support::Moto;

const CLUSTER: &str = "superset-ci";
const REPOSITORY: &str = "superset-ci";

/// One moto server with the cluster, the ECR repository and a network set
/// up, and the raw SDK clients to look behind the backend's back.
struct Aws {
    moto: Moto,
    config: SdkConfig,
    ecs: aws_sdk_ecs::Client,
    ecr: aws_sdk_ecr::Client,
    repository_uri: String,
    subnet: String,
    security_group: String,
    /// Where the stub health check was asked to look.
    probed: Arc<Mutex<Vec<(SocketAddr, String)>>>,
}

impl Aws {
    async fn start() -> Aws {
        let moto = Moto::start();
        let config = moto.sdk_config();
        let ecs = aws_sdk_ecs::Client::new(&config);
        let ecr = aws_sdk_ecr::Client::new(&config);
        let ec2 = Ec2Client::from_sdk_config(&config, None).unwrap();

        ecs.create_cluster()
            .cluster_name(CLUSTER)
            .send()
            .await
            .unwrap();
        let repository = ecr
            .create_repository()
            .repository_name(REPOSITORY)
            .send()
            .await
            .unwrap();
        let repository_uri = repository
            .repository()
            .and_then(|r| r.repository_uri())
            .unwrap()
            .to_owned();
        let vpc = ec2
            .call("CreateVpc", &[("CidrBlock", "10.0.0.0/16")])
            .await
            .unwrap();
        let vpc_id = xml_field(&vpc, "vpcId");
        let subnet = ec2
            .call(
                "CreateSubnet",
                &[("VpcId", &vpc_id), ("CidrBlock", "10.0.1.0/24")],
            )
            .await
            .unwrap();
        let subnet = xml_field(&subnet, "subnetId");
        let group = ec2
            .call(
                "CreateSecurityGroup",
                &[
                    ("GroupName", "showtime-previews"),
                    ("GroupDescription", "Showtime previews"),
                    ("VpcId", &vpc_id),
                ],
            )
            .await
            .unwrap();
        let security_group = xml_field(&group, "groupId");

        let aws = Aws {
            moto,
            config,
            ecs,
            ecr,
            repository_uri,
            subnet,
            security_group,
            probed: Arc::default(),
        };
        aws.push_image(&id(42, "abc123f").image_tag(), "1").await;
        aws
    }

    /// Settings for this moto: its network, short waits, private addresses.
    fn settings(&self) -> EcsSettings {
        EcsSettings {
            subnets: vec![self.subnet.clone()],
            security_groups: vec![self.security_group.clone()],
            address: AddressKind::Private,
            ready_timeout: Duration::from_secs(1),
            poll_interval: Duration::from_millis(100),
            draining_timeout: Duration::from_secs(1),
            health_attempts: 2,
            health_interval: Duration::from_millis(10),
            ..EcsSettings::default()
        }
    }

    /// The backend under test, with a health check that only records where
    /// it would have looked.
    fn backend(&self) -> EcsBackend {
        self.backend_with(self.settings())
    }

    fn backend_with(&self, settings: EcsSettings) -> EcsBackend {
        let probed = Arc::clone(&self.probed);
        EcsBackend::from_sdk_config(&self.config, settings)
            .unwrap()
            .with_health_check(
                move |addr: SocketAddr, path: &str| -> Pin<Box<dyn Future<Output = bool> + Send>> {
                    probed.lock().unwrap().push((addr, path.to_owned()));
                    Box::pin(async { true })
                },
            )
    }

    /// Pushes an image with a minimal manifest (`layer` makes it distinct).
    async fn push_image(&self, tag: &str, layer: &str) {
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:{:0>64}"}},"layers":[]}}"#,
            layer
        );
        self.ecr
            .put_image()
            .repository_name(REPOSITORY)
            .image_manifest(manifest)
            .image_tag(tag)
            .send()
            .await
            .unwrap();
    }

    /// Every image tag in the repository.
    async fn image_tags(&self) -> BTreeSet<String> {
        let out = self
            .ecr
            .describe_images()
            .repository_name(REPOSITORY)
            .send()
            .await
            .unwrap();
        let described: BTreeSet<String> = out
            .image_details()
            .iter()
            .flat_map(|d| d.image_tags().iter().cloned())
            .collect();
        let listed: BTreeSet<String> = self
            .ecr
            .list_images()
            .repository_name(REPOSITORY)
            .send()
            .await
            .unwrap()
            .image_ids()
            .iter()
            .filter_map(|i| i.image_tag().map(str::to_owned))
            .collect();
        assert_eq!(described, listed, "DescribeImages and ListImages disagree");
        described
    }

    /// The service called `name`, tags included, whatever its status.
    async fn service(&self, name: &str) -> Option<Service> {
        let out = self
            .ecs
            .describe_services()
            .cluster(CLUSTER)
            .services(name)
            .include(ServiceField::Tags)
            .send()
            .await
            .unwrap();
        out.services()
            .iter()
            .find(|s| s.service_name() == Some(name))
            .cloned()
    }

    async fn task_definition(&self, arn: &str) -> TaskDefinition {
        self.ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .unwrap()
            .task_definition()
            .unwrap()
            .clone()
    }

    /// The ACTIVE revisions of a task definition family.
    async fn active_revisions(&self, family: &str) -> Vec<String> {
        self.ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(TaskDefinitionStatus::Active)
            .send()
            .await
            .unwrap()
            .task_definition_arns()
            .to_vec()
    }

    /// Every ACTIVE service name in the cluster.
    async fn active_services(&self) -> BTreeSet<String> {
        let arns = self
            .ecs
            .list_services()
            .cluster(CLUSTER)
            .send()
            .await
            .unwrap()
            .service_arns()
            .to_vec();
        let mut names = BTreeSet::new();
        for chunk in arns.chunks(10) {
            let out = self
                .ecs
                .describe_services()
                .cluster(CLUSTER)
                .set_services(Some(chunk.to_vec()))
                .send()
                .await
                .unwrap();
            names.extend(
                out.services()
                    .iter()
                    .filter(|s| s.status() == Some("ACTIVE"))
                    .filter_map(|s| s.service_name().map(str::to_owned)),
            );
        }
        names
    }

    fn network(&self) -> NetworkConfiguration {
        NetworkConfiguration::builder()
            .awsvpc_configuration(
                AwsVpcConfiguration::builder()
                    .subnets(&self.subnet)
                    .security_groups(&self.security_group)
                    .build()
                    .unwrap(),
            )
            .build()
    }

    /// Creates a service that Showtime did not: its own task definition of
    /// family `family`, the given tags.
    async fn create_foreign_service(&self, name: &str, family: &str, tags: &[(&str, &str)]) {
        let td = self
            .ecs
            .register_task_definition()
            .family(family)
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .cpu("256")
            .memory("512")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("app")
                    .image("nginx:latest")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let arn = td
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .unwrap();
        self.ecs
            .create_service()
            .cluster(CLUSTER)
            .service_name(name)
            .task_definition(arn)
            .desired_count(1)
            .launch_type(LaunchType::Fargate)
            .network_configuration(self.network())
            .set_tags(if tags.is_empty() {
                None
            } else {
                Some(
                    tags.iter()
                        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                        .collect(),
                )
            })
            .send()
            .await
            .unwrap();
    }
}

fn id(pr: u64, sha7: &str) -> EnvId {
    EnvId {
        pr: PrNumber::new(pr).unwrap(),
        sha: sha7.parse().unwrap(),
    }
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn feature(name: &str) -> FeatureName {
    name.parse().unwrap()
}

/// The deploy request of PR `pr` at a commit starting with `sha7`, by
/// maxime, with ALERTS on and debug.
fn spec(aws: &Aws, pr: u64, sha7: &str) -> EnvSpec {
    let sha: Sha = format!("{sha7}{}", "0123456789abcdef0123456789abcdef0")
        .parse()
        .unwrap();
    let id = EnvId {
        pr: PrNumber::new(pr).unwrap(),
        sha: sha.short(),
    };
    EnvSpec {
        image: format!("{}:{}", aws.repository_uri, id.image_tag()),
        id,
        sha,
        config: Config {
            features: BTreeMap::from([(feature("ALERTS"), true)]),
            debug: true,
            ..Config::default()
        },
        requested_by: Some("maxime".parse::<Login>().unwrap()),
        created_at: time("2026-03-01T10:00:00Z"),
        expires_at: Some(time("2026-03-03T10:00:00Z")),
    }
}

fn tags(service: &Service) -> BTreeMap<String, String> {
    service
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The environment of a task definition's one container.
fn env(td: &TaskDefinition) -> BTreeMap<String, String> {
    td.container_definitions()[0]
        .environment()
        .iter()
        .map(|kv| {
            (
                kv.name().unwrap_or_default().to_owned(),
                kv.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn permanent(result: Result<(), PortError>) -> String {
    match result {
        Err(PortError::Permanent { message }) => message,
        other => panic!("expected a permanent error, got {other:?}"),
    }
}

/// The text of the first `<tag>` of an EC2 answer.
fn xml_field(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
        + open.len();
    let end = start + xml[start..].find('<').unwrap();
    xml[start..end].to_owned()
}
