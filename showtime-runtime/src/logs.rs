//! Where the `tracing` spans and events of every crate go: standard error,
//! as text for people or as one JSON object a line for CloudWatch Logs
//! Insights and Loki. A program picks the format (`--log-format`,
//! `SHOWTIME_LOG_FORMAT`) and calls [`Logging::init`] once; libraries only
//! emit. Standard output is never written: it carries the programs'
//! results.
//!
//! # What a line carries
//!
//! The engine runs each reconcile in a `reconcile` span (`reconcile_id`,
//! `pr`, `sha`, `event`, `trigger`, `actor`); the webhook server adds a
//! `delivery` span (`delivery`, `event`, `pr`, `actor`) while it answers a
//! delivery, and a `batch` span (`pr`, `deliveries`) around the reconciles
//! of a queued batch. In JSON, each line has `timestamp`, `level`,
//! `target`, the event's own fields at the top (`message`, …), the
//! innermost span as `span` and every open span, outermost first, as
//! `spans`; so `span.reconcile_id` or `spans[*].pr` find a reconcile's
//! lines.
//!
//! Nothing logged is a secret, a token, a webhook body or a comment's
//! text: spans and events carry typed values (numbers, logins, SHAs, event
//! kinds) and step descriptions; `tests/observability.rs` in the examples
//! crate checks it on a real run.
//!
//! # Levels
//!
//! `SHOWTIME_LOG` (else `RUST_LOG`) sets them, in the `target=level` form
//! (`info`, `warn,showtime_core=debug`; no regular expressions). By
//! default Showtime's crates log at `info` and every other crate at `warn`;
//! a [quiet](Logging::quiet) program (the `showtime` CLI, whose standard
//! error already shows progress for people) logs Showtime's lines at `warn`
//! in the human format, and at `info` in JSON, where a machine reads them.

use std::str::FromStr;

use tracing::Subscriber;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// The variable `--log-format` falls back to.
pub const LOG_FORMAT_VARIABLE: &str = "SHOWTIME_LOG_FORMAT";
/// The variable of the levels (before `RUST_LOG`).
pub const LOG_LEVEL_VARIABLE: &str = "SHOWTIME_LOG";

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum LogFormat {
    /// Text for people: time, level, spans, message, fields.
    #[default]
    Human,
    /// One JSON object a line.
    Json,
}

impl FromStr for LogFormat {
    type Err = LogError;

    fn from_str(s: &str) -> Result<Self, LogError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "human" | "text" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            _ => Err(LogError::Format(s.to_owned())),
        }
    }
}

/// Why logging could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// `SHOWTIME_LOG_FORMAT` names no format.
    #[error("{LOG_FORMAT_VARIABLE}=`{0}` is not a log format: use `human` or `json`")]
    Format(String),
    /// `SHOWTIME_LOG` or `RUST_LOG` is not a list of `target=level`.
    #[error(
        "{variable}=`{value}` is not a log filter ({reason}): write e.g. `info` or `warn,showtime_core=debug`"
    )]
    Filter {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What the parser said.
        reason: String,
    },
    /// Another logger was installed first (a test harness, an embedder).
    #[error("a global tracing subscriber is already set")]
    AlreadySet,
}

/// How a program logs: the format and the levels.
#[derive(Debug, Clone)]
pub struct Logging {
    format: LogFormat,
    filter: Targets,
}

impl Logging {
    /// `format`, with Showtime's crates at `info` and the rest at `warn`.
    pub fn new(format: LogFormat) -> Self {
        Logging {
            format,
            filter: default_filter(LevelFilter::INFO),
        }
    }

    /// `format` for a program whose standard error already speaks to
    /// people: in the human format, Showtime's lines below `warn` are left
    /// out.
    pub fn quiet(format: LogFormat) -> Self {
        let showtime = match format {
            LogFormat::Human => LevelFilter::WARN,
            LogFormat::Json => LevelFilter::INFO,
        };
        Logging {
            format,
            filter: default_filter(showtime),
        }
    }

