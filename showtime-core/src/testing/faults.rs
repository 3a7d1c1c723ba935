//! Fault injection: one plan of failures, crashes and gates shared by every
//! port of a test, counted call by call, and [`FaultyBackend`], which puts
//! any [`Backend`] under that plan.

use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Notify, Semaphore};

use crate::ports::{Backend, EnvId, EnvInfo, EnvSpec, PortError};
use crate::{Address, Config, PrNumber};

use super::lock;

/// A planned failure of one port call.
#[derive(Debug, Clone)]
pub enum Fault {
    /// The call returns this error.
    Fail(PortError),
    /// The call never returns (the process "dies" there).
    Crash,
    /// The call waits until the test adds a permit to the gate, then goes on
    /// (to hold one "process" mid-flow while another runs).
    Gate(Arc<Semaphore>),
}

/// Shared fault plan and call counter of the in-memory ports.
#[derive(Default)]
pub struct Faults {
    calls: AtomicU64,
    by_call: Mutex<BTreeMap<u64, Fault>>,
    by_method: Mutex<HashMap<&'static str, Vec<Fault>>>,
    latency: Mutex<Option<Duration>>,
    crashed: AtomicBool,
    crash_signal: Notify,
}

impl Faults {
    /// Port calls made so far, over every port sharing this plan.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// The `k`-th call from the start (1-based, counting all ports) gets `fault`.
    pub fn at_call(&self, k: u64, fault: Fault) {
        lock(&self.by_call).insert(k, fault);
    }

    /// The next calls of `method` (e.g. `"backend.deploy"`) get these faults, in order.
    pub fn on_method(&self, method: &'static str, faults: Vec<Fault>) {
        lock(&self.by_method)
            .entry(method)
            .or_default()
            .extend(faults);
    }

    /// Every call waits this long first.
    pub fn set_latency(&self, latency: Option<Duration>) {
        *lock(&self.latency) = latency;
    }

    /// Whether a crash fault has fired.
    pub fn has_crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }

    /// Resolves once a crash fault fires.
    pub async fn crashed(&self) {
        loop {
            let notified = self.crash_signal.notified();
            if self.has_crashed() {
                return;
            }
            notified.await;
        }
    }

    /// Clears every planned fault (the counter keeps counting).
    pub fn clear(&self) {
        lock(&self.by_call).clear();
        lock(&self.by_method).clear();
        self.crashed.store(false, Ordering::SeqCst);
    }

    /// Counts a call of `method` (`"backend.deploy"`, `"host.add_labels"`…)
    /// and applies the fault planned for it, if any: returns the planned
    /// error, waits at a gate, or never returns. A wrapper of a port calls
    /// it first in each method, as [`FaultyBackend`] does.
    pub async fn enter(&self, method: &'static str) -> Result<(), PortError> {
        let k = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let latency = *lock(&self.latency);
        if let Some(latency) = latency {
            tokio::time::sleep(latency).await;
        }
        let fault = lock(&self.by_call).remove(&k).or_else(|| {
            let mut by_method = lock(&self.by_method);
            let queue = by_method.get_mut(method)?;
            (!queue.is_empty()).then(|| queue.remove(0))
        });
        match fault {
            None => Ok(()),
            Some(Fault::Fail(error)) => Err(error),
            Some(Fault::Gate(gate)) => {
                if let Ok(permit) = gate.acquire().await {
                    permit.forget();
                }
                Ok(())
            }
            Some(Fault::Crash) => {
                self.crashed.store(true, Ordering::SeqCst);
                self.crash_signal.notify_waiters();
                std::future::pending::<()>().await;
                Ok(())
            }
        }
    }
}

