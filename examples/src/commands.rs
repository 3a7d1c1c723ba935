//! The subcommands that act on a repository: `sync`, `start`, `stop`,
//! `status`, `list`, `plan`, `setup-labels`, `cleanup`, `cleanup-labels`.
//!
//! Each is a few calls on the [`Engine`] and a rendering of what came back,
//! for people (a table, a sentence) or for scripts (`--json`, and `sync
//! --check-only`'s `key=value` lines). Every decision is the engine's.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use showtime_core::access::{self, Authorization};
use showtime_core::commands::SlashCommand;
use showtime_core::engine::{Engine, EngineError, Outcome};
use showtime_core::plan::Event;
use showtime_core::ports::{EnvId, EnvInfo, Permission, PortError, PullRequest};
use showtime_core::{Login, PrNumber, Sha};

use showtime_runtime::cost::Costs;
use showtime_runtime::request::{Intent, Work, carry_out};
use showtime_runtime::sweep::{self, SweepError};
use showtime_runtime::text::{environments_table, status_text};
use showtime_runtime::usage::{self, GroupBy};
use showtime_runtime::view::{env_json, plan_json, sweep_json, sweep_text};
use showtime_runtime::{actions, audit};

use crate::output::Output;
use crate::{CliError, json_failure};

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

/// Whether the actor may act, by the planner's rule (permission, or an
/// allowed team), or `None` without an actor.
async fn authorization(
    engine: &Engine,
    actor: Option<&Login>,
) -> Result<Option<Authorization>, CliError> {
    let Some(actor) = actor else {
        return Ok(None);
    };
    let found = engine
        .authorize(actor)
        .await
        .map_err(|e| CliError::Failed(format!("cannot read {actor}'s permission: {e}")))?;
    Ok(Some(found))
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
    let mut work = Work::new(pr);
    work.intents.push(Intent { event, actor });
    carry_out_and_report(engine, out, command, work, read).await
}

/// Carries out `work` (one intent) and reports its outcome.
async fn carry_out_and_report(
    engine: &Engine,
    out: &mut Output<'_>,
    command: &str,
    work: Work,
    read: Option<PullRequest>,
) -> Result<(), CliError> {
    let pr = work.pr;
    out.group(&format!("showtime {command} #{pr}"));
    let done = carry_out(engine, work, read).await;
    out.end_group();
    out.record(engine, &done);
    let outcome = done.outcomes.into_iter().next().map(|(_, o)| o);
    match outcome {
        Some(outcome) => report_outcome(engine, out, &outcome.map_err(engine_error)?).await,
        None => Err(CliError::Internal("nothing was reconciled".into())),
    }
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
    let work = Work::from_comment(pr, body, actor, &engine.policy().codec);
    let errors: Vec<String> = work
        .malformed
        .iter()
        .flat_map(|m| m.errors.iter().map(ToString::to_string))
        .collect();
    out.group(&format!("showtime sync #{pr} --comment"));
    let done = carry_out(engine, work, None).await;
    out.end_group();
    out.record(engine, &done);
    if let Some(e) = done.error() {
        return Err(engine_error(e.clone()));
    }
    let outcomes: Vec<&Outcome> = done
        .outcomes
        .iter()
        .filter_map(|(_, o)| o.as_ref().ok())
        .collect();
    if out.json {
        return out.json_value(&json!({
            "pr": pr,
            "commands": outcomes.iter().map(|o| json!({
                "plans": o.plans.iter().map(plan_json).collect::<Vec<_>>(),
                "failure": o.failure,
            })).collect::<Vec<_>>(),
            "errors": errors,
        }));
    }
    if outcomes.is_empty() && errors.is_empty() {
        out.line(&format!("PR #{pr}: the comment has no /circus command"))?;
    }
    for (intent, outcome) in done
        .outcomes
        .iter()
        .filter_map(|(i, o)| Some((i, o.as_ref().ok()?)))
    {
        for plan in &outcome.plans {
            out.line(&format!("PR #{pr}: {}: {}", intent.event, plan.reason))?;
        }
    }
    for error in &errors {
        out.line(&format!(
            "PR #{pr}: not a command, replied on the PR: {error}"
        ))?;
    }
    if let Some(failure) = done.failure() {
        return Err(CliError::Failed(format!("PR #{pr}: {failure}")));
    }
    match done.refused().and_then(refusal_of) {
        Some(refused) => Err(refused),
        None => Ok(()),
    }
}

