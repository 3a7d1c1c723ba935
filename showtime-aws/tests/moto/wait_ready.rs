//! `wait_ready` against moto, which starts no task: it gives up, permanently,
//! within its timeout.

use super::*;

#[tokio::test]
async fn wait_ready_gives_up_without_a_task() {
    let aws = Aws::start().await;
    let backend = aws.backend();
    let spec = spec(&aws, 42, "abc123f");
    backend.deploy(&spec).await.unwrap();

    // The service's rollout is complete, but moto runs no task: no address
    // within the timeout, permanent, and the health check is never tried.
    aws.moto.reset_calls();
    let started = Instant::now();
    let error = backend.wait_ready(&spec.id).await.unwrap_err();
    let waited = started.elapsed();
    let calls = aws.moto.calls();
    assert!(
        matches!(&error, PortError::Permanent { message }
            if message.contains("pr-42-abc123f") && message.contains("no running task")),
        "{error:?}"
    );
    assert!(
        waited >= Duration::from_secs(1),
        "gave up after {waited:?}, before its 1 s timeout"
    );
    assert!(aws.probed.lock().unwrap().is_empty());
    assert!(calls.contains_key("ecs:ListTasks"), "{calls:?}");

    // An environment that does not exist, or is not ours: permanent at once.
    aws.create_foreign_service("pr-5-abc1234-service", "pr-5-abc1234", &[])
        .await;
    for missing in [id(43, "abc123f"), id(5, "abc1234")] {
        aws.moto.reset_calls();
        let error = backend.wait_ready(&missing).await.unwrap_err();
        assert!(matches!(error, PortError::Permanent { .. }), "{error:?}");
        assert_eq!(
            aws.moto.calls(),
            BTreeMap::from([("ecs:DescribeServices".to_owned(), 1)]),
            "{missing}: one look, no polling"
        );
    }
}
