//! The local-process backend: each environment is one process on this
//! machine, answering on a loopback port.
//!
//! [`LocalBackend`] implements [`Backend`] without any cloud, for demos, end
//! to end tests and development. It is also the worked example of a backend
//! written outside `showtime-core`: the sections below state what each
//! [`Backend`] method must guarantee, then how this one keeps the promise,
//! so that a backend for another platform can be written by following it.
//!
//! # What a backend must guarantee, and how this one does it
//!
//! **Names are the whole identity.** An environment is found again from its
//! [`EnvId`] alone, after a crash of the controller, by another process, or a
//! day later. Here each environment is a JSON *record* in the state directory
//! named `pr-{n}-{sha7}.json` (see [Files](#files)); nothing is kept in memory
//! between calls, so two [`LocalBackend`]s on one directory, or two runs of
//! the `showtime` command, see the same environments.
//!
//! **A backend touches only what it owns.** Only files whose name is
//! `<name>.json`, `<name>.json.tmp` or `<name>.log`, where `<name>` reads with
//! [`EnvId::parse_name`], are ever read, written or deleted. Anything else in
//! the directory is ignored and left alone, so the state directory may be
//! shared with other tools.
//!
//! **`deploy` is idempotent.** Deploying an environment whose record names a
//! live process succeeds at once and starts nothing (configuration changes go
//! through `apply_config`). If the record names a
//! process that has died, the environment is started again (a deploy is a
//! request for the environment to exist). Otherwise a free port is taken
//! (binding `127.0.0.1:0`), the command is started, and the record is written
//! *after* the process exists, atomically (a temporary file renamed over the
//! record), so a reader never sees half a record. If the record cannot be
//! written the process is stopped again, so nothing runs untracked.
//!
//! **`wait_ready` is bounded.** It sends `GET {health_path}` to the
//! environment's port every [`LocalSettings::poll_interval`] until a `2xx`
//! answer or [`LocalSettings::ready_timeout`]. A process that exits first is
//! a [`PortError::Permanent`] quoting the end of its log, as is a timeout;
//! the caller gets a message a person can act on, not just "failed". The
//! address returned is `127.0.0.1:{port}`.
//!
//! **`apply_config` changes configuration without a rebuild.** A process
//! reads its configuration at start, so the process is stopped and started
//! again with the new environment variables, on the same port when it is
//! free (so an address already written in labels stays right), and the call
//! returns once the new process is healthy.
//!
//! **`destroy` removes everything and succeeds when there is nothing.** It
//! stops the process group, then deletes the record and the log. An absent
//! environment is `Ok`.
//!
//! **`list` tells the truth about crashes.** Every record is reported: a
//! live process answering its health check is [`Health::Healthy`], one not
//! answering yet is [`Health::Starting`] (or [`Health::Failed`] once it has
//! been silent for longer than the ready timeout), and a record whose process
//! has died is [`Health::Failed`] with the last line of its log, on every
//! call, until it is destroyed. Records are never deleted behind the user's
//! back: a crash stays visible, and `destroy` (or the sweeper) cleans up.
//!
//! **Errors say what to do.** [`LocalError`] names the cause and the fix;
//! [`LocalError::is_transient`] separates what a retry may cure (I/O on the
//! state directory, signalling) from what it will not (a missing program, a
//! process that exits, a timeout).
//!
//! # Processes
//!
//! The command is [`LocalSettings::command`], an argument vector in which
//! `{port}`, `{pr}`, `{sha}` (full), `{sha7}`, `{name}` (`pr-{n}-{sha7}`) and
//! `{image}` are replaced; other text, including unknown `{…}`, is kept as
//! is. No shell is involved, so nothing from a pull request becomes a shell
//! word. The default runs this program's preview app (see [`crate::app`]):
//! `<current executable> __app --listen 127.0.0.1:{port} --pr {pr} --sha {sha}`.
//! A template such as `docker run --rm -p 127.0.0.1:{port}:8088 {image}`
//! runs the built image instead.
//!
//! The process starts in the caller's working directory, in **its own
//! process group**, with standard
//! input from `/dev/null` and standard output and error appended to
//! `pr-{n}-{sha7}.log`. It is not a child anyone waits for: it outlives the
//! command that started it. Stopping it sends `SIGTERM` to the whole group,
//! waits up to [`LocalSettings::stop_grace`], then sends `SIGKILL`.
//!
//! Signals are sent by running `kill(1)` (`kill -TERM -- -{pgid}`). The
//! workspace forbids `unsafe`, which rules out calling `libc::kill`
//! directly, and a safe wrapper (`nix`, `rustix`) would be a new dependency
//! for a handful of calls that happen only when an environment stops; the
//! `kill` program is on every Unix system.
//!
//! # Configuration reaches the process as environment variables
//!
//! | variable | value |
//! |---|---|
//! | `SHOWTIME_PR` | the PR number, `42` |
//! | `SHOWTIME_SHA`, `SHOWTIME_SHA7` | the full and the short commit SHA |
//! | `SHOWTIME_ENV` | the environment name, `pr-42-abc123f` |
//! | `SHOWTIME_PORT` | the port to listen on (127.0.0.1) |
//! | `SHOWTIME_IMAGE` | the image reference of the spec |
//! | `SHOWTIME_CONFIG` | the whole [`Config`] as JSON |
//! | `SHOWTIME_DEBUG` | `true` or `false` |
//! | `SHOWTIME_SIZE` | the size name; unset when the default |
//! | `SUPERSET_FEATURE_<FLAG>` | `true` or `false`, one per flag set |
//!
//! Everything else is inherited from the caller, except inherited
//! `SUPERSET_FEATURE_*` and `SHOWTIME_SIZE` variables, which are removed so
//! that only the environment's own configuration reaches it.
//!
//! # Files
//!
//! The state directory is [`LocalSettings::state_dir`]: by default
//! `$SHOWTIME_STATE_DIR`, else `$XDG_CACHE_HOME/showtime`, else
//! `~/.cache/showtime` (created with mode `0700`). For each environment:
//!
//! * `pr-{n}-{sha7}.json`, the record: the spec's `pr`, `sha`, `image`,
//!   `config`, `requested_by`, `created_at` and `expires_at`, and under
//!   `process` the `pid`, `pgid`, `port`, the `argv` that was run, when it
//!   `started_at`, its `start_time` (clock ticks after boot, from
//!   `/proc/{pid}/stat`) and the kernel's `boot_id`.
//! * `pr-{n}-{sha7}.log`, the process's output, kept across restarts.
//!
//! A recorded pid is trusted only while the kernel has the recorded boot
//! id and `/proc/{pid}/stat` shows a running process with the recorded start
//! time. After a reboot, or once the pid has been given to another program,
//! the record is known to be stale: the environment is reported failed and
//! destroying it signals nothing. When the recorded process has merely
//! exited (same boot), its group is still sent `SIGKILL` on destroy, to stop
//! any children it left behind; the kernel does not reuse a group id while
//! any member of the group lives. Where `/proc` does not exist, a live pid
//! (`kill -0`) is taken as ours.
//!
//! # Limits
//!
//! Calls on one [`LocalBackend`] are serialised where they change state.
//! Two controllers changing *the same* environment in the same directory at
//! the same moment are not coordinated (the engine never does this). The
//! free port is found by binding and releasing it, so another program could
//! take it in between; the environment then fails its health check.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, TcpListener as StdTcpListener};
use std::num::NonZeroU16;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use showtime_core::ports::{Backend, EnvId, EnvInfo, EnvSpec, Health, PortError};
use showtime_core::{Address, Config, Login, PrNumber, Sha};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// The variable that names the state directory.
pub const STATE_DIR_ENV: &str = "SHOWTIME_STATE_DIR";
/// Passed to the process: the PR number.
pub const ENV_PR: &str = "SHOWTIME_PR";
/// Passed to the process: the full commit SHA.
pub const ENV_SHA: &str = "SHOWTIME_SHA";
/// Passed to the process: the 7-character commit SHA.
pub const ENV_SHA7: &str = "SHOWTIME_SHA7";
/// Passed to the process: the environment name, `pr-{n}-{sha7}`.
pub const ENV_NAME: &str = "SHOWTIME_ENV";
/// Passed to the process: the port it must listen on, on 127.0.0.1.
pub const ENV_PORT: &str = "SHOWTIME_PORT";
/// Passed to the process: the image reference of the spec.
pub const ENV_IMAGE: &str = "SHOWTIME_IMAGE";
/// Passed to the process: the whole [`Config`] as JSON.
pub const ENV_CONFIG: &str = "SHOWTIME_CONFIG";
/// Passed to the process: `true` or `false`.
pub const ENV_DEBUG: &str = "SHOWTIME_DEBUG";
/// Passed to the process: the size name, only when one is set.
pub const ENV_SIZE: &str = "SHOWTIME_SIZE";
/// Passed to the process: `SUPERSET_FEATURE_<FLAG>=true|false` per flag set.
pub const FEATURE_ENV_PREFIX: &str = "SUPERSET_FEATURE_";

