//! The planner, row by row of the lifecycle table in DESIGN.md: each test
//! builds one PR's observation from the label names it carries, lets the
//! planner ask for the facts it needs (the actor's permission, the backend's
//! environments), and checks the plan it settles on: which steps, in which
//! order, and whether it ends there or reconciles again.

// A test fails by panicking; unwrapping known-good fixtures is the point.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, Utc};
use showtime_core::commands::SlashCommand;
use showtime_core::labels::{Codec, Trigger};
use showtime_core::plan::{
    Actor, Decision, Deployment, Event, LabelOp, Need, Next, Observation, Plan, Refusal, Step, plan,
};
use showtime_core::policy::{OrphanPolicy, Policy};
use showtime_core::ports::{EnvId, EnvInfo, Health, Permission, PrState, PullRequest};
use showtime_core::{ConfCommand, Config, PrNumber, ShortSha, Status, Ttl};

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// The PR every row is about.
const PR: u64 = 42;
/// The PR's head commit in most rows.
const HEAD: &str = "ccccccc";
/// An older commit, serving before the head was pushed.
const OLD: &str = "aaaaaaa";

const START: &str = "🎪 ⚡ showtime-trigger-start";
const STOP: &str = "🎪 🛑 showtime-trigger-stop";
const FREEZE: &str = "🎪 🧊 showtime-freeze";
const BLOCKED: &str = "🎪 🔒 showtime-blocked";
const UP: &str = "testenv-up";

/// The time every row is planned at.
fn now() -> DateTime<Utc> {
    "2025-06-01T12:00:00Z".parse().unwrap()
}

fn hours_ago(hours: i64) -> DateTime<Utc> {
    now() - Duration::hours(hours)
}

fn short(sha7: &str) -> ShortSha {
    sha7.parse().unwrap()
}

/// A PR open at `head` (a short SHA, padded to a full one).
fn pr(head: &str) -> PullRequest {
    PullRequest {
        number: PrNumber::new(PR).unwrap(),
        state: PrState::Open,
        head_sha: format!("{head}{}", "0".repeat(33)).parse().unwrap(),
        author: "author".parse().unwrap(),
        body: String::new(),
        labels: Vec::new(),
    }
}

fn closed(mut pr: PullRequest) -> PullRequest {
    pr.state = PrState::Closed;
    pr
}

fn id(pr: u64, sha7: &str) -> EnvId {
    EnvId {
        pr: PrNumber::new(pr).unwrap(),
        sha: short(sha7),
    }
}

/// An environment as the backend lists it; healthy ones answer at
/// `10.0.0.7:8080`.
fn env(pr: u64, sha7: &str, health: Health, created: DateTime<Utc>) -> EnvInfo {
    let address = (health == Health::Healthy).then(|| "10.0.0.7:8080".parse().unwrap());
    EnvInfo {
        id: id(pr, sha7),
        health,
        address,
        created_at: created,
        requested_by: None,
        config: Config::default(),
    }
}

fn requested_by(mut env: EnvInfo, login: &str) -> EnvInfo {
    env.requested_by = Some(login.parse().unwrap());
    env
}

fn actor(login: &str, permission: Option<Permission>) -> Option<Actor> {
    Some(Actor {
        login: login.parse().unwrap(),
        permission,
    })
}

