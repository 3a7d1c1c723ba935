//! Row "any step fails: status failed, reason in the PR comment; next
//! trigger retries". The engine stops a plan at the cloud step that failed
//! and plans again with the failure filled in; these rows are that plan.

use showtime_core::plan::StepFailure;
use showtime_core::ports::PortError;

use super::*;

/// The labels of `sha` being built for the first time, as a create's
/// first steps leave them.
fn building(sha: &str) -> Vec<String> {
    vec![
        format!("🎪 🏗️ {sha}"),
        format!("🎪 {sha} 🚦 deploying"),
        format!("🎪 {sha} 📅 2025-06-01T11-55"),
        format!("🎪 {sha} 🤡 alice"),
        "🎪 ⌛ 24h".to_owned(),
    ]
}

/// The observation of a run whose `step` just failed with `message`.
fn failed(labels: Vec<String>, step: Step, message: &str) -> Observation {
    let mut o = obs(labels, pr(HEAD), Event::Look, actor("alice", None), None);
    o.failure = Some(StepFailure {
        step,
        error: PortError::permanent(message),
    });
    o
}

/// The label names after `plan`'s label changes, in the seed dialect.
fn after(names: &[String], plan: &Plan) -> Vec<String> {
    let codec = Codec::default();
    let mut state = codec.parse(names);
    for op in label_ops(plan) {
        op.apply(&mut state);
    }
    codec.encode(&state, Default::default())
}

#[test]
fn any_step_fails_marks_the_environment_failed_with_the_reason_in_the_comment() {
    let await_ready = Step::AwaitReady(id(PR, HEAD));
    let o = failed(building(HEAD), await_ready, "health check timed out");
    let r = decide(o, None, &[]);

    // Everything is known: the failure is recorded without asking.
    assert_eq!(r.asked, []);
    assert_eq!(
        steps(&r.plan),
        [
            "labels: ccccccc failed; no building",
            "destroy pr-42-ccccccc",
            "comment",
            "notify",
        ]
    );
    assert!(comment(&r.plan).contains("`ccccccc` failed: health check timed out"));
    assert!(
        comment(&r.plan).contains("/circus refresh"),
        "says how to retry"
    );
    assert_eq!(
        r.plan.failure.as_deref(),
        Some(comment(&r.plan)),
        "the outcome reports what the comment says"
    );
    assert_eq!(r.plan.next, Next::Done);
}

#[test]
fn a_failed_build_during_a_rolling_update_keeps_the_old_environment_serving() {
    let labels = with(
        running(OLD, "48h"),
        &[
            "🎪 🏗️ ccccccc",
            "🎪 ccccccc 🚦 building",
            "🎪 aaaaaaa 🚦 updating",
        ],
    );
    // The old status label is replaced, as the update's first step did.
    let labels: Vec<String> = labels
        .into_iter()
        .filter(|l| l != "🎪 aaaaaaa 🚦 running")
        .collect();
    let build = Step::Build {
        env: id(PR, HEAD),
        sha: pr(HEAD).head_sha,
    };
    let r = decide(failed(labels, build, "docker build failed"), None, &[]);

    assert_eq!(
        steps(&r.plan),
        [
            "labels: ccccccc failed; no building; aaaaaaa running",
            "destroy pr-42-ccccccc",
            "comment",
            "notify",
        ]
    );
    assert!(comment(&r.plan).contains("`aaaaaaa` keeps serving"));
}

#[test]
fn a_failed_destroy_stays_destroying_for_the_next_reconcile() {
    // `failed` would end the teardown and leave the environment running.
    let labels = with(running(OLD, "48h"), &[]);
    let destroy = Step::Destroy(id(PR, OLD));
    let r = decide(failed(labels, destroy.clone(), "access denied"), None, &[]);
    assert_eq!(
        steps(&r.plan),
        ["labels: aaaaaaa destroying", "comment", "notify"],
        "no second destroy in the same run"
    );
    assert!(comment(&r.plan).contains("Destroying environment `aaaaaaa` failed: access denied"));

    // Already destroying (a stop's intent): only the comment.
    let stopping = with(running(OLD, "48h"), &["🎪 aaaaaaa 🚦 destroying"]);
    let r = decide(
        failed(stopping.clone(), destroy, "access denied"),
        None,
        &[],
    );
    assert_eq!(steps(&r.plan), ["comment", "notify"]);

    // The next reconcile destroys again.
    let o = obs(stopping, pr(HEAD), Event::Look, None, None);
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(1))];
    let r = decide(o, None, &backend);
    assert!(
        r.plan.steps.contains(&Step::Destroy(id(PR, OLD))),
        "{}",
        r.plan
    );
}

#[test]
fn a_failed_configuration_change_leaves_the_environment_in_place() {
    let labels = with(running(OLD, "48h"), &[]);
    let apply = Step::ApplyConfig(id(PR, OLD), Config::default());
    let r = decide(failed(labels, apply, "restart failed"), None, &[]);

    assert!(!has_cloud_steps(&r.plan), "{}", r.plan);
    assert!(comment(&r.plan).contains("restart failed"));
}

#[test]
fn a_build_the_backend_reports_failed_is_recorded_the_same_way() {
    let o = obs(building(HEAD), pr(HEAD), Event::Look, None, None);
    let reason = "container exited with code 1".to_owned();
    let backend = [env(PR, HEAD, Health::Failed { reason }, hours_ago(1))];
    let r = decide(o, None, &backend);

    assert_eq!(
        steps(&r.plan),
        [
            "labels: ccccccc failed; no building",
            "destroy pr-42-ccccccc",
            "comment",
            "notify",
        ]
    );
    assert!(r.plan.failure.unwrap().contains("exited with code 1"));
}

#[test]
fn after_a_failure_the_next_trigger_retries() {
    let o = failed(
        building(HEAD),
        Step::AwaitReady(id(PR, HEAD)),
        "health check timed out",
    );
    let failure = decide(o, None, &[]).plan;
    let labels = after(&building(HEAD), &failure);
    assert!(
        labels.contains(&"🎪 ccccccc 🚦 failed".to_owned()),
        "{labels:?}"
    );

    // Nothing retries by itself: a look at the PR changes nothing.
    let idle = obs(labels.clone(), pr(HEAD), Event::Look, None, None);
    assert!(!has_cloud_steps(&decide(idle, None, &[]).plan));

    // A start trigger builds the commit again.
    let retry = obs(
        with(labels, &[START]),
        pr(HEAD),
        Event::Look,
        actor("alice", None),
        None,
    );
    let r = decide(retry, Some(Permission::Write), &[]);
    assert_eq!(steps(&r.plan)[2..], pipeline(HEAD));
    assert_eq!(r.plan.next, Next::Requeue);
}