const RECORD_VERSION: u32 = 1;
const LOG_TAIL_LINES: usize = 20;
const LOG_TAIL_BYTES: u64 = 4096;
const KILL_WAIT: Duration = Duration::from_secs(2);
const STOP_POLL: Duration = Duration::from_millis(25);
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// How a [`LocalBackend`] starts and watches its processes.
///
/// [`LocalSettings::new`] fills in the defaults given with each field;
/// change fields afterwards as needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSettings {
    /// Where records and logs live (see the [module docs](self#files)).
    pub state_dir: PathBuf,
    /// The program and its arguments, with `{port}`, `{pr}`, `{sha}`,
    /// `{sha7}`, `{name}` and `{image}` replaced. See
    /// [`LocalSettings::default_command`].
    pub command: Vec<String>,
    /// The path of the health check; default `/health`.
    pub health_path: String,
    /// How long `wait_ready` and `apply_config` wait for a `2xx` health
    /// answer; default 30 s.
    pub ready_timeout: Duration,
    /// How long one health request may take; default 2 s.
    pub probe_timeout: Duration,
    /// The pause between health requests while waiting; default 100 ms.
    pub poll_interval: Duration,
    /// How long a process group has to exit after `SIGTERM` before it is
    /// sent `SIGKILL`; default 5 s.
    pub stop_grace: Duration,
}

