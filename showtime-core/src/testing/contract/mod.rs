//! The backend contract suite: every promise of [`Backend`], checked
//! against an implementation, method by method and through the engine.
//!
//! A backend author calls [`check`] (or builds a [`Contract`] for options)
//! from a test, with a constructor that returns a backend over a fresh,
//! empty cloud (a new state directory, a new mock, a new namespace): the
//! suite calls it once per check, so checks do not see each other's
//! environments. It runs:
//!
//! * **per-method rules** — `deploy` then `wait_ready` gives a healthy
//!   environment listed with the spec's creation time, requester and
//!   configuration; `deploy` and `destroy` are idempotent; `destroy` of a
//!   half-made environment and of a missing one succeed; `wait_ready` and
//!   `apply_config` of a missing environment fail without being retried
//!   and create nothing; `apply_config` changes what is listed; `list` of
//!   one PR shows only that PR's environments; with [`Contract::foreign`],
//!   something in the same cloud that is not Showtime's is never listed,
//!   changed or destroyed;
//! * **whole flows through the engine** — create, rolling update, stop by
//!   trigger, stop by closing the PR, a failed deploy and a failed start
//!   (each must leave nothing behind), and create, rolling update and stop
//!   again with a crash at every port call, each of which must converge
//!   when the event is delivered again to a new engine.
//!
//! Listings may lag: a rule that reads `list` after a change polls it for up
//! to [`Contract::settle`] before it fails. Every failure says which promise
//! was broken and what was seen instead; [`Report`] lists them all.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use showtime_core::testing::{MemoryBackend, contract};
//!
//! contract::check(|| async { MemoryBackend::default() }).await;
//! # }
//! ```

mod flows;
mod rules;

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use async_trait::async_trait;

use crate::ports::{Backend, EnvId};

/// Checks the backends `new_backend` makes against the whole contract with
/// the default options, and panics listing every broken promise.
///
/// `new_backend` must return a backend over a fresh, empty cloud each time
/// it is called.
pub async fn check<B, F, Fut>(new_backend: F)
where
    B: Backend + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = B>,
{
    Contract::new(new_backend).check().await;
}

/// Something in the backend's cloud that is not Showtime's, for the rule
/// that a backend never lists, changes or destroys what it did not create.
#[async_trait]
pub trait Foreign<B: Sync>: Send + Sync {
    /// Puts something beside `backend`'s environments that is not
    /// Showtime's: ideally one that looks like it (named `pr-1-abc1234`
    /// but untagged, say). Returns the [`EnvId`] its name reads as, if any,
    /// so the suite can check it is never listed and survives a `destroy`
    /// of that id.
    async fn plant(&self, backend: &B) -> Result<Option<EnvId>, String>;

    /// Whether what [`Foreign::plant`] put there is still there, unchanged.
    async fn intact(&self, backend: &B) -> Result<bool, String>;
}

/// The contract suite with options; [`check`] runs it with the defaults.
pub struct Contract<B, F> {
    new_backend: F,
    settle: Duration,
    timeout: Duration,
    crashes: bool,
    foreign: Option<Box<dyn Foreign<B>>>,
    backend: PhantomData<fn() -> B>,
}

impl<B, F, Fut> Contract<B, F>
where
    B: Backend + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = B>,
{
    /// The suite for the backends `new_backend` makes, each over a fresh,
    /// empty cloud.
    pub fn new(new_backend: F) -> Self {
        Contract {
            new_backend,
            settle: Duration::from_secs(10),
            timeout: Duration::from_secs(300),
            crashes: true,
            foreign: None,
            backend: PhantomData,
        }
    }

    /// How long a listing may lag behind the call that changed it (default
    /// 10 s).
    pub fn settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// The longest one check may take before it fails (default 5 minutes).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether to run the flows again with a crash at every port call
    /// (default on; the slowest part, one fresh cloud per call).
    pub fn crashes(mut self, on: bool) -> Self {
        self.crashes = on;
        self
    }

    /// Adds the rule that `foreign` is never listed, changed or destroyed.
    pub fn foreign(mut self, foreign: impl Foreign<B> + 'static) -> Self {
        self.foreign = Some(Box::new(foreign));
        self
    }

    /// Runs every check and reports each.
    pub async fn run(mut self) -> Report {
        let mut report = Report::default();
        let timeout = self.timeout;
        macro_rules! run {
            ($name:expr, $check:expr) => {{
                let result = match tokio::time::timeout(timeout, $check).await {
                    Ok(result) => result,
                    Err(_) => Err(format!("did not finish within {timeout:?}")),
                };
                report.checks.push(Check {
                    name: $name,
                    result,
                });
            }};
        }
        let settle = self.settle;
        for rule in rules::RULES {
            let backend = (self.new_backend)().await;
            run!(rule.name(), rule.run(&backend, settle));
            rules::clean_up(&backend).await;
        }
        if let Some(foreign) = self.foreign.take() {
            let backend = (self.new_backend)().await;
            run!(
                "what is not Showtime's is never listed, changed or destroyed",
                rules::foreign(&backend, foreign.as_ref(), settle)
            );
            rules::clean_up(&backend).await;
        }
        for flow in &flows::FLOWS {
            let backend = (self.new_backend)().await;
            run!(flow.name, flows::run(backend, flow, settle));
        }
        if self.crashes {
            for flow in &flows::CRASH_FLOWS {
                let new_backend = &mut self.new_backend;
                run!(
                    flow.crash_name,
                    flows::crash_at_every_call(new_backend, flow, settle)
                );
            }
        }
        report
    }

    /// Runs every check and panics listing each broken promise.
    pub async fn check(self) {
        self.run().await.assert_passed();
    }
}

/// One check of the suite and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The promise checked, in a few words.
    pub name: &'static str,
    /// `Err` with what was seen instead, for a person.
    pub result: Result<(), String>,
}

/// What the suite found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Every check, in the order run.
    pub checks: Vec<Check>,
}

impl Report {
    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.result.is_err())
    }

    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }

    /// Panics listing every failed check, if any failed.
    #[track_caller]
    pub fn assert_passed(&self) {
        if !self.passed() {
            panic!("the backend breaks its contract:\n{self}");
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for check in &self.checks {
            match &check.result {
                Ok(()) => writeln!(f, "ok    {}", check.name)?,
                Err(why) => writeln!(f, "FAIL  {}\n      {why}", check.name)?,
            }
        }
        Ok(())
    }
}
