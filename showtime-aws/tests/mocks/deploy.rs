//! `deploy`: the task definition and service it creates, the draining and
//! retry rules it follows, and the errors that stop it.

use super::*;
use aws_sdk_ecs::operation::describe_services::DescribeServicesError;
use aws_sdk_ecs::types::{AssignPublicIp, LaunchType, PropagateTags};
use showtime_aws::Capacity;

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

#[tokio::test(start_paused = true)]
async fn deploy_passes_secrets_as_arns_only() {
    let describe = mock!(Ecs::describe_services).then_output(missing);
    let (register, register_seen) = register_rule(td_arn("pr-42-abc123f", 1));
    let (create, _) = create_rule();
    let rules = [&describe, &register, &create];
    let key = "arn:aws:ssm:us-east-1:123456789012:parameter/showtime/secret-key";
    let table = BTreeMap::from([("SUPERSET_SECRET_KEY".to_owned(), key.to_owned())]);
    let s = EcsSettings {
        secrets: showtime_aws::Secrets::parse(&table, "SUPERSET_FEATURE_").unwrap(),
        ..settings()
    };
    let b = backend(mock_sdk!(aws_sdk_ecs, rules), no_ecr(), no_ec2(), s);
    b.deploy(&spec()).await.unwrap();
    assert_eq!(calls(&rules), 3, "secrets cost no AWS call");

    let td = register_seen.lock().unwrap().clone().unwrap();
    assert_eq!(td.execution_role_arn(), Some("ecsTaskExecutionRole"));
    let container = &td.container_definitions()[0];
    let secrets: Vec<(&str, &str)> = container
        .secrets()
        .iter()
        .map(|s| (s.name(), s.value_from()))
        .collect();
    assert_eq!(secrets, [("SUPERSET_SECRET_KEY", key)]);
    assert!(
        !env_map(container).contains_key("SUPERSET_SECRET_KEY"),
        "no plain value beside the secret"
    );
}

#[tokio::test(start_paused = true)]
async fn secrets_without_an_execution_role_are_refused_before_any_call() {
    let describe = mock!(Ecs::describe_services).then_output(missing);
    let rules = [&describe];
    let table = BTreeMap::from([(
        "API_TOKEN".to_owned(),
        "arn:aws:ssm:us-east-1:123456789012:parameter/token".to_owned(),
    )]);
    let s = EcsSettings {
        secrets: showtime_aws::Secrets::parse(&table, "SUPERSET_FEATURE_").unwrap(),
        task_definition_template: Some(
            r#"{"containerDefinitions":[{"name":"app","image":"x"}]}"#.to_owned(),
        ),
        ..settings()
    };
    let b = backend(mock_sdk!(aws_sdk_ecs, rules), no_ecr(), no_ec2(), s);
    let err = b.deploy(&spec()).await.unwrap_err();
    assert!(!err.is_transient());
    assert!(err.to_string().contains("executionRoleArn"), "{err}");
    assert_eq!(calls(&rules), 0);
}
