//! `list` against moto: only Showtime's services, among many that are not.

use super::*;
use showtime_core::ports::Health;

#[tokio::test]
async fn list_returns_only_managed_services() {
    let aws = Aws::start().await;
    let backend = aws.backend();

    // 120 environments: PRs 1 to 60, two commits each.
    let started = Instant::now();
    let mut expected = BTreeSet::new();
    for i in 0..120u64 {
        let spec = spec(&aws, 1 + i / 2, &format!("{:07x}", 0xabc_0000 + i));
        backend.deploy(&spec).await.unwrap();
        expected.insert(spec.id);
    }
    let deploy_time = started.elapsed();

    // 10 services that are not Showtime's.
    let ours = [(MANAGED_TAG, "true")];
    for (name, family, tags) in [
        // Named like ours, untagged.
        ("pr-1-abc1234-service", "pr-1-abc1234", &[][..]),
        ("pr-7-1234567-service", "pr-7-1234567", &[]),
        ("pr-300-fedcba9-service", "pr-300-fedcba9", &[]),
        // Named like ours, tagged as not managed.
        (
            "pr-9-abc1234-service",
            "pr-9-abc1234",
            &[(MANAGED_TAG, "false")],
        ),
        // Tagged as ours, misnamed.
        ("pr-7-service", "pr-7", &ours),
        ("pr-8-abc1234-svc", "pr-8-abc1234-svc", &ours),
        ("superset-worker", "superset-worker", &ours),
        // Plain.
        ("superset-ci-metrics", "metrics", &[]),
        ("redis", "redis", &[]),
        ("nginx", "nginx", &[("team", "data")]),
    ] {
        aws.create_foreign_service(name, family, tags).await;
    }
    assert_eq!(aws.active_services().await.len(), 130);

    aws.moto.reset_calls();
    let listed = backend.list(None).await.unwrap();
    let calls = aws.moto.calls();
    let ids: BTreeSet<EnvId> = listed.iter().map(|e| e.id.clone()).collect();
    assert_eq!(listed.len(), 120, "one entry per environment");
    assert_eq!(ids, expected);
    for info in &listed {
        assert_eq!(
            info.requested_by.as_ref().map(Login::as_str),
            Some("maxime")
        );
        assert_eq!(info.created_at, time("2026-03-01T10:00:00Z"));
        assert_eq!(info.health, Health::Healthy, "{}", info.id);
    }
    // ListServices pages of 100 (moto answers in one page); DescribeServices
    // in tens, for the 124 services *named* like Showtime's.
    assert!(calls["ecs:ListServices"] <= 2, "{calls:?}");
    assert_eq!(calls["ecs:DescribeServices"], 13, "{calls:?}");
    assert_eq!(calls.len(), 2, "{calls:?}");

    // One PR: both commits of PR 1, not the foreign pr-1-abc1234-service.
    let one = backend.list(Some(PrNumber::new(1).unwrap())).await.unwrap();
    let one: Vec<String> = one.iter().map(|e| e.id.name()).collect();
    assert_eq!(one, ["pr-1-abc0000", "pr-1-abc0001"]);
    let nine = backend.list(Some(PrNumber::new(9).unwrap())).await.unwrap();
    assert!(nine.iter().all(|e| e.id.pr.get() == 9));
    assert_eq!(nine.len(), 2);
    let none = backend
        .list(Some(PrNumber::new(300).unwrap()))
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");

    eprintln!("120 deploys against moto took {deploy_time:?}");
}