impl LocalSettings {
    /// Settings for `state_dir` and `command`, with the defaults documented
    /// on each field.
    pub fn new(state_dir: impl Into<PathBuf>, command: Vec<String>) -> Self {
        LocalSettings {
            state_dir: state_dir.into(),
            command,
            health_path: "/health".to_owned(),
            ready_timeout: Duration::from_secs(30),
            probe_timeout: Duration::from_secs(2),
            poll_interval: Duration::from_millis(100),
            stop_grace: Duration::from_secs(5),
        }
    }

    /// Settings from this process's environment: the state directory of
    /// [`LocalSettings::default_state_dir`] and the command of
    /// [`LocalSettings::default_command`].
    pub fn from_env() -> Result<Self, LocalError> {
        Ok(Self::new(
            Self::default_state_dir()?,
            Self::default_command()?,
        ))
    }

    /// `$SHOWTIME_STATE_DIR`, else `$XDG_CACHE_HOME/showtime`, else
    /// `$HOME/.cache/showtime`. Empty and relative values of the last two
    /// are ignored, as the XDG specification asks.
    pub fn default_state_dir() -> Result<PathBuf, LocalError> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(dir) = var(STATE_DIR_ENV) {
            return Ok(PathBuf::from(dir));
        }
        if let Some(cache) = var("XDG_CACHE_HOME").map(PathBuf::from) {
            if cache.is_absolute() {
                return Ok(cache.join("showtime"));
            }
        }
        match var("HOME").map(PathBuf::from) {
            Some(home) if home.is_absolute() => Ok(home.join(".cache").join("showtime")),
            _ => Err(LocalError::NoStateDir),
        }
    }

    /// The `showtime` binary's preview app:
    /// `showtime __app --listen 127.0.0.1:{port} --pr {pr} --sha {sha}`,
    /// where `showtime` is the `showtime` beside the current executable
    /// (`showtime-webhook` and `showtime-sweep` are installed with it), or
    /// the current executable itself.
    pub fn default_command() -> Result<Vec<String>, LocalError> {
        let current = std::env::current_exe().map_err(LocalError::CurrentExe)?;
        let sibling = current.with_file_name(format!("showtime{}", std::env::consts::EXE_SUFFIX));
        let exe = if sibling.is_file() { sibling } else { current };
        let exe = exe.into_os_string().into_string().map_err(|_| {
            LocalError::CurrentExe(io::Error::new(
                io::ErrorKind::InvalidData,
                "its path is not UTF-8",
            ))
        })?;
        Ok([
            exe.as_str(),
            "__app",
            "--listen",
            "127.0.0.1:{port}",
            "--pr",
            "{pr}",
            "--sha",
            "{sha}",
        ]
        .map(str::to_owned)
        .to_vec())
    }
}

/// What went wrong in the local backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// No state directory could be chosen.
    #[error(
        "no state directory for local environments: set {STATE_DIR_ENV}, \
         XDG_CACHE_HOME or HOME"
    )]
    NoStateDir,
    /// The state directory cannot be created or read.
    #[error(
        "cannot use the state directory {}: {source}; make it a writable directory \
         or point {STATE_DIR_ENV} elsewhere",
        path.display()
    )]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The command template has no program.
    #[error(
        "the command of local environments is empty; set LocalSettings::command \
         to a program and its arguments"
    )]
    EmptyCommand,
    /// The health path is not a plain absolute path.
    #[error(
        "the health path `{path}` is invalid: it must start with `/` and hold no \
         spaces or control characters"
    )]
    BadHealthPath {
        /// The path given.
        path: String,
    },
    /// The default command needs this program's path, which is unknown.
    #[error(
        "cannot find this program's path for the default command ({0}); set LocalSettings::command"
    )]
    CurrentExe(#[source] io::Error),
    /// The configured program could not be started.
    #[error(
        "cannot start `{program}` for {id}: {source}; check that LocalSettings::command \
         names an installed program"
    )]
    Spawn {
        /// The environment.
        id: EnvId,
        /// The program that did not start.
        program: String,
        /// The underlying error.
        source: io::Error,
    },
    /// No loopback port was free.
    #[error("cannot find a free port on 127.0.0.1: {0}")]
    NoFreePort(#[source] io::Error),
    /// A record or log could not be read or written.
    #[error("cannot read or write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A record exists but cannot be read.
    #[error("the record {} is unreadable ({reason}); destroy {id} to remove it", path.display())]
    CorruptRecord {
        /// The environment.
        id: EnvId,
        /// The record file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// There is no such environment.
    #[error("there is no local environment {id}; deploy it first")]
    NotFound {
        /// The environment.
        id: EnvId,
    },
    /// The process has exited (before or after it answered its health check).
    #[error(
        "{id} is not running: its process has exited (deploy starts it again); \
         the end of {}:\n{tail}",
        log.display()
    )]
    Exited {
        /// The environment.
        id: EnvId,
        /// Its log file.
        log: PathBuf,
        /// The last lines of its log.
        tail: LogTail,
    },
    /// The process runs but did not answer its health check in time.
    #[error(
        "{id} did not answer its health check on 127.0.0.1:{port} within {}s ({last}); \
         raise LocalSettings::ready_timeout if it starts slowly; the end of {}:\n{tail}",
        timeout.as_secs_f32(),
        log.display()
    )]
    NotReady {
        /// The environment.
        id: EnvId,
        /// Its port.
        port: u16,
        /// How long it was given.
        timeout: Duration,
        /// The last health check's outcome, e.g. `GET /health answered 503`.
        last: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines of its log.
        tail: LogTail,
    },
    /// A signal could not be sent.
    #[error("cannot signal process group {pgid}: {reason}; the `kill` program must be on PATH")]
    Kill {
        /// The process group.
        pgid: u32,
        /// What `kill` said.
        reason: String,
    },
    /// The process survived `SIGKILL`.
    #[error(
        "process {pgid} of {id} is still running after SIGKILL; stop it by hand \
         (`kill -KILL -- -{pgid}`) and destroy {id} again"
    )]
    StillRunning {
        /// The environment.
        id: EnvId,
        /// Its process group.
        pgid: u32,
    },
    /// The spec's full SHA does not belong to its id.
    #[error("the spec of {id} names commit {sha}, which does not start with {}", id.sha)]
    MismatchedSha {
        /// The environment.
        id: EnvId,
        /// The full SHA given.
        sha: Sha,
    },
}

