//! Rows "sleep" and "wake": a sweep scales an idle environment to zero
//! (after `after_idle`, in quiet hours, on weekends, in the schedule's time
//! zone); `/circus wake` or a new commit brings it back; the TTL still
//! counts. Planned at Sunday 2025-06-01 12:00 UTC (14:00 in Paris).

use showtime_core::schedule::SleepSchedule;

use super::*;

fn schedule(after_idle: Option<i64>, quiet: Option<&str>, weekends: bool) -> Policy {
    Policy {
        sleep: Some(SleepSchedule {
            after_idle: after_idle.map(Duration::hours),
            quiet_hours: quiet.map(|q| q.parse().unwrap()),
            weekends,
            time_zone: "Europe/Paris".parse().unwrap(),
        }),
        ..Policy::default()
    }
}

/// `OLD` serving since `created` (a label time), TTL `1w`.
fn serving_since(created: &str) -> Vec<String> {
    vec![
        format!("🎪 🎯 {OLD}"),
        format!("🎪 {OLD} 🚦 running"),
        format!("🎪 {OLD} 🌐 10.0.0.7:8080"),
        format!("🎪 {OLD} 📅 {created}"),
        format!("🎪 {OLD} 🤡 alice"),
        "🎪 ⌛ 1w".to_owned(),
        "🎪 💬 7".to_owned(),
    ]
}

/// `OLD` asleep, created at 10:00 today, with `ttl`.
fn asleep(ttl: &str) -> Vec<String> {
    vec![
        format!("🎪 🎯 {OLD}"),
        format!("🎪 {OLD} 🚦 sleeping"),
        format!("🎪 {OLD} 📅 2025-06-01T10-00"),
        format!("🎪 {OLD} 🤡 alice"),
        format!("🎪 ⌛ {ttl}"),
        "🎪 💬 7".to_owned(),
    ]
}

fn pr_active_at(head: &str, updated: DateTime<Utc>) -> PullRequest {
    let mut pr = pr(head);
    pr.updated_at = Some(updated);
    pr
}

fn sweep_of(labels: Vec<String>, updated: DateTime<Utc>, backend: &[EnvInfo]) -> Observation {
    obs(
        labels,
        pr_active_at(OLD, updated),
        Event::Sweep,
        None,
        Some(backend.to_vec()),
    )
}

const SLEEP_STEPS: [&str; 3] = [
    "put pr-42-aaaaaaa to sleep",
    "labels: aaaaaaa sleeping; aaaaaaa no address",
    "comment",
];

fn healthy_old() -> Vec<EnvInfo> {
    vec![env(PR, OLD, Health::Healthy, hours_ago(30))]
}

fn asleep_old() -> Vec<EnvInfo> {
    vec![env(PR, OLD, Health::Asleep, hours_ago(2))]
}

#[test]
fn a_sweep_puts_an_environment_idle_past_after_idle_to_sleep() {
    let policy = schedule(Some(8), None, false);
    let obs = sweep_of(
        serving_since("2025-05-31T06-00"),
        hours_ago(9),
        &healthy_old(),
    );
    let r = resolve(obs, &policy, None, &[]);
    assert_eq!(steps(&r.plan), SLEEP_STEPS, "{}", r.plan);
    assert_eq!(r.plan.reason, "sleep (idle for 9h 00m)");
    assert_eq!(r.plan.next, Next::Done);
    let text = comment(&r.plan);
    assert!(
        text.contains("/circus wake") && text.contains("TTL"),
        "{text}"
    );
}

#[test]
fn recent_activity_or_a_recent_creation_keeps_it_awake() {
    let policy = schedule(Some(8), None, false);
    // A comment an hour ago.
    let obs = sweep_of(
        serving_since("2025-05-31T06-00"),
        hours_ago(1),
        &healthy_old(),
    );
    assert_eq!(resolve(obs, &policy, None, &[]).plan.reason, "converged");
    // Created two hours ago, the PR quiet for longer.
    let obs = sweep_of(
        serving_since("2025-06-01T10-00"),
        hours_ago(20),
        &healthy_old(),
    );
    assert_eq!(resolve(obs, &policy, None, &[]).plan.reason, "converged");
}

