//! Anomalies repaired from the backend's view, and properties of the
//! planner itself.

use super::*;

// ---------------------------------------------------------------------------
// Anomalies repaired
// ---------------------------------------------------------------------------

#[test]
fn two_active_pointers_keep_the_newest_and_destroy_the_other() {
    let o = obs(
        labels(&[
            "🎪 🎯 aaaaaaa",
            "🎪 🎯 bbbbbbb",
            "🎪 aaaaaaa 🚦 running",
            "🎪 aaaaaaa 🌐 10.0.0.7:8080",
            "🎪 bbbbbbb 🚦 running",
            "🎪 bbbbbbb 🌐 10.0.0.7:8080",
            "🎪 ⌛ 48h",
            "🎪 💬 7",
        ]),
        pr(OLD),
        Event::Look,
        None,
        None,
    );
    // The alphabetically later one is the older: the newest wins, not the name.
    let backend = [
        env(PR, "aaaaaaa", Health::Healthy, hours_ago(1)),
        env(PR, "bbbbbbb", Health::Healthy, hours_ago(3)),
    ];
    let r = decide(o, None, &backend);

    assert_eq!(r.asked, [Need::Backend]);
    assert_eq!(
        steps(&r.plan),
        [
            "intent: bbbbbbb destroying",
            "destroy pr-42-bbbbbbb",
            "labels: active aaaaaaa; forget bbbbbbb",
        ]
    );
    assert!(label_ops(&r.plan).contains(&&LabelOp::Active(Some(short("aaaaaaa")))));
    assert_eq!(r.plan.next, Next::Done);
}

#[test]
fn labels_of_an_environment_the_backend_no_longer_has_are_forgotten() {
    let o = obs(
        with(
            running(HEAD, "48h"),
            &["🎪 aaaaaaa 🚦 destroying", "🎪 aaaaaaa 📅 2025-06-01T09-00"],
        ),
        pr(HEAD),
        Event::Look,
        None,
        None,
    );
    let backend = [env(PR, HEAD, Health::Healthy, hours_ago(2))];
    let r = decide(o, None, &backend);

    assert_eq!(steps(&r.plan), ["labels: forget aaaaaaa"]);
    assert_eq!(label_ops(&r.plan), [&LabelOp::Forget(short(OLD))]);
    assert!(!has_cloud_steps(&r.plan));
}

#[test]
fn labels_of_a_failed_environment_are_kept_to_say_what_failed() {
    let o = obs(
        with(running(HEAD, "48h"), &["🎪 bbbbbbb 🚦 failed"]),
        pr(HEAD),
        Event::Look,
        None,
        None,
    );
    let backend = [env(PR, HEAD, Health::Healthy, hours_ago(2))];
    let r = decide(o, None, &backend);

    assert!(r.plan.is_empty(), "{}", r.plan);
}

#[test]
fn unlabelled_backend_environment_is_destroyed_by_default() {
    let o = obs(running(HEAD, "48h"), pr(HEAD), Event::Look, None, None);
    let backend = [
        env(PR, HEAD, Health::Healthy, hours_ago(2)),
        env(PR, OLD, Health::Healthy, hours_ago(3)),
        // Another PR's environment is that PR's business.
        env(7, "ddddddd", Health::Healthy, hours_ago(3)),
    ];
    let r = decide(o, None, &backend);

    assert_eq!(
        steps(&r.plan),
        [
            "intent: aaaaaaa destroying",
            "destroy pr-42-aaaaaaa",
            "labels: forget aaaaaaa",
        ]
    );
    assert_eq!(r.plan.next, Next::Done);
}

#[test]
fn unlabelled_healthy_head_environment_is_adopted_under_the_adopt_policy() {
    let backend = vec![env(PR, HEAD, Health::Healthy, hours_ago(2))];
    // A sweep lists the backend once for every PR.
    let o = obs(Vec::new(), pr(HEAD), Event::Sweep, None, Some(backend));
    let policy = Policy {
        orphans: OrphanPolicy::Adopt,
        ..Policy::default()
    };
    let r = resolve(o, &policy, None, &[]);

    assert_eq!(r.asked, []);
    assert_eq!(
        steps(&r.plan),
        [
            "labels: active ccccccc; no building; ccccccc running; ccccccc at 10.0.0.7:8080",
            "comment",
            "notify",
        ]
    );
    assert!(!has_cloud_steps(&r.plan));
    assert_eq!(r.plan.next, Next::Done);
}

