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

#![allow(clippy::unwrap_used)]

mod support;

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
use showtime_aws::{AddressKind, Ec2Client, EcsBackend, EcsSettings, Interfaces, MANAGED_TAG};
use showtime_core::ports::{Backend, EnvId, EnvSpec, Health, PortError};
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

#[tokio::test]
async fn deploy_creates_a_tagged_service_with_the_configuration() {
    let aws = Aws::start().await;
    let backend = aws.backend();
    let spec = spec(&aws, 42, "abc123f");

    aws.moto.reset_calls();
    backend.deploy(&spec).await.unwrap();
    let first = aws.moto.calls();

    let service = aws.service("pr-42-abc123f-service").await.unwrap();
    assert_eq!(service.status(), Some("ACTIVE"));
    assert_eq!(service.desired_count(), 1);
    assert_eq!(service.launch_type(), Some(&LaunchType::Fargate));
    let tags = tags(&service);
    assert_eq!(tags.get(MANAGED_TAG).map(String::as_str), Some("true"));
    assert_eq!(tags.get("showtime_pr").map(String::as_str), Some("42"));
    assert_eq!(
        tags.get("showtime_requested_by").map(String::as_str),
        Some("maxime")
    );
    assert_eq!(
        tags.get("showtime_sha").map(String::as_str),
        Some(spec.sha.as_str())
    );
    assert_eq!(
        tags.get("showtime_expires").map(String::as_str),
        Some("2026-03-03T10:00:00Z")
    );
    let vpc = service
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .unwrap();
    assert_eq!(vpc.subnets(), [aws.subnet.as_str()]);
    assert_eq!(vpc.security_groups(), [aws.security_group.as_str()]);

    let arn = service.task_definition().unwrap();
    assert!(arn.ends_with("task-definition/pr-42-abc123f:1"), "{arn}");
    let td = aws.task_definition(arn).await;
    assert_eq!(td.family(), Some("pr-42-abc123f"));
    assert_eq!(td.cpu(), Some("1024"), "the default size, medium");
    assert_eq!(td.memory(), Some("2048"));
    let container = &td.container_definitions()[0];
    assert_eq!(container.image(), Some(spec.image.as_str()));
    let env = env(&td);
    assert_eq!(
        env.get("SUPERSET_FEATURE_ALERTS").map(String::as_str),
        Some("True")
    );
    assert_eq!(
        env.get("SUPERSET_LOG_LEVEL").map(String::as_str),
        Some("DEBUG")
    );

    // Again: nothing new, one call.
    aws.moto.reset_calls();
    backend.deploy(&spec).await.unwrap();
    let again = aws.moto.calls();
    assert_eq!(
        aws.active_services().await,
        BTreeSet::from(["pr-42-abc123f-service".to_owned()])
    );
    assert_eq!(aws.active_revisions("pr-42-abc123f").await.len(), 1);

    assert_eq!(
        first,
        BTreeMap::from([
            ("ecs:CreateService".to_owned(), 1),
            ("ecs:DescribeServices".to_owned(), 1),
            ("ecs:RegisterTaskDefinition".to_owned(), 1),
        ]),
        "calls of a new deploy"
    );
    assert_eq!(
        again,
        BTreeMap::from([("ecs:DescribeServices".to_owned(), 1)]),
        "calls of a repeated deploy"
    );
}

