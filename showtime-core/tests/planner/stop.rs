//! Rows "up-signal removed, stop trigger, /circus destroy", "PR closed or
//! merged" and "TTL expired": every environment destroyed, state removed.

use super::*;

// ---------------------------------------------------------------------------
// Up-signal removed, stop trigger, /circus destroy: destroy, remove state
// ---------------------------------------------------------------------------

#[test]
fn stop_trigger_destroys_every_environment_and_resets_the_labels() {
    let o = obs(
        labels(&[
            STOP,
            "🎪 🎯 aaaaaaa",
            "🎪 🏗️ ccccccc",
            "🎪 aaaaaaa 🚦 updating",
            "🎪 ccccccc 🚦 building",
        ]),
        pr(HEAD),
        Event::Look,
        actor("alice", None),
        None,
    );
    let backend = [
        env(PR, OLD, Health::Healthy, hours_ago(2)),
        env(PR, HEAD, Health::Starting, now() - Duration::minutes(5)),
        env(7, "ddddddd", Health::Healthy, hours_ago(2)),
    ];
    let r = decide(o, Some(Permission::Write), &backend);

    assert_eq!(r.asked, [Need::Permission, Need::Backend]);
    assert_eq!(
        steps(&r.plan),
        [
            "intent: aaaaaaa destroying; ccccccc destroying",
            "destroy pr-42-aaaaaaa",
            "destroy pr-42-ccccccc",
            "labels: reset; consume stop",
            "comment",
            "notify",
        ]
    );
    assert!(comment(&r.plan).contains("@alice destroyed the environment"));
    assert_eq!(r.plan.next, Next::Done);
}

#[test]
fn up_label_removed_destroys_the_environment() {
    let o = obs(
        running(OLD, "48h"),
        pr(OLD),
        Event::UpLabelRemoved,
        actor("alice", None),
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o, Some(Permission::Write), &backend);

    assert_eq!(
        steps(&r.plan),
        [
            "intent: aaaaaaa destroying",
            "destroy pr-42-aaaaaaa",
            "labels: reset",
            "comment",
            "notify",
        ]
    );
    assert_eq!(r.plan.next, Next::Done);
}

#[test]
fn destroy_command_tears_down() {
    let o = obs(
        running(OLD, "48h"),
        pr(OLD),
        Event::Command(SlashCommand::Destroy),
        actor("alice", None),
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o, Some(Permission::Write), &backend);

    // Alice asked for it: dismissing her own environment needs no look-up.
    assert_eq!(r.asked, [Need::Backend]);
    assert_eq!(
        steps(&r.plan),
        [
            "intent: aaaaaaa destroying",
            "destroy pr-42-aaaaaaa",
            "labels: reset",
            "comment",
            "notify",
        ]
    );
    assert!(comment(&r.plan).contains("@alice destroyed the environment"));
}

#[test]
fn destroying_someone_elses_environment_needs_the_permission() {
    let o = |who: &str| {
        obs(
            running(OLD, "48h"),
            pr(OLD),
            Event::Command(SlashCommand::Destroy),
            actor(who, None),
            None,
        )
    };
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o("bob"), Some(Permission::Write), &backend);
    assert_eq!(r.asked, [Need::Permission, Need::Backend]);
    assert!(steps(&r.plan).contains(&"destroy pr-42-aaaaaaa".to_owned()));

    let r = decide(o("mallory"), Some(Permission::Read), &backend);
    assert_eq!(r.plan.refusal, Some(Refusal::Permission));
    assert!(!has_cloud_steps(&r.plan), "{}", r.plan);
}

#[test]
fn stop_and_start_triggers_together_stop_wins() {
    let o = obs(
        with(running(OLD, "48h"), &[START, STOP]),
        pr(HEAD),
        Event::Look,
        actor("alice", None),
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o, Some(Permission::Write), &backend);

    assert_eq!(
        steps(&r.plan),
        [
            "intent: aaaaaaa destroying",
            "destroy pr-42-aaaaaaa",
            "labels: reset; consume start; consume stop",
            "comment",
            "notify",
        ]
    );
    assert!(!r.plan.steps.iter().any(|s| matches!(s, Step::Build { .. })));
}

// ---------------------------------------------------------------------------
// PR closed or merged: destroy, unless the TTL is manual
// ---------------------------------------------------------------------------

#[test]
fn pr_closed_destroys_even_without_an_actor() {
    let o = obs(
        running(OLD, "48h"),
        closed(pr(OLD)),
        Event::Look,
        None,
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o, None, &backend);

    assert_eq!(r.asked, [Need::Backend]);
    assert_eq!(
        steps(&r.plan),
        [
            "intent: aaaaaaa destroying",
            "destroy pr-42-aaaaaaa",
            "labels: reset",
            "comment",
            "notify",
        ]
    );
    assert!(comment(&r.plan).contains("closed"));
    assert_eq!(r.plan.next, Next::Done);
}

#[test]
fn pr_closed_before_its_triggers_were_acted_on_drops_them() {
    // Start, then stop, then closed, all before any reconcile: nothing
    // was built, and the triggers must not stay to act on a reopen.
    let o = obs(
        labels(&[START, STOP, UP, "needs review"]),
        closed(pr(HEAD)),
        Event::Look,
        None,
        None,
    );
    let r = decide(o, None, &[]);

    assert_eq!(r.asked, [Need::Backend]);
    assert!(!has_cloud_steps(&r.plan), "{}", r.plan);
    assert_eq!(
        label_ops(&r.plan),
        [
            &LabelOp::Consume(Trigger::Start),
            &LabelOp::Consume(Trigger::Stop),
        ],
        "the up-label is people's, and other labels are never touched"
    );
    assert_eq!(r.plan.next, Next::Done);

    // Without triggers a closed PR with nothing running costs nothing.
    let o = obs(labels(&[UP]), closed(pr(HEAD)), Event::Look, None, None);
    assert!(decide(o, None, &[]).plan.is_empty());
}

#[test]
fn pr_closed_with_ttl_manual_keeps_the_environment() {
    let o = obs(
        running(OLD, "manual"),
        closed(pr(OLD)),
        Event::Look,
        None,
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o, None, &backend);

    assert!(r.plan.is_empty(), "{}", r.plan);
    assert_eq!(r.plan.next, Next::Done);
}

// ---------------------------------------------------------------------------
// TTL expired: destroy on the next sweep, with a comment
// ---------------------------------------------------------------------------

#[test]
fn ttl_expired_destroys_on_a_sweep_and_removes_the_up_label() {
    let o = obs(
        labels(&[
            "🎪 🎯 aaaaaaa",
            "🎪 aaaaaaa 🚦 running",
            "🎪 aaaaaaa 📅 2025-05-30T10-00",
            "🎪 ⌛ 24h",
            UP,
        ]),
        pr(OLD),
        Event::Sweep,
        None,
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(50))];
    let r = decide(o, None, &backend);

    assert_eq!(r.asked, [Need::Backend]);
    assert_eq!(
        steps(&r.plan),
        [
            "intent: aaaaaaa destroying",
            "destroy pr-42-aaaaaaa",
            "labels: reset; consume up",
            "comment",
            "notify",
        ]
    );
    assert!(r.plan.steps.contains(&Step::Labels(vec![
        LabelOp::Reset,
        LabelOp::Consume(Trigger::Up)
    ])));
    let text = comment(&r.plan);
    assert!(text.contains("expired at 2025-05-31 10:00 UTC"), "{text}");
    assert!(text.contains("`24h`"), "{text}");
    assert_eq!(r.plan.next, Next::Done);
}
