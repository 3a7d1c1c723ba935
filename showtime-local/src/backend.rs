//! The [`Backend`] implementation: what each method must guarantee, and how
//! [`LocalBackend`] keeps the promise.
//!
//! Each paragraph states one promise of the [`Backend`] contract, then how
//! this backend keeps it, so that a backend for another platform can be
//! written by following it. The parts it is built from have their own
//! modules: [`crate::state`] (records), [`crate::process`] (processes) and
//! [`crate::probe`] (the health check).
//!
//! **Names are the whole identity.** An environment is found again from its
//! [`EnvId`] alone: here, from its record in the state directory. Nothing is
//! kept in memory between calls.
//!
//! **`deploy` is idempotent.** Deploying an environment whose record names a
//! live process succeeds at once and starts nothing (configuration changes go
//! through `apply_config`). If the record names a process that has died,
//! the environment is started again (a deploy is a request for the
//! environment to exist). Otherwise a free port is taken (binding
//! `127.0.0.1:0`), the command is started, and the record is written *after*
//! the process exists, atomically, so a reader never sees half a record. If
//! the record cannot be written the process is stopped again, so nothing
//! runs untracked.
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
//! **`sleep` and `wake` keep the environment.** `sleep` stops the process
//! group and marks the record asleep (listed as [`Health::Asleep`], with no
//! address); nothing else changes, so its creation time and configuration
//! stay. `wake` starts the same command with the same configuration again,
//! on the same port when it is free (so the address people knew stays
//! right), and returns without waiting: the engine waits with
//! `wait_ready`. Both succeed when there is nothing to do, and answer
//! [`LocalError::NotFound`] for an environment without a record.
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
//! [`LocalError::is_transient`] decides whether the engine retries.
//!
//! # Limits
//!
//! Calls on one [`LocalBackend`] are serialised where they change state.
//! Two controllers changing *the same* environment in the same directory at
//! the same moment are not coordinated (the engine never does this). The
//! free port is found by binding and releasing it, so another program could
//! take it in between; the environment then fails its health check.

use std::net::{Ipv4Addr, SocketAddr};
use std::num::NonZeroU16;
use std::path::PathBuf;

use async_trait::async_trait;
use chrono::DateTime;
use showtime_core::ports::{Backend, EnvId, EnvInfo, EnvSpec, Health, PortError};
use showtime_core::{Address, Config, PrNumber};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::error::{LocalError, excerpt};
use crate::faults;
use crate::probe;
use crate::process::{self, Liveness, liveness};
use crate::settings::LocalSettings;
use crate::state::{
    EnvRecord, ProcessRecord, Record, StateDir, Stored, now, parse_time, time_text,
};

