//! Self-healing rows: "a running environment that dies is marked failed
//! with the backend's reason, notified, and redeployed once; a second
//! failure is left for a person". A sweep notices, and so does any
//! reconcile that lists the backend.

use super::*;

const HEALED: &str = "🎪 🩹 ccccccc";

fn crashed(reason: &str) -> Health {
    Health::Failed {
        reason: reason.to_owned(),
    }
}

fn unhealthy_for(minutes: i64) -> Health {
    Health::Unhealthy {
        since: now() - Duration::minutes(minutes),
        reason: "Essential container in task exited (exit code 137)".to_owned(),
    }
}

fn sweep(labels: Vec<String>, head: &str, backend: &[EnvInfo]) -> Resolved {
    decide(
        obs(labels, pr(head), Event::Sweep, None, None),
        None,
        backend,
    )
}

/// The redeploy of the head commit: failed and recorded, then the rebuild.
fn redeploy_steps() -> Vec<String> {
    expect(
        &[
            "labels: ccccccc failed; ccccccc redeployed once",
            "comment",
            "notify",
            "intent: no active; building ccccccc; ccccccc building",
            "destroy pr-42-ccccccc",
        ],
        &pipeline(HEAD),
    )
}

#[test]
fn a_running_environment_that_crashed_is_failed_notified_and_redeployed_once() {
    let backend = [env(
        PR,
        HEAD,
        crashed("process 7 is no longer running"),
        hours_ago(2),
    )];
    let r = sweep(running(HEAD, "24h"), HEAD, &backend);

    assert_eq!(steps(&r.plan), redeploy_steps());
    assert_eq!(r.plan.next, Next::Requeue);
    let message = comment(&r.plan);
    assert!(
        message.contains("process 7 is no longer running"),
        "{message}"
    );
    assert!(message.contains("redeploys it once"), "{message}");
    assert_eq!(r.plan.failure.as_deref(), Some(message));
    // The redeploy keeps the environment's creation time (its TTL does not
    // start again) and requester.
    let d = deployment(&r.plan);
    assert_eq!(d.created_at, hours_ago(2));
    assert_eq!(d.requested_by, Some("alice".parse().unwrap()));
    let notice = r.plan.steps.iter().find_map(|s| match s {
        Step::Notify(text) => Some(text.clone()),
        _ => None,
    });
    assert!(notice.unwrap().contains("redeploying it once"));
}

#[test]
fn an_event_that_lists_the_backend_notices_too() {
    // A `/circus status` does not list; a look with a trigger already
    // handled does: any reconcile with a listing repairs.
    let backend = [env(PR, HEAD, crashed("gone"), hours_ago(2))];
    let o = obs(running(HEAD, "24h"), pr(HEAD), Event::Look, None, None);
    let r = decide(o, None, &backend);
    assert_eq!(steps(&r.plan), redeploy_steps());
}

#[test]
fn an_unhealthy_environment_is_given_heal_after_to_recover() {
    let young = [env(PR, HEAD, unhealthy_for(4), hours_ago(2))];
    let r = sweep(running(HEAD, "24h"), HEAD, &young);
    assert!(r.plan.is_empty(), "{}", r.plan);

    let old = [env(PR, HEAD, unhealthy_for(5), hours_ago(2))];
    let r = sweep(running(HEAD, "24h"), HEAD, &old);
    assert_eq!(steps(&r.plan), redeploy_steps());
    assert!(comment(&r.plan).contains("exit code 137"));
}

#[test]
fn heal_after_is_the_policy_and_none_watches_nothing() {
    let backend = [env(PR, HEAD, unhealthy_for(20), hours_ago(2))];
    let patient = Policy {
        heal_after: Some(Duration::minutes(30)),
        ..Policy::default()
    };
    let o = obs(running(HEAD, "24h"), pr(HEAD), Event::Sweep, None, None);
    assert!(resolve(o, &patient, None, &backend).plan.is_empty());

    let off = Policy {
        heal_after: None,
        ..Policy::default()
    };
    let dead = [env(PR, HEAD, crashed("gone"), hours_ago(2))];
    let o = obs(running(HEAD, "24h"), pr(HEAD), Event::Sweep, None, None);
    assert!(resolve(o, &off, None, &dead).plan.is_empty());
}

