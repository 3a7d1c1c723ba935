//! `wait_ready`: polling the rollout and the task's address, the HTTP health
//! check, and the bounds that end the wait with a permanent error.

use super::*;
use std::net::SocketAddr;

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
