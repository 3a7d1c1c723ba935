//! # showtime-examples
//!
//! The thin programs on the Showtime library, kept in a library so the
//! binaries stay a few lines of wiring and the behaviour can be tested:
//!
//! * `showtime`, the command line: [`Cli`] is its clap definition and
//!   [`run`] executes it, returning one of the [`exit_code`]s. Its
//!   repository commands are in [`commands`], its output in [`output`].
//! * `showtime-webhook`, the webhook server: [`server`].
//! * `showtime-sweep`, the scheduled sweeper: [`sweeper`].
//! * `showtime-worker`, the SQS work queue's worker: a few lines over
//!   [`showtime_runtime::worker`].
//! * `showtime-lambda`, the same as AWS Lambda functions (receiver, worker,
//!   sweep): [`lambda`].
//! * [`settings`] (flags, variables, `showtime.toml`) and [`wiring`] (from
//!   settings to an engine), shared by all three.
//! * The local-process backend and its preview app live in
//!   [`showtime_local`]; `showtime __app` serves that app.
//! * `showtime demo` runs [`showtime_runtime::demo`], the whole system on one
//!   machine with no account anywhere.
//!
//! Nothing here decides anything about environments: every rule lives in
//! `showtime-core`.

use std::io::{self, Read, Write};

use clap::{Args, Parser, Subcommand};
use showtime_core::labels::{Codec, DEFAULT_LEGACY_TRIGGER, Dialect, LabelState};
use showtime_core::{SizeName, Sizes};

pub mod commands;
pub mod lambda;
pub mod output;
pub mod sweeper;

use std::path::PathBuf;
use std::sync::Arc;

use showtime_core::plan::Event;
use showtime_core::{Login, PrNumber, Sha};
use showtime_local::app::{self, AppInfo};

use crate::commands::SyncEvent;
use crate::output::Output;
use showtime_runtime::config::{self, BackendKind, Overrides, Settings};
use showtime_runtime::cost::Costs;
use showtime_runtime::logs::{LogFormat, Logging};
use showtime_runtime::metrics::{Metrics, MetricsFormat};
use showtime_runtime::text::{read_lines, reference_json, reference_table, summary};
use showtime_runtime::{actions, view, wiring};

/// The process exit codes of `showtime`, all in one place.
pub mod exit_code {
    /// The command did what was asked.
    pub const SUCCESS: u8 = 0;
    /// Reading standard input or writing the output failed (for example a
    /// closed pipe), or an internal error; the input itself was not at fault.
    pub const FAILURE: u8 = 1;
    /// The input or an option was invalid: malformed JSON, a bad value, input
    /// that is not UTF-8, a bad configuration, or a usage error (clap exits
    /// with this code too).
    pub const BAD_INPUT: u8 = 2;
    /// Showtime refused: the actor lacks permission, or the commit asked
    /// for is no longer the PR's head. Nothing was changed.
    pub const REFUSED: u8 = 3;
    /// A step failed (a build, a deploy, a GitHub call); the PR says why.
    pub const FAILED: u8 = 4;
}

/// Options shared by `showtime`, `showtime-webhook` and `showtime-sweep`.
///
/// Each may also come from an environment variable and from the file; a flag
/// overrides the variable, which overrides the file
/// ([`showtime_runtime::config`]).
// The field docs are also `--help` text, where a URL is plain text.
#[allow(rustdoc::bare_urls)]
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// Configuration file [env: SHOWTIME_CONFIG] [default: ./showtime.toml if present]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Where environments run [env: SHOWTIME_BACKEND] [default: ecs]
    #[arg(long, global = true, value_enum)]
    pub backend: Option<BackendKind>,
    /// The repository, owner/name [env: GITHUB_REPOSITORY]
    #[arg(long, global = true, value_name = "OWNER/NAME")]
    pub repo: Option<String>,
    /// GitHub's REST API root [env: GITHUB_API_URL] [default: https://api.github.com]
    #[arg(long, global = true, value_name = "URL")]
    pub github_api_url: Option<String>,
    /// How log lines on standard error are written [env: SHOWTIME_LOG_FORMAT] [default: human]
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Also write metrics: `emf`, CloudWatch Embedded Metric Format lines
    /// (on standard error for `showtime` and `showtime-sweep`, whose
    /// standard output carries results; on standard output for
    /// `showtime-webhook`) [env: SHOWTIME_METRICS] [default: none]
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub metrics: Option<MetricsFormat>,
}