impl LocalError {
    /// Whether trying the same call again soon may succeed: I/O on the state
    /// directory, a busy port range and signalling are; a bad setting, a
    /// missing program or an environment that fails are not.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            LocalError::NoFreePort(_)
                | LocalError::Io { .. }
                | LocalError::Kill { .. }
                | LocalError::StillRunning { .. }
        )
    }
}

impl From<LocalError> for PortError {
    fn from(err: LocalError) -> Self {
        if err.is_transient() {
            PortError::transient(err.to_string())
        } else {
            PortError::permanent(err.to_string())
        }
    }
}

/// The last lines of an environment's log, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTail(pub String);

impl fmt::Display for LogTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.trim().is_empty() {
            f.write_str("(the log is empty)")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// What a record says about the environment, apart from its process.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EnvRecord {
    pr: PrNumber,
    sha: Sha,
    image: String,
    config: Config,
    requested_by: Option<Login>,
    created_at: String,
    expires_at: Option<String>,
}

/// Which process runs the environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProcessRecord {
    pid: u32,
    pgid: u32,
    /// Start time in clock ticks after boot (`/proc/{pid}/stat` field 22),
    /// where known: a recycled pid has a different one.
    start_time: Option<u64>,
    /// The kernel's boot id (`/proc/sys/kernel/random/boot_id`), where
    /// known: after a reboot every recorded pid is someone else's.
    #[serde(default)]
    boot_id: Option<String>,
    port: u16,
    argv: Vec<String>,
    started_at: String,
}

/// One `pr-{n}-{sha7}.json` file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    version: u32,
    #[serde(flatten)]
    env: EnvRecord,
    process: ProcessRecord,
}

/// A record file as found.
enum Stored {
    Absent,
    Corrupt { reason: String },
    Record(Box<Record>),
}

/// Whether a recorded process is still the one that was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Liveness {
    /// Running, and the same process.
    Ours,
    /// Exited (a zombie counts as exited).
    Gone,
    /// The pid now belongs to another process.
    Recycled,
}

/// Runs each environment as a local process; see the [module docs](self).
#[derive(Debug)]
pub struct LocalBackend {
    settings: LocalSettings,
    /// Serialises the calls of this instance that change state.
    changes: Mutex<()>,
}

