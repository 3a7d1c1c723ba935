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
use showtime_runtime::sweep;
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

/// One pass: prints its summary (text or JSON); fails when a PR could not be
/// swept (the others were).
pub async fn pass(engine: &Engine, out: &mut Output<'_>, dry_run: bool) -> Result<(), CliError> {
    out.group(if dry_run {
        "showtime sweep (dry run)"
    } else {
        "showtime sweep"
    });
    let report = engine.sweep(dry_run).await;
    out.end_group();
    print(out, report)
}

/// Prints one pass's report, counts it in the figures and writes them
/// (`--metrics emf`).
fn print(out: &mut Output<'_>, report: Result<SweepReport, EngineError>) -> Result<(), CliError> {
    if let Ok(report) = &report {
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
    shutdown: impl Future<Output = ()>,
) -> Result<(), CliError> {
    sweep::every(engine, every, dry_run, shutdown, |report| {
        if let Err(e) = print(out, report) {
            out.progress(&format!("sweep failed: {e}"));
        }
    })
    .await;
    Ok(())
}