/// Call counts by method name.
#[derive(Default)]
pub(super) struct Counter(Mutex<BTreeMap<&'static str, u64>>);

impl Counter {
    pub(super) fn bump(&self, method: &'static str) {
        *lock(&self.0).entry(method).or_default() += 1;
    }

    pub(super) fn get(&self, method: &str) -> u64 {
        lock(&self.0).get(method).copied().unwrap_or(0)
    }

    pub(super) fn total(&self) -> u64 {
        lock(&self.0).values().sum()
    }

    pub(super) fn reset(&self) {
        lock(&self.0).clear();
    }
}

/// Any [`Backend`] under a [`Faults`] plan: each call is counted, then
/// the fault planned for it (by call number, or by method:
/// `"backend.deploy"`, `"backend.wait_ready"`, `"backend.apply_config"`,
/// `"backend.destroy"`, `"backend.list"`) applies before the wrapped
/// backend is called. [`World::with_backend`](super::World::with_backend)
/// wraps a backend in one; it dereferences to the backend it wraps.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::sync::Arc;
/// use showtime_core::ports::{Backend, PortError};
/// use showtime_core::testing::{Fault, Faults, FaultyBackend, MemoryBackend, spec};
///
/// let faults = Arc::new(Faults::default());
/// let backend = FaultyBackend::new(MemoryBackend::default(), faults.clone());
/// faults.on_method("backend.deploy", vec![Fault::Fail(PortError::transient("503"))]);
/// let spec = spec(1, "abc123f").build();
/// assert!(backend.deploy(&spec).await.is_err());
/// assert!(backend.deploy(&spec).await.is_ok());
/// assert_eq!(backend.calls("deploy"), 2);
/// # }
/// ```
pub struct FaultyBackend<B> {
    inner: B,
    faults: Arc<Faults>,
    counts: Counter,
}

impl<B> FaultyBackend<B> {
    /// `inner` under the plan `faults`.
    pub fn new(inner: B, faults: Arc<Faults>) -> Self {
        FaultyBackend {
            inner,
            faults,
            counts: Counter::default(),
        }
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// The fault plan.
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    /// Calls of one method so far (`"deploy"`, `"wait_ready"`,
    /// `"apply_config"`, `"destroy"`, `"list"`), faulty ones included.
    pub fn calls(&self, method: &str) -> u64 {
        self.counts.get(method)
    }

    /// Calls of every method so far.
    pub fn total_calls(&self) -> u64 {
        self.counts.total()
    }

    /// Resets the call counts.
    pub fn reset_counts(&self) {
        self.counts.reset();
    }

    async fn enter(&self, method: &'static str, key: &'static str) -> Result<(), PortError> {
        self.counts.bump(method);
        self.faults.enter(key).await
    }
}

impl<B> Deref for FaultyBackend<B> {
    type Target = B;

    fn deref(&self) -> &B {
        &self.inner
    }
}

#[async_trait]
impl<B: Backend> Backend for FaultyBackend<B> {
    async fn deploy(&self, spec: &EnvSpec) -> Result<(), PortError> {
        self.enter("deploy", "backend.deploy").await?;
        self.inner.deploy(spec).await
    }

    async fn wait_ready(&self, id: &EnvId) -> Result<Address, PortError> {
        self.enter("wait_ready", "backend.wait_ready").await?;
        self.inner.wait_ready(id).await
    }

    async fn apply_config(&self, id: &EnvId, config: &Config) -> Result<(), PortError> {
        self.enter("apply_config", "backend.apply_config").await?;
        self.inner.apply_config(id, config).await
    }

    fn can_sleep(&self) -> bool {
        self.inner.can_sleep()
    }

    async fn sleep(&self, id: &EnvId) -> Result<(), PortError> {
        self.enter("sleep", "backend.sleep").await?;
        self.inner.sleep(id).await
    }

    async fn wake(&self, id: &EnvId) -> Result<(), PortError> {
        self.enter("wake", "backend.wake").await?;
        self.inner.wake(id).await
    }

    async fn destroy(&self, id: &EnvId) -> Result<(), PortError> {
        self.enter("destroy", "backend.destroy").await?;
        self.inner.destroy(id).await
    }

    async fn list(&self, pr: Option<PrNumber>) -> Result<Vec<EnvInfo>, PortError> {
        self.enter("list", "backend.list").await?;
        self.inner.list(pr).await
    }
}
