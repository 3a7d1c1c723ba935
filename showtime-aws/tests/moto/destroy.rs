//! `destroy` against moto: the service, its revisions and its image removed;
//! services that are not Showtime's refused untouched.

use super::*;

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
