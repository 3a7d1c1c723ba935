//! The subcommands that act on a repository: `sync`, `start`, `stop`,
//! `status`, `list`, `plan`, `setup-labels`, `cleanup`, `cleanup-labels`.
//!
//! Each is a few calls on the [`Engine`] and a rendering of what came back,
//! for people (a table, a sentence) or for scripts (`--json`, and `sync
//! --check-only`'s `key=value` lines). Every decision is the engine's.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};
use showtime_core::commands::SlashCommand;
use showtime_core::engine::{Engine, EngineError, Outcome, ReconcileOptions};
use showtime_core::labels::{Dialect, LabelState, Trigger};
use showtime_core::plan::{Actor, Event, Plan, Refusal, Step};
use showtime_core::ports::{EnvInfo, Health, Permission, PortError, PullRequest};
use showtime_core::sweep::SweepReport;
use showtime_core::{Login, PrNumber, Sha, Ttl};

use crate::CliError;
use crate::output::Output;

/// Which event a `sync` stands for, when given with `--event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SyncEvent {
    /// Look at the PR and converge (labels, comments, a new trigger).
    Look,
    /// A commit was pushed; the actor is the pusher (an untrusted pusher
    /// freezes the PR instead of deploying).
    Push,
    /// The legacy up-label was removed: destroy the environment.
    UpLabelRemoved,
    /// The PR description was edited: apply its `FEATURE_` lines.
    Edited,
}

impl From<SyncEvent> for Event {
    fn from(event: SyncEvent) -> Self {
        match event {
            SyncEvent::Look => Event::Look,
            SyncEvent::Push => Event::Push,
            SyncEvent::UpLabelRemoved => Event::UpLabelRemoved,
            SyncEvent::Edited => Event::DescriptionEdited,
        }
    }
}

fn host_error(pr: PrNumber, e: PortError) -> CliError {
    match e {
        PortError::NotFound { .. } => CliError::BadInput(format!(
            "PR #{pr} does not exist in this repository (check the number and --repo)"
        )),
        other => CliError::Failed(format!("PR #{pr}: GitHub call failed: {other}")),
    }
}

fn engine_error(e: EngineError) -> CliError {
    CliError::Failed(e.to_string())
}

/// The backend's environments, of one PR or all.
async fn environments(engine: &Engine, pr: Option<PrNumber>) -> Result<Vec<EnvInfo>, CliError> {
    engine
        .ports()
        .backend
        .list(pr)
        .await
        .map_err(|e| CliError::Failed(format!("cannot list environments: {e}")))
}

/// Every open PR with its labels.
async fn open_prs(engine: &Engine) -> Result<Vec<PullRequest>, CliError> {
    engine
        .ports()
        .host
        .open_pull_requests()
        .await
        .map_err(|e| CliError::Failed(format!("cannot list open PRs: {e}")))
}

async fn read_pr(engine: &Engine, pr: PrNumber) -> Result<PullRequest, CliError> {
    engine
        .ports()
        .host
        .pull_request(pr)
        .await
        .map_err(|e| host_error(pr, e))
}

/// Refuses to act for a commit that is no longer the PR's head: a newer run
/// will handle the newer commit.
fn check_sha(pr: &PullRequest, sha: Option<&Sha>) -> Result<(), CliError> {
    match sha {
        Some(sha) if sha != &pr.head_sha => Err(CliError::Refused(format!(
            "PR #{} has moved on: its head is {}, not {} (nothing done; the run for the \
             newer commit will act)",
            pr.number,
            pr.head_sha.short(),
            sha.short()
        ))),
        _ => Ok(()),
    }
}

/// The actor's permission and whether it suffices, or `None` without an
/// actor.
async fn authorization(
    engine: &Engine,
    actor: Option<&Login>,
) -> Result<Option<(Permission, bool)>, CliError> {
    let Some(actor) = actor else {
        return Ok(None);
    };
    let permission = engine
        .ports()
        .host
        .permission(actor)
        .await
        .map_err(|e| CliError::Failed(format!("cannot read {actor}'s permission: {e}")))?;
    Ok(Some((
        permission,
        permission >= engine.policy().required_permission,
    )))
}

