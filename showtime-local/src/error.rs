//! What goes wrong in the local backend, and what to do about it.
//!
//! Every failure is one variant of [`LocalError`], named for its cause, with
//! a message that says what to do. [`LocalError::is_transient`] separates
//! what a retry may cure (I/O on the state directory, a busy port range,
//! signalling) from what it will not (a bad setting, a missing program, a
//! process that exits, a timeout); the conversion into [`PortError`] follows
//! it, so the engine retries only the former. This module decides nothing
//! else and does no I/O.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use showtime_core::Sha;
use showtime_core::ports::{EnvId, PortError};

use crate::vars::STATE_DIR_ENV;

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
    /// The environment sleeps: its process was stopped on purpose.
    #[error("{id} is asleep (its process was stopped to save resources); wake it first")]
    Asleep {
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

/// `text` cut to 200 characters, for one line of an error message.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
