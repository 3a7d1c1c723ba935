//! # showtime-github
//!
//! The GitHub side of Showtime:
//!
//! * [`host`]: the PR-host port of `showtime-core` on octocrab, with
//!   GitHub's request budget in mind (one request per PR read, a free `304`
//!   when read again unchanged, one GraphQL request per label transition,
//!   one query per 50 label definitions checked, paging at 100), one attempt
//!   per request and rate limits that say when to try again;
//! * [`wire`]: the reading of every answer the host gets from GitHub (REST
//!   and GraphQL) into Showtime's types, public so that it can be tested and
//!   fuzzed on any input;
//! * [`deployments`]: environments recorded as GitHub Deployments (a PR's
//!   **View deployment**), a record beside the labels, never read back;
//! * [`webhook`]: `X-Hub-Signature-256` verification and parsing of
//!   deliveries into "reconcile PR N";
//! * [`fake`] (feature `fake`): a stateful fake GitHub server (REST and
//!   GraphQL) on 127.0.0.1 that tests, the demo and third parties run the
//!   real client against.

pub mod deployments;
pub mod host;
pub mod webhook;

#[cfg(feature = "fake")]
pub mod fake;

pub use host::{Auth, Exchange, GitHubConfig, GitHubError, GitHubHost, Observer, wire};
