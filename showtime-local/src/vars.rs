//! The environment variables between the backend and its processes.
//!
//! An environment's configuration reaches its process the one way every
//! program can read: environment variables, set when the process starts.
//! This module names them; [`crate::process`] sets them, and the preview app
//! (module `app`, feature `app`) reads them back. It also names the one
//! variable the backend itself reads, [`STATE_DIR_ENV`].
//!
//! | variable | value |
//! |---|---|
//! | `SHOWTIME_PR` | the PR number, `42` |
//! | `SHOWTIME_SHA`, `SHOWTIME_SHA7` | the full and the short commit SHA |
//! | `SHOWTIME_ENV` | the environment name, `pr-42-abc123f` |
//! | `SHOWTIME_PORT` | the port to listen on (127.0.0.1) |
//! | `SHOWTIME_IMAGE` | the image reference of the spec |
//! | `SHOWTIME_CONFIG` | the whole [`Config`](showtime_core::Config) as JSON |
//! | `SHOWTIME_DEBUG` | `true` or `false` |
//! | `SHOWTIME_SIZE` | the size name; unset when the default |
//! | `SUPERSET_FEATURE_<FLAG>` | `true` or `false`, one per flag set |
//!
//! Everything else is inherited from the caller, except inherited
//! `SUPERSET_FEATURE_*` and `SHOWTIME_SIZE` variables, which are removed so
//! that only the environment's own configuration reaches it.

/// The variable that names the state directory; see
/// [`LocalSettings::default_state_dir`](crate::LocalSettings::default_state_dir).
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
/// Passed to the process: the whole [`Config`](showtime_core::Config) as
/// JSON.
pub const ENV_CONFIG: &str = "SHOWTIME_CONFIG";
/// Passed to the process: `true` or `false`.
pub const ENV_DEBUG: &str = "SHOWTIME_DEBUG";
/// Passed to the process: the size name, only when one is set.
pub const ENV_SIZE: &str = "SHOWTIME_SIZE";
/// Passed to the process: `SUPERSET_FEATURE_<FLAG>=true|false` per flag set.
pub const FEATURE_ENV_PREFIX: &str = "SUPERSET_FEATURE_";
