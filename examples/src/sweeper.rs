//! `showtime-sweep`: one sweep pass, or one every `--every`, with a summary
//! of what was destroyed, what was kept and why.
//!
//! A sweep expires environments past their TTL, cleans up after closed PRs,
//! destroys orphans (environments whose PR is gone) once past the grace
//! period, repairs labels, and deletes unused per-value label definitions
//! ([`Engine::sweep`]). Passes never overlap: the next starts `every` after
//! the previous one ended.

use std::future::Future;
use std::time::Duration;

use clap::Parser;
use showtime_core::engine::{Engine, EngineError};
use showtime_core::sweep::SweepReport;
use showtime_runtime::config::Settings;
use showtime_runtime::cost::Costs;
use showtime_runtime::usage;
use showtime_runtime::view::{parse_duration, sweep_json, sweep_text};

use crate::output::Output;
use crate::{CliError, GlobalArgs};

/// The command line of `showtime-sweep`: sweeps expired, closed and
/// orphaned preview environments.
///
/// It lives here rather than in the binary so that scripts calling
/// `showtime-sweep` (the GitHub Actions workflows, for one) can be checked
/// against it.
#[derive(Debug, Parser)]
#[command(
    name = "showtime-sweep",
    version,
    about = "Sweeps expired, closed and orphaned preview environments.",
    long_about = None
)]
pub struct SweepArgs {
    /// Options shared with `showtime` and `showtime-webhook`.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Say what would be done, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Keep running, one pass every DURATION (30m, 1h)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub every: Option<Duration>,
    /// Print each pass's summary as JSON
    #[arg(long)]
    pub json: bool,
}

/// `[cost] monthly_budget_usd`, checked after each sweep.
#[derive(Debug, Clone)]
pub struct Budgeting {
    trail: std::path::PathBuf,
    costs: Costs,
    budget_usd: f64,
}

impl Budgeting {
    /// The check `settings` ask for: none without a budget; a budget needs
    /// the audit trail, whose deploys and destroys it counts.
    pub fn from_settings(
        settings: &Settings,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Budgeting>, CliError> {
        let Some(budget_usd) = settings.file.cost.monthly_budget_usd else {
            return Ok(None);
        };
        let costs =
            Costs::from_settings(settings, env).map_err(|e| CliError::BadInput(e.to_string()))?;
        let trail = settings.file.audit.file(env).ok_or_else(|| {
            CliError::BadInput(
                "[cost] monthly_budget_usd needs the audit trail: set [audit] path or \
                 SHOWTIME_AUDIT_FILE"
                    .to_owned(),
            )
        })?;
        Ok(Some(Budgeting {
            trail,
            costs,
            budget_usd,
        }))
    }

    /// Projects the month and warns as [`usage::check_budget`] does; says
    /// where the month stands on standard error. A check that fails is
    /// reported and the sweep stays done.
    pub async fn check(&self, engine: &Engine, out: &mut Output<'_>) {
        let Some(sink) = out.audit.clone() else {
            return;
        };
        let checked = usage::check_budget(
            engine,
            &self.trail,
            sink.as_ref(),
            &self.costs,
            self.budget_usd,
            out.program,
        )
        .await;
        match checked {
            Ok(month) => out.progress(&format!(
                "budget {}: ${:.2} so far, ${:.2} projected of ${:.2}{}",
                month.month,
                month.so_far_usd,
                month.projected_usd,
                self.budget_usd,
                month
                    .reached
                    .map_or_else(String::new, |t| format!(" ({t}% reached: warned)"))
            )),
            Err(e) => out.progress(&format!("cannot check the budget: {e}")),
        }
    }
}

/// One pass: prints its summary (text or JSON); fails when a PR could not be
/// swept (the others were). Then checks the month's budget, if any.
pub async fn pass(
    engine: &Engine,
    out: &mut Output<'_>,
    dry_run: bool,
    budget: Option<&Budgeting>,
) -> Result<(), CliError> {
    out.group(if dry_run {
        "showtime sweep (dry run)"
    } else {
        "showtime sweep"
    });
    let report = engine.sweep(dry_run).await;
    out.end_group();
    let printed = print(engine, out, report);
    if let (Some(budget), false) = (budget, dry_run) {
        budget.check(engine, out).await;
    }
    printed
}

/// Prints one pass's report, records it in the audit trail, counts it in
/// the figures and writes them (`--metrics emf`).
fn print(
    engine: &Engine,
    out: &mut Output<'_>,
    report: Result<SweepReport, EngineError>,
) -> Result<(), CliError> {
    if let Ok(report) = &report {
        out.record_sweep(engine, report);
        out.swept(report);
    }
    let printed = print_report(out, report);
    out.emf();
    printed
}

/// Prints one pass's report.
fn print_report(
    out: &mut Output<'_>,
    report: Result<SweepReport, EngineError>,
) -> Result<(), CliError> {
    let report = report.map_err(|e| CliError::Failed(e.to_string()))?;
    if out.json {
        out.json_value(&sweep_json(&report))?;
    } else {
        out.line(&sweep_text(&report))?;
    }
    if report.errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "{} PR(s) could not be swept; the next pass tries again",
            report.errors.len()
        )))
    }
}

/// Passes every `every` until `shutdown` resolves; a failed pass is
/// reported and the next one runs as planned.
pub async fn every(
    engine: &Engine,
    out: &mut Output<'_>,
    every: Duration,
    dry_run: bool,
    budget: Option<&Budgeting>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), CliError> {
    tokio::pin!(shutdown);
    loop {
        if let Err(e) = pass(engine, out, dry_run, budget).await {
            out.progress(&format!("sweep failed: {e}"));
        }
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            () = tokio::time::sleep(every) => {}
        }
    }
}
