//! A stateful fake of the ECS and ECR calls `EcsBackend` makes: reusable
//! `aws-smithy-mocks` rules sharing one [`FakeCloud`] of services, task
//! definition revisions and tasks. A rollout completes on the second poll, a
//! deleted service drains once, and every task answers on `127.0.0.1`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use aws_sdk_ecr::operation::batch_delete_image::BatchDeleteImageOutput;
use aws_sdk_ecr::types::{ImageFailure, ImageFailureCode};
use aws_sdk_ecs::error::ErrorMetadata;
use aws_sdk_ecs::operation::create_service::{CreateServiceError, CreateServiceOutput};
use aws_sdk_ecs::operation::delete_service::{DeleteServiceError, DeleteServiceOutput};
use aws_sdk_ecs::operation::deregister_task_definition::{
    DeregisterTaskDefinitionError, DeregisterTaskDefinitionOutput,
};
use aws_sdk_ecs::operation::describe_services::{DescribeServicesError, DescribeServicesOutput};
use aws_sdk_ecs::operation::describe_task_definition::{
    DescribeTaskDefinitionError, DescribeTaskDefinitionOutput,
};
use aws_sdk_ecs::operation::describe_tasks::{DescribeTasksError, DescribeTasksOutput};
use aws_sdk_ecs::operation::list_services::{ListServicesError, ListServicesOutput};
use aws_sdk_ecs::operation::list_task_definitions::{
    ListTaskDefinitionsError, ListTaskDefinitionsOutput,
};
use aws_sdk_ecs::operation::list_tasks::{ListTasksError, ListTasksOutput};
use aws_sdk_ecs::operation::register_task_definition::{
    RegisterTaskDefinitionError, RegisterTaskDefinitionInput, RegisterTaskDefinitionOutput,
};
use aws_sdk_ecs::operation::tag_resource::{TagResourceError, TagResourceOutput};
use aws_sdk_ecs::operation::untag_resource::{UntagResourceError, UntagResourceOutput};
use aws_sdk_ecs::operation::update_service::{UpdateServiceError, UpdateServiceOutput};
use aws_sdk_ecs::primitives::DateTime as AwsDateTime;
use aws_sdk_ecs::types::{
    Attachment, Deployment, DeploymentRolloutState, DesiredStatus, Failure, KeyValuePair, Service,
    ServiceField, Tag, Task, TaskDefinition, TaskDefinitionField, TaskDefinitionStatus,
};
use aws_smithy_mocks::{
    MockResponse, MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock,
};

type Ecs = aws_sdk_ecs::Client;
type Ecr = aws_sdk_ecr::Client;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// A deployment of a service: one task of one task definition.
#[derive(Debug, Clone)]
struct FakeDeployment {
    id: String,
    task_definition: String,
    task: String,
    completed: bool,
    /// How many DescribeServices have shown it in progress.
    seen: u32,
}

/// A service and its deployments, the newest (PRIMARY) last.
#[derive(Debug, Clone)]
pub struct FakeService {
    name: String,
    arn: String,
    status: String,
    tags: Vec<Tag>,
    desired: i32,
    task_definition: String,
    deployments: Vec<FakeDeployment>,
}

/// One revision of a task definition family.
#[derive(Debug, Clone)]
struct FakeTaskDefinition {
    arn: String,
    revision: i32,
    active: bool,
    input: RegisterTaskDefinitionInput,
}

/// A task of a service.
#[derive(Debug, Clone)]
struct FakeTask {
    arn: String,
    service: String,
    task_definition: String,
    last_status: String,
    desired_status: String,
    eni: String,
}

/// What the fake ECS and ECR hold.
#[derive(Debug, Default)]
pub struct FakeCloud {
    cluster: String,
    services: BTreeMap<String, FakeService>,
    families: BTreeMap<String, Vec<FakeTaskDefinition>>,
    tasks: Vec<FakeTask>,
    /// ECR image tags of the repository the backend deletes from.
    pub images: Vec<String>,
    next: u64,
}