#[tokio::test]
async fn list_returns_only_managed_services() {
    let aws = Aws::start().await;
    let backend = aws.backend();

    // 120 environments: PRs 1 to 60, two commits each.
    let started = Instant::now();
    let mut expected = BTreeSet::new();
    for i in 0..120u64 {
        let spec = spec(&aws, 1 + i / 2, &format!("{:07x}", 0xabc_0000 + i));
        backend.deploy(&spec).await.unwrap();
        expected.insert(spec.id);
    }
    let deploy_time = started.elapsed();

    // 10 services that are not Showtime's.
    let ours = [(MANAGED_TAG, "true")];
    for (name, family, tags) in [
        // Named like ours, untagged.
        ("pr-1-abc1234-service", "pr-1-abc1234", &[][..]),
        ("pr-7-1234567-service", "pr-7-1234567", &[]),
        ("pr-300-fedcba9-service", "pr-300-fedcba9", &[]),
        // Named like ours, tagged as not managed.
        (
            "pr-9-abc1234-service",
            "pr-9-abc1234",
            &[(MANAGED_TAG, "false")],
        ),
        // Tagged as ours, misnamed.
        ("pr-7-service", "pr-7", &ours),
        ("pr-8-abc1234-svc", "pr-8-abc1234-svc", &ours),
        ("superset-worker", "superset-worker", &ours),
        // Plain.
        ("superset-ci-metrics", "metrics", &[]),
        ("redis", "redis", &[]),
        ("nginx", "nginx", &[("team", "data")]),
    ] {
        aws.create_foreign_service(name, family, tags).await;
    }
    assert_eq!(aws.active_services().await.len(), 130);

    aws.moto.reset_calls();
    let listed = backend.list(None).await.unwrap();
    let calls = aws.moto.calls();
    let ids: BTreeSet<EnvId> = listed.iter().map(|e| e.id.clone()).collect();
    assert_eq!(listed.len(), 120, "one entry per environment");
    assert_eq!(ids, expected);
    for info in &listed {
        assert_eq!(
            info.requested_by.as_ref().map(Login::as_str),
            Some("maxime")
        );
        assert_eq!(info.created_at, time("2026-03-01T10:00:00Z"));
        assert_eq!(info.health, Health::Healthy, "{}", info.id);
    }
    // ListServices pages of 100 (moto answers in one page); DescribeServices
    // in tens, for the 124 services *named* like Showtime's.
    assert!(calls["ecs:ListServices"] <= 2, "{calls:?}");
    assert_eq!(calls["ecs:DescribeServices"], 13, "{calls:?}");
    assert_eq!(calls.len(), 2, "{calls:?}");

    // One PR: both commits of PR 1, not the foreign pr-1-abc1234-service.
    let one = backend.list(Some(PrNumber::new(1).unwrap())).await.unwrap();
    let one: Vec<String> = one.iter().map(|e| e.id.name()).collect();
    assert_eq!(one, ["pr-1-abc0000", "pr-1-abc0001"]);
    let nine = backend.list(Some(PrNumber::new(9).unwrap())).await.unwrap();
    assert!(nine.iter().all(|e| e.id.pr.get() == 9));
    assert_eq!(nine.len(), 2);
    let none = backend
        .list(Some(PrNumber::new(300).unwrap()))
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");

    eprintln!("120 deploys against moto took {deploy_time:?}");
}

#[tokio::test]
async fn wait_ready_gives_up_without_a_task() {
    let aws = Aws::start().await;
    let backend = aws.backend();
    let spec = spec(&aws, 42, "abc123f");
    backend.deploy(&spec).await.unwrap();

    // The service's rollout is complete, but moto runs no task: no address
    // within the timeout, permanent, and the health check is never tried.
    aws.moto.reset_calls();
    let started = Instant::now();
    let error = backend.wait_ready(&spec.id).await.unwrap_err();
    let waited = started.elapsed();
    let calls = aws.moto.calls();
    assert!(
        matches!(&error, PortError::Permanent { message }
            if message.contains("pr-42-abc123f") && message.contains("no running task")),
        "{error:?}"
    );
    assert!(
        waited >= Duration::from_secs(1),
        "gave up after {waited:?}, before its 1 s timeout"
    );
    assert!(aws.probed.lock().unwrap().is_empty());
    assert!(calls.contains_key("ecs:ListTasks"), "{calls:?}");

    // An environment that does not exist, or is not ours: permanent at once.
    aws.create_foreign_service("pr-5-abc1234-service", "pr-5-abc1234", &[])
        .await;
    for missing in [id(43, "abc123f"), id(5, "abc1234")] {
        aws.moto.reset_calls();
        let error = backend.wait_ready(&missing).await.unwrap_err();
        assert!(matches!(error, PortError::Permanent { .. }), "{error:?}");
        assert_eq!(
            aws.moto.calls(),
            BTreeMap::from([("ecs:DescribeServices".to_owned(), 1)]),
            "{missing}: one look, no polling"
        );
    }
}

