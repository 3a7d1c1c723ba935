//! # showtime-local
//!
//! The local-process backend of Showtime: each preview environment is one
//! process on this machine, answering on a loopback port.
//!
//! [`LocalBackend`] implements [`showtime_core::ports::Backend`] without any
//! cloud, for demos, end to end tests and development. It is also the
//! worked example of a backend written outside `showtime-core`: its module
//! docs state what each method of the contract must guarantee and how this
//! backend keeps the promise, so that a backend for another platform can be
//! written by following it. One concept per module:
//!
//! * [`backend`]: the contract, promise by promise, and [`LocalBackend`];
//! * [`state`]: the state directory, one JSON record per environment, found
//!   again by name after a crash or by another process;
//! * [`process`]: starting each environment in its own process group, and
//!   checking a recorded pid (boot id, start time) before signalling it;
//! * [`vars`]: the environment variables through which an environment's
//!   configuration reaches its process;
//! * [`settings`]: [`LocalSettings`], and [`LocalSection`], the `[local]`
//!   table of `showtime.toml`;
//! * [`probe`]: an HTTP probe any backend can use for health checks;
//! * [`error`]: [`LocalError`], each failure with what to do about it;
//! * [`faults`]: failures planned in the state directory, for tests that
//!   run whole programs;
//! * `app` (default feature `app`): the preview app the default command
//!   runs.
//!
//! # Example
//!
//! ```no_run
//! use showtime_core::ports::Backend;
//! use showtime_local::{LocalBackend, LocalSettings};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // Each environment runs `my-app --port <a free port>`; records and logs
//! // go to /tmp/showtime.
//! let mut settings = LocalSettings::new(
//!     "/tmp/showtime",
//!     vec!["my-app".into(), "--port".into(), "{port}".into()],
//! );
//! settings.health_path = "/".into();
//! let backend = LocalBackend::new(settings)?;
//! for env in backend.list(None).await? {
//!     println!("{}: {:?} at {:?}", env.id, env.health, env.address);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! [`LocalBackend::from_env`] instead takes the state directory from
//! `SHOWTIME_STATE_DIR` (else the user's cache directory) and runs the
//! preview app of the `showtime` program (see
//! [`LocalSettings::default_command`]).
//!
//! # Features
//!
//! * `app` (default): the preview app, on axum. A backend that only wants
//!   the [`probe`] depends on this crate with `default-features = false`.

pub mod backend;
pub mod error;
pub mod faults;
pub mod probe;
pub mod process;
pub mod settings;
pub mod state;
pub mod vars;

#[cfg(feature = "app")]
pub mod app;

pub use backend::LocalBackend;
pub use error::{LocalError, LogTail};
pub use settings::{LocalSection, LocalSettings};
