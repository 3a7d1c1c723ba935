//! Rows "up-signal added: build + deploy the head SHA" and "new commit on a
//! PR that has an environment: rolling update".

use super::*;

// ---------------------------------------------------------------------------
// Up-signal added: build + deploy the head SHA
// ---------------------------------------------------------------------------

#[test]
fn start_trigger_on_a_new_sha_builds_and_deploys_the_head() {
    let o = obs(
        labels(&[START]),
        pr(HEAD),
        Event::Look,
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &[]);

    assert_eq!(r.asked, [Need::Permission, Need::Backend]);
    assert_eq!(
        steps(&r.plan),
        expect(
            &[
                "labels: frozen false; building ccccccc; \
                 ccccccc created 2025-06-01T12-00; ccccccc building; ttl 24h",
                "comment",
            ],
            &pipeline(HEAD)
        )
    );
    // The trigger stays until the environment runs: the intent only adds.
    assert!(!label_ops(&r.plan).contains(&&LabelOp::Consume(Trigger::Start)));
    assert!(label_ops(&r.plan).contains(&&LabelOp::Building(Some(short(HEAD)))));
    let d = deployment(&r.plan);
    assert_eq!(d.env, id(PR, HEAD));
    assert_eq!(d.sha, pr(HEAD).head_sha);
    assert_eq!(d.requested_by, Some("alice".parse().unwrap()));
    assert_eq!(d.created_at, now());
    assert_eq!(d.expires_at, Some(now() + Duration::hours(24)));
    // The pointer switch belongs to the next round, on a fresh read.
    assert!(
        !label_ops(&r.plan)
            .iter()
            .any(|op| matches!(op, LabelOp::Active(_)))
    );
    assert_eq!(r.plan.next, Next::Requeue);
}

#[test]
fn start_trigger_while_the_same_sha_is_building_only_consumes_the_trigger() {
    let o = obs(
        labels(&[
            START,
            "🎪 🏗️ ccccccc",
            "🎪 ccccccc 🚦 building",
            "🎪 ccccccc 📅 2025-06-01T11-55",
        ]),
        pr(HEAD),
        Event::Look,
        actor("alice", None),
        None,
    );
    let backend = [env(
        PR,
        HEAD,
        Health::Starting,
        now() - Duration::minutes(5),
    )];
    let r = decide(o, Some(Permission::Write), &backend);

    assert_eq!(r.asked, [Need::Permission, Need::Backend]);
    // Nothing new starts: the build in progress is awaited as any reconcile
    // would await it.
    assert_eq!(
        steps(&r.plan),
        ["labels: consume start", "await pr-42-ccccccc ready"]
    );
    assert!(
        !r.plan
            .steps
            .iter()
            .any(|s| matches!(s, Step::Build { .. } | Step::Deploy(_) | Step::Destroy(_)))
    );
    assert_eq!(label_ops(&r.plan), [&LabelOp::Consume(Trigger::Start)]);
}

#[test]
fn start_trigger_on_a_failed_sha_retries_the_build() {
    let o = obs(
        labels(&[
            START,
            "🎪 ccccccc 🚦 failed",
            "🎪 ccccccc 📅 2025-06-01T09-00",
        ]),
        pr(HEAD),
        Event::Look,
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &[]);

    assert_eq!(
        steps(&r.plan),
        expect(
            &[
                "labels: frozen false; building ccccccc; \
                 ccccccc created 2025-06-01T12-00; ccccccc building; ttl 24h",
                "comment",
            ],
            &pipeline(HEAD)
        )
    );
    // The retry is a fresh environment: it counts its TTL from now, in the
    // labels and in what the backend is told alike.
    let d = deployment(&r.plan);
    assert_eq!(d.created_at, now());
    assert_eq!(d.expires_at, Some(now() + Duration::hours(24)));
    assert_eq!(r.plan.next, Next::Requeue);
}

#[test]
fn start_trigger_on_a_running_sha_destroys_and_rebuilds_it() {
    let o = obs(
        with(running(HEAD, "48h"), &[START]),
        pr(HEAD),
        Event::Look,
        actor("alice", None),
        None,
    );
    let backend = [env(PR, HEAD, Health::Healthy, hours_ago(2))];
    let r = decide(o, Some(Permission::Write), &backend);

    assert_eq!(
        steps(&r.plan),
        expect(
            &[
                "labels: frozen false; no active; building ccccccc; \
                 ccccccc created 2025-06-01T12-00; ccccccc building",
                "comment",
                "destroy pr-42-ccccccc",
            ],
            &pipeline(HEAD)
        )
    );
    let d = deployment(&r.plan);
    assert_eq!(d.created_at, now());
    assert_eq!(d.expires_at, Some(now() + Duration::hours(48)));
    assert_eq!(r.plan.next, Next::Requeue);
}