/// The shared state behind every rule.
pub type Shared = Arc<Mutex<FakeCloud>>;

fn lock(cloud: &Shared) -> MutexGuard<'_, FakeCloud> {
    cloud.lock().unwrap_or_else(|e| e.into_inner())
}

fn meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

impl FakeCloud {
    /// An empty cloud with one cluster.
    pub fn new(cluster: &str) -> Shared {
        Arc::new(Mutex::new(FakeCloud {
            cluster: cluster.to_owned(),
            ..FakeCloud::default()
        }))
    }

    fn next(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    fn cluster_ok(&self, cluster: Option<&str>) -> bool {
        let name = cluster.map(|c| c.rsplit('/').next().unwrap_or(c));
        name.is_none_or(|c| c == self.cluster)
    }

    fn service_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:ecs:{REGION}:{ACCOUNT}:service/{}/{name}",
            self.cluster
        )
    }

    /// A service that is not Showtime's, as another team would create it:
    /// ACTIVE, running, with these tags.
    pub fn plant_service(&mut self, name: &str, tags: Vec<Tag>) {
        let family = format!("{name}-family");
        let input = RegisterTaskDefinitionInput::builder()
            .family(&family)
            .build()
            .unwrap_or_else(|_| unreachable!("a family is all a registration needs"));
        let td = self.register(input);
        let arn = self.service_arn(name);
        let mut service = FakeService {
            name: name.to_owned(),
            arn,
            status: "ACTIVE".to_owned(),
            tags,
            desired: 1,
            task_definition: td.clone(),
            deployments: Vec::new(),
        };
        self.deploy(&mut service, &td);
        for d in &mut service.deployments {
            d.completed = true;
        }
        let task = service.deployments[0].task.clone();
        self.set_task(&task, "RUNNING", None);
        self.services.insert(name.to_owned(), service);
    }

    /// A fingerprint of a service (status, tags, desired count, task
    /// definition) to see whether anything changed it.
    pub fn fingerprint(&self, name: &str) -> Option<String> {
        self.services.get(name).map(|s| {
            format!(
                "{} {:?} {} {}",
                s.status, s.tags, s.desired, s.task_definition
            )
        })
    }

    /// Whether a task definition family has an ACTIVE revision.
    pub fn family_active(&self, family: &str) -> bool {
        self.families
            .get(family)
            .is_some_and(|revs| revs.iter().any(|r| r.active))
    }

    fn register(&mut self, input: RegisterTaskDefinitionInput) -> String {
        let family = input.family().unwrap_or_default().to_owned();
        let revs = self.families.entry(family.clone()).or_default();
        let revision = revs.len() as i32 + 1;
        let arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{revision}");
        revs.push(FakeTaskDefinition {
            arn: arn.clone(),
            revision,
            active: true,
            input,
        });
        arn
    }

    fn find_td(&self, name: &str) -> Option<&FakeTaskDefinition> {
        let short = name.rsplit('/').next().unwrap_or(name);
        let (family, revision) = match short.rsplit_once(':') {
            Some((f, r)) => (f, r.parse::<i32>().ok()),
            None => (short, None),
        };
        let revs = self.families.get(family)?;
        match revision {
            Some(r) => revs.iter().find(|t| t.revision == r),
            None => revs.iter().rev().find(|t| t.active),
        }
    }

    /// Starts a new PRIMARY deployment of `td` on `service`, with one task.
    fn deploy(&mut self, service: &mut FakeService, td: &str) {
        let n = self.next();
        let task = format!(
            "arn:aws:ecs:{REGION}:{ACCOUNT}:task/{}/{n:032x}",
            self.cluster
        );
        self.tasks.push(FakeTask {
            arn: task.clone(),
            service: service.name.clone(),
            task_definition: td.to_owned(),
            last_status: "PROVISIONING".to_owned(),
            desired_status: "RUNNING".to_owned(),
            eni: format!("eni-{n:08x}"),
        });
        service.task_definition = td.to_owned();
        service.deployments.push(FakeDeployment {
            id: format!("ecs-svc/{n}"),
            task_definition: td.to_owned(),
            task,
            completed: false,
            seen: 0,
        });
    }

    fn set_task(&mut self, arn: &str, last: &str, desired: Option<&str>) {
        if let Some(t) = self.tasks.iter_mut().find(|t| t.arn == arn) {
            t.last_status = last.to_owned();
            if let Some(d) = desired {
                t.desired_status = d.to_owned();
            }
        }
    }

    /// What DescribeServices shows of `name`, after which time passes for it.
    fn observe(&mut self, name: &str) -> Option<Service> {
        let shown = self.services.get(name).map(service_view)?;
        let mut service = self.services.remove(name)?;
        match service.status.as_str() {
            "DRAINING" => service.status = "INACTIVE".to_owned(),
            "ACTIVE" => {
                if let Some(primary) = service.deployments.last_mut() {
                    if !primary.completed {
                        primary.seen += 1;
                        if primary.seen > 1 {
                            primary.completed = true;
                        }
                    }
                }
                if service.deployments.last().is_some_and(|d| d.completed) {
                    let old: Vec<FakeDeployment> = service
                        .deployments
                        .drain(..service.deployments.len() - 1)
                        .collect();
                    for d in old {
                        self.set_task(&d.task, "STOPPED", Some("STOPPED"));
                    }
                    if let Some(primary) = service.deployments.last() {
                        let task = primary.task.clone();
                        self.set_task(&task, "RUNNING", None);
                    }
                }
            }
            _ => {}
        }
        self.services.insert(name.to_owned(), service);
        Some(shown)
    }
}