#[test]
fn without_a_schedule_nothing_sleeps() {
    let obs = sweep_of(
        serving_since("2025-05-31T06-00"),
        hours_ago(30),
        &healthy_old(),
    );
    assert_eq!(decide(obs, None, &[]).plan.reason, "converged");
}

#[test]
fn quiet_hours_in_the_time_zone_put_it_to_sleep_whatever_its_idleness() {
    // 14:00 in Paris (UTC+2 in June) is within 13:00-15:00.
    let policy = schedule(Some(8), Some("13:00-15:00"), false);
    // Last active 12:30 Paris (10:30 UTC), before the quiet time began.
    let obs = sweep_of(
        serving_since("2025-05-31T06-00"),
        now() - Duration::minutes(90),
        &healthy_old(),
    );
    let r = resolve(obs, &policy, None, &[]);
    assert_eq!(steps(&r.plan), SLEEP_STEPS);
    assert_eq!(r.plan.reason, "sleep (quiet hours)");
    // Woken at 13:30 Paris (11:30 UTC), within the quiet time: left awake
    // until the next one.
    let obs = sweep_of(
        serving_since("2025-05-31T06-00"),
        now() - Duration::minutes(30),
        &healthy_old(),
    );
    assert_eq!(resolve(obs, &policy, None, &[]).plan.reason, "converged");
    // 12:00-13:00 Paris does not contain 14:00.
    let policy = schedule(None, Some("12:00-13:00"), false);
    let obs = sweep_of(
        serving_since("2025-05-31T06-00"),
        hours_ago(3),
        &healthy_old(),
    );
    assert_eq!(resolve(obs, &policy, None, &[]).plan.reason, "converged");
}

#[test]
fn weekends_put_it_to_sleep() {
    // 2025-06-01 is a Sunday; last active on Friday.
    let policy = schedule(None, None, true);
    let obs = sweep_of(
        serving_since("2025-05-30T06-00"),
        hours_ago(48),
        &healthy_old(),
    );
    let r = resolve(obs, &policy, None, &[]);
    assert_eq!(steps(&r.plan), SLEEP_STEPS);
    assert_eq!(r.plan.reason, "sleep (weekend)");
}

#[test]
fn only_a_settled_running_environment_sleeps() {
    let policy = schedule(Some(1), None, true);
    // A failing one is not put to sleep.
    let failing = [env(
        PR,
        OLD,
        Health::Failed {
            reason: "crashed".into(),
        },
        hours_ago(30),
    )];
    let obs = sweep_of(serving_since("2025-05-30T06-00"), hours_ago(48), &failing);
    let r = resolve(obs, &policy, None, &[]);
    assert!(
        !r.plan.steps.iter().any(|s| matches!(s, Step::Sleep(_))),
        "{}",
        r.plan
    );
    // Nor one with a build beside it.
    let mut building = serving_since("2025-05-30T06-00");
    building.extend([format!("🎪 🏗️ {HEAD}"), format!("🎪 {HEAD} 🚦 building")]);
    let obs = sweep_of(building, hours_ago(48), &healthy_old());
    let r = resolve(obs, &policy, None, &[]);
    assert!(
        !r.plan.steps.iter().any(|s| matches!(s, Step::Sleep(_))),
        "{}",
        r.plan
    );
}

#[test]
fn a_sweep_never_wakes_a_sleeping_environment() {
    let policy = schedule(Some(8), Some("20:00-07:00"), true);
    let obs = sweep_of(asleep("1w"), hours_ago(1), &asleep_old());
    let r = resolve(obs, &policy, None, &[]);
    assert_eq!(r.plan.reason, "converged", "{}", r.plan);
}