impl LocalBackend {
    /// A backend with `settings`, creating the state directory if needed.
    pub fn new(settings: LocalSettings) -> Result<Self, LocalError> {
        if settings.command.is_empty() {
            return Err(LocalError::EmptyCommand);
        }
        let path = &settings.health_path;
        if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(LocalError::BadHealthPath { path: path.clone() });
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&settings.state_dir)
            .map_err(|source| LocalError::StateDir {
                path: settings.state_dir.clone(),
                source,
            })?;
        Ok(LocalBackend {
            settings,
            changes: Mutex::new(()),
        })
    }

    /// A backend with [`LocalSettings::from_env`].
    pub fn from_env() -> Result<Self, LocalError> {
        Self::new(LocalSettings::from_env()?)
    }

    /// Its settings.
    pub fn settings(&self) -> &LocalSettings {
        &self.settings
    }

    /// Where the record of `id` lives: `<state_dir>/pr-{n}-{sha7}.json`.
    pub fn record_path(&self, id: &EnvId) -> PathBuf {
        self.settings.state_dir.join(format!("{id}.json"))
    }

    /// Where the output of `id`'s process goes: `<state_dir>/pr-{n}-{sha7}.log`.
    pub fn log_path(&self, id: &EnvId) -> PathBuf {
        self.settings.state_dir.join(format!("{id}.log"))
    }

    fn temp_path(&self, id: &EnvId) -> PathBuf {
        self.settings.state_dir.join(format!("{id}.json.tmp"))
    }

    fn read(&self, id: &EnvId) -> Result<Stored, LocalError> {
        let path = self.record_path(id);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Stored::Absent),
            Err(source) => return Err(LocalError::Io { path, source }),
        };
        let record: Record = match serde_json::from_slice(&bytes) {
            Ok(record) => record,
            Err(e) => {
                return Ok(Stored::Corrupt {
                    reason: e.to_string(),
                });
            }
        };
        if record.version != RECORD_VERSION {
            return Ok(Stored::Corrupt {
                reason: format!("format version {} is not {RECORD_VERSION}", record.version),
            });
        }
        if record.env.pr != id.pr || !id.sha.matches(&record.env.sha) {
            return Ok(Stored::Corrupt {
                reason: format!(
                    "it describes pr-{}-{}, not {id}",
                    record.env.pr,
                    record.env.sha.short()
                ),
            });
        }
        Ok(Stored::Record(Box::new(record)))
    }

    fn write(&self, id: &EnvId, record: &Record) -> Result<(), LocalError> {
        let temp = self.temp_path(id);
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| LocalError::Io { path, source }
        };
        let json = serde_json::to_vec_pretty(record)
            .map_err(|e| io_err(&temp)(io::Error::new(io::ErrorKind::InvalidData, e)))?;
        let mut file = File::create(&temp).map_err(io_err(&temp))?;
        file.write_all(&json)
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all())
            .map_err(io_err(&temp))?;
        fs::rename(&temp, self.record_path(id)).map_err(io_err(&temp))
    }

    /// Writes the record of a process just started; on failure stops it, so
    /// no process runs without a record.
    async fn commit(&self, id: &EnvId, record: &Record) -> Result<(), LocalError> {
        if let Err(err) = self.write(id, record) {
            // The write error is the one worth reporting.
            let _ = self.stop(id, &record.process).await;
            return Err(err);
        }
        Ok(())
    }

    fn remove(&self, path: PathBuf) -> Result<(), LocalError> {
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(LocalError::Io { path, source: e })
            }
            _ => Ok(()),
        }
    }

    /// Starts the process of `env` on `port`. `note` says why when the
    /// environment ran before; its log is then kept and continued.
    fn start(
        &self,
        id: &EnvId,
        env: &EnvRecord,
        port: u16,
        note: Option<&str>,
    ) -> Result<ProcessRecord, LocalError> {
        let port_text = port.to_string();
        let pr_text = env.pr.to_string();
        let name = id.to_string();
        let values = [
            ("port", port_text.as_str()),
            ("pr", pr_text.as_str()),
            ("sha", env.sha.as_str()),
            ("sha7", id.sha.as_str()),
            ("name", name.as_str()),
            ("image", env.image.as_str()),
        ];
        let argv: Vec<String> = self
            .settings
            .command
            .iter()
            .map(|word| expand(word, &values))
            .collect();
        let (program, args) = argv.split_first().ok_or(LocalError::EmptyCommand)?;

        let log_path = self.log_path(id);
        let log_err = |source| LocalError::Io {
            path: log_path.clone(),
            source,
        };
        let mut log = match note {
            Some(_) => OpenOptions::new().create(true).append(true).open(&log_path),
            None => File::create(&log_path),
        }
        .map_err(log_err)?;
        if let Some(note) = note {
            writeln!(log, "--- showtime: {} {note} ---", now_text()).map_err(log_err)?;
        }
        let stderr = log.try_clone().map_err(log_err)?;

        let config_json = serde_json::to_string(&env.config)
            .map_err(|e| log_err(io::Error::new(io::ErrorKind::InvalidData, e)))?;
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(stderr))
            .process_group(0)
            .kill_on_drop(false);
        for (key, _) in std::env::vars_os() {
            if key
                .to_str()
                .is_some_and(|k| k.starts_with(FEATURE_ENV_PREFIX))
            {
                command.env_remove(key);
            }
        }
        command
            .env(ENV_PR, &pr_text)
            .env(ENV_SHA, env.sha.as_str())
            .env(ENV_SHA7, id.sha.as_str())
            .env(ENV_NAME, &name)
            .env(ENV_PORT, &port_text)
            .env(ENV_IMAGE, &env.image)
            .env(ENV_CONFIG, config_json)
            .env(ENV_DEBUG, if env.config.debug { "true" } else { "false" });
        match &env.config.size {
            Some(size) => command.env(ENV_SIZE, size.as_str()),
            None => command.env_remove(ENV_SIZE),
        };
        for (flag, on) in &env.config.features {
            command.env(
                format!("{FEATURE_ENV_PREFIX}{flag}"),
                if *on { "true" } else { "false" },
            );
        }

        let spawn_err = |source| LocalError::Spawn {
            id: id.clone(),
            program: program.clone(),
            source,
        };
        let child = command.spawn().map_err(spawn_err)?;
        let pid = child
            .id()
            .ok_or_else(|| spawn_err(io::Error::other("it ended before its pid was read")))?;
        // Dropping the handle leaves the process running; the runtime reaps
        // it if it ends while this program still runs.
        drop(child);
        let start_time = match proc_stat(pid) {
            ProcStat::Present { start_time, .. } => Some(start_time),
            ProcStat::Missing | ProcStat::Unsupported => None,
        };
        Ok(ProcessRecord {
            pid,
            pgid: pid,
            start_time,
            boot_id: boot_id(),
            port,
            argv,
            started_at: now_text(),
        })
    }

    /// Stops a recorded process group: `SIGTERM`, then `SIGKILL` after the
    /// grace period. A process that is gone is fine; a pid that now belongs
    /// to another program is left alone.
    async fn stop(&self, id: &EnvId, process: &ProcessRecord) -> Result<(), LocalError> {
        match liveness(process).await {
            Liveness::Recycled => return Ok(()),
            Liveness::Gone => {
                // The leader is gone; while any member of its group lives,
                // the group id cannot be reused, so this reaches only ours.
                let _ = signal_group(process.pgid, "KILL").await;
                return Ok(());
            }
            Liveness::Ours => {}
        }
        signal_group(process.pgid, "TERM").await?;
        if !wait_until_gone(process, self.settings.stop_grace).await {
            signal_group(process.pgid, "KILL").await?;
            if !wait_until_gone(process, KILL_WAIT).await {
                return Err(LocalError::StillRunning {
                    id: id.clone(),
                    pgid: process.pgid,
                });
            }
        }
        // Members that outlived the leader.
        let _ = signal_group(process.pgid, "KILL").await;
        Ok(())
    }

    /// Polls the health check of `id` until it answers `2xx`, its process
    /// ends, or the ready timeout passes.
    async fn wait_healthy(&self, id: &EnvId) -> Result<Address, LocalError> {
        let settings = &self.settings;
        let deadline = Instant::now() + settings.ready_timeout;
        let path = &settings.health_path;
        loop {
            let record = match self.read(id)? {
                Stored::Absent => return Err(LocalError::NotFound { id: id.clone() }),
                Stored::Corrupt { reason } => return Err(self.corrupt(id, reason)),
                Stored::Record(record) => record,
            };
            let port = record.process.port;
            if liveness(&record.process).await != Liveness::Ours {
                return Err(LocalError::Exited {
                    id: id.clone(),
                    log: self.log_path(id),
                    tail: log_tail(&self.log_path(id)),
                });
            }
            let last = match http_get(port, path, settings.probe_timeout)
                .await
                .map(|(status, _)| status)
            {
                Ok(status) if (200..300).contains(&status) => return Ok(loopback(port)),
                Ok(status) => format!("GET {path} answered {status}"),
                Err(e) => format!("GET {path}: {e}"),
            };
            if Instant::now() >= deadline {
                return Err(LocalError::NotReady {
                    id: id.clone(),
                    port,
                    timeout: settings.ready_timeout,
                    last,
                    log: self.log_path(id),
                    tail: log_tail(&self.log_path(id)),
                });
            }
            tokio::time::sleep(settings.poll_interval).await;
        }
    }

    fn corrupt(&self, id: &EnvId, reason: String) -> LocalError {
        LocalError::CorruptRecord {
            id: id.clone(),
            path: self.record_path(id),
            reason,
        }
    }

    /// How one record's environment is doing.
    async fn info(&self, id: &EnvId, record: &Record) -> EnvInfo {
        let process = &record.process;
        let settings = &self.settings;
        let (health, address) = match liveness(process).await {
            Liveness::Ours => {
                let probe = http_get(process.port, &settings.health_path, settings.probe_timeout)
                    .await
                    .map(|(status, _)| status);
                let health = match probe {
                    Ok(status) if (200..300).contains(&status) => Health::Healthy,
                    outcome => {
                        let started = parse_time(&process.started_at);
                        let silent_too_long = started.is_none_or(|started| {
                            let waited = now() - started;
                            waited.to_std().is_ok_and(|w| w > settings.ready_timeout)
                        });
                        if silent_too_long {
                            let what = match outcome {
                                Ok(status) => format!("answers {status}"),
                                Err(e) => e,
                            };
                            Health::Failed {
                                reason: format!(
                                    "process {} runs but GET {} on port {} {what}",
                                    process.pid, settings.health_path, process.port
                                ),
                            }
                        } else {
                            Health::Starting
                        }
                    }
                };
                (health, Some(loopback(process.port)))
            }
            Liveness::Gone | Liveness::Recycled => {
                let tail = log_tail(&self.log_path(id));
                let last_line = tail.0.lines().last().unwrap_or("").trim().to_owned();
                let mut reason = format!("process {} is no longer running", process.pid);
                if !last_line.is_empty() {
                    reason.push_str(&format!("; its log ends with: {}", excerpt(&last_line)));
                }
                (Health::Failed { reason }, None)
            }
        };
        EnvInfo {
            id: id.clone(),
            health,
            address,
            created_at: parse_time(&record.env.created_at).unwrap_or(DateTime::UNIX_EPOCH),
            requested_by: record.env.requested_by.clone(),
            config: record.env.config.clone(),
        }
    }

    /// The environment of a record that cannot be read.
    fn corrupt_info(&self, id: &EnvId, reason: String) -> EnvInfo {
        let created_at = fs::metadata(self.record_path(id))
            .and_then(|m| m.modified())
            .map(DateTime::<Utc>::from)
            .unwrap_or(DateTime::UNIX_EPOCH);
        EnvInfo {
            id: id.clone(),
            health: Health::Failed {
                reason: self.corrupt(id, reason).to_string(),
            },
            address: None,
            created_at,
            requested_by: None,
            config: Config::default(),
        }
    }
}

