//! The flows of `EcsBackend` against canned SDK answers (aws-smithy-mocks):
//! no network, no AWS account, and no waiting in real time (tokio's clock
//! is paused; the health check is injected).
//!
//! Each test lists the calls it expects in order (`RuleMode::Sequential`: a
//! call out of order panics) and checks how many AWS calls each operation
//! made; the numbers are the ones the README quotes.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::error::ErrorMetadata;
use aws_sdk_ecs::operation::create_service::{CreateServiceInput, CreateServiceOutput};
use aws_sdk_ecs::operation::delete_service::{DeleteServiceError, DeleteServiceOutput};
use aws_sdk_ecs::operation::deregister_task_definition::DeregisterTaskDefinitionOutput;
use aws_sdk_ecs::operation::describe_services::{
    DescribeServicesError, DescribeServicesInput, DescribeServicesOutput,
};
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_services::{ListServicesError, ListServicesOutput};
use aws_sdk_ecs::operation::list_task_definitions::ListTaskDefinitionsOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::operation::register_task_definition::{
    RegisterTaskDefinitionInput, RegisterTaskDefinitionOutput,
};
use aws_sdk_ecs::operation::update_service::{UpdateServiceInput, UpdateServiceOutput};
use aws_sdk_ecs::primitives::DateTime as AwsDateTime;
use aws_sdk_ecs::types::{
    AssignPublicIp, Attachment, ContainerDefinition, Deployment, DeploymentRolloutState, Failure,
    KeyValuePair, LaunchType, PropagateTags, Service, ServiceField, Tag, Task, TaskDefinition,
};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use showtime_aws::{
    AwsError, Capacity, EcsBackend, EcsSettings, Interfaces, NetworkInterface, Progress,
};
use showtime_core::ports::{Backend, EnvId, EnvSpec, Health, PortError};
use showtime_core::{Config, PrNumber};

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

// ---------------------------------------------------------------- deploy

#[tokio::test(start_paused = true)]
async fn deploy_registers_the_task_definition_and_creates_the_service() {
    let describe = mock!(Ecs::describe_services)
        .match_requests(|r| {
            r.services() == ["pr-42-abc123f-service"]
                && r.include() == [ServiceField::Tags]
                && r.cluster() == Some(CLUSTER)
        })
        .then_output(missing);
    let (register, register_seen) = register_rule(td_arn("pr-42-abc123f", 1));
    let (create, create_seen) = create_rule();
    let rules = [&describe, &register, &create];
    let b = backend(
        mock_sdk!(aws_sdk_ecs, rules),
        no_ecr(),
        no_ec2(),
        settings(),
    );

    b.deploy(&spec()).await.unwrap();
    assert_eq!(calls(&rules), 3, "deploy makes 3 AWS calls");

    let td = register_seen.lock().unwrap().clone().unwrap();
    assert_eq!(td.family(), Some("pr-42-abc123f"));
    assert_eq!(
        (td.cpu(), td.memory()),
        (Some("2048"), Some("4096")),
        "size large"
    );
    assert_eq!(td.network_mode().map(|m| m.as_str()), Some("awsvpc"));
    let container = &td.container_definitions()[0];
    assert_eq!(container.image(), Some(spec().image.as_str()));
    assert_eq!(container.port_mappings()[0].container_port(), Some(8080));
    let env = env_map(container);
    assert_eq!(env["SUPERSET_FEATURE_ALERTS"], "True");
    assert_eq!(
        env["SUPERSET_LOAD_EXAMPLES"], "yes",
        "the template's own value"
    );
    assert_eq!(env["SUPERSET_PORT"], "8080");
    assert!(!env.contains_key("FLASK_DEBUG"));
    let log = container.log_configuration().unwrap().options().unwrap();
    assert_eq!(
        log["awslogs-region"], "us-east-1",
        "{{region}} from the client"
    );
    let td_tags = tag_map(td.tags());
    assert_eq!(td_tags["showtime_managed"], "true");
    assert_eq!(td_tags["showtime_sha"], SHA);

    let svc = create_seen.lock().unwrap().clone().unwrap();
    assert_eq!(svc.cluster(), Some(CLUSTER));
    assert_eq!(svc.service_name(), Some("pr-42-abc123f-service"));
    assert_eq!(
        svc.task_definition(),
        Some(td_arn("pr-42-abc123f", 1).as_str())
    );
    assert_eq!(svc.desired_count(), Some(1));
    assert_eq!(svc.launch_type(), Some(&LaunchType::Fargate));
    assert!(svc.capacity_provider_strategy().is_empty());
    assert_eq!(svc.propagate_tags(), Some(&PropagateTags::Service));
    assert_eq!(svc.enable_ecs_managed_tags(), Some(true));
    let vpc = svc
        .network_configuration()
        .unwrap()
        .awsvpc_configuration()
        .unwrap();
    assert_eq!(vpc.subnets(), ["subnet-a", "subnet-b"]);
    assert_eq!(vpc.security_groups(), ["sg-1"]);
    assert_eq!(vpc.assign_public_ip(), Some(&AssignPublicIp::Enabled));
    let tags = tag_map(svc.tags());
    assert_eq!(tags["showtime_managed"], "true");
    assert_eq!(tags["showtime_pr"], "42");
    assert_eq!(tags["showtime_sha"], SHA);
    assert_eq!(tags["showtime_requested_by"], "dependabot@bot");
    assert_eq!(tags["showtime_created"], "2023-11-14T22:13:20Z");
    assert_eq!(tags["showtime_expires"], "2023-11-16T22:13:20Z");
}