#[test]
fn wake_command_wakes_awaits_then_labels_it_running() {
    let obs1 = obs(
        asleep("1w"),
        pr(OLD),
        Event::Command(SlashCommand::Wake),
        actor("alice", None),
        None,
    );
    let r = decide(obs1, Some(Permission::Write), &asleep_old());
    assert_eq!(r.asked, [Need::Permission, Need::Backend]);
    assert_eq!(
        steps(&r.plan),
        ["wake pr-42-aaaaaaa", "await pr-42-aaaaaaa ready"]
    );
    assert_eq!(r.plan.next, Next::Requeue);
    // The next round, with the environment ready: labels, then the reply.
    let mut obs2 = obs(
        asleep("1w"),
        pr(OLD),
        Event::Command(SlashCommand::Wake),
        actor("alice", Some(Permission::Write)),
        Some(asleep_old()),
    );
    obs2.ready
        .insert(id(PR, OLD), "10.0.0.9:8080".parse().unwrap());
    let r = decide(obs2, None, &[]);
    assert_eq!(
        steps(&r.plan),
        [
            "labels: aaaaaaa running; aaaaaaa at 10.0.0.9:8080",
            "comment"
        ]
    );
    assert_eq!(r.plan.next, Next::Done);
}

#[test]
fn wake_needs_the_permission_refresh_needs() {
    let obs = obs(
        asleep("1w"),
        pr(OLD),
        Event::Command(SlashCommand::Wake),
        actor("visitor", None),
        None,
    );
    let r = decide(obs, Some(Permission::Read), &asleep_old());
    assert_eq!(r.plan.refusal, Some(Refusal::Permission));
    assert!(!has_cloud_steps(&r.plan));
}

#[test]
fn wake_of_an_awake_environment_says_so() {
    let obs = obs(
        running(OLD, "1w"),
        pr(OLD),
        Event::Command(SlashCommand::Wake),
        actor("alice", Some(Permission::Write)),
        None,
    );
    let r = decide(obs, None, &healthy_old());
    assert!(!has_cloud_steps(&r.plan));
    assert!(comment(&r.plan).contains("no sleeping environment"));
}

#[test]
fn a_new_commit_wakes_it_through_a_rolling_update() {
    let obs = obs(
        asleep("1w"),
        pr(HEAD),
        Event::Push,
        actor("alice", Some(Permission::Write)),
        None,
    );
    let r = decide(obs, None, &asleep_old());
    let s = steps(&r.plan);
    assert!(
        s.ends_with(&pipeline(HEAD)),
        "the new commit is built and deployed beside the sleeping one: {s:?}"
    );
    assert_eq!(r.plan.next, Next::Requeue);
}

#[test]
fn the_ttl_still_counts_while_asleep() {
    // Created 10:00 with a 1h TTL: expired at 11:00.
    let obs = obs(asleep("1h"), pr(OLD), Event::Sweep, None, None);
    let r = decide(obs, None, &asleep_old());
    assert!(
        r.plan
            .steps
            .iter()
            .any(|s| s == &Step::Destroy(id(PR, OLD))),
        "{}",
        r.plan
    );
    assert!(comment(&r.plan).contains("expired"));
}

#[test]
fn closing_the_pr_destroys_a_sleeping_environment() {
    let obs = obs(asleep("1w"), closed(pr(OLD)), Event::Look, None, None);
    let r = decide(obs, None, &asleep_old());
    assert!(
        r.plan
            .steps
            .iter()
            .any(|s| s == &Step::Destroy(id(PR, OLD))),
        "{}",
        r.plan
    );
}

#[test]
fn labels_follow_the_backend_after_a_crash_between_sleep_and_labels() {
    // Put to sleep, labels not yet written.
    let seen = obs(running(OLD, "1w"), pr(OLD), Event::Look, None, None);
    let r = decide(seen, None, &asleep_old());
    assert_eq!(
        steps(&r.plan),
        ["labels: aaaaaaa sleeping; aaaaaaa no address"]
    );
    // Woken, labels not yet written: the backend's address is taken.
    let seen = obs(asleep("1w"), pr(OLD), Event::Look, None, None);
    let r = decide(seen, None, &healthy_old());
    assert_eq!(
        steps(&r.plan),
        ["labels: aaaaaaa running; aaaaaaa at 10.0.0.7:8080"]
    );
}
