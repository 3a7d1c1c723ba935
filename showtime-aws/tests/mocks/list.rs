//! `list`: paging through the cluster's services and keeping only Showtime's.

use super::*;
use aws_sdk_ecs::operation::describe_services::DescribeServicesInput;
use aws_sdk_ecs::operation::list_services::ListServicesOutput;
use showtime_core::PrNumber;
use showtime_core::ports::Health;

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

/// A task of the service that stopped at `secs`, for `reason`, its
/// container having exited with `code`.
fn stopped_task(secs: i64, reason: &str, code: i32) -> Task {
    use aws_sdk_ecs::types::Container;
    Task::builder()
        .task_arn(format!(
            "arn:aws:ecs:us-east-1:123456789012:task/superset-ci/{secs}"
        ))
        .task_definition_arn(td_arn("pr-42-abc123f", 1))
        .last_status("STOPPED")
        .stopped_at(AwsDateTime::from_secs(secs))
        .stopped_reason(reason)
        .containers(
            Container::builder()
                .name("superset")
                .exit_code(code)
                .reason("OutOfMemoryError: Container killed due to memory usage")
                .build(),
        )
        .build()
}

#[tokio::test(start_paused = true)]
async fn a_service_whose_tasks_die_is_unhealthy_since_its_first_stopped_task() {
    use aws_sdk_ecs::types::DesiredStatus;
    let list = mock!(Ecs::list_services).then_output(|| {
        ListServicesOutput::builder()
            .service_arns(arn("pr-42-abc123f-service"))
            .service_arns(arn("pr-43-abcdef0-service"))
            .build()
    });
    // pr-42 reached steady state and lost its task; pr-43 is healthy.
    let describe = mock!(Ecs::describe_services).then_compute_output(|r| {
        let services = r
            .services()
            .iter()
            .map(|name| match name.as_str() {
                "pr-42-abc123f-service" => {
                    ours("ACTIVE", Some(DeploymentRolloutState::Completed), 0)
                }
                _ => describe_by_name(r).services()[1].clone(),
            })
            .collect();
        described(services)
    });
    let stopped = mock!(Ecs::list_tasks)
        .match_requests(|r| {
            r.service_name() == Some("pr-42-abc123f-service")
                && r.desired_status() == Some(&DesiredStatus::Stopped)
        })
        .then_output(|| {
            ListTasksOutput::builder()
                .task_arns("arn:aws:ecs:us-east-1:123456789012:task/superset-ci/1")
                .task_arns("arn:aws:ecs:us-east-1:123456789012:task/superset-ci/2")
                .task_arns("arn:aws:ecs:us-east-1:123456789012:task/superset-ci/3")
                .build()
        });
    let tasks = mock!(Ecs::describe_tasks)
        .match_requests(|r| r.tasks().len() == 3)
        .then_output(|| {
            DescribeTasksOutput::builder()
                .tasks(stopped_task(
                    1_700_000_600,
                    "Essential container in task exited",
                    137,
                ))
                .tasks(stopped_task(
                    1_700_000_000,
                    "Essential container in task exited",
                    137,
                ))
                // Left by an earlier service of the same name: not counted.
                .tasks(stopped_task(1_500_000_000, "Service deleted", 0))
                .build()
        });
    let rules = [&list, &describe, &stopped, &tasks];
    let b = backend(
        mock_sdk!(aws_sdk_ecs, rules),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    let envs = b.list(None).await.unwrap();
    assert_eq!(
        calls(&rules),
        4,
        "two more reads, for the crashing service only"
    );

    let crashed = envs
        .iter()
        .find(|e| e.id.name() == "pr-42-abc123f")
        .unwrap();
    let Health::Unhealthy { since, reason } = &crashed.health else {
        panic!("{:?}", crashed.health);
    };
    assert_eq!(*since, DateTime::from_timestamp(1_700_000_000, 0).unwrap());
    assert!(reason.contains("0 of 1 tasks running"), "{reason}");
    assert!(reason.contains("2 tasks stopped"), "{reason}");
    assert!(
        reason.contains(
            "Essential container in task exited (superset exited with code 137: OutOfMemoryError"
        ),
        "{reason}"
    );
    let healthy = envs
        .iter()
        .find(|e| e.id.name() == "pr-43-abcdef0")
        .unwrap();
    assert_eq!(healthy.health, Health::Healthy);
}

#[tokio::test(start_paused = true)]
async fn a_service_that_lost_tasks_without_stopped_ones_is_starting() {
    let list = mock!(Ecs::list_services).then_output(|| {
        ListServicesOutput::builder()
            .service_arns(arn("pr-42-abc123f-service"))
            .build()
    });
    let describe = mock!(Ecs::describe_services).then_output(|| {
        described(vec![ours(
            "ACTIVE",
            Some(DeploymentRolloutState::Completed),
            0,
        )])
    });
    let stopped = mock!(Ecs::list_tasks).then_output(|| ListTasksOutput::builder().build());
    let rules = [&list, &describe, &stopped];
    let b = backend(
        mock_sdk!(aws_sdk_ecs, rules),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    let envs = b.list(None).await.unwrap();
    assert_eq!(envs[0].health, Health::Starting);
    assert_eq!(calls(&rules), 3, "nothing to describe");
}
