//! Refusals: a blocked PR, an actor below the permission level, a quota
//! reached. A refused request gets a reply and changes nothing.

use super::*;

// ---------------------------------------------------------------------------
// Refusals: blocked, permission, quota
// ---------------------------------------------------------------------------

#[test]
fn blocked_pr_only_answers_with_a_comment() {
    let o = obs(
        with(running(OLD, "48h"), &[BLOCKED, START]),
        pr(HEAD),
        Event::Look,
        actor("alice", None),
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o, Some(Permission::Write), &backend);

    assert_eq!(r.asked, []);
    assert_eq!(steps(&r.plan), ["comment"]);
    assert!(comment(&r.plan).contains("showtime-blocked"));
    assert_eq!(r.plan.refusal, Some(Refusal::Blocked));
    assert!(label_ops(&r.plan).is_empty());
    assert!(!has_cloud_steps(&r.plan));
    assert_eq!(r.plan.next, Next::Done);
}

#[test]
fn unauthorized_actor_is_refused_and_the_trigger_consumed() {
    let o = obs(
        labels(&[START]),
        pr(HEAD),
        Event::Look,
        actor("mallory", None),
        None,
    );
    let r = decide(o, Some(Permission::Read), &[]);

    assert_eq!(r.asked, [Need::Permission]);
    assert_eq!(steps(&r.plan), ["labels: consume start", "comment"]);
    assert_eq!(r.plan.refusal, Some(Refusal::Permission));
    let text = comment(&r.plan);
    assert!(text.contains("@mallory"), "{text}");
    assert!(
        text.contains("`read`") && text.contains("`write`"),
        "{text}"
    );
    assert!(!has_cloud_steps(&r.plan));
    assert_eq!(r.plan.next, Next::Done);
}

#[test]
fn quota_per_requester_reached_refuses_the_start() {
    let o = obs(
        labels(&[START]),
        pr(HEAD),
        Event::Look,
        actor("alice", None),
        None,
    );
    let backend: Vec<EnvInfo> = [(1, "1111111"), (2, "2222222"), (3, "3333333")]
        .into_iter()
        .map(|(n, sha)| requested_by(env(n, sha, Health::Healthy, hours_ago(5)), "alice"))
        .collect();
    let policy = Policy {
        quota_per_requester: Some(3),
        ..Policy::default()
    };
    let r = resolve(o, &policy, Some(Permission::Write), &backend);

    assert_eq!(steps(&r.plan), ["labels: consume start", "comment"]);
    let text = comment(&r.plan);
    assert!(text.contains("3 of 3"), "{text}");
    assert!(text.contains("#1, #2, #3"), "{text}");
    assert!(!has_cloud_steps(&r.plan));
    assert_eq!(r.plan.next, Next::Done);
}

#[test]
fn quota_total_reached_refuses_the_start() {
    let o = obs(
        labels(&[START]),
        pr(HEAD),
        Event::Look,
        actor("alice", None),
        None,
    );
    let backend = [
        requested_by(env(1, "1111111", Health::Healthy, hours_ago(5)), "bob"),
        requested_by(env(2, "2222222", Health::Healthy, hours_ago(5)), "carol"),
        env(3, "3333333", Health::Healthy, hours_ago(5)),
    ];
    let policy = Policy {
        quota_per_requester: None,
        quota_total: Some(3),
        ..Policy::default()
    };
    let r = resolve(o, &policy, Some(Permission::Write), &backend);

    assert_eq!(steps(&r.plan), ["labels: consume start", "comment"]);
    let text = comment(&r.plan);
    assert!(text.contains("total quota"), "{text}");
    assert!(text.contains("3 of 3"), "{text}");
    assert!(!has_cloud_steps(&r.plan));
}