fn service_view(s: &FakeService) -> Service {
    let active = s.status == "ACTIVE";
    let count = s.deployments.len();
    let deployments: Vec<Deployment> = s
        .deployments
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let primary = i + 1 == count;
            let running = i32::from(d.completed && active);
            Deployment::builder()
                .id(&d.id)
                .status(if primary { "PRIMARY" } else { "ACTIVE" })
                .task_definition(&d.task_definition)
                .desired_count(if primary && active { s.desired } else { 0 })
                .running_count(running)
                .pending_count(i32::from(!d.completed && active))
                .rollout_state(if d.completed {
                    DeploymentRolloutState::Completed
                } else {
                    DeploymentRolloutState::InProgress
                })
                .build()
        })
        .collect();
    let running = deployments.iter().map(|d| d.running_count()).sum();
    Service::builder()
        .service_name(&s.name)
        .service_arn(&s.arn)
        .status(&s.status)
        .desired_count(if active { s.desired } else { 0 })
        .running_count(running)
        .task_definition(&s.task_definition)
        .set_tags(Some(s.tags.clone()))
        .set_deployments(Some(deployments))
        .created_at(AwsDateTime::from_secs(1_700_000_000))
        .build()
}

fn td_view(td: &FakeTaskDefinition) -> TaskDefinition {
    let i = &td.input;
    TaskDefinition::builder()
        .task_definition_arn(&td.arn)
        .set_family(i.family().map(str::to_owned))
        .revision(td.revision)
        .status(if td.active {
            TaskDefinitionStatus::Active
        } else {
            TaskDefinitionStatus::Inactive
        })
        .set_task_role_arn(i.task_role_arn().map(str::to_owned))
        .set_execution_role_arn(i.execution_role_arn().map(str::to_owned))
        .set_network_mode(i.network_mode().cloned())
        .set_requires_compatibilities(Some(i.requires_compatibilities().to_vec()))
        .set_runtime_platform(i.runtime_platform().cloned())
        .set_ephemeral_storage(i.ephemeral_storage().cloned())
        .set_volumes(Some(i.volumes().to_vec()))
        .set_cpu(i.cpu().map(str::to_owned))
        .set_memory(i.memory().map(str::to_owned))
        .set_container_definitions(Some(i.container_definitions().to_vec()))
        .build()
}