#[test]
fn a_second_failure_after_the_redeploy_is_left_for_a_person() {
    let backend = [env(PR, HEAD, crashed("exit code 1"), hours_ago(2))];
    let r = sweep(with(running(HEAD, "24h"), &[HEALED]), HEAD, &backend);

    assert_eq!(
        steps(&r.plan),
        ["labels: ccccccc failed", "comment", "notify"]
    );
    assert_eq!(r.plan.next, Next::Done);
    assert!(!has_cloud_steps(&r.plan));
    assert!(comment(&r.plan).contains("failed again"));
    assert!(comment(&r.plan).contains("/circus refresh"));
}

#[test]
fn a_failed_environment_stays_failed_until_a_person_acts() {
    let labels: Vec<String> = with(running(HEAD, "24h"), &[HEALED])
        .into_iter()
        .map(|l| l.replace("🚦 running", "🚦 failed"))
        .collect();
    let backend = [env(PR, HEAD, crashed("exit code 1"), hours_ago(2))];
    let r = sweep(labels.clone(), HEAD, &backend);
    assert!(r.plan.is_empty(), "{}", r.plan);

    // `/circus refresh` rebuilds, and clears the record: the next failure
    // is redeployed by itself once more.
    let o = obs(
        labels,
        pr(HEAD),
        Event::Command(SlashCommand::Refresh),
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &backend);
    assert!(has_cloud_steps(&r.plan), "{}", r.plan);
    assert!(
        label_ops(&r.plan).contains(&&LabelOp::Healed(None)),
        "{}",
        r.plan
    );
}

#[test]
fn a_serving_older_commit_is_marked_failed_but_not_redeployed() {
    // Frozen at OLD while the head moved on: only the head's full SHA is
    // known, and people may want the head instead.
    let labels = with(running(OLD, "24h"), &[FREEZE]);
    let backend = [env(PR, OLD, crashed("gone"), hours_ago(2))];
    let r = sweep(labels, HEAD, &backend);

    assert_eq!(
        steps(&r.plan),
        ["labels: aaaaaaa failed", "comment", "notify"]
    );
    assert!(comment(&r.plan).contains("moved on to `ccccccc`"));
}

#[test]
fn a_healthy_or_starting_environment_is_left_alone() {
    for health in [Health::Healthy, Health::Starting] {
        let backend = [env(PR, HEAD, health, hours_ago(2))];
        let r = sweep(running(HEAD, "24h"), HEAD, &backend);
        assert!(r.plan.is_empty(), "{}", r.plan);
    }
}

#[test]
fn an_environment_dying_during_a_rolling_update_is_left_to_the_update() {
    // The new commit is being built: it replaces the dead one soon.
    let labels = with(
        running(OLD, "24h"),
        &[
            "🎪 🏗️ ccccccc",
            "🎪 ccccccc 🚦 building",
            "🎪 ccccccc 📅 2025-06-01T11-55",
        ],
    );
    let backend = [
        env(PR, OLD, crashed("gone"), hours_ago(2)),
        env(PR, HEAD, Health::Starting, now() - Duration::minutes(5)),
    ];
    let r = sweep(labels, HEAD, &backend);
    assert_eq!(steps(&r.plan), ["await pr-42-ccccccc ready"]);
}

#[test]
fn after_the_redeploy_a_ready_environment_runs_again_and_keeps_the_record() {
    // The labels as the redeploy's intent leaves them, the environment
    // ready in the next round.
    let mut labels = with(running(HEAD, "24h"), &[HEALED, "🎪 🏗️ ccccccc"]);
    labels.retain(|l| !l.contains("🚦"));
    labels.push("🎪 ccccccc 🚦 building".to_owned());
    let backend = [env(PR, HEAD, Health::Healthy, now())];
    let r = sweep(labels, HEAD, &backend);

    assert_eq!(r.plan.reason, "activate");
    assert!(
        label_ops(&r.plan).contains(&&LabelOp::Status(short(HEAD), Status::Running)),
        "{}",
        r.plan
    );
    assert!(!label_ops(&r.plan).contains(&&LabelOp::Healed(None)));
}

#[test]
fn a_lost_status_of_an_unhealthy_environment_is_restored_as_running() {
    let mut labels = running(HEAD, "24h");
    labels.retain(|l| !l.contains("🚦"));
    let backend = [env(PR, HEAD, unhealthy_for(1), hours_ago(2))];
    let r = sweep(labels, HEAD, &backend);
    assert_eq!(
        label_ops(&r.plan),
        [&LabelOp::Status(short(HEAD), Status::Running)]
    );
}