/// `sync PR`: reconcile once, or with `check_only` say what a reconcile
/// would do as `key=value` lines.
pub async fn sync(
    engine: &Engine,
    out: &mut Output<'_>,
    pr: PrNumber,
    sha: Option<&Sha>,
    check_only: bool,
    event: Event,
    actor: Option<Login>,
) -> Result<(), CliError> {
    let read = read_pr(engine, pr).await?;
    if check_only {
        return check(engine, out, read, sha, event, actor).await;
    }
    check_sha(&read, sha)?;
    reconcile_and_report(engine, out, "sync", Some(read), pr, event, actor).await
}

/// Reconciles once (folded as one group in GitHub Actions) and prints what
/// was done. `read`, when given, is the PR as just read, so it is not read
/// again.
async fn reconcile_and_report(
    engine: &Engine,
    out: &mut Output<'_>,
    command: &str,
    read: Option<PullRequest>,
    pr: PrNumber,
    event: Event,
    actor: Option<Login>,
) -> Result<(), CliError> {
    out.group(&format!("showtime {command} #{pr}"));
    let outcome = engine
        .reconcile_with(pr, event, ReconcileOptions::new().actor(actor).read(read))
        .await
        .map_err(engine_error);
    out.end_group();
    report_outcome(engine, out, &outcome?).await
}

/// `sync PR --comment`: carries out the `/circus` lines of a comment as its
/// author, in order, and replies on the PR to lines that are not valid
/// commands (each error says what is).
pub async fn comment(
    engine: &Engine,
    out: &mut Output<'_>,
    pr: PrNumber,
    body: &str,
    actor: Option<Login>,
) -> Result<(), CliError> {
    let actor = require_actor(actor, "sync --comment")?;
    let sizes = engine.policy().codec.sizes().clone();
    let (mut valid, mut errors) = (Vec::new(), Vec::new());
    for line in showtime_core::commands::parse(body, &sizes) {
        match line {
            Ok(command) => valid.push(command),
            Err(e) => errors.push(e),
        }
    }
    let mut outcomes = Vec::new();
    for command in valid {
        out.group(&format!("showtime /circus {command} #{pr}"));
        let outcome = engine
            .reconcile(pr, Event::Command(command), Some(actor.clone()))
            .await
            .map_err(engine_error);
        out.end_group();
        outcomes.push(outcome?);
    }
    if !errors.is_empty() {
        engine
            .reply_to_malformed(pr, Some(&actor), &errors)
            .await
            .map_err(engine_error)?;
    }
    if out.json {
        return out.json_value(&json!({
            "pr": pr,
            "commands": outcomes.iter().map(|o| json!({
                "plans": o.plans.iter().map(plan_json).collect::<Vec<_>>(),
                "failure": o.failure,
            })).collect::<Vec<_>>(),
            "errors": errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }));
    }
    if outcomes.is_empty() && errors.is_empty() {
        out.line(&format!("PR #{pr}: the comment has no /circus command"))?;
    }
    for outcome in &outcomes {
        for plan in &outcome.plans {
            out.line(&format!("PR #{pr}: {}", plan.reason))?;
        }
    }
    for error in &errors {
        out.line(&format!(
            "PR #{pr}: not a command, replied on the PR: {error}"
        ))?;
    }
    if let Some(failure) = outcomes.iter().find_map(|o| o.failure.as_ref()) {
        return Err(CliError::Failed(format!("PR #{pr}: {failure}")));
    }
    match outcomes.iter().find_map(refusal_of) {
        Some(refused) => Err(refused),
        None => Ok(()),
    }
}

/// The keys of `sync --check-only`, in the order printed: those
/// superset-showtime's workflows read.
pub const CHECK_KEYS: [&str; 9] = [
    "action_needed",
    "build_needed",
    "sync_needed",
    "target_sha",
    "pr_number",
    "github_actor",
    "permission_level",
    "auth_status",
    "action_reason",
];

