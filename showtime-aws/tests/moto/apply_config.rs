//! `apply_config` against moto: a new revision with the configuration, the
//! service updated to it before the wait gives up.

use super::*;

#[tokio::test]
async fn apply_config_registers_a_new_revision() {
    let aws = Aws::start().await;
    let backend = aws.backend();
    let spec = spec(&aws, 42, "abc123f");
    backend.deploy(&spec).await.unwrap();

    let config = Config {
        features: BTreeMap::from([(feature("DASHBOARD_RBAC"), true)]),
        size: Some("large".parse().unwrap()),
        ..Config::default()
    };
    aws.moto.reset_calls();
    // The service is updated, then waited for as `wait_ready` does, which
    // cannot succeed without a task (see the top of this file).
    let message = permanent(backend.apply_config(&spec.id, &config).await);
    assert!(message.contains("no running task"), "{message}");
    let calls = aws.moto.calls();

    let service = aws.service("pr-42-abc123f-service").await.unwrap();
    assert_eq!(service.status(), Some("ACTIVE"));
    let arn = service.task_definition().unwrap();
    assert!(arn.ends_with("task-definition/pr-42-abc123f:2"), "{arn}");
    let td = aws.task_definition(arn).await;
    assert_eq!(td.family(), Some("pr-42-abc123f"));
    assert_eq!(td.cpu(), Some("2048"), "size large");
    assert_eq!(td.memory(), Some("4096"));
    assert_eq!(
        td.container_definitions()[0].image(),
        Some(spec.image.as_str()),
        "same image, no rebuild"
    );
    let env = env(&td);
    assert_eq!(
        env.get("SUPERSET_FEATURE_DASHBOARD_RBAC")
            .map(String::as_str),
        Some("True")
    );
    assert_eq!(
        env.get("SUPERSET_FEATURE_ALERTS"),
        None,
        "the previous configuration's flag is gone"
    );
    assert_eq!(
        env.get("SUPERSET_LOG_LEVEL").map(String::as_str),
        Some("INFO"),
        "debug off puts the template's value back"
    );
    assert_eq!(aws.active_revisions("pr-42-abc123f").await.len(), 2);
    assert_eq!(
        tags(&service).get(MANAGED_TAG).map(String::as_str),
        Some("true")
    );
    assert!(aws.probed.lock().unwrap().is_empty());
    // One of each to change the service, then the readiness polls.
    for operation in [
        "ecs:DescribeTaskDefinition",
        "ecs:RegisterTaskDefinition",
        "ecs:UpdateService",
    ] {
        assert_eq!(calls.get(operation), Some(&1), "{operation}: {calls:?}");
    }
    assert!(calls["ecs:DescribeServices"] >= 2, "{calls:?}");

    // Of an environment that does not exist: permanent, nothing registered.
    permanent(backend.apply_config(&id(43, "abc123f"), &config).await);
    assert!(aws.active_revisions("pr-43-abc123f").await.is_empty());
}
