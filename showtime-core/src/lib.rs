//! # showtime-core
//!
//! The pure core of Showtime, which gives every GitHub pull request its own
//! time-limited preview environment and keeps the environment's state in the
//! PR's 🎪 labels.
//!
//! This crate does no I/O. It owns:
//!
//! * typed values, parsed once at the edge: [`PrNumber`], [`Sha`],
//!   [`ShortSha`], [`Status`], [`Ttl`], [`Timestamp`], [`Address`],
//!   [`Login`], [`Team`], [`FeatureName`], [`SizeName`], [`ConfCommand`];
//! * the label codec, [`labels`]: label names to a [`labels::LabelState`] and
//!   back, in both dialects, with the minimal [`labels::diff`];
//! * slash commands in comments, [`commands`], and feature flags in a PR
//!   description, [`flags`].
//!
//! Adapters (GitHub, AWS) and programs build on it; see the workspace README.
//!
//! ```
//! use showtime_core::labels::{Codec, Dialect, diff};
//!
//! let codec = Codec::default();
//! let current = ["🎪 abc123f 🚦 running", "🎪 🎯 abc123f", "🎪 ⌛ 48h", "bug"];
//! let state = codec.parse(current);
//! assert_eq!(state.ttl.unwrap().to_string(), "48h");
//!
//! // Migrate the PR to the seed dialect in one diff; `bug` is left alone.
//! let change = diff(&current, &codec.encode(&state, Dialect::Seed));
//! assert_eq!(change.add, ["🎪 🚦 running"]);
//! assert_eq!(change.remove, ["🎪 abc123f 🚦 running"]);
//! ```

pub mod access;
pub mod address;
pub mod commands;
pub mod comment;
pub mod config;
pub mod engine;
pub mod error;
pub mod flags;
pub mod labels;
pub mod login;
pub mod plan;
pub mod policy;
pub mod ports;
pub mod pr;
pub mod schedule;
pub mod sha;
pub mod status;
pub mod sweep;
pub mod team;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timestamp;
pub mod ttl;

pub use address::Address;
pub use config::{ConfCommand, Config, FeatureName, SizeName, Sizes};
pub use error::{Error, ValueKind};
pub use login::Login;
pub use ports::{DateTime, Utc, async_trait};
pub use pr::{CommentId, PrNumber};
pub use sha::{Sha, ShortSha};
pub use status::Status;
pub use team::Team;
pub use timestamp::Timestamp;
pub use ttl::{Ttl, TtlUnit};