/// The `key=value` lines of `sync --check-only`.
async fn check(
    engine: &Engine,
    out: &mut Output<'_>,
    read: PullRequest,
    sha: Option<&Sha>,
    event: Event,
    actor: Option<Login>,
) -> Result<(), CliError> {
    let pr = read.number;
    let head = read.head_sha.clone();
    let labels = engine.policy().codec.parse(&read.labels);
    let stale = sha.is_some_and(|s| s != &head);
    let auth = authorization(engine, actor.as_ref()).await?;
    // The permission just read is handed to the planner, not asked again.
    let known = actor.clone().map(|login| Actor {
        login,
        permission: auth.map(|(p, _)| p),
    });
    let plan = engine
        .plan_for(read, event, known, None)
        .await
        .map_err(engine_error)?;
    let (action, reason) = if stale {
        (
            "no_action",
            format!("the PR's head is now {}", head.short()),
        )
    } else {
        (action_of(&plan, &labels), plan.reason.clone())
    };
    let build = !stale && plan.steps.iter().any(|s| matches!(s, Step::Build { .. }));
    let values = [
        action.to_owned(),
        build.to_string(),
        (!stale && !plan.is_empty()).to_string(),
        head.to_string(),
        pr.to_string(),
        actor.as_ref().map(Login::to_string).unwrap_or_default(),
        auth.map(|(p, _)| p.as_str().to_owned()).unwrap_or_default(),
        match auth {
            None => "no_actor",
            Some((_, true)) => "authorized",
            Some((_, false)) => "denied",
        }
        .to_owned(),
        one_line(&reason),
    ];
    let lines: Vec<(&str, String)> = CHECK_KEYS.into_iter().zip(values).collect();
    out.key_values(&lines)
}

/// What a plan amounts to, in superset-showtime's words.
fn action_of(plan: &Plan, labels: &LabelState) -> &'static str {
    let has = |f: fn(&Step) -> bool| plan.steps.iter().any(f);
    if plan.refusal == Some(Refusal::Blocked) {
        "blocked"
    } else if has(|s| matches!(s, Step::Build { .. } | Step::Deploy(_))) {
        if labels.active.is_some() {
            "rolling_update"
        } else {
            "create_environment"
        }
    } else if has(|s| matches!(s, Step::Destroy(_))) {
        "destroy_environment"
    } else if has(|s| matches!(s, Step::ApplyConfig(..))) {
        "apply_config"
    } else if plan.is_empty() {
        "no_action"
    } else {
        "sync_labels"
    }
}

/// Key=value values are one line each, whatever the reason says.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `start PR`: adds the start trigger, as a person would, and reconciles.
pub async fn start(
    engine: &Engine,
    out: &mut Output<'_>,
    pr: PrNumber,
    sha: Option<&Sha>,
    actor: Option<Login>,
) -> Result<(), CliError> {
    let read = read_pr(engine, pr).await?;
    check_sha(&read, sha)?;
    let actor = require_actor(actor, "start")?;
    refuse_unless_allowed(engine, &actor, pr).await?;
    let wanted = LabelState {
        triggers: [Trigger::Start].into(),
        ..LabelState::default()
    };
    let trigger = engine.policy().codec.encode(&wanted, Dialect::Seed);
    engine
        .ports()
        .host
        .add_labels(pr, &trigger)
        .await
        .map_err(|e| host_error(pr, e))?;
    // The PR as it now is: the read above plus the labels just added.
    let mut read = read;
    read.labels.extend(trigger);
    reconcile_and_report(
        engine,
        out,
        "start",
        Some(read),
        pr,
        Event::Look,
        Some(actor),
    )
    .await
}

/// `stop PR`: what `/circus destroy` does.
pub async fn stop(
    engine: &Engine,
    out: &mut Output<'_>,
    pr: PrNumber,
    actor: Option<Login>,
) -> Result<(), CliError> {
    let actor = require_actor(actor, "stop")?;
    refuse_unless_allowed(engine, &actor, pr).await?;
    let destroy = Event::Command(SlashCommand::Destroy);
    reconcile_and_report(engine, out, "stop", None, pr, destroy, Some(actor)).await
}