#[async_trait]
impl Backend for LocalBackend {
    async fn deploy(&self, spec: &EnvSpec) -> Result<(), PortError> {
        let id = &spec.id;
        if !id.sha.matches(&spec.sha) {
            return Err(LocalError::MismatchedSha {
                id: id.clone(),
                sha: spec.sha.clone(),
            }
            .into());
        }
        let _changing = self.changes.lock().await;
        let note = match self.read(id)? {
            Stored::Absent => None,
            Stored::Corrupt { .. } => Some("starting again over an unreadable record"),
            Stored::Record(record) => {
                if liveness(&record.process).await == Liveness::Ours {
                    return Ok(());
                }
                self.stop(id, &record.process).await?;
                Some("starting again after the previous process ended")
            }
        };
        let env = EnvRecord {
            pr: id.pr,
            sha: spec.sha.clone(),
            image: spec.image.clone(),
            config: spec.config.clone(),
            requested_by: spec.requested_by.clone(),
            created_at: time_text(spec.created_at),
            expires_at: spec.expires_at.map(time_text),
        };
        let port = free_port(None)?;
        let process = self.start(id, &env, port, note)?;
        let record = Record {
            version: RECORD_VERSION,
            env,
            process,
        };
        self.commit(id, &record).await?;
        Ok(())
    }