/// The `key=value` lines of `sync --check-only`.
async fn check(
    engine: &Engine,
    out: &mut Output<'_>,
    read: PullRequest,
    sha: Option<&Sha>,
    event: Event,
    actor: Option<Login>,
) -> Result<(), CliError> {
    let auth = authorization(engine, actor.as_ref()).await?;
    let lines = actions::check(engine, read, sha, event, actor, auth)
        .await
        .map_err(engine_error)?;
    out.key_values(&lines)
}

/// `start PR`: what `/circus refresh` does, for an actor whose permission is
/// checked here first (a refusal touches nothing on the PR) and handed on.
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
    let permission = refuse_unless_allowed(engine, &actor, pr).await?;
    let refresh = Event::Command(SlashCommand::Refresh);
    let mut work = Work::new(pr);
    work.known = Some((actor.clone(), permission));
    work.intents.push(Intent {
        event: refresh,
        actor: Some(actor),
    });
    carry_out_and_report(engine, out, "start", work, Some(read)).await
}

/// `stop PR`: what `/circus destroy` does. The engine checks the actor's
/// permission, and only when the environment is not theirs.
pub async fn stop(
    engine: &Engine,
    out: &mut Output<'_>,
    pr: PrNumber,
    actor: Option<Login>,
) -> Result<(), CliError> {
    let actor = require_actor(actor, "stop")?;
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
) -> Result<Permission, CliError> {
    match authorization(engine, Some(actor)).await? {
        Some(found) if found.allowed() => Ok(found.permission),
        Some(found) => {
            let policy = engine.policy();
            let why = access::refusal_reason(policy, actor, found.permission, &found.memberships);
            let teams = match policy.allowed_teams.is_empty() {
                true => "",
                false => " or an active membership of an allowed team",
            };
            Err(CliError::Refused(format!(
                "{actor} has {why}; PR #{pr} needs `{}` permission{teams} (nothing done)",
                policy.required_permission.as_str()
            )))
        }
        None => Err(CliError::Internal("an actor without a permission".into())),
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
        (None, None) if outcome.out_of_rounds => Err(CliError::Failed(format!(
            "PR #{}: did not converge in this run (out of rounds); the labels say where it \
             stopped, and the next sync goes on from there",
            outcome.pr
        ))),
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
    out.line(&status_text(&read, &labels, &envs))
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
    out.record_sweep(engine, &report);
    out.swept(&report);
    let mut aged = Vec::new();
    if let Some(age) = older_than {
        let stopped = sweep::older_than(engine, age, respect_ttl, dry_run, actor)
            .await
            .map_err(|e| match e {
                SweepError::NoActor | SweepError::TooLong => CliError::BadInput(e.to_string()),
                other => CliError::Failed(other.to_string()),
            })?;
        out.record_outcomes(engine, &stopped.outcomes);
        aged = stopped.environments.iter().map(EnvId::name).collect();
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

/// `cost`: environment-hours and estimated dollars over the last `since`,
/// grouped `by`, from the audit trail (when there is one) and the
/// environments the backend runs now.
pub async fn cost(
    engine: &Engine,
    out: &mut Output<'_>,
    trail: Option<&std::path::Path>,
    costs: &Costs,
    since: Duration,
    by: GroupBy,
    csv: bool,
) -> Result<(), CliError> {
    let now = engine.ports().clock.now();
    let records = match trail {
        Some(path) => {
            audit::read(path)
                .map_err(|e| CliError::Failed(format!("cannot read {}: {e}", path.display())))?
                .0
        }
        None => {
            out.progress("no audit trail ([audit] path): only what runs now is counted");
            Vec::new()
        }
    };
    let running = engine
        .ports()
        .backend
        .list(None)
        .await
        .map_err(|e| CliError::Failed(format!("cannot list the environments: {e}")))?;
    let since = chrono::Duration::from_std(since)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| CliError::BadInput("--since is too long".to_owned()))?;
    let stretches = usage::stretches(&records, &running, now);
    let report = usage::report(&stretches, costs, by, since, now);
    if out.json {
        return out.json_value(&serde_json::to_value(&report).map_err(json_failure)?);
    }
    let text = match csv {
        true => report.csv(),
        false => report.table(by),
    };
    out.line(text.trim_end())
}