#[test]
fn refresh_command_starts_an_environment() {
    let o = obs(
        Vec::new(),
        pr(HEAD),
        Event::Command(SlashCommand::Refresh),
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &[]);

    assert_eq!(r.asked, [Need::Permission, Need::Backend]);
    assert_eq!(
        steps(&r.plan),
        expect(
            &[
                "labels: frozen false; building ccccccc; \
                 ccccccc created 2025-06-01T12-00; ccccccc building; ttl 24h",
                "comment",
            ],
            &pipeline(HEAD)
        )
    );
    assert_eq!(r.plan.next, Next::Requeue);
}

// ---------------------------------------------------------------------------
// New commit on a PR that has an environment: rolling update
// ---------------------------------------------------------------------------

#[test]
fn new_commit_with_an_environment_starts_a_rolling_update() {
    let o = obs(
        running(OLD, "48h"),
        pr(HEAD),
        Event::Push,
        actor("bob", None),
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o, Some(Permission::Write), &backend);

    assert_eq!(r.asked, [Need::Permission, Need::Backend]);
    assert_eq!(
        steps(&r.plan),
        expect(
            &[
                "labels: frozen false; building ccccccc; \
                 ccccccc created 2025-06-01T12-00; ccccccc building",
                "comment",
            ],
            &pipeline(HEAD)
        )
    );
    // The old environment keeps serving: still active, not destroyed.
    assert!(
        !label_ops(&r.plan)
            .iter()
            .any(|op| matches!(op, LabelOp::Active(_)))
    );
    assert!(!r.plan.steps.contains(&Step::Destroy(id(PR, OLD))));
    assert_eq!(
        deployment(&r.plan).requested_by,
        Some("bob".parse().unwrap())
    );
    assert_eq!(r.plan.next, Next::Requeue);
}

#[test]
fn rolling_update_next_round_switches_the_pointer_and_destroys_the_old() {
    let o = obs(
        labels(&[
            "🎪 🎯 aaaaaaa",
            "🎪 🏗️ ccccccc",
            "🎪 aaaaaaa 🚦 updating",
            "🎪 aaaaaaa 🌐 10.0.0.7:8080",
            "🎪 aaaaaaa 📅 2025-06-01T10-00",
            "🎪 ccccccc 🚦 deploying",
            "🎪 ccccccc 📅 2025-06-01T11-50",
            "🎪 ⌛ 48h",
        ]),
        pr(HEAD),
        Event::Look,
        actor("bob", Some(Permission::Write)),
        None,
    );
    let backend = [
        env(PR, OLD, Health::Healthy, hours_ago(2)),
        env(PR, HEAD, Health::Healthy, now() - Duration::minutes(10)),
    ];
    let r = decide(o, None, &backend);

    assert_eq!(r.asked, [Need::Backend]);
    assert_eq!(
        steps(&r.plan),
        [
            "labels: active ccccccc; no building; ccccccc running; \
             ccccccc at 10.0.0.7:8080; retire aaaaaaa",
            "destroy pr-42-aaaaaaa",
            "labels: forget aaaaaaa",
            "comment",
            "notify",
        ]
    );
    assert!(label_ops(&r.plan).contains(&&LabelOp::Active(Some(short(HEAD)))));
    assert!(comment(&r.plan).contains("http://10.0.0.7:8080"));
    assert_eq!(r.plan.next, Next::Done);
}

#[test]
fn new_commit_while_frozen_does_nothing() {
    let o = obs(
        with(running(OLD, "48h"), &[FREEZE]),
        pr(HEAD),
        Event::Push,
        actor("bob", None),
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o, Some(Permission::Write), &backend);

    assert!(r.plan.is_empty(), "{}", r.plan);
    assert_eq!(r.plan.next, Next::Done);
}

#[test]
fn new_commit_by_a_user_below_the_permission_level_freezes_instead_of_deploying() {
    let o = obs(
        running(OLD, "48h"),
        pr(HEAD),
        Event::Push,
        actor("mallory", None),
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o, Some(Permission::Read), &backend);

    assert_eq!(r.asked, [Need::Permission]);
    assert_eq!(steps(&r.plan), ["labels: frozen true", "comment"]);
    assert_eq!(label_ops(&r.plan), [&LabelOp::Frozen(true)]);
    let text = comment(&r.plan);
    for needle in [
        "`ccccccc`",
        "@mallory",
        "`read`",
        "`write`",
        "/circus refresh",
    ] {
        assert!(text.contains(needle), "{needle} not in {text}");
    }
    assert!(!has_cloud_steps(&r.plan));
    assert_eq!(r.plan.next, Next::Done);
}
