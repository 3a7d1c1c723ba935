//! In-memory ports for tests (feature `testing`).
//!
//! [`MemoryHost`], [`MemoryBackend`] and [`MemoryBuilder`] keep their whole
//! state in memory, count every call, and share one [`Faults`] plan that can
//! fail or "crash" the k-th port call of a flow. [`ManualClock`] moves only
//! when told (and jumps forward instead of sleeping). They are public so that
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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::num::NonZeroU16;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use tokio::sync::{Notify, Semaphore};

use crate::engine::{Engine, Ports};
use crate::labels::is_showtime_label;
use crate::policy::Policy;
use crate::ports::{
    Backend, Clock, EnvId, EnvInfo, EnvSpec, Health, ImageBuilder, Notice, Notifier, Permission,
    PortError, PrHost, PrState, PullRequest,
};
use crate::{Address, Config, Login, PrNumber, Sha};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

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

    /// Counts a call of `method` and applies any fault planned for it.
    async fn enter(&self, method: &'static str) -> Result<(), PortError> {
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
struct Counter(Mutex<BTreeMap<&'static str, u64>>);

impl Counter {
    fn bump(&self, method: &'static str) {
        *lock(&self.0).entry(method).or_default() += 1;
    }

    fn get(&self, method: &str) -> u64 {
        lock(&self.0).get(method).copied().unwrap_or(0)
    }

    fn total(&self) -> u64 {
        lock(&self.0).values().sum()
    }

    fn reset(&self) {
        lock(&self.0).clear();
    }
}

/// A comment on a PR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryComment {
    /// Its id.
    pub id: u64,
    /// Its body.
    pub body: String,
}

#[derive(Default)]
struct HostState {
    prs: BTreeMap<PrNumber, PullRequest>,
    permissions: HashMap<String, Permission>,
    comments: BTreeMap<PrNumber, Vec<MemoryComment>>,
    definitions: BTreeMap<String, (String, String, String)>,
    next_comment: u64,
}

/// An in-memory PR host with GitHub's label semantics (case-insensitive names,
/// removing an absent label is fine for the port, adding never replaces).
pub struct MemoryHost {
    state: Mutex<HostState>,
    faults: Arc<Faults>,
    counts: Counter,
}

impl MemoryHost {
    /// An empty host sharing `faults`.
    pub fn new(faults: Arc<Faults>) -> Self {
        MemoryHost {
            state: Mutex::new(HostState::default()),
            faults,
            counts: Counter::default(),
        }
    }

    /// Adds or replaces a PR.
    pub fn put_pr(&self, pr: PullRequest) {
        lock(&self.state).prs.insert(pr.number, pr);
    }

    /// The PR as stored.
    pub fn pr(&self, pr: PrNumber) -> Option<PullRequest> {
        lock(&self.state).prs.get(&pr).cloned()
    }

    /// The PR's labels, sorted.
    pub fn labels(&self, pr: PrNumber) -> Vec<String> {
        let mut labels = self.pr(pr).map(|p| p.labels).unwrap_or_default();
        labels.sort();
        labels
    }

    /// The PR's 🎪 labels, sorted.
    pub fn showtime_labels(&self, pr: PrNumber) -> Vec<String> {
        self.labels(pr)
            .into_iter()
            .filter(|l| is_showtime_label(l))
            .collect()
    }

    /// Changes a PR as a person would (outside Showtime, uncounted).
    pub fn edit_pr(&self, pr: PrNumber, edit: impl FnOnce(&mut PullRequest)) {
        if let Some(p) = lock(&self.state).prs.get_mut(&pr) {
            edit(p);
        }
    }

    /// Sets a user's permission.
    pub fn set_permission(&self, login: &str, permission: Permission) {
        lock(&self.state)
            .permissions
            .insert(login.to_lowercase(), permission);
    }

    /// The PR's comments.
    pub fn comments(&self, pr: PrNumber) -> Vec<MemoryComment> {
        lock(&self.state)
            .comments
            .get(&pr)
            .cloned()
            .unwrap_or_default()
    }

    /// Repository label definitions: name → (colour, description).
    pub fn definitions(&self) -> BTreeMap<String, (String, String)> {
        lock(&self.state)
            .definitions
            .values()
            .map(|(name, color, desc)| (name.clone(), (color.clone(), desc.clone())))
            .collect()
    }

    /// Defines a repository label directly (uncounted).
    pub fn ensure_label_for_tests(&self, name: &str) {
        lock(&self.state).definitions.insert(
            name.to_lowercase(),
            (name.to_owned(), "ededed".to_owned(), String::new()),
        );
    }

    /// Calls of one method so far (e.g. `"pull_request"`).
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

    async fn enter(&self, method: &'static str) -> Result<(), PortError> {
        self.counts.bump(method);
        self.faults
            .enter(match method {
                "pull_request" => "host.pull_request",
                "open_pull_requests" => "host.open_pull_requests",
                "add_labels" => "host.add_labels",
                "remove_label" => "host.remove_label",
                "permission" => "host.permission",
                "upsert_comment" => "host.upsert_comment",
                "ensure_label" => "host.ensure_label",
                "repository_labels" => "host.repository_labels",
                _ => "host.delete_label_if_unused",
            })
            .await
    }
}

#[async_trait]
impl PrHost for MemoryHost {
    async fn pull_request(&self, pr: PrNumber) -> Result<PullRequest, PortError> {
        self.enter("pull_request").await?;
        self.pr(pr).ok_or_else(|| PortError::NotFound {
            what: format!("PR #{pr}"),
        })
    }

    async fn open_pull_requests(&self) -> Result<Vec<PullRequest>, PortError> {
        self.enter("open_pull_requests").await?;
        Ok(lock(&self.state)
            .prs
            .values()
            .filter(|p| p.state.is_open())
            .cloned()
            .collect())
    }

    async fn add_labels(&self, pr: PrNumber, labels: &[String]) -> Result<(), PortError> {
        self.enter("add_labels").await?;
        let mut state = lock(&self.state);
        let mut new_definitions = Vec::new();
        let p = state.prs.get_mut(&pr).ok_or_else(|| PortError::NotFound {
            what: format!("PR #{pr}"),
        })?;
        for label in labels {
            if label.chars().count() > crate::labels::MAX_LABEL_LEN {
                return Err(PortError::permanent(format!("label `{label}` is too long")));
            }
            if !p
                .labels
                .iter()
                .any(|l| l.to_lowercase() == label.to_lowercase())
            {
                p.labels.push(label.clone());
            }
            new_definitions.push(label.clone());
        }
        for label in new_definitions {
            state.definitions.entry(label.to_lowercase()).or_insert((
                label,
                "ededed".to_owned(),
                String::new(),
            ));
        }
        Ok(())
    }

    async fn remove_label(&self, pr: PrNumber, label: &str) -> Result<(), PortError> {
        self.enter("remove_label").await?;
        let mut state = lock(&self.state);
        if let Some(p) = state.prs.get_mut(&pr) {
            p.labels
                .retain(|l| l.to_lowercase() != label.to_lowercase());
        }
        Ok(())
    }

    async fn permission(&self, user: &Login) -> Result<Permission, PortError> {
        self.enter("permission").await?;
        Ok(lock(&self.state)
            .permissions
            .get(&user.as_str().to_lowercase())
            .copied()
            .unwrap_or(Permission::None))
    }

    async fn upsert_comment(
        &self,
        pr: PrNumber,
        marker: &str,
        body: &str,
    ) -> Result<(), PortError> {
        self.enter("upsert_comment").await?;
        let mut state = lock(&self.state);
        state.next_comment += 1;
        let id = state.next_comment;
        let comments = state.comments.entry(pr).or_default();
        match comments.iter_mut().find(|c| c.body.contains(marker)) {
            Some(existing) => existing.body = body.to_owned(),
            None => comments.push(MemoryComment {
                id,
                body: body.to_owned(),
            }),
        }
        Ok(())
    }

    async fn ensure_label(
        &self,
        name: &str,
        color: &str,
        description: &str,
    ) -> Result<(), PortError> {
        self.enter("ensure_label").await?;
        lock(&self.state).definitions.insert(
            name.to_lowercase(),
            (name.to_owned(), color.to_owned(), description.to_owned()),
        );
        Ok(())
    }

    async fn repository_labels(&self) -> Result<Vec<String>, PortError> {
        self.enter("repository_labels").await?;
        Ok(lock(&self.state)
            .definitions
            .values()
            .map(|(name, _, _)| name.clone())
            .collect())
    }

    async fn delete_label_if_unused(&self, name: &str) -> Result<bool, PortError> {
        self.enter("delete_label_if_unused").await?;
        let mut state = lock(&self.state);
        let key = name.to_lowercase();
        let attached = state
            .prs
            .values()
            .any(|p| p.labels.iter().any(|l| l.to_lowercase() == key));
        Ok(!attached && state.definitions.remove(&key).is_some())
    }
}

#[derive(Default)]
struct BackendState {
    envs: BTreeMap<EnvId, EnvInfo>,
    unhealthy: HashSet<String>,
    next_ip: u8,
}

/// An in-memory environment backend: environments are records that become
/// healthy when awaited (unless marked unhealthy).
pub struct MemoryBackend {
    state: Mutex<BackendState>,
    clock: Arc<ManualClock>,
    faults: Arc<Faults>,
    counts: Counter,
}

impl MemoryBackend {
    /// An empty backend sharing `faults`.
    pub fn new(clock: Arc<ManualClock>, faults: Arc<Faults>) -> Self {
        MemoryBackend {
            state: Mutex::new(BackendState::default()),
            clock,
            faults,
            counts: Counter::default(),
        }
    }

    /// Every environment, by id.
    pub fn environments(&self) -> Vec<EnvInfo> {
        lock(&self.state).envs.values().cloned().collect()
    }

    /// Adds an environment directly (as if created outside this run).
    pub fn insert(&self, info: EnvInfo) {
        lock(&self.state).envs.insert(info.id.clone(), info);
    }

    /// Environments of this short SHA never become healthy.
    pub fn make_unhealthy(&self, sha7: &str) {
        lock(&self.state).unhealthy.insert(sha7.to_owned());
    }

    /// Calls of one method so far (e.g. `"deploy"`).
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

    async fn enter(&self, method: &'static str, faults_key: &'static str) -> Result<(), PortError> {
        self.counts.bump(method);
        self.faults.enter(faults_key).await
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    async fn deploy(&self, spec: &EnvSpec) -> Result<(), PortError> {
        self.enter("deploy", "backend.deploy").await?;
        let now = self.clock.now();
        lock(&self.state)
            .envs
            .entry(spec.id.clone())
            .or_insert_with(|| EnvInfo {
                id: spec.id.clone(),
                health: Health::Starting,
                address: None,
                created_at: now,
                requested_by: spec.requested_by.clone(),
                config: spec.config.clone(),
            });
        Ok(())
    }

    async fn wait_ready(&self, id: &EnvId) -> Result<Address, PortError> {
        self.enter("wait_ready", "backend.wait_ready").await?;
        let mut state = lock(&self.state);
        let unhealthy = state.unhealthy.contains(id.sha.as_str());
        state.next_ip = state.next_ip.wrapping_add(1);
        let ip = state.next_ip;
        let env = state
            .envs
            .get_mut(id)
            .ok_or_else(|| PortError::permanent(format!("{id} does not exist")))?;
        if unhealthy {
            env.health = Health::Failed {
                reason: "health check failed".to_owned(),
            };
            return Err(PortError::permanent(format!("{id} never became healthy")));
        }
        env.health = Health::Healthy;
        let address = *env.address.get_or_insert(Address::new(
            Ipv4Addr::new(10, 0, 0, ip),
            NonZeroU16::new(8080),
        ));
        Ok(address)
    }

    async fn apply_config(&self, id: &EnvId, config: &Config) -> Result<(), PortError> {
        self.enter("apply_config", "backend.apply_config").await?;
        let mut state = lock(&self.state);
        let env = state
            .envs
            .get_mut(id)
            .ok_or_else(|| PortError::permanent(format!("{id} does not exist")))?;
        env.config = config.clone();
        Ok(())
    }

    async fn destroy(&self, id: &EnvId) -> Result<(), PortError> {
        self.enter("destroy", "backend.destroy").await?;
        lock(&self.state).envs.remove(id);
        Ok(())
    }

    async fn list(&self, pr: Option<PrNumber>) -> Result<Vec<EnvInfo>, PortError> {
        self.enter("list", "backend.list").await?;
        Ok(lock(&self.state)
            .envs
            .values()
            .filter(|e| pr.is_none_or(|pr| e.id.pr == pr))
            .cloned()
            .collect())
    }
}

/// An in-memory image builder: an image per SHA, built once.
pub struct MemoryBuilder {
    built: Mutex<HashSet<String>>,
    broken: Mutex<HashSet<String>>,
    faults: Arc<Faults>,
    counts: Counter,
}

impl MemoryBuilder {
    /// A builder sharing `faults`.
    pub fn new(faults: Arc<Faults>) -> Self {
        MemoryBuilder {
            built: Mutex::new(HashSet::new()),
            broken: Mutex::new(HashSet::new()),
            faults,
            counts: Counter::default(),
        }
    }

    /// Builds of this short SHA fail permanently.
    pub fn break_sha(&self, sha7: &str) {
        lock(&self.broken).insert(sha7.to_owned());
    }

    /// Images built so far.
    pub fn images(&self) -> Vec<String> {
        let mut images: Vec<String> = lock(&self.built).iter().cloned().collect();
        images.sort();
        images
    }

    /// Calls to `build` so far.
    pub fn calls(&self) -> u64 {
        self.counts.get("build")
    }

    /// Resets the call count.
    pub fn reset_counts(&self) {
        self.counts.reset();
    }
}

#[async_trait]
impl ImageBuilder for MemoryBuilder {
    async fn build(&self, pr: PrNumber, sha: &Sha) -> Result<String, PortError> {
        self.counts.bump("build");
        self.faults.enter("builder.build").await?;
        if lock(&self.broken).contains(sha.short().as_str()) {
            return Err(PortError::permanent("docker build failed: exit code 1"));
        }
        let image = format!("registry.local/app:pr-{pr}-{}-ci", sha.short());
        lock(&self.built).insert(image.clone());
        Ok(image)
    }
}

/// A clock that moves only when told; `sleep` jumps it forward at once.
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
    slept: Mutex<Duration>,
}

impl ManualClock {
    /// A clock at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock {
            now: Mutex::new(start),
            slept: Mutex::new(Duration::ZERO),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: chrono::Duration) {
        *lock(&self.now) += by;
    }

    /// The current time, without going through the [`Clock`] trait.
    pub fn now_for_tests(&self) -> DateTime<Utc> {
        *lock(&self.now)
    }

    /// Total time spent in `sleep` (retry backoff).
    pub fn slept(&self) -> Duration {
        *lock(&self.slept)
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.now)
    }

    async fn sleep(&self, duration: Duration) {
        *lock(&self.slept) += duration;
        let step = chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::zero());
        self.advance(step);
    }
}