fn require_actor(actor: Option<Login>, command: &str) -> Result<Login, CliError> {
    actor.ok_or_else(|| {
        CliError::BadInput(format!(
            "`showtime {command}` acts for someone: pass --actor LOGIN or set GITHUB_ACTOR"
        ))
    })
}

async fn refuse_unless_allowed(
    engine: &Engine,
    actor: &Login,
    pr: PrNumber,
) -> Result<(), CliError> {
    match authorization(engine, Some(actor)).await? {
        Some((permission, false)) => Err(CliError::Refused(format!(
            "{actor} has `{}` permission; PR #{pr} needs `{}` or more (nothing done)",
            permission.as_str(),
            engine.policy().required_permission.as_str()
        ))),
        _ => Ok(()),
    }
}

/// Prints what a reconcile did, and fails when a step failed.
async fn report_outcome(
    engine: &Engine,
    out: &mut Output<'_>,
    outcome: &Outcome,
) -> Result<(), CliError> {
    let envs = engine
        .ports()
        .backend
        .list(Some(outcome.pr))
        .await
        .unwrap_or_default();
    let labels = engine.policy().codec.parse(&outcome.labels);
    if out.json {
        out.json_value(&json!({
            "pr": outcome.pr,
            "plans": outcome.plans.iter().map(plan_json).collect::<Vec<_>>(),
            "audit": outcome.audit.iter().map(|a| json!({
                "action": a.action,
                "actor": a.actor,
                "ok": a.result.is_ok(),
                "error": a.result.as_ref().err(),
            })).collect::<Vec<_>>(),
            "labels": outcome.labels,
            "state": labels,
            "environments": envs.iter().map(env_json).collect::<Vec<_>>(),
            "failure": outcome.failure,
        }))?;
    } else {
        for plan in &outcome.plans {
            out.line(&format!("PR #{}: {}", outcome.pr, plan.reason))?;
            for step in &plan.steps {
                out.line(&format!("  - {step}"))?;
            }
        }
        out.line(&environments_table(&envs))?;
        out.summary_table(outcome.pr, &labels, &envs);
    }
    match (&outcome.failure, refusal_of(outcome)) {
        (Some(failure), _) => Err(CliError::Failed(format!("PR #{}: {failure}", outcome.pr))),
        (None, Some(refused)) => Err(refused),
        (None, None) => Ok(()),
    }
}

/// A refusal as the CLI reports it (exit code 3): what was refused, and
/// where the reply is.
fn refusal_of(outcome: &Outcome) -> Option<CliError> {
    let plan = outcome.plans.iter().find(|p| p.refusal.is_some())?;
    Some(CliError::Refused(format!(
        "PR #{}: {} (the PR's status comment says why)",
        outcome.pr, plan.reason
    )))
}

/// `status PR`.
pub async fn status(engine: &Engine, out: &mut Output<'_>, pr: PrNumber) -> Result<(), CliError> {
    let read = read_pr(engine, pr).await?;
    let labels = engine.policy().codec.parse(&read.labels);
    let envs = environments(engine, Some(pr)).await?;
    if out.json {
        return out.json_value(&json!({
            "pr": pr,
            "state": read.state.as_str(),
            "head_sha": read.head_sha,
            "labels": read.labels,
            "showtime": labels,
            "environments": envs.iter().map(env_json).collect::<Vec<_>>(),
        }));
    }
    let primary = labels.primary().and_then(|sha| {
        labels
            .environments
            .get(sha)
            .map(|env| (sha.clone(), env.clone()))
    });
    match primary {
        Some((sha, env)) => out.line(&format!(
            "PR #{pr} ({}): {} at {}{}",
            read.state.as_str(),
            env.status
                .map_or_else(|| "unknown".to_owned(), |s| s.to_string()),
            sha,
            env.address
                .map(|a| format!(", http://{a}"))
                .unwrap_or_default()
        ))?,
        None => out.line(&format!("PR #{pr}: no environment"))?,
    }
    if let Some(ttl) = labels.ttl {
        out.line(&format!("TTL: {ttl}"))?;
    }
    if !labels.config.features.is_empty() || labels.config.size.is_some() {
        let config = serde_json::to_string(&labels.config).unwrap_or_default();
        out.line(&format!("Configuration: {config}"))?;
    }
    out.line(&environments_table(&envs))
}