#[tokio::test(start_paused = true)]
async fn deploy_on_fargate_spot_uses_the_capacity_provider_and_the_image_template() {
    let describe = mock!(Ecs::describe_services).then_output(missing);
    let (register, register_seen) = register_rule("td".to_owned());
    let (create, create_seen) = create_rule();
    let rules = [&describe, &register, &create];
    let s = EcsSettings {
        capacity: Capacity::FargateSpot,
        assign_public_ip: false,
        image_template: "registry.example/{repository}:{tag}".into(),
        ..settings()
    };
    let b = backend(mock_sdk!(aws_sdk_ecs, rules), no_ecr(), no_ec2(), s);
    let mut spec = spec();
    spec.image = String::new();
    spec.config = Config::default();
    spec.config.debug = true;
    b.deploy(&spec).await.unwrap();

    let td = register_seen.lock().unwrap().clone().unwrap();
    assert_eq!(
        (td.cpu(), td.memory()),
        (Some("1024"), Some("2048")),
        "default medium"
    );
    let container = &td.container_definitions()[0];
    assert_eq!(
        container.image(),
        Some("registry.example/superset-ci:pr-42-abc123f-ci")
    );
    let env = env_map(container);
    assert_eq!(env["SUPERSET_LOG_LEVEL"], "DEBUG");
    assert_eq!(env["FLASK_DEBUG"], "True");
    let svc = create_seen.lock().unwrap().clone().unwrap();
    assert_eq!(svc.launch_type(), None);
    let strategy = &svc.capacity_provider_strategy()[0];
    assert_eq!(strategy.capacity_provider(), "FARGATE_SPOT");
    let vpc = svc
        .network_configuration()
        .unwrap()
        .awsvpc_configuration()
        .unwrap();
    assert_eq!(vpc.assign_public_ip(), Some(&AssignPublicIp::Disabled));
}

#[tokio::test(start_paused = true)]
async fn deploying_an_existing_environment_creates_nothing() {
    let describe = mock!(Ecs::describe_services).then_output(|| {
        described(vec![ours(
            "ACTIVE",
            Some(DeploymentRolloutState::Completed),
            1,
        )])
    });
    let rules = [&describe];
    let b = backend(
        mock_sdk!(aws_sdk_ecs, rules),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    b.deploy(&spec()).await.unwrap();
    assert_eq!(calls(&rules), 1, "an existing environment costs 1 call");
}

#[tokio::test(start_paused = true)]
async fn deploy_waits_out_a_draining_service() {
    let describe = mock!(Ecs::describe_services)
        .sequence()
        .output(|| described(vec![ours("DRAINING", None, 0)]))
        .times(3)
        .output(|| {
            described(vec![service_with(
                "pr-42-abc123f-service",
                "INACTIVE",
                our_tags(),
                None,
            )])
        })
        .build();
    let (register, _) = register_rule("td".to_owned());
    let (create, _) = create_rule();
    let rules = [&describe, &register, &create];
    let (b, log) = progress_log(backend(
        mock_sdk!(aws_sdk_ecs, rules),
        no_ecr(),
        no_ec2(),
        settings(),
    ));
    let started = tokio::time::Instant::now();
    b.deploy(&spec()).await.unwrap();
    assert_eq!(
        describe.num_calls(),
        4,
        "3 polls while DRAINING, then INACTIVE"
    );
    assert_eq!(calls(&rules), 6);
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(30),
        "3 polls 10 s apart"
    );
    let log = log.lock().unwrap();
    assert!(log[0].contains("DRAINING"), "{log:?}");
}

#[tokio::test(start_paused = true)]
async fn a_service_that_keeps_draining_fails_the_deploy_with_a_bound() {
    let describe = mock!(Ecs::describe_services)
        .sequence()
        .output(|| described(vec![ours("DRAINING", None, 0)]))
        .repeatedly()
        .build();
    let rules = [&describe];
    let s = EcsSettings {
        draining_timeout: Duration::from_secs(30),
        ..settings()
    };
    let b = backend(mock_sdk!(aws_sdk_ecs, rules), no_ecr(), no_ec2(), s);
    let err = b.deploy(&spec()).await.unwrap_err();
    assert!(!err.is_transient());
    assert!(
        err.to_string()
            .contains("still being deleted (DRAINING) after 30s"),
        "{err}"
    );
    assert_eq!(describe.num_calls(), 4, "at 0, 10, 20 and 30 s");
}