/// A notifier that keeps what it was told.
#[derive(Default)]
pub struct MemoryNotifier {
    notices: Mutex<Vec<Notice>>,
}

impl MemoryNotifier {
    /// Everything notified so far.
    pub fn notices(&self) -> Vec<Notice> {
        lock(&self.notices).clone()
    }
}

#[async_trait]
impl Notifier for MemoryNotifier {
    async fn notify(&self, notice: &Notice) -> Result<(), PortError> {
        lock(&self.notices).push(notice.clone());
        Ok(())
    }
}

/// Every in-memory port wired together, with a policy: the quickest way to a
/// working engine in a test.
pub struct World {
    /// The shared fault plan.
    pub faults: Arc<Faults>,
    /// The PR host.
    pub host: Arc<MemoryHost>,
    /// The backend.
    pub backend: Arc<MemoryBackend>,
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
    /// A world with default policy and nothing in it.
    pub fn new() -> Self {
        let faults = Arc::new(Faults::default());
        let start = Utc
            .with_ymd_and_hms(2024, 1, 15, 12, 0, 0)
            .single()
            .unwrap_or(DateTime::UNIX_EPOCH);
        let clock = Arc::new(ManualClock::new(start));
        World {
            host: Arc::new(MemoryHost::new(faults.clone())),
            backend: Arc::new(MemoryBackend::new(clock.clone(), faults.clone())),
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
            body: String::new(),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
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
