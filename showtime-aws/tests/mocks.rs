//! The flows of `EcsBackend` against canned SDK answers (aws-smithy-mocks):
//! no network, no AWS account, and no waiting in real time (tokio's clock
//! is paused; the health check is injected).
//!
//! Each test lists the calls it expects in order (`RuleMode::Sequential`: a
//! call out of order panics) and checks how many AWS calls each operation
//! made; the numbers are the ones the README quotes.
//!
//! This file holds the canned answers and helpers the tests share; the tests
//! themselves are in `tests/mocks/`, one file per port operation, and one for
//! how errors reach the engine.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::error::ErrorMetadata;
use aws_sdk_ecs::operation::create_service::{CreateServiceInput, CreateServiceOutput};
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_services::ListServicesError;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::operation::register_task_definition::{
    RegisterTaskDefinitionInput, RegisterTaskDefinitionOutput,
};
use aws_sdk_ecs::primitives::DateTime as AwsDateTime;
use aws_sdk_ecs::types::{
    Attachment, ContainerDefinition, Deployment, DeploymentRolloutState, Failure, KeyValuePair,
    Service, ServiceField, Tag, Task, TaskDefinition,
};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use showtime_aws::{AwsError, EcsBackend, EcsSettings, Interfaces, NetworkInterface, Progress};
use showtime_core::Config;
use showtime_core::ports::{Backend, EnvId, EnvSpec, PortError};

type Ecs = aws_sdk_ecs::Client;
type Ecr = aws_sdk_ecr::Client;

/// A client of `$krate` answering from `$rules` in order, with the SDK's
/// standard retries (5 attempts) as in production.
macro_rules! mock_sdk {
    ($krate:ident, $rules:expr) => {{
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
        for rule in $rules {
            interceptor = interceptor.with_rule(rule);
        }
        $krate::Client::from_conf(
            $krate::Config::builder()
                .behavior_version($krate::config::BehaviorVersion::latest())
                .region($krate::config::Region::new("us-east-1"))
                .credentials_provider($krate::config::Credentials::new(
                    "AKIDMOCK", "secret", None, None, "mocks",
                ))
                .retry_config($krate::config::retry::RetryConfig::standard().with_max_attempts(5))
                .http_client(create_mock_http_client())
                .interceptor(interceptor)
                .build(),
        )
    }};
}

// The tests, after `mock_sdk!`: a `macro_rules!` macro is seen only below it.
#[path = "mocks/apply_config.rs"]
mod apply_config;
#[path = "mocks/deploy.rs"]
mod deploy;
#[path = "mocks/destroy.rs"]
mod destroy;
#[path = "mocks/errors.rs"]
mod errors;
#[path = "mocks/list.rs"]
mod list;
#[path = "mocks/registry.rs"]
mod registry;
#[path = "mocks/wait_ready.rs"]
mod wait_ready;

const SHA: &str = "abc123f0123456789abcdef0123456789abcdef0";
const CLUSTER: &str = "superset-ci";

fn id() -> EnvId {
    EnvId::parse_name("pr-42-abc123f").unwrap()
}

fn settings() -> EcsSettings {
    EcsSettings {
        subnets: vec!["subnet-a".into(), "subnet-b".into()],
        security_groups: vec!["sg-1".into()],
        ..EcsSettings::default()
    }
}

