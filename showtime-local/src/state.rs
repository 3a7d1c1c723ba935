//! The state directory: one record file per environment, and its log.
//!
//! **Names are the whole identity.** An environment is found again from its
//! [`EnvId`] alone, after a crash of the controller, by another process, or a
//! day later. Nothing is kept in memory between calls, so two backends on
//! one directory, or two runs of the `showtime` command, see the same
//! environments.
//!
//! The directory is [`LocalSettings::state_dir`](crate::LocalSettings::state_dir):
//! by default `$SHOWTIME_STATE_DIR`, else `$XDG_CACHE_HOME/showtime`, else
//! `~/.cache/showtime` (created with mode `0700`). For each environment:
//!
//! * `pr-{n}-{sha7}.json`, the record: the spec's `pr`, `sha`, `image`,
//!   `config`, `requested_by`, `created_at` and `expires_at`, and under
//!   `process` the `pid`, `pgid`, `port`, the `argv` that was run, when it
//!   `started_at`, its `start_time` (clock ticks after boot, from
//!   `/proc/{pid}/stat`) and the kernel's `boot_id`.
//! * `pr-{n}-{sha7}.log`, the process's output, kept across restarts.
//!
//! A record is written atomically (a temporary `pr-{n}-{sha7}.json.tmp`
//! renamed over it), so a reader never sees half a record. A record that
//! cannot be read, has another format version or describes another
//! environment is *corrupt*: reported, never guessed at.
//!
//! **A backend touches only what it owns.** Only files whose name is
//! `<name>.json`, `<name>.json.tmp` or `<name>.log`, where `<name>` reads with
//! [`EnvId::parse_name`], are ever read, written or deleted. Anything else in
//! the directory is ignored and left alone, so the state directory may be
//! shared with other tools.
//!
//! This module only reads and writes files; it starts and signals nothing
//! (that is [`crate::process`]).

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use showtime_core::ports::EnvId;
use showtime_core::{Config, Login, PrNumber, Sha};

use crate::error::{LocalError, LogTail};

/// The format version written in every record.
const RECORD_VERSION: u32 = 1;
/// At most this many lines of a log are quoted.
const LOG_TAIL_LINES: usize = 20;
/// At most this many bytes are read from the end of a log.
const LOG_TAIL_BYTES: u64 = 4096;

/// What a record says about the environment, apart from its process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EnvRecord {
    pub(crate) pr: PrNumber,
    pub(crate) sha: Sha,
    pub(crate) image: String,
    pub(crate) config: Config,
    pub(crate) requested_by: Option<Login>,
    pub(crate) created_at: String,
    pub(crate) expires_at: Option<String>,
}

/// Which process runs the environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ProcessRecord {
    pub(crate) pid: u32,
    pub(crate) pgid: u32,
    /// Start time in clock ticks after boot (`/proc/{pid}/stat` field 22),
    /// where known: a recycled pid has a different one.
    pub(crate) start_time: Option<u64>,
    /// The kernel's boot id (`/proc/sys/kernel/random/boot_id`), where
    /// known: after a reboot every recorded pid is someone else's.
    #[serde(default)]
    pub(crate) boot_id: Option<String>,
    pub(crate) port: u16,
    pub(crate) argv: Vec<String>,
    pub(crate) started_at: String,
}

/// One `pr-{n}-{sha7}.json` file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    version: u32,
    #[serde(flatten)]
    pub(crate) env: EnvRecord,
    pub(crate) process: ProcessRecord,
    /// Put to sleep: `process` was stopped on purpose and is started
    /// again, on the same port if it is free, by a wake. Absent from the
    /// records of environments that never slept (older records too).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) asleep: bool,
}

impl Record {
    /// A record of the current format.
    pub(crate) fn new(env: EnvRecord, process: ProcessRecord) -> Self {
        Record {
            version: RECORD_VERSION,
            env,
            process,
            asleep: false,
        }
    }
}

/// A record file as found.
pub(crate) enum Stored {
    /// There is no record.
    Absent,
    /// There is a file, but not a record of this environment.
    Corrupt { reason: String },
    /// The record.
    Record(Box<Record>),
}

/// The state directory: where each environment's files are, and reading and
/// writing them.
#[derive(Debug)]
pub(crate) struct StateDir {
    path: PathBuf,
}

impl StateDir {
    /// The directory at `path`, created (mode `0700`) if needed.
    pub(crate) fn create(path: &Path) -> Result<Self, LocalError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(|source| LocalError::StateDir {
                path: path.to_owned(),
                source,
            })?;
        Ok(StateDir {
            path: path.to_owned(),
        })
    }

    /// `<dir>/pr-{n}-{sha7}.json`.
    pub(crate) fn record_path(&self, id: &EnvId) -> PathBuf {
        self.path.join(format!("{id}.json"))
    }

    /// `<dir>/pr-{n}-{sha7}.log`.
    pub(crate) fn log_path(&self, id: &EnvId) -> PathBuf {
        self.path.join(format!("{id}.log"))
    }

    fn temp_path(&self, id: &EnvId) -> PathBuf {
        self.path.join(format!("{id}.json.tmp"))
    }

    /// The environments that have a record file, in order, `pr` only when
    /// given. An absent directory has none.
    pub(crate) fn ids(&self, pr: Option<PrNumber>) -> Result<Vec<EnvId>, LocalError> {
        let entries = match fs::read_dir(&self.path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(LocalError::StateDir {
                    path: self.path.clone(),
                    source,
                });
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
        Ok(ids)
    }

    /// The record of `id`, if any.
    pub(crate) fn read(&self, id: &EnvId) -> Result<Stored, LocalError> {
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

    /// Writes the record of `id` atomically.
    pub(crate) fn write(&self, id: &EnvId, record: &Record) -> Result<(), LocalError> {
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

    /// Deletes every file of `id`; absent files are fine.
    pub(crate) fn remove(&self, id: &EnvId) -> Result<(), LocalError> {
        for path in [self.record_path(id), self.temp_path(id), self.log_path(id)] {
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(LocalError::Io { path, source: e });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// When the record file of `id` was last written, if it can be told.
    pub(crate) fn modified(&self, id: &EnvId) -> Option<DateTime<Utc>> {
        fs::metadata(self.record_path(id))
            .and_then(|m| m.modified())
            .map(DateTime::<Utc>::from)
            .ok()
    }

    /// The last lines of the log of `id`, read from its end.
    pub(crate) fn log_tail(&self, id: &EnvId) -> LogTail {
        let read = || -> io::Result<String> {
            let mut file = File::open(self.log_path(id))?;
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
}

/// Now, from the system clock (chrono's `clock` feature is off).
pub(crate) fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(SystemTime::now())
}

/// A time as records write it: RFC 3339 in UTC.
pub(crate) fn time_text(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// [`now`] as records write it.
pub(crate) fn now_text() -> String {
    time_text(now())
}

/// A time written by [`time_text`].
pub(crate) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
