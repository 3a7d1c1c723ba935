//! How the local backend is set up: [`LocalSettings`] in code, the
//! `[local]` table of `showtime.toml` as [`LocalSection`].
//!
//! [`LocalSettings`] holds every knob with a default (state directory,
//! command template, health path, timeouts); a program builds it with
//! [`LocalSettings::new`] or [`LocalSettings::from_env`] and changes fields
//! as it likes. [`LocalSection`] is the part a user writes in a file, with
//! its own schema (unknown keys are errors, an empty command is refused
//! where it is written), and [`LocalSection::settings`] turns it into
//! [`LocalSettings`], letting `SHOWTIME_STATE_DIR` override the directory.
//! Nothing here starts a process or touches the state directory.
//!
//! # The default command
//!
//! Without a command, environments run the preview app of the `showtime`
//! program (crate `showtime-examples`), which serves it under the hidden
//! subcommand `showtime __app --listen 127.0.0.1:{port} --pr {pr} --sha {sha}`.
//! The program run is the `showtime` executable in the same directory as
//! the current one (`showtime-webhook` and `showtime-sweep` are installed
//! beside it), or else the current executable itself. A program of your own
//! that keeps the default command must therefore either be installed beside
//! `showtime`, or answer `__app` itself: parse `--listen`, `--pr` and
//! `--sha`, and call `showtime_local::app::run` (feature `app`).

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::error::LocalError;
use crate::vars::STATE_DIR_ENV;

/// How a [`LocalBackend`](crate::LocalBackend) starts and watches its processes.
///
/// [`LocalSettings::new`] fills in the defaults given with each field;
/// change fields afterwards as needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSettings {
    /// Where records and logs live (see [`crate::state`]).
    pub state_dir: PathBuf,
    /// The program and its arguments, with `{port}`, `{pr}`, `{sha}`,
    /// `{sha7}`, `{name}` and `{image}` replaced (see [`crate::process`]).
    /// See [`LocalSettings::default_command`].
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
    /// the current executable itself; see
    /// [the module docs](self#the-default-command).
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

/// The `[local]` table of `showtime.toml`: the local backend's settings a
/// user writes in a file. Every key is optional; unknown keys are errors,
/// so a typo is never ignored.
///
/// ```toml
/// [local]
/// state_dir = "/var/tmp/showtime"          # SHOWTIME_STATE_DIR overrides
/// command = ["my-app", "--port", "{port}"] # default: showtime's preview app
/// ready_timeout_secs = 30
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalSection {
    /// Where environments are recorded ([`LocalSettings::state_dir`]); the
    /// variable `SHOWTIME_STATE_DIR` overrides it.
    pub state_dir: Option<PathBuf>,
    /// The command of an environment, one argument per item, with the
    /// placeholders of [`LocalSettings::command`] (default: the preview app,
    /// see [the module docs](self#the-default-command)). An empty list is
    /// refused.
    #[serde(default, deserialize_with = "non_empty_command")]
    pub command: Option<Vec<String>>,
    /// Seconds to wait for a healthy environment
    /// ([`LocalSettings::ready_timeout`]).
    pub ready_timeout_secs: Option<u64>,
}

impl LocalSection {
    /// The settings this section describes. The state directory is the
    /// variable `SHOWTIME_STATE_DIR` as `var` reads it (when not blank),
    /// else the section's `state_dir`, else
    /// [`LocalSettings::default_state_dir`]; the command is the section's,
    /// else [`LocalSettings::default_command`]; every other field keeps the
    /// default of [`LocalSettings::new`] unless the section sets it.
    pub fn settings(
        &self,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<LocalSettings, LocalError> {
        let state_dir = match var(STATE_DIR_ENV).filter(|d| !d.trim().is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => match &self.state_dir {
                Some(dir) => dir.clone(),
                None => LocalSettings::default_state_dir()?,
            },
        };
        let command = match &self.command {
            Some(command) => command.clone(),
            None => LocalSettings::default_command()?,
        };
        let mut settings = LocalSettings::new(state_dir, command);
        if let Some(secs) = self.ready_timeout_secs {
            settings.ready_timeout = Duration::from_secs(secs);
        }
        Ok(settings)
    }
}

/// `command`, refused when empty: there would be no program to run.
fn non_empty_command<'de, D>(deserializer: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: Deserializer<'de>,
{
    let command = Vec::<String>::deserialize(deserializer)?;
    if command.is_empty() {
        return Err(serde::de::Error::custom(
            "an empty command; give the program and its arguments",
        ));
    }
    Ok(Some(command))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LocalSection, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    fn section(state_dir: Option<&str>) -> LocalSection {
        LocalSection {
            state_dir: state_dir.map(PathBuf::from),
            command: Some(vec!["my-app".into(), "{port}".into()]),
            ready_timeout_secs: Some(7),
        }
    }

    #[test]
    fn the_documented_section_parses() {
        let section = parse(
            "state_dir = \"/var/tmp/showtime\"\ncommand = [\"my-app\", \"--port\", \"{port}\"]\n\
             ready_timeout_secs = 30\n",
        );
        assert_eq!(
            section,
            Ok(LocalSection {
                state_dir: Some(PathBuf::from("/var/tmp/showtime")),
                command: Some(vec!["my-app".into(), "--port".into(), "{port}".into()]),
                ready_timeout_secs: Some(30),
            })
        );
        assert_eq!(parse(""), Ok(LocalSection::default()));
    }

    #[test]
    fn unknown_keys_and_empty_commands_are_refused() {
        let typo = parse("stat_dir = \"/tmp\"\n").err().unwrap_or_default();
        assert!(typo.contains("stat_dir"), "{typo}");
        let empty = parse("command = []\n").err().unwrap_or_default();
        assert!(empty.contains("an empty command"), "{empty}");
        // Refused where it is written, so a file's error names the line.
        let text = "state_dir = \"/tmp\"\ncommand = []\n";
        let span = toml::from_str::<LocalSection>(text)
            .err()
            .and_then(|e| e.span())
            .map(|span| text[..span.start].matches('\n').count() + 1);
        assert_eq!(span, Some(2));
    }

    #[test]
    fn the_variable_overrides_the_state_dir_unless_blank() {
        let from = |value: &'static str| {
            move |name: &str| (name == STATE_DIR_ENV).then(|| value.to_owned())
        };
        let set = section(Some("/from/file")).settings(&from("/from/var"));
        assert_eq!(
            set.map(|s| s.state_dir).ok(),
            Some(PathBuf::from("/from/var")),
            "the variable wins"
        );
        let blank = section(Some("/from/file")).settings(&from("  "));
        let blank = blank.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(blank.state_dir, PathBuf::from("/from/file"));
        assert_eq!(blank.command, ["my-app", "{port}"]);
        assert_eq!(blank.ready_timeout, Duration::from_secs(7));
        assert_eq!(blank.health_path, "/health");
    }
}
