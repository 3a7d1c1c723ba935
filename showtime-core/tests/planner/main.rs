//! The planner, row by row of the lifecycle table in DESIGN.md: each test
//! builds one PR's observation from the label names it carries, lets the
//! planner ask for the facts it needs (the actor's permission, the backend's
//! environments), and checks the plan it settles on: which steps, in which
//! order, and whether it ends there or reconciles again.

// A test fails by panicking; unwrapping known-good fixtures is the point.
#![allow(clippy::unwrap_used)]

mod configure;
mod create;
mod expiry;
mod failure;
mod heal;
mod refusals;
mod repair;
mod sleep;
mod stop;
mod sweep;
mod teams;

use chrono::{DateTime, Duration, Utc};
use showtime_core::access::Membership;
use showtime_core::commands::SlashCommand;
use showtime_core::labels::{Codec, Trigger};
use showtime_core::plan::{
    Actor, Decision, Deployment, Event, LabelOp, Need, Next, Observation, Plan, Refusal, Step, plan,
};
use showtime_core::policy::{OrphanPolicy, Policy};
use showtime_core::ports::{EnvId, EnvInfo, Health, Permission, PrState, PullRequest};
use showtime_core::{ConfCommand, Config, PrNumber, ShortSha, Status, Team, Ttl};

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
        title: "A change".to_owned(),
        body: String::new(),
        labels: Vec::new(),
        comments: None,
        updated_at: None,
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
        "🎪 💬 7".to_owned(),
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
        ready: Default::default(),
        failure: None,
        memberships: Default::default(),
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
    obs: Observation,
    policy: &Policy,
    permission: Option<Permission>,
    backend: &[EnvInfo],
) -> Resolved {
    resolve_teams(obs, policy, permission, backend, &[])
}

/// [`resolve`], answering a membership asked for ([`Need::Membership`])
/// with active for the `(team, login)` pairs of `members` and absent for
/// any other.
fn resolve_teams(
    mut obs: Observation,
    policy: &Policy,
    permission: Option<Permission>,
    backend: &[EnvInfo],
    members: &[(&str, &str)],
) -> Resolved {
    let mut asked = Vec::new();
    loop {
        let need = match plan(&obs, policy, now()) {
            Decision::Act(plan) => return Resolved { plan, asked },
            Decision::Observe(need) => need,
        };
        assert!(!asked.contains(&need), "asked twice for {need:?}");
        asked.push(need.clone());
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
            Need::Membership { team, login } => {
                let active = members
                    .iter()
                    .any(|(t, l)| t.parse::<Team>().unwrap() == team && *l == login.as_str());
                let membership = match active {
                    true => Membership::Active,
                    false => Membership::Absent,
                };
                let known = obs.memberships.insert((team, login), membership);
                assert_eq!(known, None, "asked for a membership it had");
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
                | Step::Sleep(_)
                | Step::Wake(_)
        )
    })
}

/// The build-deploy-await tail of a plan that builds `sha` of the PR.
fn pipeline(sha: &str) -> [String; 3] {
    [
        format!("build image pr-{PR}-{sha}-ci"),
        format!("deploy pr-{PR}-{sha}"),
        format!("await pr-{PR}-{sha} ready"),
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