fn labels(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// The labels of `sha` serving: active, running at the address [`env`]
/// gives, created two hours ago by alice, with a TTL.
fn running(sha: &str, ttl: &str) -> Vec<String> {
    vec![
        format!("🎪 🎯 {sha}"),
        format!("🎪 {sha} 🚦 running"),
        format!("🎪 {sha} 🌐 10.0.0.7:8080"),
        format!("🎪 {sha} 📅 2025-06-01T10-00"),
        format!("🎪 {sha} 🤡 alice"),
        format!("🎪 ⌛ {ttl}"),
    ]
}

fn with(mut base: Vec<String>, more: &[&str]) -> Vec<String> {
    base.extend(more.iter().map(|s| (*s).to_owned()));
    base
}

/// One PR's observation: its labels (parsed with the default codec), the
/// event, the actor, and the backend's environments when already listed.
fn obs(
    labels: Vec<String>,
    mut pr: PullRequest,
    event: Event,
    actor: Option<Actor>,
    backend: Option<Vec<EnvInfo>>,
) -> Observation {
    let parsed = Codec::default().parse(&labels);
    pr.labels = labels;
    Observation {
        pr,
        labels: parsed,
        event,
        actor,
        backend,
    }
}

/// The plan the planner settles on, and what it asked for on the way.
#[derive(Debug, PartialEq, Eq)]
struct Resolved {
    plan: Plan,
    asked: Vec<Need>,
}

/// Plans `obs` under `policy` at [`now`], answering [`Decision::Observe`] as
/// the engine does: with `permission` for the actor, or `backend` as the
/// backend's listing. Each fact may be asked for once, and only when missing.
fn resolve(
    mut obs: Observation,
    policy: &Policy,
    permission: Option<Permission>,
    backend: &[EnvInfo],
) -> Resolved {
    let mut asked = Vec::new();
    loop {
        let need = match plan(&obs, policy, now()) {
            Decision::Act(plan) => return Resolved { plan, asked },
            Decision::Observe(need) => need,
        };
        assert!(!asked.contains(&need), "asked twice for {need:?}");
        asked.push(need);
        match need {
            Need::Permission => {
                let actor = obs
                    .actor
                    .as_mut()
                    .expect("asked for the permission of no actor");
                assert_eq!(actor.permission, None, "asked for a permission it had");
                actor.permission = Some(permission.expect("asked for a permission the row lacks"));
            }
            Need::Backend => {
                assert!(obs.backend.is_none(), "asked for a listing it had");
                obs.backend = Some(backend.to_vec());
            }
        }
    }
}

/// [`resolve`] under the default policy.
fn decide(obs: Observation, permission: Option<Permission>, backend: &[EnvInfo]) -> Resolved {
    resolve(obs, &Policy::default(), permission, backend)
}

/// The steps as one line each; comments and notices are shortened to their
/// kind (their text is checked with [`comment`]).
fn steps(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .map(|step| match step {
            Step::Comment(_) => "comment".to_owned(),
            Step::Notify(_) => "notify".to_owned(),
            step => step.to_string(),
        })
        .collect()
}

/// The plan's one status comment.
fn comment(plan: &Plan) -> &str {
    let comments: Vec<&str> = plan
        .steps
        .iter()
        .filter_map(|step| match step {
            Step::Comment(text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(comments.len(), 1, "{plan}");
    comments[0]
}

/// Every label change of the plan, in order.
fn label_ops(plan: &Plan) -> Vec<&LabelOp> {
    plan.steps
        .iter()
        .filter_map(|step| match step {
            Step::Labels(ops) => Some(ops),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The plan's one deployment.
fn deployment(plan: &Plan) -> &Deployment {
    let deployments: Vec<&Deployment> = plan
        .steps
        .iter()
        .filter_map(|step| match step {
            Step::Deploy(d) => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(deployments.len(), 1, "{plan}");
    deployments[0]
}

/// Whether the plan touches the cloud at all.
fn has_cloud_steps(plan: &Plan) -> bool {
    plan.steps.iter().any(|step| {
        matches!(
            step,
            Step::Build { .. }
                | Step::Deploy(_)
                | Step::AwaitReady(_)
                | Step::ApplyConfig(..)
                | Step::Destroy(_)
        )
    })
}

/// The build-deploy-await tail of a plan that builds `sha` of the PR.
fn pipeline(sha: &str) -> [String; 4] {
    [
        format!("build image pr-{PR}-{sha}-ci"),
        format!("labels: {sha} deploying"),
        format!("deploy pr-{PR}-{sha}"),
        format!("await pr-{PR}-{sha} healthy"),
    ]
}

fn expect(lines: &[&str], tail: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|s| (*s).to_owned())
        .chain(tail.iter().cloned())
        .collect()
}

fn configured(commands: &[ConfCommand]) -> Config {
    let mut config = Config::default();
    for command in commands {
        config.apply(command);
    }
    config
}

fn alerts() -> showtime_core::FeatureName {
    "ALERTS".parse().unwrap()
}

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
                "labels: consume start; frozen false; building ccccccc; \
                 ccccccc created 2025-06-01T12-00; ccccccc building; ttl 24h",
                "comment",
            ],
            &pipeline(HEAD)
        )
    );
    assert!(label_ops(&r.plan).contains(&&LabelOp::Consume(Trigger::Start)));
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
        ["labels: consume start", "await pr-42-ccccccc healthy"]
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
                "labels: consume start; frozen false; building ccccccc; \
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
                "labels: consume start; frozen false; no active; building ccccccc; \
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
                 ccccccc created 2025-06-01T12-00; ccccccc building; aaaaaaa updating",
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

// ---------------------------------------------------------------------------
// /circus extend 48h, keep-alive: change the ⌛ label only
// ---------------------------------------------------------------------------

#[test]
fn extend_command_sets_the_ttl_to_the_age_plus_the_extension() {
    let o = obs(
        running(OLD, "48h"),
        pr(OLD),
        Event::Command(SlashCommand::Extend("48h".parse().unwrap())),
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &[]);

    // Created two hours ago: 48 more hours from now is a TTL of 50h.
    assert_eq!(r.asked, [Need::Permission]);
    assert_eq!(steps(&r.plan), ["labels: ttl 50h", "comment"]);
    assert_eq!(
        label_ops(&r.plan),
        [&LabelOp::Ttl(Some("50h".parse().unwrap()))]
    );
    assert_eq!(r.plan.next, Next::Done);
}

#[test]
fn extend_command_over_the_maximum_is_refused() {
    let o = obs(
        running(OLD, "48h"),
        pr(OLD),
        Event::Command(SlashCommand::Extend("2w".parse().unwrap())),
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &[]);

    // Two hours old plus two weeks is over the default maximum of two weeks.
    assert_eq!(steps(&r.plan), ["comment"]);
    let text = comment(&r.plan);
    assert!(text.contains("maximum is `2w`"), "{text}");
    assert!(text.contains("338 hours"), "{text}");
    assert!(label_ops(&r.plan).is_empty());
}

#[test]
fn keep_alive_command_sets_the_ttl_to_close() {
    let o = obs(
        running(OLD, "48h"),
        pr(OLD),
        Event::Command(SlashCommand::KeepAlive),
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &[]);

    assert_eq!(steps(&r.plan), ["labels: ttl close", "comment"]);
    assert_eq!(label_ops(&r.plan), [&LabelOp::Ttl(Some(Ttl::CLOSE))]);
    assert!(!has_cloud_steps(&r.plan));
}

#[test]
fn status_command_only_refreshes_the_comment() {
    let o = obs(
        running(OLD, "48h"),
        pr(OLD),
        Event::Command(SlashCommand::Status),
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &[]);

    assert_eq!(r.asked, [Need::Permission]);
    assert_eq!(steps(&r.plan), ["comment"]);
    assert_eq!(r.plan.next, Next::Done);
}

// ---------------------------------------------------------------------------
// 🎪 conf-… label or /circus enable X etc.: apply configuration, no rebuild
// ---------------------------------------------------------------------------

/// A configuration command on a running environment applies without a
/// rebuild: configuring, apply, running again.
fn assert_applies_to_running(command: SlashCommand, expected: &Config) {
    let o = obs(
        running(OLD, "48h"),
        pr(OLD),
        Event::Command(command.clone()),
        actor("alice", None),
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o, Some(Permission::Write), &backend);

    assert_eq!(r.asked, [Need::Permission, Need::Backend], "{command}");
    assert_eq!(
        steps(&r.plan),
        [
            "labels: configuration; aaaaaaa configuring",
            "apply configuration to pr-42-aaaaaaa",
            "labels: aaaaaaa running",
            "comment",
        ],
        "{command}"
    );
    assert_eq!(
        label_ops(&r.plan),
        [
            &LabelOp::Config(expected.clone()),
            &LabelOp::Status(short(OLD), Status::Configuring),
            &LabelOp::Status(short(OLD), Status::Running),
        ],
        "{command}"
    );
    assert!(
        r.plan
            .steps
            .contains(&Step::ApplyConfig(id(PR, OLD), expected.clone())),
        "{command}"
    );
    assert_eq!(r.plan.next, Next::Done);
}

#[test]
fn enable_command_applies_to_the_running_environment() {
    assert_applies_to_running(
        SlashCommand::Enable(alerts()),
        &configured(&[ConfCommand::Enable(alerts())]),
    );
}

#[test]
fn disable_command_applies_to_the_running_environment() {
    assert_applies_to_running(
        SlashCommand::Disable(alerts()),
        &configured(&[ConfCommand::Disable(alerts())]),
    );
}

#[test]
fn debug_command_applies_to_the_running_environment() {
    assert_applies_to_running(
        SlashCommand::Debug(true),
        &configured(&[ConfCommand::Debug(true)]),
    );
}

#[test]
fn size_command_applies_to_the_running_environment() {
    let large = "large".parse().unwrap();
    assert_applies_to_running(
        SlashCommand::Size(large),
        &configured(&[ConfCommand::Size("large".parse().unwrap())]),
    );
}

#[test]
fn config_commands_without_an_environment_are_only_recorded() {
    let rows = [
        (
            SlashCommand::Enable(alerts()),
            ConfCommand::Enable(alerts()),
        ),
        (
            SlashCommand::Disable(alerts()),
            ConfCommand::Disable(alerts()),
        ),
        (SlashCommand::Debug(true), ConfCommand::Debug(true)),
        (
            SlashCommand::Size("small".parse().unwrap()),
            ConfCommand::Size("small".parse().unwrap()),
        ),
    ];
    for (command, conf) in rows {
        let o = obs(
            Vec::new(),
            pr(HEAD),
            Event::Command(command.clone()),
            actor("alice", None),
            None,
        );
        let r = decide(o, Some(Permission::Write), &[]);

        assert_eq!(
            steps(&r.plan),
            ["labels: configuration", "comment"],
            "{command}"
        );
        assert_eq!(
            label_ops(&r.plan),
            [&LabelOp::Config(configured(&[conf]))],
            "{command}"
        );
        assert!(comment(&r.plan).contains("Recorded"), "{command}");
        assert_eq!(r.plan.next, Next::Done);
    }
}

#[test]
fn conf_label_applies_like_enable_and_is_consumed() {
    let o = obs(
        with(running(OLD, "48h"), &["🎪 conf-enable-ALERTS"]),
        pr(OLD),
        Event::Look,
        actor("alice", None),
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o, Some(Permission::Write), &backend);

    assert_eq!(
        steps(&r.plan),
        [
            "labels: consume conf-enable-ALERTS; configuration; aaaaaaa configuring",
            "apply configuration to pr-42-aaaaaaa",
            "labels: aaaaaaa running",
            "comment",
        ]
    );
    let expected = configured(&[ConfCommand::Enable(alerts())]);
    assert!(label_ops(&r.plan).contains(&&LabelOp::Config(expected.clone())));
    assert!(
        r.plan
            .steps
            .contains(&Step::ApplyConfig(id(PR, OLD), expected))
    );
    assert_eq!(r.plan.next, Next::Done);
}

// ---------------------------------------------------------------------------
// Refusals: blocked, permission, quota
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// FEATURE_<NAME>=… lines of the PR description
// ---------------------------------------------------------------------------

fn described(head: &str, body: &str) -> PullRequest {
    let mut pr = pr(head);
    pr.body = body.to_owned();
    pr
}

#[test]
fn a_new_environment_starts_with_the_description_flags() {
    let o = obs(
        labels(&[START]),
        described(HEAD, "Adds alerts.\n\nFEATURE_ALERTS=true\nFEATURE_X=maybe"),
        Event::Look,
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &[]);

    let expected = configured(&[ConfCommand::Enable(alerts())]);
    assert!(label_ops(&r.plan).contains(&&LabelOp::Config(expected.clone())));
    assert_eq!(deployment(&r.plan).config, expected);
    let text = comment(&r.plan);
    assert!(
        text.contains("FEATURE_X=maybe"),
        "malformed lines are reported: {text}"
    );
    assert_eq!(r.plan.refusal, None);
}

#[test]
fn a_command_of_the_same_request_wins_over_the_description() {
    let o = obs(
        labels(&[START, "🎪 conf-disable-ALERTS"]),
        described(HEAD, "FEATURE_ALERTS=true"),
        Event::Look,
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &[]);
    let expected = configured(&[ConfCommand::Disable(alerts())]);
    assert_eq!(deployment(&r.plan).config, expected);
}

#[test]
fn editing_the_description_applies_its_flags_without_a_rebuild() {
    let o = obs(
        running(OLD, "48h"),
        described(OLD, "FEATURE_ALERTS=true"),
        Event::DescriptionEdited,
        actor("alice", None),
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o, Some(Permission::Write), &backend);

    let expected = configured(&[ConfCommand::Enable(alerts())]);
    assert_eq!(
        steps(&r.plan),
        [
            "labels: configuration; aaaaaaa configuring",
            "apply configuration to pr-42-aaaaaaa",
            "labels: aaaaaaa running",
            "comment",
        ]
    );
    assert!(
        r.plan
            .steps
            .contains(&Step::ApplyConfig(id(PR, OLD), expected))
    );
}

#[test]
fn between_edits_the_labels_win_over_the_description() {
    // `/circus disable ALERTS` was applied after the description said true:
    // a plain look (or a push) does not undo it.
    let labels = with(running(OLD, "48h"), &["🎪 🚩 ALERTS=false"]);
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    for event in [Event::Look, Event::Sweep] {
        let o = obs(
            labels.clone(),
            described(OLD, "FEATURE_ALERTS=true"),
            event.clone(),
            actor("alice", None),
            None,
        );
        let r = decide(o, Some(Permission::Write), &backend);
        assert!(!has_cloud_steps(&r.plan), "{event}: {:?}", r.plan);
    }
}

#[test]
fn an_edit_that_changes_no_flag_does_nothing() {
    let o = obs(
        with(running(OLD, "48h"), &["🎪 🚩 ALERTS=true"]),
        described(OLD, "Typo fixed.\nFEATURE_ALERTS=yes"),
        Event::DescriptionEdited,
        actor("mallory", None),
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o, Some(Permission::Read), &backend);
    assert!(r.plan.is_empty(), "{:?}", r.plan);
    assert_eq!(r.plan.refusal, None);
}

#[test]
fn an_outsiders_edit_that_changes_a_flag_is_refused() {
    let o = obs(
        running(OLD, "48h"),
        described(OLD, "FEATURE_ALERTS=true"),
        Event::DescriptionEdited,
        actor("mallory", None),
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o, Some(Permission::Read), &backend);
    assert_eq!(r.plan.refusal, Some(Refusal::Permission));
    assert!(!has_cloud_steps(&r.plan));
}

#[test]
fn an_edit_without_an_environment_waits_for_the_create() {
    let o = obs(
        labels(&[]),
        described(HEAD, "FEATURE_ALERTS=true"),
        Event::DescriptionEdited,
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &[]);
    assert!(r.plan.is_empty(), "{:?}", r.plan);
}

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
            "labels: active aaaaaaa; bbbbbbb destroying",
            "destroy pr-42-bbbbbbb",
            "labels: forget bbbbbbb",
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
            "labels: aaaaaaa destroying",
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
            "labels: aaaaaaa destroying",
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
