//! Output for people and for machines, adapted to where the program runs.
//!
//! * Everywhere: results on standard output, as text or (`--json`) one JSON
//!   document; progress and errors on standard error.
//! * In GitHub Actions (`GITHUB_ACTIONS=true`): long steps inside
//!   `::group::`/`::endgroup::`, a Markdown table appended to
//!   `$GITHUB_STEP_SUMMARY`, and `sync --check-only`'s lines appended to
//!   `$GITHUB_OUTPUT`.
//! * Elsewhere: progress lines on standard error prefixed with the time, so
//!   CI logs read in order.

use std::io::Write;
use std::path::PathBuf;

use serde_json::Value;
use showtime_core::PrNumber;
use showtime_core::labels::LabelState;
use showtime_core::ports::EnvInfo;

use showtime_core::engine::Outcome;
use showtime_core::sweep::SweepReport;
use showtime_runtime::audit::Record;
use showtime_runtime::request::Done;

use crate::CliError;

/// Where a command writes.
pub struct Output<'a> {
    stdout: &'a mut dyn Write,
    stderr: &'a mut dyn Write,
    /// Whether results are JSON.
    pub json: bool,
    actions: bool,
    github_output: Option<PathBuf>,
    step_summary: Option<PathBuf>,
    /// The audit trail mutations are recorded in, when one is configured.
    pub audit: Option<std::sync::Arc<dyn showtime_runtime::audit::Sink>>,
    /// The program the trail names (`showtime`, `showtime-sweep`).
    pub program: &'static str,
    /// Where the run's figures are gathered, when `--metrics` asks for them
    /// ([`Output::emf`] writes them).
    pub metrics: Option<std::sync::Arc<showtime_runtime::metrics::Metrics>>,
}

impl<'a> Output<'a> {
    /// Output on these streams; `env` tells whether this is GitHub Actions
    /// and where its files are.
    pub fn new(
        stdout: &'a mut dyn Write,
        stderr: &'a mut dyn Write,
        json: bool,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Self {
        let path = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        Output {
            stdout,
            stderr,
            json,
            actions: env("GITHUB_ACTIONS").as_deref() == Some("true"),
            github_output: path("GITHUB_OUTPUT"),
            step_summary: path("GITHUB_STEP_SUMMARY"),
            audit: None,
            program: "showtime",
            metrics: None,
        }
    }

    /// One line of result text.
    pub fn line(&mut self, text: &str) -> Result<(), CliError> {
        writeln!(self.stdout, "{text}")?;
        Ok(())
    }

    /// The result as pretty JSON.
    pub fn json_value(&mut self, value: &Value) -> Result<(), CliError> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| CliError::Internal(format!("cannot write JSON: {e}")))?;
        writeln!(self.stdout, "{text}")?;
        Ok(())
    }

    /// `key=value` lines, written raw to standard output and appended to
    /// `$GITHUB_OUTPUT` when set. Values are written exactly as given (one
    /// line each), so a login such as `dependabot[bot]` stays intact.
    pub fn key_values(&mut self, lines: &[(&str, String)]) -> Result<(), CliError> {
        let mut text = String::new();
        for (key, value) in lines {
            text.push_str(key);
            text.push('=');
            text.push_str(value);
            text.push('\n');
        }
        self.stdout.write_all(text.as_bytes())?;
        if let Some(path) = &self.github_output {
            append(path, &text)?;
        }
        Ok(())
    }

    /// Progress for people, on standard error.
    pub fn progress(&mut self, text: &str) {
        let now = chrono::Utc::now().format("%H:%M:%S");
        // Progress is best effort: a closed stderr must not fail the command.
        let _ = writeln!(self.stderr, "[{now}] {text}");
    }

    /// Opens a collapsible group in GitHub Actions, or prints a progress line.
    pub fn group(&mut self, title: &str) {
        if self.actions {
            let _ = writeln!(self.stderr, "::group::{title}");
        } else {
            self.progress(title);
        }
    }

    /// Closes the group [`Output::group`] opened.
    pub fn end_group(&mut self) {
        if self.actions {
            let _ = writeln!(self.stderr, "::endgroup::");
        }
    }

    /// Records what `done` changed in the audit trail, when there is one;
    /// a trail that cannot be written is said, and the command goes on.
    pub fn record(&mut self, engine: &showtime_core::engine::Engine, done: &Done) {
        if let Some(metrics) = &self.metrics {
            // Nothing queued here: the clock starts with the command.
            metrics.done(done, std::time::Duration::ZERO);
        }
        let at = engine.ports().clock.now();
        self.write_records(done.records(self.program, at));
    }

    /// Records a sweep pass's mutations, as [`Output::record`] does.
    pub fn record_sweep(&mut self, engine: &showtime_core::engine::Engine, report: &SweepReport) {
        let at = engine.ports().clock.now();
        self.write_records(Record::from_sweep(report, self.program, at));
    }

    /// Records reconciles' mutations, as [`Output::record`] does.
    pub fn record_outcomes(
        &mut self,
        engine: &showtime_core::engine::Engine,
        outcomes: &[Outcome],
    ) {
        let at = engine.ports().clock.now();
        let records = outcomes
            .iter()
            .flat_map(|o| Record::from_outcome(o, self.program, at))
            .collect();
        self.write_records(records);
    }

    /// Writes `records` to the audit trail, when one is configured; a trail
    /// that cannot be written is reported, and the work stays done.
    fn write_records(&mut self, records: Vec<Record>) {
        let Some(sink) = self.audit.clone() else {
            return;
        };
        if let Err(e) = sink.write(&records) {
            self.progress(&format!("cannot write the audit trail: {e}"));
        }
    }

    /// Counts a sweep pass in the run's figures, when they are gathered.
    pub fn swept(&mut self, report: &showtime_core::sweep::SweepReport) {
        if let Some(metrics) = &self.metrics {
            metrics.swept(report);
        }
    }

    /// Writes the figures gathered since the last call as EMF lines on
    /// standard error (standard output carries the results), when
    /// `--metrics emf` asked for them. Best effort, as progress is.
    pub fn emf(&mut self) {
        if let Some(metrics) = &self.metrics {
            let _ = metrics.write_emf(chrono::Utc::now(), &mut *self.stderr);
        }
    }

    /// Appends the PR's environments to `$GITHUB_STEP_SUMMARY`, when set.
    pub fn summary_table(&mut self, pr: PrNumber, labels: &LabelState, envs: &[EnvInfo]) {
        let Some(path) = &self.step_summary else {
            return;
        };
        let text = showtime_runtime::text::step_summary(pr, labels, envs);
        if let Err(e) = append(path, &format!("{text}\n")) {
            self.progress(&format!("cannot write the step summary: {e}"));
        }
    }
}

