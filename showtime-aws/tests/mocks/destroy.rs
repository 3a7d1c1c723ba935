//! `destroy`: the service, the family's revisions and the image removed, what
//! is already gone counted as done, a service not Showtime's never touched.

use super::*;
use aws_sdk_ecs::operation::delete_service::{DeleteServiceError, DeleteServiceOutput};
use aws_sdk_ecs::operation::deregister_task_definition::DeregisterTaskDefinitionOutput;
use aws_sdk_ecs::operation::list_task_definitions::ListTaskDefinitionsOutput;

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