impl GlobalArgs {
    /// How this program logs: `--log-format`, else `SHOWTIME_LOG_FORMAT`;
    /// `quiet` for a program whose standard error already speaks to people
    /// ([`Logging::quiet`]).
    pub fn logging(
        &self,
        quiet: bool,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Logging, CliError> {
        Logging::resolve(self.log_format, quiet, env).map_err(|e| CliError::BadInput(e.to_string()))
    }

    /// The figures of a run as `program`, gathered for EMF when `--metrics
    /// emf` (or `SHOWTIME_METRICS=emf`) asks for them; `None` when nothing
    /// is to be written.
    pub fn metrics(
        &self,
        program: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Arc<Metrics>>, CliError> {
        match MetricsFormat::resolve(self.metrics, env) {
            Ok(MetricsFormat::Emf) => Ok(Some(Arc::new(Metrics::new().with_emf(program)))),
            Ok(MetricsFormat::None) => Ok(None),
            Err(e) => Err(CliError::BadInput(e.to_string())),
        }
    }

    /// What these flags override in the configuration.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            config: self.config.clone(),
            backend: self.backend,
            repo: self.repo.clone(),
            github_api_url: self.github_api_url.clone(),
        }
    }
}

/// Per-PR preview environments whose state lives in 🎪 labels.
#[derive(Debug, Parser)]
#[command(name = "showtime", version)]
pub struct Cli {
    /// Options every program shares.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Who the command acts for [env: GITHUB_ACTOR]
    #[arg(long, global = true, value_name = "LOGIN")]
    pub actor: Option<Login>,
    /// Print results as JSON
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `showtime`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Converge one PR: do what its labels ask (the GitHub Actions entry)
    Sync {
        /// The pull request number
        pr: PrNumber,
        /// Act only if this is still the PR's head commit
        #[arg(long)]
        sha: Option<Sha>,
        /// Change nothing; print key=value lines (also to $GITHUB_OUTPUT)
        #[arg(long)]
        check_only: bool,
        /// What caused this run [default: in GitHub Actions, the event at
        /// $GITHUB_EVENT_PATH; else look]
        #[arg(long, value_enum)]
        event: Option<SyncEvent>,
        /// A PR comment to carry out: its `/circus` lines, as the actor
        /// (a file, or `-` for standard input)
        #[arg(long, value_name = "FILE", conflicts_with = "check_only")]
        comment: Option<PathBuf>,
    },
    /// Create (or rebuild) the environment of a PR, as `/circus refresh` does
    Start {
        /// The pull request number
        pr: PrNumber,
        /// Act only if this is still the PR's head commit
        #[arg(long)]
        sha: Option<Sha>,
    },
    /// Destroy a PR's environments
    Stop {
        /// The pull request number
        pr: PrNumber,
    },
    /// Show a PR's environment
    Status {
        /// The pull request number
        pr: PrNumber,
    },
    /// List every environment
    List {
        /// Also PRs with 🎪 labels but no running environment
        #[arg(long)]
        all: bool,
    },
    /// Print what a sync would do, changing nothing
    Plan {
        /// The pull request number
        pr: PrNumber,
        /// What caused this run [default: in GitHub Actions, the event at
        /// $GITHUB_EVENT_PATH; else look]
        #[arg(long, value_enum)]
        event: Option<SyncEvent>,
    },
    /// Define every reusable 🎪 label with its colour and description
    SetupLabels,
    /// Sweep: expired, closed and orphaned environments, stale labels
    Cleanup {
        /// Say what would be done, change nothing
        #[arg(long)]
        dry_run: bool,
        /// With --older-than: spare environments whose TTL keeps them
        /// (`close`, `manual`)
        #[arg(long)]
        respect_ttl: bool,
        /// Also stop environments older than this (48h, 7d, 2w)
        #[arg(long, value_name = "DURATION", value_parser = view::parse_duration)]
        older_than: Option<std::time::Duration>,
    },
    /// Delete definitions of per-value 🎪 labels no PR carries
    CleanupLabels {
        /// Say what would be deleted, delete nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Read the audit trail back: every mutation, who asked, how it went
    Audit {
        /// Only this PR
        #[arg(long)]
        pr: Option<PrNumber>,
        /// Only what happened within this long (7d, 24h)
        #[arg(long, value_name = "DURATION", value_parser = view::parse_duration)]
        since: Option<std::time::Duration>,
    },
    /// Environment-hours and estimated dollars, from the audit trail and what
    /// runs now ([cost] and [sizes] in showtime.toml price them)
    Cost {
        /// The window: this long before now (30d, 7d, 24h)
        #[arg(long, value_name = "DURATION", value_parser = view::parse_duration, default_value = "30d")]
        since: std::time::Duration,
        /// Group by who asked, by PR, or by size
        #[arg(long, value_enum, default_value = "requester")]
        by: showtime_runtime::usage::GroupBy,
        /// Print CSV (key,environments,hours,usd)
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
    /// Serve the dashboard: a web page of every environment, with sign-in
    /// and actions ([dashboard] in showtime.toml)
    Dashboard {
        /// Address and port to listen on
        #[arg(long, value_name = "ADDR", default_value_t = showtime_runtime::server::DEFAULT_LISTEN)]
        listen: std::net::SocketAddr,
    },
    /// Run the whole system locally: fake GitHub, local environments
    Demo {
        /// Leave the fake GitHub and the environments running at the end
        #[arg(long)]
        keep_running: bool,
    },
    /// Check configuration
    Config {
        /// Which configuration operation to run.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Read, write and describe 🎪 label names.
    Labels {
        /// How label names are read and written.
        #[command(flatten)]
        codec: CodecArgs,
        /// Which labels operation to run.
        #[command(subcommand)]
        command: LabelsCommand,
    },
    /// Print the version of showtime.
    Version,
    /// Serve the preview app of one environment (run by the local backend)
    #[command(name = "__app", hide = true)]
    App {
        /// Where to listen
        #[arg(long)]
        listen: std::net::SocketAddr,
        /// The pull request
        #[arg(long)]
        pr: PrNumber,
        /// The commit
        #[arg(long)]
        sha: Sha,
    },
}

/// The subcommands of `showtime config`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file and point at the line of any error
    Check {
        /// The file [default: --config, $SHOWTIME_CONFIG or ./showtime.toml]
        path: Option<PathBuf>,
    },
}

/// The configurable parts of the label grammar, shared by every `labels`
/// subcommand.
#[derive(Debug, Clone, Args)]
pub struct CodecArgs {
    /// Name of the legacy up-label that keeps an environment while present
    #[arg(long, global = true, value_name = "NAME", default_value = DEFAULT_LEGACY_TRIGGER)]
    pub legacy_trigger: String,
    /// Sizes an environment may be given, comma separated
    /// [default: small,medium,large,xlarge]
    #[arg(long, global = true, value_name = "SIZE,...", value_delimiter = ',')]
    pub sizes: Option<Vec<SizeName>>,
}

impl CodecArgs {
    /// The codec these options describe.
    pub fn codec(&self) -> Result<Codec, CliError> {
        let sizes = match &self.sizes {
            Some(sizes) => Sizes::new(sizes.iter().cloned()),
            None => Sizes::default(),
        };
        Codec::new(&self.legacy_trigger, sizes).map_err(|e| CliError::BadInput(e.to_string()))
    }
}

/// The subcommands of `showtime labels`.
#[derive(Debug, Subcommand)]
pub enum LabelsCommand {
    /// Read label names, one per line, from standard input and show what
    /// they say
    /// (`--json` prints the stable JSON form instead of a summary for
    /// people.)
    Parse,
    /// Read the JSON form of `labels parse --json` from standard input and
    /// print its label names, one per line
    Encode {
        /// Which label dialect to write: `seed` (PR-level keys, `🎪 🚦
        /// running`) or `per-sha` (superset-showtime's, `🎪 abc123f 🚦
        /// running`)
        #[arg(long, default_value_t = Dialect::Seed, value_parser = |s: &str| s.parse::<Dialect>())]
        dialect: Dialect,
    },
    /// Print every label kind with its per-SHA form, colour and meaning
    /// (`--json` prints a JSON array instead of a table.)
    Reference,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The input or an option was invalid; the message says how.
    #[error("{0}")]
    BadInput(String),
    /// Standard input or output failed.
    #[error("input/output failed: {0}")]
    Io(#[from] io::Error),
    /// Something that should not fail did.
    #[error("{0}")]
    Internal(String),
    /// Showtime refused to act; nothing changed.
    #[error("refused: {0}")]
    Refused(String),
    /// A step failed.
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::BadInput(_) => exit_code::BAD_INPUT,
            CliError::Refused(_) => exit_code::REFUSED,
            CliError::Failed(_) => exit_code::FAILED,
            CliError::Io(_) | CliError::Internal(_) => exit_code::FAILURE,
        }
    }
}

impl From<config::ConfigError> for CliError {
    fn from(e: config::ConfigError) -> Self {
        CliError::BadInput(e.to_string())
    }
}

impl From<wiring::WiringError> for CliError {
    fn from(e: wiring::WiringError) -> Self {
        CliError::BadInput(e.to_string())
    }
}

/// Runs `cli`, reading `stdin` and writing `stdout`; an error is written to
/// `stderr` as `error: …`. Returns the process exit code.
///
/// A closed output pipe ends the command quietly with [`exit_code::FAILURE`].
pub fn run(cli: Cli, stdin: &mut dyn Read, stdout: &mut dyn Write, stderr: &mut dyn Write) -> u8 {
    run_with_env(cli, &|k| std::env::var(k).ok(), stdin, stdout, stderr)
}

/// [`run`] with the environment variables read through `env`.
pub fn run_with_env(
    cli: Cli,
    env: &dyn Fn(&str) -> Option<String>,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> u8 {
    let result = execute(cli, env, stdin, stdout, stderr)
        .and_then(|()| stdout.flush().map_err(CliError::from));
    match result {
        Ok(()) => exit_code::SUCCESS,
        Err(CliError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => exit_code::FAILURE,
        Err(e) => {
            // In GitHub Actions the message becomes an annotation, so the
            // run's page shows a refusal or a failure without opening logs.
            let annotation = match &e {
                _ if env("GITHUB_ACTIONS").as_deref() != Some("true") => "",
                CliError::Refused(_) => "::warning title=Showtime refused::",
                _ => "::error title=Showtime::",
            };
            // Nothing more can be done if standard error is gone too.
            let _ = writeln!(stderr, "{annotation}error: {e}");
            e.exit_code()
        }
    }
}

fn execute(
    cli: Cli,
    env: &dyn Fn(&str) -> Option<String>,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<(), CliError> {
    match cli.command {
        Command::Version if cli.json => {
            writeln!(stdout, "{{\"version\": \"{}\"}}", env!("CARGO_PKG_VERSION"))?;
        }
        Command::Version => {
            writeln!(stdout, "showtime {}", env!("CARGO_PKG_VERSION"))?;
        }
        Command::Labels { codec, command } => {
            let codec = codec.codec()?;
            match command {
                LabelsCommand::Parse => parse(&codec, cli.json, stdin, stdout)?,
                LabelsCommand::Encode { dialect } => encode(&codec, dialect, stdin, stdout)?,
                LabelsCommand::Reference if cli.json => writeln!(
                    stdout,
                    "{}",
                    serde_json::to_string_pretty(&reference_json(&codec)).map_err(json_failure)?
                )?,
                LabelsCommand::Reference => stdout.write_all(reference_table(&codec).as_bytes())?,
            }
        }
        Command::Config {
            command: ConfigCommand::Check { path },
        } => config_check(&cli.global, path, env, cli.json, stdout)?,
        Command::Audit { pr, since } => audit(&cli.global, env, pr, since, cli.json, stdout)?,
        command => {
            let comment = match &command {
                Command::Sync {
                    comment: Some(path),
                    ..
                } => Some(read_comment(path, stdin)?),
                _ => None,
            };
            let actor = Actors {
                flag: cli.actor,
                env: match env("GITHUB_ACTOR") {
                    Some(text) if !text.trim().is_empty() => {
                        Some(text.trim().parse().map_err(|e: showtime_core::Error| {
                            CliError::BadInput(format!("GITHUB_ACTOR: {e}"))
                        })?)
                    }
                    _ => None,
                },
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let metrics = cli.global.metrics("showtime", env)?;
            let mut out = Output::new(stdout, stderr, cli.json, env);
            out.metrics = metrics;
            runtime.block_on(repository_command(
                command,
                &cli.global,
                actor,
                env,
                comment,
                &mut out,
            ))?;
        }
    }
    Ok(())
}

/// The commands that need an engine (or, for `demo` and `__app`, a
/// runtime).
async fn repository_command(
    command: Command,
    global: &GlobalArgs,
    actors: Actors,
    env: &dyn Fn(&str) -> Option<String>,
    comment_body: Option<String>,
    out: &mut Output<'_>,
) -> Result<(), CliError> {
    match command {
        Command::Demo { keep_running } => {
            let mut line = |text: &str| out.line(text).map_err(|e| io::Error::other(e.to_string()));
            return showtime_runtime::demo::run(&mut line, keep_running)
                .await
                .map_err(|e| CliError::Failed(e.to_string()));
        }
        Command::App { listen, pr, sha } => {
            let info = AppInfo::from_env(pr, sha).map_err(|e| CliError::BadInput(e.to_string()))?;
            return app::run(listen, info).await.map_err(CliError::from);
        }
        _ => {}
    }
    let settings = Settings::resolve(&global.overrides(), env)?;
    let progress = output::Progress::for_process(env);
    let extras = wiring::Extras::default()
        .progress(progress.reporter())
        .metrics(out.metrics.clone());
    let engine = wiring::engine_with(&settings, env, extras).await?;
    out.audit = settings.file.audit.sink(env);
    if let Command::Dashboard { listen } = command {
        progress.finish();
        return dashboard(engine, &settings, env, listen, out.audit.clone()).await;
    }
    let e = &engine;
    // What this run's GitHub Actions event says about the PR, if anything.
    let context = |pr| {
        actions::for_pr(env, &e.policy().codec, pr).map_err(|e| CliError::BadInput(e.to_string()))
    };
    let actor = actors.flag.clone().or(actors.env.clone());
    let result = match command {
        Command::Sync {
            pr,
            sha,
            check_only,
            event,
            comment: _,
        } => {
            let (event, actor) = actors.with_event(event, context(pr)?);
            match comment_body {
                Some(body) => commands::comment(e, out, pr, &body, actor).await,
                None => commands::sync(e, out, pr, sha.as_ref(), check_only, event, actor).await,
            }
        }
        Command::Start { pr, sha } => commands::start(e, out, pr, sha.as_ref(), actor).await,
        Command::Stop { pr } => commands::stop(e, out, pr, actor).await,
        Command::Status { pr } => commands::status(e, out, pr).await,
        Command::List { all } => commands::list(e, out, all).await,
        Command::Plan { pr, event } => {
            let (event, actor) = actors.with_event(event, context(pr)?);
            commands::plan(e, out, pr, event, actor).await
        }
        Command::SetupLabels => commands::setup_labels(e, out).await,
        Command::Cleanup {
            dry_run,
            respect_ttl,
            older_than,
        } => commands::cleanup(e, out, dry_run, respect_ttl, older_than, actor).await,
        Command::CleanupLabels { dry_run } => commands::cleanup_labels(e, out, dry_run).await,
        Command::Cost { since, by, csv } => {
            let trail = settings.file.audit.file(env);
            let costs = Costs::from_settings(&settings, env)
                .map_err(|e| CliError::BadInput(e.to_string()))?;
            commands::cost(e, out, trail.as_deref(), &costs, since, by, csv).await
        }
        Command::Labels { .. }
        | Command::Version
        | Command::Config { .. }
        | Command::Dashboard { .. }
        | Command::Demo { .. }
        | Command::Audit { .. }
        | Command::App { .. } => Ok(()),
    };
    progress.finish();
    out.emf();
    result
}

/// `showtime dashboard`: serves the dashboard until SIGINT or SIGTERM.
async fn dashboard(
    engine: showtime_core::engine::Engine,
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
    listen: std::net::SocketAddr,
    audit: Option<std::sync::Arc<dyn showtime_runtime::audit::Sink>>,
) -> Result<(), CliError> {
    use showtime_runtime::dashboard::{Dashboard, DashboardError, DashboardSettings};
    let bad = |e: DashboardError| CliError::BadInput(e.to_string());
    let dashboard_settings = DashboardSettings::resolve(settings, env, listen).map_err(bad)?;
    let dashboard = Dashboard::new(std::sync::Arc::new(engine), dashboard_settings)
        .map_err(bad)?
        .with_audit(audit);
    dashboard
        .run(listen, showtime_runtime::signal::shutdown())
        .await
        .map_err(|e| CliError::Failed(e.to_string()))
}

/// Who a command acts for: `--actor`, else (for `sync` and `plan` in
/// GitHub Actions) the event's sender, else `GITHUB_ACTOR`.
struct Actors {
    flag: Option<Login>,
    env: Option<Login>,
}

impl Actors {
    /// The event and actor of a `sync` or `plan`: explicit flags first, then
    /// what the GitHub Actions event says, then `look` and `GITHUB_ACTOR`.
    fn with_event(
        &self,
        flag: Option<SyncEvent>,
        context: Option<actions::ActionsEvent>,
    ) -> (Event, Option<Login>) {
        let context = context.unwrap_or_default();
        let event = flag
            .map(Event::from)
            .or(context.event)
            .unwrap_or(Event::Look);
        let actor = self.flag.clone().or(context.actor).or(self.env.clone());
        (event, actor)
    }
}

/// The comment of `sync --comment`: a file, or `-` for standard input.
fn read_comment(path: &std::path::Path, stdin: &mut dyn Read) -> Result<String, CliError> {
    let bytes = if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        stdin.read_to_end(&mut bytes)?;
        bytes
    } else {
        std::fs::read(path).map_err(|e| {
            CliError::BadInput(format!("cannot read the comment {}: {e}", path.display()))
        })?
    };
    String::from_utf8(bytes)
        .map_err(|_| CliError::BadInput("the comment is not UTF-8 text".to_owned()))
}

/// `audit`: the trail's records, oldest first.
fn audit(
    global: &GlobalArgs,
    env: &dyn Fn(&str) -> Option<String>,
    pr: Option<PrNumber>,
    since: Option<std::time::Duration>,
    json: bool,
    stdout: &mut dyn Write,
) -> Result<(), CliError> {
    let settings = Settings::resolve(&global.overrides(), env)?;
    let path = settings.file.audit.file(env).ok_or_else(|| {
        CliError::BadInput("no audit trail: set [audit] path or SHOWTIME_AUDIT_FILE".into())
    })?;
    let now = chrono::Utc::now();
    let text = showtime_runtime::audit::report(&path, pr.map(PrNumber::get), since, now, json)
        .map_err(|e| CliError::Failed(format!("cannot read {}: {e}", path.display())))?;
    stdout.write_all(text.as_bytes())?;
    Ok(())
}

/// `config check`: the file parses, its values are valid, and it names no
/// unknown key.
fn config_check(
    global: &GlobalArgs,
    path: Option<PathBuf>,
    env: &dyn Fn(&str) -> Option<String>,
    json: bool,
    stdout: &mut dyn Write,
) -> Result<(), CliError> {
    let path = config::check(path.or_else(|| global.config.clone()), env)?;
    match json {
        true => writeln!(
            stdout,
            "{}",
            serde_json::json!({ "path": path, "ok": true })
        )?,
        false => writeln!(stdout, "{}: OK", path.display())?,
    }
    Ok(())
}

fn parse(
    codec: &Codec,
    json: bool,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
) -> Result<(), CliError> {
    let mut input = Vec::new();
    stdin.read_to_end(&mut input)?;
    let state = codec.parse(read_lines(&input).map_err(CliError::BadInput)?);
    if json {
        writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&state).map_err(json_failure)?
        )?;
    } else {
        stdout.write_all(summary(&state, codec).as_bytes())?;
    }
    Ok(())
}

fn encode(
    codec: &Codec,
    dialect: Dialect,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
) -> Result<(), CliError> {
    let mut input = Vec::new();
    stdin.read_to_end(&mut input)?;
    let state: LabelState = serde_json::from_slice(&input).map_err(|e| {
        CliError::BadInput(format!("standard input is not a valid label state: {e}"))
    })?;
    codec
        .check(&state)
        .map_err(|e| CliError::BadInput(e.to_string()))?;
    for label in codec.encode(&state, dialect) {
        writeln!(stdout, "{label}")?;
    }
    Ok(())
}

fn json_failure(e: serde_json::Error) -> CliError {
    CliError::Internal(format!("cannot write JSON: {e}"))
}