fn append(path: &PathBuf, text: &str) -> Result<(), CliError> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| CliError::Failed(format!("cannot append to {}: {e}", path.display())))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// Progress of long waits (a rollout, a health check), on standard error:
/// on a terminal an `indicatif` spinner with the latest message; elsewhere
/// (CI, a pipe) one timestamped line per message, so logs read in order.
///
/// Cloning gives another handle on the same reporter; the backend's
/// progress callback holds one.
#[derive(Clone, Default)]
pub struct Progress {
    spinner: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// A reporter for this process: a spinner when standard error is a
    /// terminal and this is not CI (`CI`, `GITHUB_ACTIONS` unset).
    pub fn for_process(env: &dyn Fn(&str) -> Option<String>) -> Progress {
        use std::io::IsTerminal;
        let ci = env("CI").is_some() || env("GITHUB_ACTIONS").is_some();
        if ci || !std::io::stderr().is_terminal() {
            return Progress::default();
        }
        let spinner = indicatif::ProgressBar::new_spinner();
        spinner.enable_steady_tick(std::time::Duration::from_millis(100));
        Progress {
            spinner: Some(spinner),
        }
    }

    /// Reports `message`.
    pub fn report(&self, message: &str) {
        match &self.spinner {
            Some(spinner) => spinner.set_message(message.to_owned()),
            None => eprintln!("[{}] {message}", chrono::Utc::now().format("%H:%M:%S")),
        }
    }

    /// This reporter as the engine's wiring takes it.
    pub fn reporter(&self) -> showtime_runtime::wiring::Progress {
        let progress = self.clone();
        std::sync::Arc::new(move |message: &str| progress.report(message))
    }

    /// Stops the spinner and clears its line.
    pub fn finish(&self) {
        if let Some(spinner) = &self.spinner {
            spinner.finish_and_clear();
        }
    }
}