/// `list`: every environment, with its PR; `all` adds PRs that have 🎪
/// state but no environment.
pub async fn list(engine: &Engine, out: &mut Output<'_>, all: bool) -> Result<(), CliError> {
    let envs = environments(engine, None).await?;
    let mut rows: BTreeMap<PrNumber, Vec<Value>> = BTreeMap::new();
    for env in &envs {
        rows.entry(env.id.pr).or_default().push(env_json(env));
    }
    if all {
        let open = open_prs(engine).await?;
        for pr in open {
            let state = engine.policy().codec.parse(&pr.labels);
            if state.primary().is_some() || !state.environments.is_empty() {
                rows.entry(pr.number).or_default();
            }
        }
    }
    if out.json {
        let items: Vec<Value> = rows
            .iter()
            .map(|(pr, envs)| json!({ "pr": pr, "environments": envs }))
            .collect();
        return out.json_value(&Value::Array(items));
    }
    if rows.is_empty() {
        return out.line("No environments.");
    }
    out.line(&environments_table(&envs))?;
    for (pr, envs) in &rows {
        if envs.is_empty() {
            out.line(&format!("PR #{pr}: 🎪 labels but no environment"))?;
        }
    }
    Ok(())
}

/// `plan PR`: the first plan of a reconcile, changing nothing.
pub async fn plan(
    engine: &Engine,
    out: &mut Output<'_>,
    pr: PrNumber,
    event: Event,
    actor: Option<Login>,
) -> Result<(), CliError> {
    let plan = engine
        .plan_only(pr, event, actor)
        .await
        .map_err(|e| match e {
            EngineError::Host {
                source: source @ PortError::NotFound { .. },
                ..
            } => host_error(pr, source),
            other => engine_error(other),
        })?;
    if out.json {
        return out.json_value(&plan_json(&plan));
    }
    out.line(&format!("PR #{pr}: {}", plan.reason))?;
    if plan.is_empty() {
        return out.line("  (nothing to do)");
    }
    for step in &plan.steps {
        out.line(&format!("  - {step}"))?;
    }
    Ok(())
}

/// `setup-labels`.
pub async fn setup_labels(engine: &Engine, out: &mut Output<'_>) -> Result<(), CliError> {
    let names = engine.setup_labels().await.map_err(engine_error)?;
    if out.json {
        return out.json_value(&json!({ "defined": names }));
    }
    out.line(&format!("{} label definitions set up.", names.len()))
}

/// `cleanup`: a sweep; with `older_than`, also stop every environment older
/// than that (except, with `respect_ttl`, those whose TTL keeps them).
pub async fn cleanup(
    engine: &Engine,
    out: &mut Output<'_>,
    dry_run: bool,
    respect_ttl: bool,
    older_than: Option<Duration>,
    actor: Option<Login>,
) -> Result<(), CliError> {
    out.group("showtime cleanup");
    let report = engine.sweep(dry_run).await.map_err(engine_error)?;
    let mut aged = Vec::new();
    if let Some(age) = older_than {
        aged = stop_older_than(engine, age, respect_ttl, dry_run, actor).await?;
    }
    out.end_group();
    if out.json {
        let mut value = sweep_json(&report);
        value["older_than"] = json!(aged);
        return out.json_value(&value);
    }
    out.line(&sweep_text(&report))?;
    for name in &aged {
        out.line(&format!(
            "{} {name}: older than the limit",
            if dry_run { "would stop" } else { "stopped" }
        ))?;
    }
    if report.errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "{} PR(s) could not be swept",
            report.errors.len()
        )))
    }
}