#[tokio::test(start_paused = true)]
async fn throttling_is_retried_by_the_sdk() {
    let throttled =
        || DescribeServicesError::generic(error("ThrottlingException", "Rate exceeded"));
    let describe = mock!(Ecs::describe_services)
        .sequence()
        .error(throttled)
        .times(2)
        .output(|| {
            described(vec![ours(
                "ACTIVE",
                Some(DeploymentRolloutState::Completed),
                1,
            )])
        })
        .build();
    let rules = [&describe];
    let b = backend(
        mock_sdk!(aws_sdk_ecs, rules),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    b.deploy(&spec()).await.unwrap();
    assert_eq!(
        describe.num_calls(),
        3,
        "two throttled attempts, then the answer"
    );

    // Throttled through every attempt: transient, for the engine to retry.
    let always = mock!(Ecs::describe_services)
        .sequence()
        .error(throttled)
        .times(5)
        .build();
    let rules = [&always];
    let b = backend(
        mock_sdk!(aws_sdk_ecs, rules),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    let err = b.deploy(&spec()).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("ThrottlingException"), "{err}");
    assert_eq!(always.num_calls(), 5, "the SDK's 5 attempts");
}

#[tokio::test(start_paused = true)]
async fn access_denied_is_permanent_and_names_the_permission() {
    let describe = mock!(Ecs::describe_services).then_output(missing);
    let (register, _) = register_rule("td".to_owned());
    let create = mock!(Ecs::create_service).then_error(|| {
        aws_sdk_ecs::operation::create_service::CreateServiceError::generic(error(
            "AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: \
             ecs:CreateService",
        ))
    });
    let rules = [&describe, &register, &create];
    let b = backend(
        mock_sdk!(aws_sdk_ecs, rules),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    let err = b.deploy(&spec()).await.unwrap_err();
    let PortError::Permanent { message } = &err else {
        panic!("expected a permanent error, got {err:?}");
    };
    assert!(message.contains("needs `ecs:CreateService`"), "{message}");
    assert!(message.contains("not authorized"), "{message}");
    assert_eq!(create.num_calls(), 1, "access denied is not retried");
}

#[tokio::test(start_paused = true)]
async fn a_missing_cluster_says_how_to_fix_it() {
    let list = mock!(Ecs::list_services).then_error(|| {
        ListServicesError::generic(error("ClusterNotFoundException", "Cluster not found."))
    });
    let rules = [&list];
    let b = backend(
        mock_sdk!(aws_sdk_ecs, rules),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    let err = b.list(None).await.unwrap_err();
    assert!(!err.is_transient());
    let text = err.to_string();
    assert!(text.contains("`superset-ci` not found"), "{text}");
    assert!(text.contains("SHOWTIME_ECS_CLUSTER"), "{text}");
    assert!(text.contains("create-cluster"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn an_unknown_size_lists_the_sizes_before_any_call() {
    let b = backend(
        mock_sdk!(aws_sdk_ecs, Vec::<&Rule>::new()),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    let mut spec = spec();
    spec.config.size = Some("huge".parse().unwrap());
    let err = b.deploy(&spec).await.unwrap_err().to_string();
    assert!(err.contains("unknown size `huge`"), "{err}");
    assert!(err.contains("large, medium, small, xlarge"), "{err}");

    let no_subnets = backend(
        mock_sdk!(aws_sdk_ecs, Vec::<&Rule>::new()),
        no_ecr(),
        no_ec2(),
        EcsSettings::default(),
    );
    let err = no_subnets.deploy(&spec).await.unwrap_err().to_string();
    assert!(err.contains("SHOWTIME_ECS_SUBNETS"), "{err}");
}

// ------------------------------------------------------------ wait_ready

#[tokio::test(start_paused = true)]
async fn wait_ready_polls_until_the_task_has_a_network_interface() {
    let describe = mock!(Ecs::describe_services)
        .sequence()
        .output(|| {
            described(vec![ours(
                "ACTIVE",
                Some(DeploymentRolloutState::InProgress),
                0,
            )])
        })
        .output(|| {
            described(vec![ours(
                "ACTIVE",
                Some(DeploymentRolloutState::Completed),
                1,
            )])
        })
        .build();
    // In order: ListTasks and DescribeTasks twice, interleaved.
    let list_tasks = || {
        mock!(Ecs::list_tasks)
            .match_requests(|r| {
                r.service_name() == Some("pr-42-abc123f-service")
                    && r.desired_status().map(|s| s.as_str()) == Some("RUNNING")
            })
            .then_output(|| {
                ListTasksOutput::builder()
                    .task_arns("arn:aws:ecs:us-east-1:123456789012:task/superset-ci/0123")
                    .build()
            })
    };
    let (list, list_again) = (list_tasks(), list_tasks());
    let tasks = mock!(Ecs::describe_tasks)
        .then_output(|| DescribeTasksOutput::builder().tasks(task(vec![])).build());
    let tasks_again = mock!(Ecs::describe_tasks).then_output(|| {
        DescribeTasksOutput::builder()
            .tasks(task(vec![eni_attachment()]))
            .build()
    });
    let eni = Eni::answering("52.1.2.3");
    let ecs_rules = [&describe, &list, &tasks, &list_again, &tasks_again];
    let (b, log) = progress_log(backend(
        mock_sdk!(aws_sdk_ecs, ecs_rules),
        no_ecr(),
        eni.clone(),
        settings(),
    ));
    let address = b.wait_ready(&id()).await.unwrap();
    assert_eq!(address.to_string(), "52.1.2.3:8080");
    assert_eq!(describe.num_calls(), 2);
    assert_eq!(list.num_calls() + list_again.num_calls(), 2);
    assert_eq!(tasks.num_calls() + tasks_again.num_calls(), 2);
    assert_eq!(calls(&ecs_rules) + eni.num_calls(), 7);
    let log = log.lock().unwrap();
    assert!(
        log.iter().any(|m| m.contains("0 of 1 tasks running")),
        "{log:?}"
    );
    assert!(
        log.iter().any(|m| m.contains("no network interface yet")),
        "{log:?}"
    );
}

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

#[tokio::test(start_paused = true)]
async fn the_health_check_is_retried_until_it_passes() {
    let (describe, list, tasks, eni) = ready_rules();
    let seen: Arc<Mutex<Vec<(SocketAddr, String)>>> = Arc::default();
    let record = seen.clone();
    let b = EcsBackend::from_clients(
        mock_sdk!(aws_sdk_ecs, [&describe, &list, &tasks]),
        no_ecr(),
        settings(),
    )
    .with_interfaces(eni.clone())
    .with_health_check(move |addr, path| {
        let mut seen = record.lock().unwrap();
        seen.push((addr, path.to_owned()));
        let pass = seen.len() == 5;
        async move { pass }.boxed()
    });
    let started = tokio::time::Instant::now();
    let address = b.wait_ready(&id()).await.unwrap();
    assert_eq!(address.to_string(), "52.1.2.3:8080");
    let seen = seen.lock().unwrap();
    let paths: Vec<&str> = seen.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(paths, ["/health", "/", "/health", "/", "/health"]);
    assert_eq!(seen[0].0, "52.1.2.3:8080".parse().unwrap());
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(20),
        "two 10 s pauses"
    );
}

#[tokio::test(start_paused = true)]
async fn a_health_check_that_never_passes_is_permanent() {
    let (describe, list, tasks, eni) = ready_rules();
    let s = EcsSettings {
        health_attempts: 3,
        ..settings()
    };
    let b = EcsBackend::from_clients(
        mock_sdk!(aws_sdk_ecs, [&describe, &list, &tasks]),
        no_ecr(),
        s,
    )
    .with_interfaces(eni.clone())
    .with_health_check(|_, _| async { false }.boxed());
    let err = b.wait_ready(&id()).await.unwrap_err();
    assert!(!err.is_transient());
    let text = err.to_string();
    assert!(text.contains("in 3 attempts"), "{text}");
    assert!(text.contains("security groups admit port 8080"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn a_failed_rollout_ends_the_wait_with_its_reason() {
    let describe = mock!(Ecs::describe_services).then_output(|| {
        let mut s = ours("ACTIVE", Some(DeploymentRolloutState::Failed), 0);
        s.deployments = Some(vec![
            Deployment::builder()
                .status("PRIMARY")
                .rollout_state(DeploymentRolloutState::Failed)
                .rollout_state_reason("ECS deployment circuit breaker: tasks failed to start.")
                .desired_count(1)
                .build(),
        ]);
        described(vec![s])
    });
    let b = backend(
        mock_sdk!(aws_sdk_ecs, [&describe]),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    let err = b.wait_ready(&id()).await.unwrap_err();
    assert!(!err.is_transient());
    assert!(err.to_string().contains("circuit breaker"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn readiness_is_bounded_by_the_ready_timeout() {
    let describe = mock!(Ecs::describe_services)
        .sequence()
        .output(|| {
            described(vec![ours(
                "ACTIVE",
                Some(DeploymentRolloutState::InProgress),
                0,
            )])
        })
        .repeatedly()
        .build();
    let s = EcsSettings {
        ready_timeout: Duration::from_secs(60),
        ..settings()
    };
    let b = backend(mock_sdk!(aws_sdk_ecs, [&describe]), no_ecr(), no_ec2(), s);
    let started = tokio::time::Instant::now();
    let err = b.wait_ready(&id()).await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_secs(60));
    assert_eq!(describe.num_calls(), 7, "at 0, 10, ..., 60 s");
    assert!(
        !err.is_transient(),
        "the trait: unhealthy past the timeout is permanent"
    );
    assert!(err.to_string().contains("not running after 1m"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn waiting_for_a_missing_environment_is_permanent() {
    let describe = mock!(Ecs::describe_services).then_output(missing);
    let b = backend(
        mock_sdk!(aws_sdk_ecs, [&describe]),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    let err = b.wait_ready(&id()).await.unwrap_err();
    assert!(!err.is_transient());
    assert!(err.to_string().contains("does not exist"), "{err}");
}

// ---------------------------------------------------------- apply_config

#[tokio::test(start_paused = true)]
async fn apply_config_registers_a_new_revision_and_updates_the_service() {
    let describe_first = mock!(Ecs::describe_services).then_output(|| {
        described(vec![ours(
            "ACTIVE",
            Some(DeploymentRolloutState::Completed),
            1,
        )])
    });
    let current = mock!(Ecs::describe_task_definition)
        .match_requests(|r| r.task_definition() == Some(td_arn("pr-42-abc123f", 1).as_str()))
        .then_output(|| {
            let kv = |k: &str, v: &str| KeyValuePair::builder().name(k).value(v).build();
            DescribeTaskDefinitionOutput::builder()
                .task_definition(
                    TaskDefinition::builder()
                        .task_definition_arn(td_arn("pr-42-abc123f", 1))
                        .family("pr-42-abc123f")
                        .cpu("2048")
                        .memory("4096")
                        .execution_role_arn("ecsTaskExecutionRole")
                        .container_definitions(
                            ContainerDefinition::builder()
                                .name("superset")
                                .image("repo/superset:pr-42-abc123f-ci")
                                .environment(kv("SUPERSET_PORT", "8080"))
                                .environment(kv("SUPERSET_LOG_LEVEL", "DEBUG"))
                                .environment(kv("FLASK_DEBUG", "True"))
                                .environment(kv("SUPERSET_FEATURE_OLD", "True"))
                                .environment(kv("SUPERSET_LOAD_EXAMPLES", "yes"))
                                .build(),
                        )
                        .build(),
                )
                .tags(tag("showtime_managed", "true"))
                .build()
        });
    let (register, register_seen) = register_rule(td_arn("pr-42-abc123f", 2));
    let (update_in, update_seen) = captured::<UpdateServiceInput>();
    let update = mock!(Ecs::update_service).then_compute_output(move |r| {
        *update_in.lock().unwrap() = Some(r.clone());
        UpdateServiceOutput::builder().build()
    });
    let (describe, list, tasks, eni) = ready_rules();
    let ecs_rules = [
        &describe_first,
        &current,
        &register,
        &update,
        &describe,
        &list,
        &tasks,
    ];
    let b = backend(
        mock_sdk!(aws_sdk_ecs, ecs_rules),
        no_ecr(),
        eni.clone(),
        settings(),
    );
    let mut config = Config::default();
    config.features.insert("ALERTS".parse().unwrap(), true);
    config.size = Some("small".parse().unwrap());
    b.apply_config(&id(), &config).await.unwrap();
    assert_eq!(
        calls(&ecs_rules) + eni.num_calls(),
        8,
        "apply_config makes 8 calls"
    );

    let td = register_seen.lock().unwrap().clone().unwrap();
    assert_eq!(td.family(), Some("pr-42-abc123f"));
    assert_eq!(
        (td.cpu(), td.memory()),
        (Some("512"), Some("1024")),
        "size small"
    );
    assert_eq!(td.execution_role_arn(), Some("ecsTaskExecutionRole"));
    let container = &td.container_definitions()[0];
    assert_eq!(
        container.image(),
        Some("repo/superset:pr-42-abc123f-ci"),
        "same image"
    );
    let env = env_map(container);
    assert_eq!(env["SUPERSET_FEATURE_ALERTS"], "True");
    assert!(!env.contains_key("SUPERSET_FEATURE_OLD"), "{env:?}");
    assert!(!env.contains_key("FLASK_DEBUG"), "debug off: {env:?}");
    assert_eq!(
        env["SUPERSET_LOG_LEVEL"], "INFO",
        "back to the template's value"
    );
    assert_eq!(env["SUPERSET_PORT"], "8080");
    assert_eq!(tag_map(td.tags())["showtime_managed"], "true");

    let up = update_seen.lock().unwrap().clone().unwrap();
    assert_eq!(up.service(), Some("pr-42-abc123f-service"));
    assert_eq!(
        up.task_definition(),
        Some(td_arn("pr-42-abc123f", 2).as_str())
    );
    assert_eq!(up.force_new_deployment(), Some(true));
}

// --------------------------------------------------------------- destroy

fn family_rules() -> (Rule, Rule) {
    (
        mock!(Ecs::list_task_definitions)
            .match_requests(|r| r.family_prefix() == Some("pr-42-abc123f"))
            .then_output(|| {
                ListTaskDefinitionsOutput::builder()
                    .task_definition_arns(td_arn("pr-42-abc123f", 1))
                    .task_definition_arns(td_arn("pr-42-abc123f-other", 1))
                    .task_definition_arns(td_arn("pr-42-abc123f", 2))
                    .build()
            }),
        mock!(Ecs::deregister_task_definition)
            .match_requests(|r| {
                let td = r.task_definition().unwrap_or_default();
                td == td_arn("pr-42-abc123f", 1) || td == td_arn("pr-42-abc123f", 2)
            })
            .sequence()
            .output(|| DeregisterTaskDefinitionOutput::builder().build())
            .times(2)
            .build(),
    )
}

#[tokio::test(start_paused = true)]
async fn destroy_deletes_the_service_the_revisions_and_the_image() {
    let describe = mock!(Ecs::describe_services).then_output(|| {
        described(vec![ours(
            "ACTIVE",
            Some(DeploymentRolloutState::Completed),
            1,
        )])
    });
    let delete = mock!(Ecs::delete_service)
        .match_requests(|r| r.force() == Some(true) && r.service() == Some("pr-42-abc123f-service"))
        .then_output(|| DeleteServiceOutput::builder().build());
    let (list, deregister) = family_rules();
    let image = mock!(aws_sdk_ecr::Client::batch_delete_image)
        .match_requests(|r| {
            r.repository_name() == Some("superset-ci")
                && r.image_ids()[0].image_tag() == Some("pr-42-abc123f-ci")
        })
        .then_output(|| {
            aws_sdk_ecr::operation::batch_delete_image::BatchDeleteImageOutput::builder()
                .image_ids(
                    aws_sdk_ecr::types::ImageIdentifier::builder()
                        .image_tag("pr-42-abc123f-ci")
                        .build(),
                )
                .build()
        });
    let rules = [&describe, &delete, &list, &deregister];
    let b = backend(
        mock_sdk!(aws_sdk_ecs, rules),
        mock_sdk!(aws_sdk_ecr, [&image]),
        no_ec2(),
        settings(),
    );
    b.destroy(&id()).await.unwrap();
    assert_eq!(
        deregister.num_calls(),
        2,
        "only family pr-42-abc123f, not -other"
    );
    assert_eq!(
        calls(&rules) + image.num_calls(),
        6,
        "destroy with two revisions makes 6 calls"
    );
}

#[tokio::test(start_paused = true)]
async fn destroying_a_missing_service_still_cleans_up() {
    // The service vanished between DescribeServices and DeleteService.
    let describe = mock!(Ecs::describe_services).then_output(|| {
        described(vec![ours(
            "ACTIVE",
            Some(DeploymentRolloutState::Completed),
            1,
        )])
    });
    let delete = mock!(Ecs::delete_service).then_error(|| {
        DeleteServiceError::generic(error("ServiceNotFoundException", "Service not found."))
    });
    let (list, deregister) = family_rules();
    let image = mock!(aws_sdk_ecr::Client::batch_delete_image).then_output(|| {
        use aws_sdk_ecr::types::{ImageFailure, ImageFailureCode, ImageIdentifier};
        aws_sdk_ecr::operation::batch_delete_image::BatchDeleteImageOutput::builder()
            .failures(
                ImageFailure::builder()
                    .image_id(
                        ImageIdentifier::builder()
                            .image_tag("pr-42-abc123f-ci")
                            .build(),
                    )
                    .failure_code(ImageFailureCode::ImageNotFound)
                    .failure_reason("Requested image not found")
                    .build(),
            )
            .build()
    });
    let rules = [&describe, &delete, &list, &deregister];
    let b = backend(
        mock_sdk!(aws_sdk_ecs, rules),
        mock_sdk!(aws_sdk_ecr, [&image]),
        no_ec2(),
        settings(),
    );
    b.destroy(&id()).await.unwrap();
    assert_eq!(calls(&rules) + image.num_calls(), 6);

    // Already gone everywhere: no DeleteService, nothing to deregister, and
    // the repository itself is missing.
    let describe = mock!(Ecs::describe_services).then_output(missing);
    let list = mock!(Ecs::list_task_definitions)
        .then_output(|| ListTaskDefinitionsOutput::builder().build());
    let image = mock!(aws_sdk_ecr::Client::batch_delete_image).then_error(|| {
        aws_sdk_ecr::operation::batch_delete_image::BatchDeleteImageError::generic(error(
            "RepositoryNotFoundException",
            "The repository does not exist",
        ))
    });
    let rules = [&describe, &list];
    let b = backend(
        mock_sdk!(aws_sdk_ecs, rules),
        mock_sdk!(aws_sdk_ecr, [&image]),
        no_ec2(),
        settings(),
    );
    b.destroy(&id()).await.unwrap();
    assert_eq!(calls(&rules) + image.num_calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_service_that_is_not_ours_is_never_touched() {
    // Named like ours, but without the tag.
    let foreign = || {
        described(vec![service_with(
            "pr-42-abc123f-service",
            "ACTIVE",
            vec![tag("team", "data")],
            None,
        )])
    };
    let describe = mock!(Ecs::describe_services).then_output(foreign);
    let rules = [&describe];
    let b = backend(
        mock_sdk!(aws_sdk_ecs, rules),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    let err = b.destroy(&id()).await.unwrap_err();
    let PortError::Permanent { message } = &err else {
        panic!("expected a permanent error, got {err:?}");
    };
    assert!(message.contains("not managed by Showtime"), "{message}");
    assert!(message.contains("untouched"), "{message}");
    assert_eq!(calls(&rules), 1, "nothing but the look");

    let describe = mock!(Ecs::describe_services).then_output(foreign);
    let b = backend(
        mock_sdk!(aws_sdk_ecs, [&describe]),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    let err = b.apply_config(&id(), &Config::default()).await.unwrap_err();
    assert!(err.to_string().contains("not managed by Showtime"), "{err}");

    // Tagged as ours with `showtime_managed=false`: not ours either.
    let describe = mock!(Ecs::describe_services).then_output(|| {
        let mut tags = our_tags();
        tags[0] = tag("showtime_managed", "false");
        described(vec![service_with(
            "pr-42-abc123f-service",
            "ACTIVE",
            tags,
            None,
        )])
    });
    let b = backend(
        mock_sdk!(aws_sdk_ecs, [&describe]),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    assert!(b.destroy(&id()).await.is_err());
    let describe = mock!(Ecs::describe_services).then_output(|| {
        described(vec![service_with(
            "pr-42-abc123f-service",
            "ACTIVE",
            vec![],
            None,
        )])
    });
    let b = backend(
        mock_sdk!(aws_sdk_ecs, [&describe]),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    assert!(b.deploy(&spec()).await.is_err(), "deploy refuses too");
}

// ------------------------------------------------------------------ list

fn arn(name: &str) -> String {
    format!("arn:aws:ecs:us-east-1:123456789012:service/{CLUSTER}/{name}")
}

/// Answers DescribeServices for whatever it is asked, by name.
fn describe_by_name(r: &DescribeServicesInput) -> DescribeServicesOutput {
    assert!(
        r.services().len() <= 10,
        "DescribeServices takes at most 10"
    );
    assert_eq!(r.include(), [ServiceField::Tags]);
    let services = r
        .services()
        .iter()
        .map(|name| {
            let td = td_arn(name.trim_end_matches("-service"), 1);
            match name.as_str() {
                "pr-7-0000000-service" => {
                    service_with(name, "ACTIVE", vec![tag("team", "data")], None)
                }
                "pr-8-1111111-service" => service_with(
                    name,
                    "ACTIVE",
                    vec![
                        tag("showtime_managed", "true"),
                        tag("showtime_requested_by", "dependabot@bot"),
                    ],
                    Some(deployment(Some(DeploymentRolloutState::InProgress), 0, &td)),
                ),
                "pr-9-2222222-service" => {
                    let mut s = service_with(
                        name,
                        "ACTIVE",
                        our_tags(),
                        Some(deployment(Some(DeploymentRolloutState::Failed), 0, &td)),
                    );
                    s.deployments = Some(vec![
                        Deployment::builder()
                            .status("PRIMARY")
                            .rollout_state(DeploymentRolloutState::Failed)
                            .rollout_state_reason("tasks failed to start")
                            .build(),
                    ]);
                    s
                }
                _ => service_with(
                    name,
                    "ACTIVE",
                    our_tags(),
                    Some(deployment(Some(DeploymentRolloutState::Completed), 1, &td)),
                ),
            }
        })
        .collect();
    described(services)
}

#[tokio::test(start_paused = true)]
async fn list_pages_through_services_and_keeps_only_ours() {
    // Page 1: 100 ARNs, 13 of them Showtime-named; page 2: 4 more ARNs.
    let mut page1: Vec<String> = (0..87).map(|i| arn(&format!("other-{i}"))).collect();
    page1.extend((100..111).map(|n| arn(&format!("pr-{n}-abcdef0-service"))));
    page1.push(arn("pr-7-0000000-service")); // ours by name, not by tag
    page1.push(arn("pr-8-1111111-service")); // starting
    let page2 = vec![
        arn("pr-9-2222222-service"),      // failed
        arn("pr-10-abcdef0-service-old"), // tagged, misnamed
        arn("pr-010-abcdef0-service"),    // misnamed
        arn("superset-ci-service"),
    ];
    assert_eq!(page1.len(), 100);
    let list = mock!(Ecs::list_services)
        .sequence()
        .output(move || {
            ListServicesOutput::builder()
                .set_service_arns(Some(page1.clone()))
                .next_token("page-2")
                .build()
        })
        .output(move || {
            ListServicesOutput::builder()
                .set_service_arns(Some(page2.clone()))
                .build()
        })
        .build();
    let describe_first = mock!(Ecs::describe_services)
        .match_requests(|r| r.services().len() == 10)
        .then_compute_output(describe_by_name);
    let describe_rest = mock!(Ecs::describe_services)
        .match_requests(|r| r.services().len() == 4)
        .then_compute_output(describe_by_name);
    let rules = [&list, &describe_first, &describe_rest];
    let b = backend(
        mock_sdk!(aws_sdk_ecs, rules),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    let envs = b.list(None).await.unwrap();
    assert_eq!(list.num_calls(), 2, "two pages");
    assert_eq!(
        describe_first.num_calls() + describe_rest.num_calls(),
        2,
        "14 Showtime-named services, 10 at a time"
    );
    assert_eq!(
        calls(&rules),
        4,
        "list of 104 services (14 named like ours) makes 4 calls"
    );

    let names: Vec<String> = envs.iter().map(|e| e.id.name()).collect();
    assert_eq!(envs.len(), 13, "{names:?}");
    assert!(
        !names.contains(&"pr-7-0000000".to_owned()),
        "untagged is not ours"
    );
    let starting = envs.iter().find(|e| e.id.name() == "pr-8-1111111").unwrap();
    assert_eq!(starting.health, Health::Starting);
    assert_eq!(
        starting.requested_by.as_ref().map(|l| l.as_str()),
        Some("dependabot[bot]")
    );
    assert_eq!(
        starting.created_at,
        DateTime::<Utc>::from_timestamp(1_600_000_000, 0).unwrap(),
        "no tag: the service's createdAt"
    );
    let failed = envs.iter().find(|e| e.id.name() == "pr-9-2222222").unwrap();
    assert!(
        matches!(&failed.health, Health::Failed { reason } if reason.contains("tasks failed")),
        "{:?}",
        failed.health
    );
    let healthy = envs
        .iter()
        .find(|e| e.id.name() == "pr-100-abcdef0")
        .unwrap();
    assert_eq!(healthy.health, Health::Healthy);
    assert_eq!(healthy.created_at, created());
    assert_eq!(healthy.address, None);
    assert!(healthy.config.is_default());
}

#[tokio::test(start_paused = true)]
async fn list_of_one_pr_describes_only_its_services() {
    let list = mock!(Ecs::list_services)
        .match_requests(|r| r.max_results() == Some(100) && r.cluster() == Some(CLUSTER))
        .then_output(|| {
            ListServicesOutput::builder()
                .service_arns(arn("pr-100-abcdef0-service"))
                .service_arns(arn("pr-100-1234567-service"))
                .service_arns(arn("pr-101-abcdef0-service"))
                .build()
        });
    let describe = mock!(Ecs::describe_services)
        .match_requests(|r| r.services().len() == 2)
        .then_compute_output(describe_by_name);
    let rules = [&list, &describe];
    let b = backend(
        mock_sdk!(aws_sdk_ecs, rules),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    let envs = b.list(Some(PrNumber::new(100).unwrap())).await.unwrap();
    assert_eq!(envs.len(), 2);
    assert!(envs.iter().all(|e| e.id.pr.get() == 100));
    assert_eq!(calls(&rules), 2);
}

#[test]
fn aws_errors_convert_to_port_errors() {
    let e = PortError::from(AwsError::Sdk {
        operation: "ecs:DescribeServices".into(),
        message: "dispatch failure".into(),
        transient: true,
    });
    assert!(e.is_transient());
}

#[tokio::test(start_paused = true)]
async fn a_private_address_comes_from_ecs_without_an_ec2_call() {
    let (describe, list, tasks, _) = ready_rules();
    let s = EcsSettings {
        address: showtime_aws::AddressKind::Private,
        ..settings()
    };
    let b = backend(
        mock_sdk!(aws_sdk_ecs, [&describe, &list, &tasks]),
        no_ecr(),
        no_ec2(),
        s,
    );
    let address = b.wait_ready(&id()).await.unwrap();
    assert_eq!(address.to_string(), "10.0.1.5:8080");
    assert_eq!(
        calls(&[&describe, &list, &tasks]),
        3,
        "3 calls, none to EC2"
    );
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_transient_and_unknown_errors_permanent() {
    let list = mock!(Ecs::list_services).then_error(|| {
        ListServicesError::generic(error("ServerException", "Service unavailable."))
    });
    let b = backend(
        mock_sdk!(aws_sdk_ecs, [&list]),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    let err = b.list(None).await.unwrap_err();
    assert!(err.is_transient(), "{err}");

    let list = mock!(Ecs::list_services)
        .then_error(|| ListServicesError::generic(error("SomethingNewException", "Surprise.")));
    let b = backend(
        mock_sdk!(aws_sdk_ecs, [&list]),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    let err = b.list(None).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(err.to_string().contains("ecs:ListServices failed"), "{err}");

    let list = mock!(Ecs::list_services).then_error(|| {
        ListServicesError::generic(error(
            "InvalidParameterException",
            "maxResults must be at most 100",
        ))
    });
    let b = backend(
        mock_sdk!(aws_sdk_ecs, [&list]),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    let err = b.list(None).await.unwrap_err().to_string();
    assert!(err.contains("AWS rejected ecs:ListServices"), "{err}");
}
