//! # showtime-runtime
//!
//! The async shell around Showtime's engine, as `quinn` is to `quinn-proto`:
//! [`showtime_core`] decides (a pure planner and an engine over ports); this
//! crate owns everything a program needs around it, so the `showtime` CLI,
//! the webhook server, the sweeper, a queue worker or a tool that embeds
//! Showtime are all a few lines of wiring.
//!
//! | module | what it owns |
//! |---|---|
//! | [`config`] | `showtime.toml`, layered under variables and flags, in one place |
//! | [`wiring`] | from settings to an [`Engine`](showtime_core::engine::Engine): GitHub, the backend, the builder, the clock |
//! | [`request`] | carrying out what events ask: one function for every program |
//! | [`queue`] | the per-PR coalescing work queue of one process |
//! | [`server`] | the webhook server (feature `server`) |
//! | [`receiver`] | checking deliveries and sending them to a durable work queue (feature `server`) |
//! | [`worker`] | carrying out the work queue's deliveries, in any number of processes |
//! | [`dashboard`] | the web page of every environment, with sign-in and actions (feature `server`) |
//! | [`http`] | the one HTTP client of notifications and sign-in |
//! | [`actions`] | the GitHub Actions event of a run (`GITHUB_EVENT_PATH`) |
//! | [`audit`] | the audit trail: durable JSON lines, rotated, read back |
//! | [`demo`] | `showtime demo`: the whole system on one machine (feature `demo`) |
//! | [`notify`] | Slack and signed JSON webhook notifications |
//! | [`logs`] | where `tracing` spans and events go: text for people, or JSON lines |
//! | [`metrics`] | Prometheus `GET /metrics` and CloudWatch EMF lines |
//! | [`deployments`] | environments recorded as GitHub Deployments (`[github] deployments`) |
//! | [`sweep`] | sweeping every N, and the `--older-than` age limit |
//! | [`view`], [`text`] | the JSON every program prints, and text for people |
//! | [`clock`], [`builder`], [`signal`] | the wall clock, image builders, graceful shutdown |
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use showtime_runtime::config::{Overrides, Settings};
//! use showtime_runtime::queue::{Queue, QueueSettings};
//! use showtime_runtime::request::Work;
//!
//! let env = |k: &str| std::env::var(k).ok();
//! let settings = Settings::resolve(&Overrides::default(), &env)?;
//! let engine = Arc::new(showtime_runtime::wiring::engine(&settings, &env, None).await?);
//! let queue = Queue::new(engine, QueueSettings::default());
//! queue.push(None, Work::new(showtime_core::PrNumber::new(42).ok_or("no PR")?));
//! queue.idle().await;
//! # Ok(()) }
//! ```
//!
//! Features: `aws` (the ECS backend, on by default), `server` (the webhook
//! server and the dashboard, on by default), `clap` (`clap::ValueEnum` on the configuration's
//! enums, for programs that take them as flags). The local backend is always
//! there: it is small, and it is how the demo and the tests run.

pub mod actions;
pub mod audit;
pub mod builder;
pub mod clock;
pub mod config;
pub mod cost;
#[cfg(feature = "server")]
pub mod dashboard;
#[cfg(feature = "demo")]
pub mod demo;
pub mod deployments;
pub mod http;
pub mod logs;
pub mod metrics;
pub mod notify;
pub mod queue;
#[cfg(feature = "server")]
pub mod receiver;
pub mod request;
#[cfg(feature = "server")]
pub mod server;
pub mod signal;
pub mod sweep;
pub mod text;
pub mod usage;
pub mod view;
pub mod wiring;
pub mod worker;