    async fn wait_ready(&self, id: &EnvId) -> Result<Address, PortError> {
        Ok(self.wait_healthy(id).await?)
    }

    async fn apply_config(&self, id: &EnvId, config: &Config) -> Result<(), PortError> {
        {
            let _changing = self.changes.lock().await;
            let mut record = match self.read(id)? {
                Stored::Absent => return Err(LocalError::NotFound { id: id.clone() }.into()),
                Stored::Corrupt { reason } => return Err(self.corrupt(id, reason).into()),
                Stored::Record(record) => record,
            };
            self.stop(id, &record.process).await?;
            record.env.config = config.clone();
            let port = free_port(Some(record.process.port))?;
            record.process = self.start(
                id,
                &record.env,
                port,
                Some("restarting with a new configuration"),
            )?;
            self.commit(id, &record).await?;
        }
        self.wait_healthy(id).await?;
        Ok(())
    }

    async fn destroy(&self, id: &EnvId) -> Result<(), PortError> {
        let _changing = self.changes.lock().await;
        if let Stored::Record(record) = self.read(id)? {
            self.stop(id, &record.process).await?;
        }
        self.remove(self.record_path(id))?;
        self.remove(self.temp_path(id))?;
        self.remove(self.log_path(id))?;
        Ok(())
    }

    async fn list(&self, pr: Option<PrNumber>) -> Result<Vec<EnvInfo>, PortError> {
        let dir = &self.settings.state_dir;
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(LocalError::StateDir {
                    path: dir.clone(),
                    source,
                }
                .into());
            }
        };
        let mut ids: Vec<EnvId> = entries
            .filter_map(Result::ok)
            .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                EnvId::parse_name(name.strip_suffix(".json")?)
            })
            .filter(|id| pr.is_none_or(|pr| id.pr == pr))
            .collect();
        ids.sort();
        let mut infos = Vec::with_capacity(ids.len());
        for id in ids {
            match self.read(&id)? {
                // Destroyed meanwhile.
                Stored::Absent => {}
                Stored::Corrupt { reason } => infos.push(self.corrupt_info(&id, reason)),
                Stored::Record(record) => infos.push(self.info(&id, &record).await),
            }
        }
        Ok(infos)
    }
}

/// Replaces each known `{name}` in `word` in one pass; a replacement is not
/// itself searched, and unknown `{…}` stay as they are.
fn expand(word: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let known = after.find('}').and_then(|close| {
            let key = &after[..close];
            values
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v, close))
        });
        match known {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A free port on 127.0.0.1, `preferred` when it is free.
fn free_port(preferred: Option<u16>) -> Result<u16, LocalError> {
    if let Some(port) = preferred {
        if StdTcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    let listener =
        StdTcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(LocalError::NoFreePort)?;
    Ok(listener
        .local_addr()
        .map_err(LocalError::NoFreePort)?
        .port())
}

fn loopback(port: u16) -> Address {
    Address::new(Ipv4Addr::LOCALHOST, NonZeroU16::new(port))
}

enum ProcStat {
    /// `/proc/{pid}/stat` exists.
    Present { state: char, start_time: u64 },
    /// No such process.
    Missing,
    /// This system has no `/proc`.
    Unsupported,
}

fn proc_stat(pid: u32) -> ProcStat {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(text) => parse_stat(&text).map_or(ProcStat::Missing, |(state, start_time)| {
            ProcStat::Present { state, start_time }
        }),
        Err(_) if !Path::new("/proc/self/stat").exists() => ProcStat::Unsupported,
        Err(_) => ProcStat::Missing,
    }
}

/// This boot of the kernel, where the system says.
fn boot_id() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
}

/// The state (field 3) and start time (field 22) of a `/proc/{pid}/stat`
/// line. The command name (field 2) may hold spaces and parentheses, so
/// fields are counted after its last `)`.
fn parse_stat(text: &str) -> Option<(char, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start_time = fields.get(19)?.parse().ok()?;
    Some((state, start_time))
}