#[tokio::test]
async fn apply_config_registers_a_new_revision() {
    let aws = Aws::start().await;
    let backend = aws.backend();
    let spec = spec(&aws, 42, "abc123f");
    backend.deploy(&spec).await.unwrap();

    let config = Config {
        features: BTreeMap::from([(feature("DASHBOARD_RBAC"), true)]),
        size: Some("large".parse().unwrap()),
        ..Config::default()
    };
    aws.moto.reset_calls();
    // The service is updated, then waited for as `wait_ready` does, which
    // cannot succeed without a task (see the top of this file).
    let message = permanent(backend.apply_config(&spec.id, &config).await);
    assert!(message.contains("no running task"), "{message}");
    let calls = aws.moto.calls();

    let service = aws.service("pr-42-abc123f-service").await.unwrap();
    assert_eq!(service.status(), Some("ACTIVE"));
    let arn = service.task_definition().unwrap();
    assert!(arn.ends_with("task-definition/pr-42-abc123f:2"), "{arn}");
    let td = aws.task_definition(arn).await;
    assert_eq!(td.family(), Some("pr-42-abc123f"));
    assert_eq!(td.cpu(), Some("2048"), "size large");
    assert_eq!(td.memory(), Some("4096"));
    assert_eq!(
        td.container_definitions()[0].image(),
        Some(spec.image.as_str()),
        "same image, no rebuild"
    );
    let env = env(&td);
    assert_eq!(
        env.get("SUPERSET_FEATURE_DASHBOARD_RBAC")
            .map(String::as_str),
        Some("True")
    );
    assert_eq!(
        env.get("SUPERSET_FEATURE_ALERTS"),
        None,
        "the previous configuration's flag is gone"
    );
    assert_eq!(
        env.get("SUPERSET_LOG_LEVEL").map(String::as_str),
        Some("INFO"),
        "debug off puts the template's value back"
    );
    assert_eq!(aws.active_revisions("pr-42-abc123f").await.len(), 2);
    assert_eq!(
        tags(&service).get(MANAGED_TAG).map(String::as_str),
        Some("true")
    );
    assert!(aws.probed.lock().unwrap().is_empty());
    // One of each to change the service, then the readiness polls.
    for operation in [
        "ecs:DescribeTaskDefinition",
        "ecs:RegisterTaskDefinition",
        "ecs:UpdateService",
    ] {
        assert_eq!(calls.get(operation), Some(&1), "{operation}: {calls:?}");
    }
    assert!(calls["ecs:DescribeServices"] >= 2, "{calls:?}");

    // Of an environment that does not exist: permanent, nothing registered.
    permanent(backend.apply_config(&id(43, "abc123f"), &config).await);
    assert!(aws.active_revisions("pr-43-abc123f").await.is_empty());
}

#[tokio::test]
async fn destroy_removes_service_revisions_and_image() {
    let aws = Aws::start().await;
    let backend = aws.backend();
    let spec = spec(&aws, 42, "abc123f");
    aws.push_image("pr-43-1234567-ci", "2").await;
    backend.deploy(&spec).await.unwrap();
    // A second revision (the wait that follows fails: no task in moto).
    permanent(backend.apply_config(&spec.id, &Config::default()).await);
    let revisions = aws.active_revisions("pr-42-abc123f").await;
    assert_eq!(revisions.len(), 2);
    assert!(aws.image_tags().await.contains("pr-42-abc123f-ci"));

    aws.moto.reset_calls();
    backend.destroy(&spec.id).await.unwrap();
    let calls = aws.moto.calls();

    // moto keeps a deleted service as INACTIVE (AWS does for a while).
    let service = aws.service("pr-42-abc123f-service").await;
    assert!(
        service
            .as_ref()
            .is_none_or(|s| s.status() == Some("INACTIVE")),
        "{service:?}"
    );
    assert!(aws.active_services().await.is_empty());
    assert!(aws.active_revisions("pr-42-abc123f").await.is_empty());
    for arn in &revisions {
        assert_eq!(
            aws.task_definition(arn).await.status(),
            Some(&TaskDefinitionStatus::Inactive),
            "{arn}"
        );
    }
    assert_eq!(
        aws.image_tags().await,
        BTreeSet::from(["pr-43-1234567-ci".to_owned()]),
        "only this environment's image tag is deleted"
    );
    assert!(backend.list(None).await.unwrap().is_empty());
    assert_eq!(
        calls,
        BTreeMap::from([
            ("ecr:BatchDeleteImage".to_owned(), 1),
            ("ecs:DeleteService".to_owned(), 1),
            ("ecs:DeregisterTaskDefinition".to_owned(), 2),
            ("ecs:DescribeServices".to_owned(), 1),
            ("ecs:ListTaskDefinitions".to_owned(), 1),
        ]),
        "calls of destroy with two revisions"
    );

    // Again, and of one that never existed: success.
    backend.destroy(&spec.id).await.unwrap();
    backend.destroy(&id(44, "abc123f")).await.unwrap();
}