    /// The format: `flag` when given, else `SHOWTIME_LOG_FORMAT`, else
    /// human; `quiet` as [`Logging::quiet`]; the levels from `SHOWTIME_LOG`
    /// or `RUST_LOG` when set.
    pub fn resolve(
        flag: Option<LogFormat>,
        quiet: bool,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, LogError> {
        let set = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let format = match (flag, set(LOG_FORMAT_VARIABLE)) {
            (Some(flag), _) => flag,
            (None, Some(text)) => text.parse()?,
            (None, None) => LogFormat::Human,
        };
        let mut logging = if quiet {
            Logging::quiet(format)
        } else {
            Logging::new(format)
        };
        for variable in [LOG_LEVEL_VARIABLE, "RUST_LOG"] {
            if let Some(value) = set(variable) {
                logging.filter = value.parse().map_err(|e| LogError::Filter {
                    variable,
                    value: value.clone(),
                    reason: format!("{e}"),
                })?;
                break;
            }
        }
        Ok(logging)
    }

    /// The format.
    pub fn format(&self) -> LogFormat {
        self.format
    }

    /// A subscriber writing to `writer` (for tests and embedders; programs
    /// call [`Logging::init`]).
    pub fn subscriber<W>(&self, writer: W) -> Box<dyn Subscriber + Send + Sync>
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let registry = tracing_subscriber::registry().with(self.filter.clone());
        match self.format {
            LogFormat::Human => Box::new(
                registry.with(
                    tracing_subscriber::fmt::layer()
                        .with_writer(writer)
                        .with_target(false),
                ),
            ),
            LogFormat::Json => Box::new(
                registry.with(
                    tracing_subscriber::fmt::layer()
                        .json()
                        .flatten_event(true)
                        .with_current_span(true)
                        .with_span_list(true)
                        .with_writer(writer),
                ),
            ),
        }
    }

    /// Sends every span and event of the process to standard error, as
    /// set. Call it once, first thing in `main`.
    pub fn init(&self) -> Result<(), LogError> {
        tracing::subscriber::set_global_default(self.subscriber(std::io::stderr))
            .map_err(|_| LogError::AlreadySet)
    }
}

/// Showtime's crates at `showtime`, every other crate at `warn` (their
/// `info` is about connections and credentials providers, not Showtime).
fn default_filter(showtime: LevelFilter) -> Targets {
    Targets::new()
        .with_default(LevelFilter::WARN)
        .with_target("showtime", showtime)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'w self) -> Buffer {
            self.clone()
        }
    }

    #[test]
    fn the_format_comes_from_the_flag_then_the_variable() {
        let env = |k: &str| (k == LOG_FORMAT_VARIABLE).then(|| "JSON".to_owned());
        let none = |_: &str| None;
        assert_eq!(
            Logging::resolve(None, false, &env).unwrap().format(),
            LogFormat::Json
        );
        assert_eq!(
            Logging::resolve(Some(LogFormat::Human), false, &env)
                .unwrap()
                .format(),
            LogFormat::Human
        );
        assert_eq!(
            Logging::resolve(None, false, &none).unwrap().format(),
            LogFormat::Human
        );
        let bad = |k: &str| (k == LOG_FORMAT_VARIABLE).then(|| "xml".to_owned());
        assert_eq!(
            Logging::resolve(None, false, &bad).unwrap_err(),
            LogError::Format("xml".into())
        );
    }

    #[test]
    fn json_lines_carry_the_spans_and_levels_filter() {
        let buffer = Buffer::default();
        let logging = Logging::new(LogFormat::Json);
        tracing::subscriber::with_default(logging.subscriber(buffer.clone()), || {
            let span = tracing::info_span!("reconcile", pr = 42u64, reconcile_id = "r1");
            let _entered = span.enter();
            tracing::info!(target: "showtime_core::engine", step = "deploy", "step done");
            tracing::info!(target: "hyper::client", "connected");
            tracing::debug!(target: "showtime_core::engine", "not shown");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line = &lines[0];
        assert_eq!(line["message"], "step done");
        assert_eq!(line["step"], "deploy");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["span"]["pr"], 42);
        assert_eq!(line["span"]["reconcile_id"], "r1");
        assert_eq!(line["spans"][0]["name"], "reconcile");
    }

    #[test]
    fn a_quiet_program_speaks_to_people_only_of_warnings() {
        let buffer = Buffer::default();
        let logging = Logging::quiet(LogFormat::Human);
        tracing::subscriber::with_default(logging.subscriber(buffer.clone()), || {
            tracing::info!(target: "showtime_core::engine", "step done");
            tracing::warn!(target: "showtime_core::engine", "step failed");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("step done"), "{text}");
        assert!(
            text.contains("WARN") && text.contains("step failed"),
            "{text}"
        );
    }
}
