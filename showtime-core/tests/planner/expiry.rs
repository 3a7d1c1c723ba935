//! Row "TTL expired", its warning: a sweep says once, before the TTL runs
//! out, that the environment is about to expire and how to keep it.

use super::*;

/// Created 10:00, planned at 12:00: a 3h TTL ends at 13:00, in an hour.
const ENDS: &str = "2025-06-01T13-00";

fn healthy() -> [EnvInfo; 1] {
    [env(PR, OLD, Health::Healthy, hours_ago(2))]
}

fn sweep(labels: Vec<String>) -> Observation {
    obs(
        labels,
        pr(OLD),
        Event::Sweep,
        None,
        Some(healthy().to_vec()),
    )
}

fn announces(plan: &Plan) -> bool {
    plan.steps.iter().any(|step| {
        matches!(step, Step::Labels(ops) if ops.iter().any(|op| matches!(op, LabelOp::ExpiryWarned(Some(_)))))
    })
}

#[test]
fn a_sweep_warns_before_the_ttl_runs_out_and_says_how_to_extend() {
    let r = decide(sweep(running(OLD, "3h")), None, &healthy());
    assert!(r.asked.is_empty(), "{:?}", r.asked);
    assert_eq!(
        steps(&r.plan),
        [
            format!("labels: expiry {ENDS} announced"),
            "comment".to_owned(),
            "notify".to_owned()
        ],
        "recorded before anyone is told: at most one warning"
    );
    assert_eq!(r.plan.next, Next::Done);
    assert!(!has_cloud_steps(&r.plan));
    let text = comment(&r.plan);
    assert!(text.contains("2025-06-01 13:00 UTC"), "{text}");
    assert!(text.contains("in 1h 00m"), "{text}");
    assert!(text.contains("/circus extend"), "{text}");
    let notice = r
        .plan
        .steps
        .iter()
        .find_map(|s| match s {
            Step::Notify(n) => Some(n.as_str()),
            _ => None,
        })
        .unwrap();
    assert!(
        notice.starts_with("PR #42: ") && notice.contains("/circus extend"),
        "{notice}"
    );
}

#[test]
fn an_announced_expiry_is_not_announced_again() {
    let labels = with(running(OLD, "3h"), &[&format!("🎪 ⏰ {ENDS}")]);
    let r = decide(sweep(labels), None, &healthy());
    assert!(r.plan.is_empty(), "{}", r.plan);
}

#[test]
fn a_later_expiry_is_announced_anew() {
    // Warned of 13:00 once; the TTL was extended since (or a newer commit
    // restarted the clock): the new expiry is announced, the record replaced.
    let labels = with(running(OLD, "3h"), &["🎪 ⏰ 2025-06-01T11-00"]);
    let r = decide(sweep(labels), None, &healthy());
    assert!(announces(&r.plan), "{}", r.plan);
}

#[test]
fn far_from_its_expiry_nothing_is_said() {
    let r = decide(sweep(running(OLD, "24h")), None, &healthy());
    assert!(r.plan.is_empty(), "{}", r.plan);
}

#[test]
fn close_and_manual_ttls_never_expire_so_never_warn() {
    for ttl in ["close", "manual"] {
        let r = decide(sweep(running(OLD, ttl)), None, &healthy());
        assert!(r.plan.is_empty(), "{ttl}: {}", r.plan);
    }
}

#[test]
fn only_a_sweep_warns() {
    let o = obs(
        running(OLD, "3h"),
        pr(OLD),
        Event::Look,
        actor("alice", None),
        Some(healthy().to_vec()),
    );
    let r = decide(o, Some(Permission::Write), &healthy());
    assert!(!announces(&r.plan), "{}", r.plan);
}

#[test]
fn an_environment_not_serving_is_not_announced() {
    let mut labels = running(OLD, "3h");
    labels[1] = format!("🎪 {OLD} 🚦 failed");
    let r = decide(sweep(labels), None, &healthy());
    assert!(!announces(&r.plan), "{}", r.plan);
}

#[test]
fn the_warning_period_is_the_policys() {
    let mut policy = Policy {
        expiry_warning: Some(Duration::minutes(30)),
        ..Policy::default()
    };
    let r = resolve(sweep(running(OLD, "3h")), &policy, None, &healthy());
    assert!(
        r.plan.is_empty(),
        "an hour left, warned at 30 minutes: {}",
        r.plan
    );
    policy.expiry_warning = None;
    let r = resolve(sweep(running(OLD, "2h")), &policy, None, &healthy());
    assert!(!announces(&r.plan), "never: {}", r.plan);
}

#[test]
fn extending_forgets_the_announcement_in_the_same_transition() {
    let labels = with(running(OLD, "3h"), &[&format!("🎪 ⏰ {ENDS}")]);
    let o = obs(
        labels,
        pr(OLD),
        Event::Command(SlashCommand::Extend("24h".parse().unwrap())),
        actor("alice", None),
        Some(healthy().to_vec()),
    );
    let r = decide(o, Some(Permission::Write), &healthy());
    let ops = label_ops(&r.plan);
    assert!(ops.contains(&&LabelOp::ExpiryWarned(None)), "{ops:?}");
    assert_eq!(
        r.plan
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Labels(_)))
            .count(),
        1,
        "one transition: {}",
        r.plan
    );
}