/// Runs each environment as a local process; see the
/// [module docs](crate::backend).
#[derive(Debug)]
pub struct LocalBackend {
    settings: LocalSettings,
    state: StateDir,
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
        let state = StateDir::create(&settings.state_dir)?;
        Ok(LocalBackend {
            settings,
            state,
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
        self.state.record_path(id)
    }

    /// Where the output of `id`'s process goes: `<state_dir>/pr-{n}-{sha7}.log`.
    pub fn log_path(&self, id: &EnvId) -> PathBuf {
        self.state.log_path(id)
    }

    /// Starts the process of `env` on `port`; see [`process::spawn`].
    fn start(
        &self,
        id: &EnvId,
        env: &EnvRecord,
        port: u16,
        note: Option<&str>,
    ) -> Result<ProcessRecord, LocalError> {
        let log = self.log_path(id);
        process::spawn(&self.settings.command, id, env, port, &log, note)
    }

    /// Stops a recorded process group; see [`process::stop`].
    async fn stop(&self, id: &EnvId, process: &ProcessRecord) -> Result<(), LocalError> {
        process::stop(id, process, self.settings.stop_grace).await
    }

    /// Writes the record of a process just started; on failure stops it, so
    /// no process runs without a record.
    async fn commit(&self, id: &EnvId, record: &Record) -> Result<(), LocalError> {
        if let Err(err) = self.state.write(id, record) {
            // The write error is the one worth reporting.
            let _ = self.stop(id, &record.process).await;
            return Err(err);
        }
        Ok(())
    }

    /// The record of `id`, which must exist and be readable.
    fn existing(&self, id: &EnvId) -> Result<Box<Record>, LocalError> {
        match self.state.read(id)? {
            Stored::Absent => Err(LocalError::NotFound { id: id.clone() }),
            Stored::Corrupt { reason } => Err(self.corrupt(id, reason)),
            Stored::Record(record) => Ok(record),
        }
    }

    /// `GET {health_path}` on `port`: `Ok` when it answers `2xx`, else what
    /// happened, for a person.
    async fn probe(&self, port: u16) -> Result<(), String> {
        let path = &self.settings.health_path;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        match probe::status(addr, path, self.settings.probe_timeout).await {
            Ok(status) if status.is_success() => Ok(()),
            Ok(status) => Err(format!("GET {path} answered {}", status.as_u16())),
            Err(e) => Err(format!("GET {path}: {e}")),
        }
    }

    /// Polls the health check of `id` until it answers `2xx`, its process
    /// ends, or the ready timeout passes.
    async fn wait_healthy(&self, id: &EnvId) -> Result<Address, LocalError> {
        let settings = &self.settings;
        let deadline = Instant::now() + settings.ready_timeout;
        loop {
            let record = self.existing(id)?;
            if record.asleep {
                return Err(LocalError::Asleep { id: id.clone() });
            }
            let port = record.process.port;
            if liveness(&record.process).await != Liveness::Ours {
                return Err(LocalError::Exited {
                    id: id.clone(),
                    log: self.log_path(id),
                    tail: self.state.log_tail(id),
                });
            }
            let last = match self.probe(port).await {
                Ok(()) => return Ok(loopback(port)),
                Err(last) => last,
            };
            if Instant::now() >= deadline {
                return Err(LocalError::NotReady {
                    id: id.clone(),
                    port,
                    timeout: settings.ready_timeout,
                    last,
                    log: self.log_path(id),
                    tail: self.state.log_tail(id),
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
        let (health, address) = match liveness(process).await {
            _ if record.asleep => (Health::Asleep, None),
            Liveness::Ours => {
                let health = match self.probe(process.port).await {
                    Ok(()) => Health::Healthy,
                    Err(last) => {
                        let started = parse_time(&process.started_at);
                        let silent_too_long = started.is_none_or(|started| {
                            let waited = now() - started;
                            waited
                                .to_std()
                                .is_ok_and(|w| w > self.settings.ready_timeout)
                        });
                        if silent_too_long {
                            Health::Failed {
                                reason: format!(
                                    "process {} runs but {last} on port {}",
                                    process.pid, process.port
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
                let tail = self.state.log_tail(id);
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
        EnvInfo {
            id: id.clone(),
            health: Health::Failed {
                reason: self.corrupt(id, reason).to_string(),
            },
            address: None,
            created_at: self.state.modified(id).unwrap_or(DateTime::UNIX_EPOCH),
            requested_by: None,
            config: Config::default(),
        }
    }
}

#[async_trait]
impl Backend for LocalBackend {
    async fn deploy(&self, spec: &EnvSpec) -> Result<(), PortError> {
        faults::take(&self.settings.state_dir, "deploy")?;
        let id = &spec.id;
        if !id.sha.matches(&spec.sha) {
            return Err(LocalError::MismatchedSha {
                id: id.clone(),
                sha: spec.sha.clone(),
            }
            .into());
        }
        let _changing = self.changes.lock().await;
        let note = match self.state.read(id)? {
            Stored::Absent => None,
            Stored::Corrupt { .. } => Some("starting again over an unreadable record"),
            Stored::Record(record) => {
                if !record.asleep && liveness(&record.process).await == Liveness::Ours {
                    return Ok(());
                }
                // A sleeping record's process was stopped long ago: its
                // group id may be someone else's by now, so no signal.
                if !record.asleep {
                    self.stop(id, &record.process).await?;
                }
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
        let port = process::free_port(None)?;
        let process = self.start(id, &env, port, note)?;
        self.commit(id, &Record::new(env, process)).await?;
        Ok(())
    }

    async fn wait_ready(&self, id: &EnvId) -> Result<Address, PortError> {
        faults::take(&self.settings.state_dir, "wait_ready")?;
        Ok(self.wait_healthy(id).await?)
    }

    async fn apply_config(&self, id: &EnvId, config: &Config) -> Result<(), PortError> {
        faults::take(&self.settings.state_dir, "apply_config")?;
        {
            let _changing = self.changes.lock().await;
            let mut record = self.existing(id)?;
            if record.asleep {
                // Kept for the wake, which starts it with this configuration.
                record.env.config = config.clone();
                self.state.write(id, &record)?;
                return Ok(());
            }
            self.stop(id, &record.process).await?;
            record.env.config = config.clone();
            let port = process::free_port(Some(record.process.port))?;
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

    fn can_sleep(&self) -> bool {
        true
    }

    async fn sleep(&self, id: &EnvId) -> Result<(), PortError> {
        faults::take(&self.settings.state_dir, "sleep")?;
        let _changing = self.changes.lock().await;
        let mut record = self.existing(id)?;
        if record.asleep {
            return Ok(());
        }
        self.stop(id, &record.process).await?;
        record.asleep = true;
        self.state.write(id, &record)?;
        Ok(())
    }

    async fn wake(&self, id: &EnvId) -> Result<(), PortError> {
        faults::take(&self.settings.state_dir, "wake")?;
        let _changing = self.changes.lock().await;
        let mut record = self.existing(id)?;
        if !record.asleep {
            return Ok(());
        }
        let port = process::free_port(Some(record.process.port))?;
        record.process = self.start(id, &record.env, port, Some("waking from sleep"))?;
        record.asleep = false;
        self.commit(id, &record).await?;
        Ok(())
    }

    async fn destroy(&self, id: &EnvId) -> Result<(), PortError> {
        faults::take(&self.settings.state_dir, "destroy")?;
        let _changing = self.changes.lock().await;
        if let Stored::Record(record) = self.state.read(id)? {
            // Asleep, nothing runs (and its old group id is not ours).
            if !record.asleep {
                self.stop(id, &record.process).await?;
            }
        }
        self.state.remove(id)?;
        Ok(())
    }

    async fn list(&self, pr: Option<PrNumber>) -> Result<Vec<EnvInfo>, PortError> {
        faults::take(&self.settings.state_dir, "list")?;
        let ids = self.state.ids(pr)?;
        let mut infos = Vec::with_capacity(ids.len());
        for id in ids {
            match self.state.read(&id)? {
                // Destroyed meanwhile.
                Stored::Absent => {}
                Stored::Corrupt { reason } => infos.push(self.corrupt_info(&id, reason)),
                Stored::Record(record) => infos.push(self.info(&id, &record).await),
            }
        }
        Ok(infos)
    }
}

fn loopback(port: u16) -> Address {
    Address::new(Ipv4Addr::LOCALHOST, NonZeroU16::new(port))
}
