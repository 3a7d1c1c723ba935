//! `apply_config`: a new revision of the running task definition with the
//! configuration's variables and size, the service updated to it and tagged
//! with the configuration.

use super::*;
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use aws_sdk_ecs::operation::tag_resource::{TagResourceInput, TagResourceOutput};
use aws_sdk_ecs::operation::update_service::{UpdateServiceInput, UpdateServiceOutput};

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
    let (tag_in, tag_seen) = captured::<TagResourceInput>();
    let tag_rule = mock!(Ecs::tag_resource).then_compute_output(move |r| {
        *tag_in.lock().unwrap() = Some(r.clone());
        TagResourceOutput::builder().build()
    });
    let (describe, list, tasks, eni) = ready_rules();
    let ecs_rules = [
        &describe_first,
        &current,
        &register,
        &update,
        &tag_rule,
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
        9,
        "apply_config makes 9 calls"
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
    assert_eq!(tag_map(td.tags())["showtime_config"], "size=small +ALERTS");

    let up = update_seen.lock().unwrap().clone().unwrap();
    assert_eq!(up.service(), Some("pr-42-abc123f-service"));
    assert_eq!(
        up.task_definition(),
        Some(td_arn("pr-42-abc123f", 2).as_str())
    );
    assert_eq!(up.force_new_deployment(), Some(true));

    let tagged = tag_seen.lock().unwrap().clone().unwrap();
    assert_eq!(
        tagged.resource_arn(),
        Some("arn:aws:ecs:us-east-1:123456789012:service/superset-ci/pr-42-abc123f-service")
    );
    assert_eq!(
        tag_map(tagged.tags())["showtime_config"],
        "size=small +ALERTS"
    );
}
