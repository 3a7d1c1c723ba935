//! The processes: starting one per environment, knowing whether it is still
//! the one that was started, and stopping its whole process group.
//!
//! The command is [`LocalSettings::command`](crate::LocalSettings::command),
//! an argument vector in which `{port}`, `{pr}`, `{sha}` (full), `{sha7}`,
//! `{name}` (`pr-{n}-{sha7}`) and `{image}` are replaced; other text,
//! including unknown `{…}`, is kept as is. No shell is involved, so nothing
//! from a pull request becomes a shell word. The default runs the preview
//! app of the `showtime` program (see
//! [`LocalSettings::default_command`](crate::LocalSettings::default_command));
//! a template such as `docker run --rm -p 127.0.0.1:{port}:8088 {image}`
//! runs the built image instead. The environment's configuration reaches
//! the process as the variables of [`crate::vars`].
//!
//! The process starts in the caller's working directory, in **its own
//! process group**, with standard input from `/dev/null` and standard output
//! and error appended to `pr-{n}-{sha7}.log`. It is not a child anyone waits
//! for: it outlives the command that started it. Stopping it sends `SIGTERM`
//! to the whole group, waits up to
//! [`LocalSettings::stop_grace`](crate::LocalSettings::stop_grace), then
//! sends `SIGKILL`.
//!
//! # A recorded pid is checked before it is signalled
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
//! Signals are sent by running `kill(1)` (`kill -TERM -- -{pgid}`). The
//! workspace forbids `unsafe`, which rules out calling `libc::kill`
//! directly, and a safe wrapper (`nix`, `rustix`) would be a new dependency
//! for a handful of calls that happen only when an environment stops; the
//! `kill` program is on every Unix system.
//!
//! This module neither reads nor writes records ([`crate::state`] does);
//! it is handed what it needs.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use showtime_core::ports::EnvId;
use tokio::time::Instant;

use crate::error::{LocalError, excerpt};
use crate::state::{EnvRecord, ProcessRecord, now_text};
use crate::vars::{
    ENV_CONFIG, ENV_DEBUG, ENV_IMAGE, ENV_NAME, ENV_PORT, ENV_PR, ENV_SHA, ENV_SHA7, ENV_SIZE,
    FEATURE_ENV_PREFIX,
};

/// How long a process group has to go after `SIGKILL`.
const KILL_WAIT: Duration = Duration::from_secs(2);
/// The pause between looks at a stopping process.
const STOP_POLL: Duration = Duration::from_millis(25);

/// Whether a recorded process is still the one that was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// Running, and the same process.
    Ours,
    /// Exited (a zombie counts as exited).
    Gone,
    /// The pid now belongs to another process.
    Recycled,
}

/// Starts the process of `env` on `port` with the `command` template,
/// its output going to `log_path`. `note` says why when the environment ran
/// before; its log is then kept and continued.
pub(crate) fn spawn(
    command: &[String],
    id: &EnvId,
    env: &EnvRecord,
    port: u16,
    log_path: &Path,
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
    let argv: Vec<String> = command.iter().map(|word| expand(word, &values)).collect();
    let (program, args) = argv.split_first().ok_or(LocalError::EmptyCommand)?;

    let log_err = |source| LocalError::Io {
        path: log_path.to_owned(),
        source,
    };
    let mut log = match note {
        Some(_) => OpenOptions::new().create(true).append(true).open(log_path),
        None => File::create(log_path),
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

/// Stops a recorded process group: `SIGTERM`, then `SIGKILL` after `grace`.
/// A process that is gone is fine; a pid that now belongs to another
/// program is left alone.
pub(crate) async fn stop(
    id: &EnvId,
    process: &ProcessRecord,
    grace: Duration,
) -> Result<(), LocalError> {
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
    if !wait_until_gone(process, grace).await {
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

/// A free port on 127.0.0.1, `preferred` when it is free. The port is found
/// by binding and releasing it, so another program could take it before
/// the process binds it; the environment then fails its health check.
pub(crate) fn free_port(preferred: Option<u16>) -> Result<u16, LocalError> {
    if let Some(port) = preferred {
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(LocalError::NoFreePort)?;
    Ok(listener
        .local_addr()
        .map_err(LocalError::NoFreePort)?
        .port())
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

pub(crate) async fn liveness(process: &ProcessRecord) -> Liveness {
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
}