fn task_view(t: &FakeTask) -> Task {
    let kv = |k: &str, v: &str| KeyValuePair::builder().name(k).value(v).build();
    Task::builder()
        .task_arn(&t.arn)
        .task_definition_arn(&t.task_definition)
        .group(format!("service:{}", t.service))
        .last_status(&t.last_status)
        .desired_status(&t.desired_status)
        .attachments(
            Attachment::builder()
                .r#type("ElasticNetworkInterface")
                .status("ATTACHED")
                .details(kv("subnetId", "subnet-a"))
                .details(kv("networkInterfaceId", &t.eni))
                .details(kv("privateIPv4Address", "127.0.0.1"))
                .build(),
        )
        .build()
}

fn upsert_tags(tags: &mut Vec<Tag>, new: &[Tag]) {
    for t in new {
        tags.retain(|old| old.key() != t.key());
        tags.push(t.clone());
    }
}

/// Every ECS rule of the fake, over `cloud`.
fn ecs_rules(cloud: &Shared) -> Vec<Rule> {
    let c = cloud.clone();
    let describe_services = mock!(Ecs::describe_services).then_compute_response(move |r| {
        let mut cloud = lock(&c);
        if !cloud.cluster_ok(r.cluster()) {
            return MockResponse::Error(DescribeServicesError::generic(meta(
                "ClusterNotFoundException",
                "Cluster not found.",
            )));
        }
        let with_tags = r.include().contains(&ServiceField::Tags);
        let mut out = DescribeServicesOutput::builder();
        for name in r.services() {
            let short = name.rsplit('/').next().unwrap_or(name);
            match cloud.observe(short) {
                Some(mut s) => {
                    if !with_tags {
                        s.tags = None;
                    }
                    out = out.services(s);
                }
                None => {
                    out = out.failures(
                        Failure::builder()
                            .arn(cloud.service_arn(short))
                            .reason("MISSING")
                            .build(),
                    );
                }
            }
        }
        MockResponse::Output(out.build())
    });

    let c = cloud.clone();
    let list_services = mock!(Ecs::list_services).then_compute_response(move |r| {
        let cloud = lock(&c);
        if !cloud.cluster_ok(r.cluster()) {
            return MockResponse::Error(ListServicesError::generic(meta(
                "ClusterNotFoundException",
                "Cluster not found.",
            )));
        }
        let arns: Vec<String> = cloud
            .services
            .values()
            .filter(|s| s.status != "INACTIVE")
            .map(|s| s.arn.clone())
            .collect();
        // Small pages, so the backend's paging is exercised.
        let page = r.max_results().unwrap_or(10).clamp(1, 2) as usize;
        let start: usize = r.next_token().and_then(|t| t.parse().ok()).unwrap_or(0);
        let end = (start + page).min(arns.len());
        let mut out = ListServicesOutput::builder()
            .set_service_arns(Some(arns[start.min(end)..end].to_vec()));
        if end < arns.len() {
            out = out.next_token(end.to_string());
        }
        MockResponse::Output(out.build())
    });

    let c = cloud.clone();
    let create_service = mock!(Ecs::create_service).then_compute_response(move |r| {
        let mut cloud = lock(&c);
        let name = r.service_name().unwrap_or_default().to_owned();
        let td = r.task_definition().unwrap_or_default();
        let Some(td) = cloud
            .find_td(td)
            .filter(|t| t.active)
            .map(|t| t.arn.clone())
        else {
            return MockResponse::Error(CreateServiceError::generic(meta(
                "ClientException",
                "TaskDefinition not found.",
            )));
        };
        if cloud
            .services
            .get(&name)
            .is_some_and(|s| s.status != "INACTIVE")
        {
            return MockResponse::Error(CreateServiceError::generic(meta(
                "InvalidParameterException",
                "Creation of service was not idempotent.",
            )));
        }
        let mut service = FakeService {
            arn: cloud.service_arn(&name),
            name: name.clone(),
            status: "ACTIVE".to_owned(),
            tags: r.tags().to_vec(),
            desired: r.desired_count().unwrap_or(1),
            task_definition: td.clone(),
            deployments: Vec::new(),
        };
        cloud.deploy(&mut service, &td);
        let view = service_view(&service);
        cloud.services.insert(name, service);
        MockResponse::Output(CreateServiceOutput::builder().service(view).build())
    });

    let c = cloud.clone();
    let update_service = mock!(Ecs::update_service).then_compute_response(move |r| {
        let mut cloud = lock(&c);
        let name = r.service().unwrap_or_default();
        let short = name.rsplit('/').next().unwrap_or(name).to_owned();
        let Some(mut service) = cloud.services.remove(&short) else {
            return MockResponse::Error(UpdateServiceError::generic(meta(
                "ServiceNotFoundException",
                "Service not found.",
            )));
        };
        let answer = if service.status != "ACTIVE" {
            MockResponse::Error(UpdateServiceError::generic(meta(
                "ServiceNotActiveException",
                "Service was not ACTIVE.",
            )))
        } else {
            let td = r
                .task_definition()
                .map(|t| cloud.find_td(t).filter(|t| t.active).map(|t| t.arn.clone()))
                .unwrap_or_else(|| Some(service.task_definition.clone()));
            match td {
                None => MockResponse::Error(UpdateServiceError::generic(meta(
                    "ClientException",
                    "TaskDefinition not found.",
                ))),
                Some(td) => {
                    if let Some(n) = r.desired_count() {
                        service.desired = n;
                    }
                    if td != service.task_definition || r.force_new_deployment() == Some(true) {
                        cloud.deploy(&mut service, &td);
                    }
                    MockResponse::Output(
                        UpdateServiceOutput::builder()
                            .service(service_view(&service))
                            .build(),
                    )
                }
            }
        };
        cloud.services.insert(short, service);
        answer
    });

    let c = cloud.clone();
    let delete_service = mock!(Ecs::delete_service).then_compute_response(move |r| {
        let mut cloud = lock(&c);
        let name = r.service().unwrap_or_default();
        let short = name.rsplit('/').next().unwrap_or(name).to_owned();
        let Some(mut service) = cloud.services.remove(&short) else {
            return MockResponse::Error(DeleteServiceError::generic(meta(
                "ServiceNotFoundException",
                "Service not found.",
            )));
        };
        let answer = if service.status != "ACTIVE" {
            MockResponse::Error(DeleteServiceError::generic(meta(
                "ServiceNotActiveException",
                "Service was not ACTIVE.",
            )))
        } else if service.desired > 0 && r.force() != Some(true) {
            MockResponse::Error(DeleteServiceError::generic(meta(
                "InvalidParameterException",
                "The service cannot be stopped while it is scaled above 0.",
            )))
        } else {
            service.status = "DRAINING".to_owned();
            service.desired = 0;
            let tasks: Vec<String> = service.deployments.iter().map(|d| d.task.clone()).collect();
            for t in tasks {
                cloud.set_task(&t, "STOPPED", Some("STOPPED"));
            }
            MockResponse::Output(
                DeleteServiceOutput::builder()
                    .service(service_view(&service))
                    .build(),
            )
        };
        cloud.services.insert(short, service);
        answer
    });

    let c = cloud.clone();
    let register = mock!(Ecs::register_task_definition).then_compute_response(move |r| {
        let mut cloud = lock(&c);
        if r.family().is_none_or(str::is_empty) || r.container_definitions().is_empty() {
            return MockResponse::Error(RegisterTaskDefinitionError::generic(meta(
                "ClientException",
                "A family and container definitions are required.",
            )));
        }
        let arn = cloud.register(r.clone());
        let td = cloud.find_td(&arn).map(td_view);
        MockResponse::Output(
            RegisterTaskDefinitionOutput::builder()
                .set_task_definition(td)
                .set_tags(Some(r.tags().to_vec()))
                .build(),
        )
    });

    let c = cloud.clone();
    let describe_td = mock!(Ecs::describe_task_definition).then_compute_response(move |r| {
        let cloud = lock(&c);
        match cloud.find_td(r.task_definition().unwrap_or_default()) {
            None => MockResponse::Error(DescribeTaskDefinitionError::generic(meta(
                "ClientException",
                "Unable to describe task definition.",
            ))),
            Some(td) => {
                let tags = r
                    .include()
                    .contains(&TaskDefinitionField::Tags)
                    .then(|| td.input.tags().to_vec());
                MockResponse::Output(
                    DescribeTaskDefinitionOutput::builder()
                        .task_definition(td_view(td))
                        .set_tags(tags)
                        .build(),
                )
            }
        }
    });

    let c = cloud.clone();
    let list_tds = mock!(Ecs::list_task_definitions).then_compute_response(move |r| {
        let cloud = lock(&c);
        if r.next_token().is_some() {
            return MockResponse::Error(ListTaskDefinitionsError::generic(meta(
                "InvalidParameterException",
                "The next token is not valid.",
            )));
        }
        let prefix = r.family_prefix().unwrap_or_default();
        let want_active = r.status() != Some(&TaskDefinitionStatus::Inactive);
        let arns: Vec<String> = cloud
            .families
            .iter()
            .filter(|(family, _)| family.starts_with(prefix))
            .flat_map(|(_, revs)| revs.iter())
            .filter(|t| t.active == want_active)
            .map(|t| t.arn.clone())
            .collect();
        MockResponse::Output(
            ListTaskDefinitionsOutput::builder()
                .set_task_definition_arns(Some(arns))
                .build(),
        )
    });

    let c = cloud.clone();
    let deregister = mock!(Ecs::deregister_task_definition).then_compute_response(move |r| {
        let mut cloud = lock(&c);
        let name = r.task_definition().unwrap_or_default().to_owned();
        let Some(arn) = cloud.find_td(&name).map(|t| t.arn.clone()) else {
            return MockResponse::Error(DeregisterTaskDefinitionError::generic(meta(
                "ClientException",
                "The specified task definition does not exist.",
            )));
        };
        let mut view = None;
        for revs in cloud.families.values_mut() {
            if let Some(td) = revs.iter_mut().find(|t| t.arn == arn) {
                td.active = false;
                view = Some(td_view(td));
            }
        }
        MockResponse::Output(
            DeregisterTaskDefinitionOutput::builder()
                .set_task_definition(view)
                .build(),
        )
    });

    let c = cloud.clone();
    let list_tasks = mock!(Ecs::list_tasks).then_compute_response(move |r| {
        let cloud = lock(&c);
        if !cloud.cluster_ok(r.cluster()) {
            return MockResponse::Error(ListTasksError::generic(meta(
                "ClusterNotFoundException",
                "Cluster not found.",
            )));
        }
        let desired = r
            .desired_status()
            .unwrap_or(&DesiredStatus::Running)
            .as_str();
        let arns: Vec<String> = cloud
            .tasks
            .iter()
            .filter(|t| r.service_name().is_none_or(|s| s == t.service))
            .filter(|t| t.desired_status == desired)
            .map(|t| t.arn.clone())
            .collect();
        MockResponse::Output(ListTasksOutput::builder().set_task_arns(Some(arns)).build())
    });

    let c = cloud.clone();
    let describe_tasks = mock!(Ecs::describe_tasks).then_compute_response(move |r| {
        let cloud = lock(&c);
        if !cloud.cluster_ok(r.cluster()) {
            return MockResponse::Error(DescribeTasksError::generic(meta(
                "ClusterNotFoundException",
                "Cluster not found.",
            )));
        }
        let mut out = DescribeTasksOutput::builder();
        for arn in r.tasks() {
            match cloud.tasks.iter().find(|t| &t.arn == arn) {
                Some(t) => out = out.tasks(task_view(t)),
                None => out = out.failures(Failure::builder().arn(arn).reason("MISSING").build()),
            }
        }
        MockResponse::Output(out.build())
    });

    let c = cloud.clone();
    let tag_resource = mock!(Ecs::tag_resource).then_compute_response(move |r| {
        let mut cloud = lock(&c);
        let arn = r.resource_arn().unwrap_or_default();
        match cloud.services.values_mut().find(|s| s.arn == arn) {
            Some(s) => {
                upsert_tags(&mut s.tags, r.tags());
                MockResponse::Output(TagResourceOutput::builder().build())
            }
            None => MockResponse::Error(TagResourceError::generic(meta(
                "InvalidParameterException",
                "The specified resource could not be found.",
            ))),
        }
    });

    let c = cloud.clone();
    let untag_resource = mock!(Ecs::untag_resource).then_compute_response(move |r| {
        let mut cloud = lock(&c);
        let arn = r.resource_arn().unwrap_or_default();
        match cloud.services.values_mut().find(|s| s.arn == arn) {
            Some(s) => {
                s.tags
                    .retain(|t| !r.tag_keys().iter().any(|k| Some(k.as_str()) == t.key()));
                MockResponse::Output(UntagResourceOutput::builder().build())
            }
            None => MockResponse::Error(UntagResourceError::generic(meta(
                "InvalidParameterException",
                "The specified resource could not be found.",
            ))),
        }
    });

    vec![
        describe_services,
        list_services,
        create_service,
        update_service,
        delete_service,
        register,
        describe_td,
        list_tds,
        deregister,
        list_tasks,
        describe_tasks,
        tag_resource,
        untag_resource,
    ]
}

