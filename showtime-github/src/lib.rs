//! # showtime-github
//!
//! The GitHub side of Showtime. This crate will hold:
//!
//! * the PR-host port of `showtime-core` implemented on octocrab: one request
//!   to read a PR with its labels, paged listing of open PRs, minimal label
//!   writes (never a `PUT` of the whole set), collaborator permissions, the
//!   sticky status comment and repository label definitions;
//! * webhook verification (`X-Hub-Signature-256`, constant time, size cap)
//!   and parsing of deliveries into "reconcile PR N";
//! * behind the `fake` feature, a stateful fake GitHub REST server on
//!   127.0.0.1 that tests, the demo and third parties run the real client
//!   against.
//!
//! Until then it re-exports the core so that the workspace builds as one.

pub use showtime_core as core;