async fn stop_older_than(
    engine: &Engine,
    age: Duration,
    respect_ttl: bool,
    dry_run: bool,
    actor: Option<Login>,
) -> Result<Vec<String>, CliError> {
    let actor = if dry_run {
        None
    } else {
        Some(require_actor(actor, "cleanup --older-than")?)
    };
    let now = engine.ports().clock.now();
    let age = chrono::Duration::from_std(age)
        .map_err(|_| CliError::BadInput("--older-than is too large".into()))?;
    let old: Vec<EnvInfo> = environments(engine, None)
        .await?
        .into_iter()
        .filter(|e| now - e.created_at >= age)
        .collect();
    // The TTLs that keep an environment, from one listing of the open PRs.
    let mut kept = BTreeSet::new();
    if respect_ttl && !old.is_empty() {
        let open = open_prs(engine).await?;
        for pr in open {
            let ttl = engine.policy().codec.parse(&pr.labels).ttl;
            if matches!(ttl, Some(t) if t == Ttl::CLOSE || t == Ttl::MANUAL) {
                kept.insert(pr.number);
            }
        }
    }
    let old: Vec<EnvInfo> = old
        .into_iter()
        .filter(|e| !kept.contains(&e.id.pr))
        .collect();
    // One stop per PR, whatever number of its environments are old.
    let prs: BTreeSet<PrNumber> = old.iter().map(|e| e.id.pr).collect();
    if let Some(actor) = actor {
        for pr in prs {
            let destroy = Event::Command(SlashCommand::Destroy);
            engine
                .reconcile(pr, destroy, Some(actor.clone()))
                .await
                .map_err(engine_error)?;
        }
    }
    Ok(old.iter().map(|e| e.id.name()).collect())
}

/// `cleanup-labels`.
pub async fn cleanup_labels(
    engine: &Engine,
    out: &mut Output<'_>,
    dry_run: bool,
) -> Result<(), CliError> {
    let deleted = engine.cleanup_labels(dry_run).await.map_err(engine_error)?;
    if out.json {
        return out.json_value(&json!({ "dry_run": dry_run, "deleted_labels": deleted }));
    }
    let verb = if dry_run { "Would delete" } else { "Deleted" };
    out.line(&format!(
        "{verb} {} unused label definition(s).",
        deleted.len()
    ))?;
    for name in &deleted {
        out.line(&format!("  {name}"))?;
    }
    Ok(())
}

