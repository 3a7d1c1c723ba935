//! In-memory ports, fault injection and the backend contract suite, for
//! tests (feature `testing`).
//!
//! [`MemoryHost`], [`MemoryBackend`] and [`MemoryBuilder`] keep their whole
//! state in memory; every port of a [`World`] counts its calls and shares
//! one [`Faults`] plan that can fail or "crash" the k-th port call of a
//! flow. [`ManualClock`] moves only when told (and jumps forward instead of
//! sleeping). [`World::with_backend`] puts any other [`Backend`] in the
//! world, under the same plan ([`FaultyBackend`]), and [`contract`] checks
//! a backend against every promise of the port. They are public so that
//! authors of other backends can test against the same engine.
//!
//! A crash is the k-th call never returning: the test drops the reconcile
//! future, exactly as a killed process stops, and reconciles again with a new
//! engine over the same state.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use showtime_core::testing::World;
//! use showtime_core::plan::Event;
//!
//! let world = World::new();
//! let pr = world.open_pr(1, "abc123f0", "maxime", &["testenv-up"]);
//! world.host.set_permission("maxime", showtime_core::ports::Permission::Write);
//! world.engine().reconcile(pr, Event::Look, Some("maxime".parse().unwrap())).await.unwrap();
//! assert_eq!(world.backend.environments().len(), 1);
//! # }
//! ```

mod backend;
mod clock;
pub mod contract;
mod faults;
mod host;
mod spec;

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, TimeZone, Utc};

use crate::PrNumber;
use crate::engine::{Engine, Ports};
use crate::policy::Policy;
use crate::ports::{Backend, PrState, PullRequest};

pub use backend::{MemoryBackend, MemoryBuilder};
pub use clock::{ManualClock, MemoryNotifier};
pub use faults::{Fault, Faults, FaultyBackend};
pub use host::{MemoryComment, MemoryHost};
pub use spec::{SpecBuilder, spec};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where a [`World`]'s clock starts: 2024-01-15 12:00 UTC.
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 15, 12, 0, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// Every in-memory port wired together, with a policy: the quickest way to a
/// working engine in a test. The backend is the in-memory one
/// ([`World::new`]) or any other ([`World::with_backend`]), under the
/// world's fault plan either way.
pub struct World<B = MemoryBackend> {
    /// The shared fault plan: every port of the world counts its calls here
    /// and takes the faults planned here.
    pub faults: Arc<Faults>,
    /// The PR host.
    pub host: Arc<MemoryHost>,
    /// The backend, under [`World::faults`]; it dereferences to `B`.
    pub backend: Arc<FaultyBackend<B>>,
    /// The builder.
    pub builder: Arc<MemoryBuilder>,
    /// The clock, at 2024-01-15 12:00 UTC.
    pub clock: Arc<ManualClock>,
    /// The notifier.
    pub notifier: Arc<MemoryNotifier>,
    /// The policy engines get (editable before [`World::engine`]).
    pub policy: Policy,
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

impl World {
    /// A world with the in-memory backend, default policy and nothing in it.
    pub fn new() -> Self {
        World::with_backend(MemoryBackend::default())
    }
}

impl<B: Backend + 'static> World<B> {
    /// A world around `backend` (yours, under test), with default policy
    /// and nothing in it. The backend is wrapped in a [`FaultyBackend`] on
    /// the world's fault plan, so "fail or crash the k-th call" and the call
    /// counts cover it as they cover the in-memory ports.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use showtime_core::plan::Event;
    /// use showtime_core::ports::Permission;
    /// use showtime_core::testing::{MemoryBackend, World};
    ///
    /// let world = World::with_backend(MemoryBackend::default());
    /// world.host.set_permission("maxime", Permission::Write);
    /// let pr = world.open_pr(1, "abc123f", "maxime", &["🎪 ⚡ showtime-trigger-start"]);
    /// let maxime = Some("maxime".parse().unwrap());
    /// let outcome = world.engine().reconcile(pr, Event::Look, maxime).await.unwrap();
    /// assert!(!outcome.out_of_rounds);
    /// assert_eq!(world.backend.calls("deploy"), 1);
    /// # }
    /// ```
    pub fn with_backend(backend: B) -> Self {
        let faults = Arc::new(Faults::default());
        let clock = Arc::new(ManualClock::new(start()));
        let host = Arc::new(MemoryHost::new(faults.clone()));
        host.follow_clock(clock.clone());
        World {
            host,
            backend: Arc::new(FaultyBackend::new(backend, faults.clone())),
            builder: Arc::new(MemoryBuilder::new(faults.clone())),
            notifier: Arc::new(MemoryNotifier::default()),
            faults,
            clock,
            policy: Policy::default(),
        }
    }

    /// The ports, as an engine takes them.
    pub fn ports(&self) -> Ports {
        Ports {
            host: self.host.clone(),
            backend: self.backend.clone(),
            builder: self.builder.clone(),
            clock: self.clock.clone(),
            notifier: Some(self.notifier.clone()),
        }
    }

    /// A fresh engine (a new "process") over this world.
    pub fn engine(&self) -> Engine {
        Engine::new(self.ports(), self.policy.clone())
    }

    /// Opens a PR with a head SHA (7 to 40 hex digits), an author and labels.
    ///
    /// # Panics
    ///
    /// On a malformed number, SHA or login: test fixtures are trusted.
    pub fn open_pr(&self, number: u64, head: &str, author: &str, labels: &[&str]) -> PrNumber {
        let pr = PullRequest {
            number: PrNumber::new(number).expect("a PR number above zero"),
            state: PrState::Open,
            head_sha: head.parse().expect("a valid SHA"),
            author: author.parse().expect("a valid login"),
            title: format!("PR #{number}"),
            body: String::new(),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            comments: None,
            updated_at: None,
        };
        let number = pr.number;
        self.host.put_pr(pr);
        number
    }

    /// Calls to every port so far.
    pub fn calls(&self) -> u64 {
        self.faults.calls()
    }
}
