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
            "labels: consume stop; aaaaaaa destroying; ccccccc destroying",
            "destroy pr-42-aaaaaaa",
            "destroy pr-42-ccccccc",
            "labels: reset",
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
            "labels: aaaaaaa destroying",
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

    assert_eq!(r.asked, [Need::Permission, Need::Backend]);
    assert_eq!(
        steps(&r.plan),
        [
            "labels: aaaaaaa destroying",
            "destroy pr-42-aaaaaaa",
            "labels: reset",
            "comment",
            "notify",
        ]
    );
    assert!(comment(&r.plan).contains("@alice destroyed the environment"));
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
            "labels: consume start; consume stop; aaaaaaa destroying",
            "destroy pr-42-aaaaaaa",
            "labels: reset",
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
            "labels: aaaaaaa destroying",
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
            "labels: aaaaaaa destroying",
            "remove label `testenv-up`",
            "destroy pr-42-aaaaaaa",
            "labels: reset",
            "comment",
            "notify",
        ]
    );
    assert!(
        r.plan
            .steps
            .contains(&Step::RemoveLabel("testenv-up".to_owned()))
    );
    let text = comment(&r.plan);
    assert!(text.contains("expired at 2025-05-31 10:00 UTC"), "{text}");
    assert!(text.contains("`24h`"), "{text}");
    assert_eq!(r.plan.next, Next::Done);
}