/// The ECR rule of the fake: BatchDeleteImage of the tags it holds.
fn ecr_rules(cloud: &Shared) -> Vec<Rule> {
    let c = cloud.clone();
    let delete = mock!(Ecr::batch_delete_image).then_compute_output(move |r| {
        let mut cloud = lock(&c);
        let mut out = BatchDeleteImageOutput::builder();
        for image in r.image_ids() {
            let tag = image.image_tag().unwrap_or_default().to_owned();
            let before = cloud.images.len();
            cloud.images.retain(|t| t != &tag);
            if cloud.images.len() == before {
                out = out.failures(
                    ImageFailure::builder()
                        .image_id(image.clone())
                        .failure_code(ImageFailureCode::ImageNotFound)
                        .failure_reason("Requested image not found")
                        .build(),
                );
            } else {
                out = out.image_ids(image.clone());
            }
        }
        out.build()
    });
    vec![delete]
}

/// A client of `$krate` answered by `$rules`, any of them any number of
/// times; a call no rule answers fails the test.
macro_rules! fake_client {
    ($krate:ident, $rules:expr) => {{
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
        for rule in &$rules {
            interceptor = interceptor.with_rule(rule);
        }
        $krate::Client::from_conf(
            $krate::Config::builder()
                .behavior_version($krate::config::BehaviorVersion::latest())
                .region($krate::config::Region::new(REGION))
                .credentials_provider($krate::config::Credentials::new(
                    "AKIDFAKE", "secret", None, None, "fake",
                ))
                .retry_config($krate::config::retry::RetryConfig::standard().with_max_attempts(5))
                .http_client(create_mock_http_client())
                .interceptor(interceptor)
                .build(),
        )
    }};
}

/// ECS and ECR clients over `cloud`.
pub fn clients(cloud: &Shared) -> (Ecs, Ecr) {
    (
        fake_client!(aws_sdk_ecs, ecs_rules(cloud)),
        fake_client!(aws_sdk_ecr, ecr_rules(cloud)),
    )
}