#[tokio::test]
async fn destroy_refuses_services_that_are_not_ours() {
    let aws = Aws::start().await;
    let backend = aws.backend();
    aws.push_image("pr-5-abc1234-ci", "5").await;
    aws.push_image("pr-6-abc1234-ci", "6").await;
    aws.create_foreign_service("pr-5-abc1234-service", "pr-5-abc1234", &[])
        .await;
    aws.create_foreign_service(
        "pr-6-abc1234-service",
        "pr-6-abc1234",
        &[(MANAGED_TAG, "false"), ("showtime_pr", "6")],
    )
    .await;

    for (pr, name) in [(5, "pr-5-abc1234-service"), (6, "pr-6-abc1234-service")] {
        let message = permanent(backend.destroy(&id(pr, "abc1234")).await);
        assert!(message.contains(name), "{message}");
        let service = aws.service(name).await.unwrap();
        assert_eq!(service.status(), Some("ACTIVE"), "{name} is left running");
        assert_eq!(
            aws.active_revisions(&format!("pr-{pr}-abc1234"))
                .await
                .len(),
            1,
            "{name}'s task definition is left"
        );
    }
    let images = aws.image_tags().await;
    assert!(images.contains("pr-5-abc1234-ci") && images.contains("pr-6-abc1234-ci"));

    // Nor deployed over, nor listed.
    let mut over = spec(&aws, 5, "abc1234");
    over.image = format!("{}:pr-5-abc1234-ci", aws.repository_uri);
    permanent(backend.deploy(&over).await);
    assert_eq!(aws.active_revisions("pr-5-abc1234").await.len(), 1);
    assert!(backend.list(None).await.unwrap().is_empty());
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

#[tokio::test]
async fn network_interfaces_are_read_over_the_ec2_query_api() {
    let aws = Aws::start().await;
    let ec2 = Ec2Client::from_sdk_config(&aws.config, None).unwrap();
    assert_eq!(ec2.endpoint(), aws.moto.endpoint);

    let created = ec2
        .call(
            "CreateNetworkInterface",
            &[
                ("SubnetId", &aws.subnet),
                ("PrivateIpAddress", "10.0.1.17"),
                ("SecurityGroupId.1", &aws.security_group),
            ],
        )
        .await
        .unwrap();
    let eni = xml_field(&created, "networkInterfaceId");

    // A private interface: its address, no public one.
    let seen = ec2.describe(&eni).await.unwrap().unwrap();
    assert_eq!(seen.id, eni);
    assert_eq!(seen.private_ip, Some("10.0.1.17".parse().unwrap()));
    assert_eq!(seen.public_ip, None);

    // With an Elastic IP associated, its public address too.
    let allocated = ec2
        .call("AllocateAddress", &[("Domain", "vpc")])
        .await
        .unwrap();
    let (public, allocation) = (
        xml_field(&allocated, "publicIp"),
        xml_field(&allocated, "allocationId"),
    );
    ec2.call(
        "AssociateAddress",
        &[("AllocationId", &allocation), ("NetworkInterfaceId", &eni)],
    )
    .await
    .unwrap();
    let seen = ec2.describe(&eni).await.unwrap().unwrap();
    assert_eq!(seen.public_ip, Some(public.parse().unwrap()));

    // An interface EC2 does not know: none, not an error.
    assert_eq!(ec2.describe("eni-0000000000000dead").await.unwrap(), None);

    // An error answer is typed by its code and names the call.
    let error = ec2
        .call(
            "CreateSubnet",
            &[("VpcId", "vpc-missing"), ("CidrBlock", "10.9.0.0/24")],
        )
        .await
        .unwrap_err();
    assert!(!error.is_transient(), "{error}");
    let text = error.to_string();
    assert!(text.contains("ec2:CreateSubnet"), "{text}");
    assert!(text.contains("InvalidVpcID.NotFound"), "{text}");
}