#[test]
fn unlabelled_environment_of_an_older_commit_is_destroyed_even_under_adopt() {
    let backend = vec![env(PR, OLD, Health::Healthy, hours_ago(2))];
    let o = obs(Vec::new(), pr(HEAD), Event::Sweep, None, Some(backend));
    let policy = Policy {
        orphans: OrphanPolicy::Adopt,
        ..Policy::default()
    };
    let r = resolve(o, &policy, None, &[]);

    assert_eq!(
        steps(&r.plan),
        [
            "intent: aaaaaaa destroying",
            "destroy pr-42-aaaaaaa",
            "labels: forget aaaaaaa",
        ]
    );
}

// ---------------------------------------------------------------------------
// Properties of the planner itself
// ---------------------------------------------------------------------------

#[test]
fn same_labels_in_any_order_give_the_same_decision() {
    let names = with(
        running(OLD, "48h"),
        &[
            "🎪 🏗️ ccccccc",
            "🎪 ccccccc 🚦 deploying",
            "🎪 conf-debug-on",
            START,
            "🎪 🚦 dancing",
            "🎪 🎯 zzz",
            "bug",
        ],
    );
    let mut reversed = names.clone();
    reversed.reverse();
    let mut rotated = names.clone();
    rotated.rotate_left(4);
    let backend = vec![
        env(PR, OLD, Health::Healthy, hours_ago(2)),
        env(PR, HEAD, Health::Starting, now() - Duration::minutes(5)),
    ];
    let situations = [
        (Event::Look, None),
        (Event::Sweep, None),
        (Event::Push, actor("bob", Some(Permission::Write))),
        (
            Event::Command(SlashCommand::Refresh),
            actor("alice", Some(Permission::Admin)),
        ),
    ];
    for (event, who) in situations {
        let decisions: Vec<Decision> = [&names, &reversed, &rotated]
            .into_iter()
            .map(|order| {
                let o = obs(
                    order.clone(),
                    pr(HEAD),
                    event.clone(),
                    who.clone(),
                    Some(backend.clone()),
                );
                plan(&o, &Policy::default(), now())
            })
            .collect();
        assert_eq!(decisions[0], decisions[1], "{event:?}");
        assert_eq!(decisions[0], decisions[2], "{event:?}");
    }
}

#[test]
fn sweep_with_a_pending_start_trigger_and_no_actor_builds_nothing() {
    let o = obs(
        labels(&[START]),
        pr(HEAD),
        Event::Sweep,
        None,
        Some(Vec::new()),
    );
    let r = decide(o, None, &[]);

    assert_eq!(r.asked, []);
    assert!(!has_cloud_steps(&r.plan), "{}", r.plan);
    // The trigger waits for an event with someone to act for.
    assert!(
        !label_ops(&r.plan)
            .iter()
            .any(|op| matches!(op, LabelOp::Consume(_) | LabelOp::Building(_)))
    );
    assert_eq!(r.plan.next, Next::Done);
}

#[test]
fn sweep_never_builds_a_head_pushed_after_an_interrupted_build() {
    // A build of `aaaaaaa` was interrupted before deploying, and since then
    // someone pushed the head: nothing may build that head without an
    // authorized push or trigger.
    let o = obs(
        labels(&["🎪 🏗️ aaaaaaa", "🎪 aaaaaaa 🚦 building"]),
        pr(HEAD),
        Event::Sweep,
        None,
        None,
    );
    let r = decide(o, None, &[]);
    assert_eq!(r.asked, [Need::Backend]);
    assert!(!has_cloud_steps(&r.plan), "{}", r.plan);
    assert!(label_ops(&r.plan).contains(&&LabelOp::Forget(short("aaaaaaa"))));
    assert!(comment(&r.plan).contains("interrupted"));
}

#[test]
fn a_running_environment_whose_pr_was_never_told_gets_its_status_comment() {
    // A run cut short between its last transition and its comment (or an
    // environment superset-showtime started) has no `🎪 💬` label.
    let labels: Vec<String> = running(HEAD, "48h")
        .into_iter()
        .filter(|l| !l.contains('💬'))
        .collect();
    let o = obs(labels, pr(HEAD), Event::Look, None, None);
    let backend = [env(PR, HEAD, Health::Healthy, hours_ago(2))];
    let r = decide(o, None, &backend);
    assert_eq!(r.plan.reason, "status comment missing");
    assert_eq!(steps(&r.plan), ["labels: ", "comment"]);

    // With it, nothing to do.
    let o = obs(running(HEAD, "48h"), pr(HEAD), Event::Look, None, None);
    assert!(decide(o, None, &backend).plan.is_empty());
}
