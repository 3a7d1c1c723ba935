//! Sweeps, request counts per round, and label set-up.

use super::*;

#[tokio::test]
async fn sweep_destroys_expired_closed_and_orphaned_environments() {
    use showtime_core::ports::{EnvId, EnvInfo};
    let world = world();
    let engine = world.engine();
    let expired = world.open_pr(1, A, "maxime", &["testenv-up"]);
    let closed = world.open_pr(2, A, "maxime", &["testenv-up"]);
    let kept = world.open_pr(3, A, "maxime", &["testenv-up", "🎪 ⌛ 1w"]);
    for pr in [expired, closed, kept] {
        engine
            .reconcile(pr, Event::Look, login("maxime"))
            .await
            .unwrap();
    }
    world.host.edit_pr(closed, |p| p.state = PrState::Closed);
    let orphan = |pr: u64, age_hours: i64| EnvInfo {
        id: EnvId {
            pr: PrNumber::new(pr).unwrap(),
            sha: "ddddddd".parse().unwrap(),
        },
        health: Health::Healthy,
        address: None,
        created_at: world.clock.now_for_tests() - chrono::Duration::hours(age_hours),
        requested_by: None,
        config: Default::default(),
    };
    world.clock.advance(chrono::Duration::hours(49));
    world.backend.insert(orphan(99, 2));
    world.backend.insert(orphan(98, 0));
    // A per-value label definition nothing carries any more, and one a
    // closed PR still carries.
    world
        .host
        .ensure_label_for_tests("🎪 abc1234 📅 2024-01-01T00-00");
    let manual = world.open_pr(4, A, "maxime", &["🎪 ⌛ manual", "🎪 abc1234 🚦 failed"]);
    world.host.edit_pr(manual, |p| p.state = PrState::Closed);
    world.host.ensure_label_for_tests("🎪 abc1234 🚦 failed");

    let before = (
        world.backend.environments(),
        world.host.labels(expired),
        world.host.definitions(),
    );
    let dry = engine.sweep(true).await.unwrap();
    assert_eq!(
        (
            world.backend.environments(),
            world.host.labels(expired),
            world.host.definitions()
        ),
        before,
        "a dry run changes nothing"
    );

    let report = engine.sweep(false).await.unwrap();
    for r in [&dry, &report] {
        let reason = |pr: PrNumber| r.prs[&pr][0].reason.clone();
        assert_eq!(reason(expired), "TTL expired");
        assert_eq!(reason(closed), "PR closed");
        assert!(r.prs[&kept][0].is_empty(), "{:?}", r.prs[&kept]);
        assert_eq!(
            r.orphans.iter().map(EnvId::name).collect::<Vec<_>>(),
            ["pr-99-ddddddd"]
        );
        assert_eq!(
            r.young_orphans.iter().map(EnvId::name).collect::<Vec<_>>(),
            ["pr-98-ddddddd"]
        );
        assert!(
            r.deleted_labels
                .contains(&"🎪 abc1234 📅 2024-01-01T00-00".to_owned())
        );
    }
    assert!(
        !report
            .deleted_labels
            .contains(&"🎪 abc1234 🚦 failed".to_owned()),
        "still attached"
    );
    let left: Vec<String> = world
        .backend
        .environments()
        .iter()
        .map(|e| e.id.name())
        .collect();
    assert_eq!(left, ["pr-3-aaaaaaa", "pr-98-ddddddd"]);
    assert!(world.host.showtime_labels(expired).is_empty());
    assert!(
        !world
            .host
            .labels(expired)
            .contains(&"testenv-up".to_owned()),
        "expiry removes the up-label"
    );
    assert!(world.host.comments(closed)[0].body.contains("closed"));
    assert!(
        world
            .host
            .definitions()
            .contains_key("🎪 abc1234 🚦 failed")
    );
}

#[tokio::test]
async fn one_read_per_round_and_one_permission_lookup_per_run() {
    let world = world();
    let pr = world.open_pr(1, A, "maxime", &["🎪 ⚡ showtime-trigger-start"]);
    let outcome = world
        .engine()
        .reconcile(pr, Event::Look, login("maxime"))
        .await
        .unwrap();
    assert_eq!(world.host.calls("pull_request"), outcome.plans.len() as u64);
    assert_eq!(world.host.calls("permission"), 1);
    let label_steps = outcome
        .plans
        .iter()
        .flat_map(|p| &p.steps)
        .filter(|s| {
            matches!(
                s,
                showtime_core::plan::Step::Labels(_) | showtime_core::plan::Step::Intent(_)
            )
        })
        .count() as u64;
    // One add per transition, and one for the new status comment's id.
    assert!(world.host.calls("add_labels") <= label_steps + 1);
    assert_eq!(world.backend.calls("list"), outcome.plans.len() as u64);

    // Nothing to do: one read, and neither the backend nor permissions asked.
    world.host.reset_counts();
    world.backend.reset_counts();
    let idle = world.open_pr(2, A, "maxime", &["bug"]);
    world
        .engine()
        .reconcile(idle, Event::Look, login("maxime"))
        .await
        .unwrap();
    assert_eq!(world.host.total_calls(), 1);
    assert_eq!(world.backend.total_calls(), 0);
}

#[tokio::test]
async fn setup_labels_defines_every_reusable_label_with_its_colour() {
    let world = world();
    let names = world.engine().setup_labels().await.unwrap();
    let definitions = world.host.definitions();
    assert_eq!(definitions.len(), names.len());
    assert_eq!(definitions["🎪 🚦 running"].0, "28a745");
    assert_eq!(definitions["🎪 ⚡ showtime-trigger-start"].0, "FFD700");
    assert!(definitions.contains_key("testenv-up"));
    assert!(definitions.contains_key("🎪 ⚙️ size-large"));
    assert!(
        definitions
            .values()
            .all(|(_, d)| !d.is_empty() && d.chars().count() <= 100)
    );
    // Running it again changes nothing and fails nothing.
    world.engine().setup_labels().await.unwrap();
    assert_eq!(world.host.definitions(), definitions);
}