/// The JSON of a sweep report (also `showtime-sweep --json`).
pub fn sweep_json(report: &SweepReport) -> Value {
    json!({
        "dry_run": report.dry_run,
        "prs": report.prs.iter().map(|(pr, plans)| json!({
            "pr": pr,
            "plans": plans.iter().map(plan_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "destroyed": destroyed(report),
        "orphans": report.orphans.iter().map(|id| id.name()).collect::<Vec<_>>(),
        "young_orphans": report.young_orphans.iter().map(|id| id.name()).collect::<Vec<_>>(),
        "deleted_labels": report.deleted_labels,
        "errors": report.errors.iter().map(|(pr, e)| json!({"pr": pr, "error": e})).collect::<Vec<_>>(),
    })
}

/// Every environment the sweep destroyed (or would), with why.
fn destroyed(report: &SweepReport) -> Vec<Value> {
    let mut out = Vec::new();
    for (pr, plans) in &report.prs {
        for plan in plans {
            for step in &plan.steps {
                if let Step::Destroy(id) = step {
                    out.push(json!({"pr": pr, "environment": id.name(), "reason": plan.reason}));
                }
            }
        }
    }
    for id in &report.orphans {
        out.push(json!({"pr": id.pr, "environment": id.name(), "reason": "orphan: its PR does not exist"}));
    }
    out
}

/// A sweep report for people: what was destroyed, kept, and why.
pub fn sweep_text(report: &SweepReport) -> String {
    let verb = if report.dry_run {
        "would destroy"
    } else {
        "destroyed"
    };
    let mut lines = Vec::new();
    for d in destroyed(report) {
        let text = |key: &str| d[key].as_str().unwrap_or_default().to_owned();
        lines.push(format!(
            "{verb} {} (PR #{}): {}",
            text("environment"),
            text("pr"),
            text("reason")
        ));
    }
    for (pr, plans) in &report.prs {
        if plans
            .iter()
            .all(|p| !p.steps.iter().any(|s| matches!(s, Step::Destroy(_))))
        {
            let reason = plans.first().map_or("nothing to do", |p| p.reason.as_str());
            lines.push(format!("kept PR #{pr}: {reason}"));
        }
    }
    for id in &report.young_orphans {
        lines.push(format!(
            "kept {id}: its PR does not exist, but it is younger than the grace period"
        ));
    }
    for name in &report.deleted_labels {
        lines.push(format!(
            "{} label definition `{name}`",
            if report.dry_run {
                "would delete"
            } else {
                "deleted"
            }
        ));
    }
    for (pr, error) in &report.errors {
        lines.push(format!("error on PR #{pr}: {error}"));
    }
    if lines.is_empty() {
        lines.push("Nothing to sweep.".to_owned());
    }
    lines.join("\n")
}

/// The JSON of a plan.
pub fn plan_json(plan: &Plan) -> Value {
    json!({
        "reason": plan.reason,
        "steps": plan.steps.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "done": matches!(plan.next, showtime_core::plan::Next::Done),
        "refusal": plan.refusal.map(|r| r.as_str()),
    })
}

/// The JSON of one environment, the same in every program's output
/// (`showtime --json`, the webhook server's `/environments`).
pub fn env_json(env: &EnvInfo) -> Value {
    let reason = match &env.health {
        Health::Failed { reason } => Some(reason.as_str()),
        Health::Starting | Health::Healthy => None,
    };
    json!({
        "name": env.id.name(),
        "pr": env.id.pr.get(),
        "sha": env.id.sha.to_string(),
        "health": health_name(&env.health),
        "health_reason": reason,
        "address": env.address.map(|a| a.to_string()),
        "url": env.address.map(|a| a.url()),
        "created_at": env.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "requested_by": env.requested_by.as_ref().map(ToString::to_string),
        "config": env.config,
    })
}

/// A table of environments for people.
pub fn environments_table(envs: &[EnvInfo]) -> String {
    if envs.is_empty() {
        return "No environments.".to_owned();
    }
    let header = ["ENVIRONMENT", "PR", "HEALTH", "URL", "CREATED (UTC)", "BY"];
    let mut rows = vec![header.map(str::to_owned).to_vec()];
    rows.extend(envs.iter().map(|e| {
        vec![
            e.id.name(),
            format!("#{}", e.id.pr),
            health_name(&e.health).to_owned(),
            e.address
                .map(|a| format!("http://{a}"))
                .unwrap_or_else(|| "-".to_owned()),
            e.created_at.format("%Y-%m-%d %H:%M").to_string(),
            e.requested_by
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string),
        ]
    }));
    crate::table(&rows, "").trim_end().to_owned()
}

fn health_name(health: &Health) -> &'static str {
    match health {
        Health::Starting => "starting",
        Health::Healthy => "healthy",
        Health::Failed { .. } => "failed",
    }
}

/// Reads `48h`, `30m`, `7d`, `2w`, `90s` as a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| {
        format!("`{text}` is not a duration: give a number and a unit, e.g. 48h, 30m, 7d, 2w")
    })?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{unit}`; use s, m, h, d or w (e.g. 48h)"
            ));
        }
    };
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("48h"), Ok(Duration::from_secs(48 * 3600)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert!(parse_duration("48").is_err_and(|e| e.contains("unknown unit")));
        assert!(parse_duration("h").is_err_and(|e| e.contains("e.g. 48h")));
        assert!(parse_duration("99999999999999999999w").is_err());
    }

    #[test]
    fn key_values_stay_on_one_line() {
        assert_eq!(one_line("a\nb   c\r\nd"), "a b c d");
    }
}
