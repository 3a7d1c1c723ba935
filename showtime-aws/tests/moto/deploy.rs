//! `deploy` against moto: the tagged service with the configuration, and a
//! repeated deploy that creates nothing.

use super::*;

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