fn created() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn spec() -> EnvSpec {
    let mut config = Config::default();
    config.features.insert("ALERTS".parse().unwrap(), true);
    config.size = Some("large".parse().unwrap());
    EnvSpec {
        id: id(),
        sha: SHA.parse().unwrap(),
        image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/superset-ci:pr-42-abc123f-ci".into(),
        config,
        requested_by: Some("dependabot[bot]".parse().unwrap()),
        created_at: created(),
        expires_at: Some(created() + chrono::Duration::hours(48)),
    }
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

fn our_tags() -> Vec<Tag> {
    vec![
        tag("showtime_managed", "true"),
        tag("showtime_pr", "42"),
        tag("showtime_sha", SHA),
        tag("showtime_created", "2023-11-14T22:13:20Z"),
        tag("showtime_requested_by", "maxime"),
    ]
}

fn td_arn(family: &str, revision: u32) -> String {
    format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:{revision}")
}

fn deployment(state: Option<DeploymentRolloutState>, running: i32, td: &str) -> Deployment {
    Deployment::builder()
        .id("ecs-svc/1")
        .status("PRIMARY")
        .set_rollout_state(state)
        .desired_count(1)
        .running_count(running)
        .task_definition(td)
        .build()
}

fn service_with(
    name: &str,
    status: &str,
    tags: Vec<Tag>,
    deployment: Option<Deployment>,
) -> Service {
    let td = td_arn(name.trim_end_matches("-service"), 1);
    Service::builder()
        .service_name(name)
        .service_arn(format!(
            "arn:aws:ecs:us-east-1:123456789012:service/{CLUSTER}/{name}"
        ))
        .status(status)
        .desired_count(1)
        .running_count(deployment.as_ref().map(|d| d.running_count()).unwrap_or(0))
        .task_definition(td)
        .set_tags(Some(tags))
        .set_deployments(deployment.map(|d| vec![d]))
        .created_at(AwsDateTime::from_secs(1_600_000_000))
        .build()
}

fn ours(status: &str, state: Option<DeploymentRolloutState>, running: i32) -> Service {
    let td = td_arn("pr-42-abc123f", 1);
    service_with(
        "pr-42-abc123f-service",
        status,
        our_tags(),
        Some(deployment(state, running, &td)),
    )
}

fn described(services: Vec<Service>) -> DescribeServicesOutput {
    DescribeServicesOutput::builder()
        .set_services(Some(services))
        .build()
}

fn missing() -> DescribeServicesOutput {
    DescribeServicesOutput::builder()
        .failures(
            Failure::builder()
                .arn("arn:aws:ecs:us-east-1:123456789012:service/superset-ci/pr-42-abc123f-service")
                .reason("MISSING")
                .build(),
        )
        .build()
}

fn error(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

fn task(attachments: Vec<Attachment>) -> Task {
    Task::builder()
        .task_arn("arn:aws:ecs:us-east-1:123456789012:task/superset-ci/0123")
        .task_definition_arn(td_arn("pr-42-abc123f", 1))
        .last_status("RUNNING")
        .set_attachments(Some(attachments))
        .build()
}

fn eni_attachment() -> Attachment {
    let kv = |k: &str, v: &str| KeyValuePair::builder().name(k).value(v).build();
    Attachment::builder()
        .r#type("ElasticNetworkInterface")
        .status("ATTACHED")
        .details(kv("subnetId", "subnet-a"))
        .details(kv("networkInterfaceId", "eni-0123"))
        .details(kv("privateIPv4Address", "10.0.1.5"))
        .build()
}

/// Canned EC2 answers for the one EC2 call (`Interfaces::describe`): the
/// interface `eni-0123` with a public IP, or none, and how often it was
/// asked. A call with no canned answer panics, like an unexpected SDK call.
#[derive(Clone, Default)]
struct Eni {
    answer: Option<NetworkInterface>,
    calls: Arc<AtomicUsize>,
}

impl Eni {
    fn answering(public_ip: &str) -> Eni {
        Eni {
            answer: Some(NetworkInterface {
                id: "eni-0123".into(),
                private_ip: Some("10.0.1.5".parse().unwrap()),
                public_ip: Some(public_ip.parse().unwrap()),
            }),
            calls: Arc::default(),
        }
    }

    fn num_calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Interfaces for Eni {
    async fn describe(&self, id: &str) -> Result<Option<NetworkInterface>, AwsError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        assert_eq!(id, "eni-0123", "the task's interface is looked up");
        let answer = self.answer.clone();
        assert!(answer.is_some(), "unexpected EC2 call");
        Ok(answer)
    }
}

fn no_ecr() -> Ecr {
    mock_sdk!(aws_sdk_ecr, Vec::<&Rule>::new())
}

fn no_ec2() -> Eni {
    Eni::default()
}

fn backend(ecs: Ecs, ecr: Ecr, ec2: Eni, settings: EcsSettings) -> EcsBackend {
    EcsBackend::from_clients(ecs, ecr, settings)
        .with_interfaces(ec2)
        .with_health_check(|_, _| async { true }.boxed())
}

fn progress_log(backend: EcsBackend) -> (EcsBackend, Arc<Mutex<Vec<String>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let backend = backend.with_progress(move |p: &Progress| {
        sink.lock().unwrap().push(p.message.clone());
    });
    (backend, log)
}

fn calls(rules: &[&Rule]) -> usize {
    rules.iter().map(|r| r.num_calls()).sum()
}

/// Where a rule puts the request it saw, and where the test reads it.
type Slot<T> = Arc<Mutex<Option<T>>>;

fn captured<T: Clone + Send + 'static>() -> (Slot<T>, Slot<T>) {
    let slot = Arc::new(Mutex::new(None));
    (slot.clone(), slot)
}

/// `RegisterTaskDefinition` answering revision `arn`, and where the request
/// it saw is put.
fn register_rule(arn: String) -> (Rule, Slot<RegisterTaskDefinitionInput>) {
    let (seen_in, seen) = captured::<RegisterTaskDefinitionInput>();
    let rule = mock!(Ecs::register_task_definition).then_compute_output(move |r| {
        *seen_in.lock().unwrap() = Some(r.clone());
        RegisterTaskDefinitionOutput::builder()
            .task_definition(TaskDefinition::builder().task_definition_arn(&arn).build())
            .build()
    });
    (rule, seen)
}

/// `CreateService` answering success, and where the request it saw is put.
fn create_rule() -> (Rule, Slot<CreateServiceInput>) {
    let (seen_in, seen) = captured::<CreateServiceInput>();
    let rule = mock!(Ecs::create_service).then_compute_output(move |r| {
        *seen_in.lock().unwrap() = Some(r.clone());
        CreateServiceOutput::builder().build()
    });
    (rule, seen)
}

fn env_map(c: &ContainerDefinition) -> BTreeMap<String, String> {
    c.environment()
        .iter()
        .map(|kv| {
            (
                kv.name().unwrap().to_owned(),
                kv.value().unwrap().to_owned(),
            )
        })
        .collect()
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
        .collect()
}

/// The answers of a `wait_ready` whose rollout is complete and whose task
/// already has its interface: DescribeServices, ListTasks, DescribeTasks, and
/// EC2's public IP `52.1.2.3`.
fn ready_rules() -> (Rule, Rule, Rule, Eni) {
    (
        mock!(Ecs::describe_services).then_output(|| {
            described(vec![ours(
                "ACTIVE",
                Some(DeploymentRolloutState::Completed),
                1,
            )])
        }),
        mock!(Ecs::list_tasks).then_output(|| {
            ListTasksOutput::builder()
                .task_arns("arn:aws:ecs:us-east-1:123456789012:task/superset-ci/0123")
                .build()
        }),
        mock!(Ecs::describe_tasks).then_output(|| {
            DescribeTasksOutput::builder()
                .tasks(task(vec![eni_attachment()]))
                .build()
        }),
        Eni::answering("52.1.2.3"),
    )
}