async fn liveness(process: &ProcessRecord) -> Liveness {
    if let (Some(recorded), Some(current)) = (&process.boot_id, boot_id()) {
        if *recorded != current {
            return Liveness::Recycled;
        }
    }
    match proc_stat(process.pid) {
        ProcStat::Present { state, start_time } => {
            if matches!(state, 'Z' | 'X' | 'x') {
                Liveness::Gone
            } else if process.start_time.is_some_and(|t| t != start_time) {
                Liveness::Recycled
            } else {
                Liveness::Ours
            }
        }
        ProcStat::Missing => Liveness::Gone,
        ProcStat::Unsupported => {
            let alive = tokio::process::Command::new("kill")
                .args(["-0", &process.pid.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await
                .is_ok_and(|s| s.success());
            if alive {
                Liveness::Ours
            } else {
                Liveness::Gone
            }
        }
    }
}

async fn wait_until_gone(process: &ProcessRecord, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if liveness(process).await != Liveness::Ours {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(STOP_POLL).await;
    }
}

/// Sends `signal` to every process of group `pgid` with `kill(1)`. A group
/// that no longer exists is not an error.
async fn signal_group(pgid: u32, signal: &str) -> Result<(), LocalError> {
    let output = tokio::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .await
        .map_err(|e| LocalError::Kill {
            pgid,
            reason: format!("cannot run `kill`: {e}"),
        })?;
    let said = String::from_utf8_lossy(&output.stderr);
    if output.status.success() || said.contains("No such process") {
        Ok(())
    } else {
        Err(LocalError::Kill {
            pgid,
            reason: excerpt(said.trim()),
        })
    }
}

/// The status code and body of `GET path` on 127.0.0.1:`port`, over a
/// minimal HTTP/1.1 exchange (the answer read up to
/// [`MAX_RESPONSE_BYTES`]), or why there is none. The demo reads pages with
/// it too.
pub(crate) async fn http_get(
    port: u16,
    path: &str,
    limit: Duration,
) -> Result<(u16, String), String> {
    let exchange = async {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .map_err(|e| format!("cannot connect to 127.0.0.1:{port}: {e}"))?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: showtime-local\r\n\
             Accept: */*\r\nConnection: close\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("cannot send the request: {e}"))?;
        let mut response = Vec::with_capacity(512);
        let mut chunk = [0_u8; 4096];
        // Read the whole (bounded) answer, so the server is not cut off.
        while response.len() < MAX_RESPONSE_BYTES {
            let n = match stream.read(&mut chunk).await {
                Ok(n) => n,
                Err(_) if !response.is_empty() => break,
                Err(e) => return Err(format!("cannot read the answer: {e}")),
            };
            if n == 0 {
                break;
            }
            response.extend_from_slice(&chunk[..n]);
        }
        let status = status_code(&response).ok_or_else(|| {
            if response.is_empty() {
                "the connection closed without an answer".to_owned()
            } else {
                "the answer is not HTTP".to_owned()
            }
        })?;
        let text = String::from_utf8_lossy(&response);
        let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        Ok((status, body.to_owned()))
    };
    tokio::time::timeout(limit, exchange)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {}s", limit.as_secs_f32())))
}

/// The status code of an `HTTP/1.x NNN …` status line.
fn status_code(response: &[u8]) -> Option<u16> {
    let line = response.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_ascii_whitespace();
    if !words.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code = words.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

/// The last lines of a log file, read from its end.
fn log_tail(path: &Path) -> LogTail {
    let read = || -> io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        let start = len.saturating_sub(LOG_TAIL_BYTES);
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let mut lines: Vec<&str> = text.lines().collect();
        if start > 0 && !lines.is_empty() {
            // The first line is probably cut.
            lines.remove(0);
        }
        let from = lines.len().saturating_sub(LOG_TAIL_LINES);
        Ok(lines[from..].join("\n"))
    };
    LogTail(read().unwrap_or_else(|e| format!("(cannot read the log: {e})")))
}

fn excerpt(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Now, from the system clock (chrono's `clock` feature is off).
fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(SystemTime::now())
}

fn now_text() -> String {
    time_text(now())
}

fn time_text(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_once_and_unknown_ones_kept() {
        let values = [("port", "8080"), ("image", "{port}")];
        assert_eq!(expand("127.0.0.1:{port}", &values), "127.0.0.1:8080");
        assert_eq!(expand("{image}", &values), "{port}");
        assert_eq!(expand("{a}{port}{", &values), "{a}8080{");
        assert_eq!(expand("{{port}}", &values), "{8080}");
    }

    #[test]
    fn proc_stat_lines_are_read_after_the_command_name() {
        let line = "123 (a (b) c) S 1 123 123 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1 1";
        assert_eq!(parse_stat(line), Some(('S', 98765)));
        assert_eq!(parse_stat("123 (x) Z"), None);
    }

    #[test]
    fn status_lines_are_read_strictly() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(status_code(b"HTTP/1.0 404 Not Found\r\n\r\n"), Some(404));
        assert_eq!(status_code(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(status_code(b"HTTP/1.1 2000\r\n"), None);
        assert_eq!(status_code(b""), None);
    }
}
