//! The in-memory backend and image builder.

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;
use std::num::NonZeroU16;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::ports::{Backend, EnvId, EnvInfo, EnvSpec, Health, ImageBuilder, PortError};
use crate::{Address, Config, PrNumber, Sha};

use super::faults::{Counter, Faults};
use super::lock;

#[derive(Default)]
struct BackendState {
    envs: BTreeMap<EnvId, EnvInfo>,
    unhealthy: HashSet<String>,
    next_ip: u8,
}

/// An in-memory environment backend: environments are records that become
/// healthy when awaited (unless marked unhealthy). It keeps the whole
/// [`Backend`] contract; [`World`](super::World) puts it under the world's
/// fault plan and counts its calls ([`FaultyBackend`](super::FaultyBackend)).
#[derive(Default)]
pub struct MemoryBackend {
    state: Mutex<BackendState>,
}

impl MemoryBackend {
    /// Every environment, by id.
    pub fn environments(&self) -> Vec<EnvInfo> {
        lock(&self.state).envs.values().cloned().collect()
    }

    /// Adds an environment directly (as if created outside this run).
    pub fn insert(&self, info: EnvInfo) {
        lock(&self.state).envs.insert(info.id.clone(), info);
    }

    /// Sets how an environment is listed (a crash, a failing health check,
    /// a recovery), as the platform would report it; returns whether it
    /// exists.
    pub fn set_health(&self, id: &EnvId, health: Health) -> bool {
        match lock(&self.state).envs.get_mut(id) {
            Some(env) => {
                env.health = health;
                true
            }
            None => false,
        }
    }

    /// Environments of this short SHA never become healthy.
    pub fn make_unhealthy(&self, sha7: &str) {
        lock(&self.state).unhealthy.insert(sha7.to_owned());
    }
}

fn missing(id: &EnvId) -> PortError {
    PortError::NotFound {
        what: format!("environment {id}"),
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    async fn deploy(&self, spec: &EnvSpec) -> Result<(), PortError> {
        let mut state = lock(&self.state);
        let env = state
            .envs
            .entry(spec.id.clone())
            .or_insert_with(|| EnvInfo {
                id: spec.id.clone(),
                health: Health::Starting,
                address: None,
                created_at: spec.created_at,
                requested_by: spec.requested_by.clone(),
                config: spec.config.clone(),
            });
        // A deploy asks for the environment to run: a failed one starts again.
        if matches!(env.health, Health::Failed { .. } | Health::Unhealthy { .. }) {
            env.health = Health::Starting;
        }
        Ok(())
    }

    async fn wait_ready(&self, id: &EnvId) -> Result<Address, PortError> {
        let mut state = lock(&self.state);
        let unhealthy = state.unhealthy.contains(id.sha.as_str());
        state.next_ip = state.next_ip.wrapping_add(1);
        let ip = state.next_ip;
        let env = state.envs.get_mut(id).ok_or_else(|| missing(id))?;
        if env.health == Health::Asleep {
            return Err(PortError::permanent(format!(
                "{id} is asleep: wake it first"
            )));
        }
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
        let mut state = lock(&self.state);
        let env = state.envs.get_mut(id).ok_or_else(|| missing(id))?;
        env.config = config.clone();
        Ok(())
    }

    fn can_sleep(&self) -> bool {
        true
    }

    async fn sleep(&self, id: &EnvId) -> Result<(), PortError> {
        let mut state = lock(&self.state);
        let env = state.envs.get_mut(id).ok_or_else(|| missing(id))?;
        env.health = Health::Asleep;
        // A process stopped has no address; waking gives it one again.
        env.address = None;
        Ok(())
    }

    async fn wake(&self, id: &EnvId) -> Result<(), PortError> {
        let mut state = lock(&self.state);
        let env = state.envs.get_mut(id).ok_or_else(|| missing(id))?;
        if env.health == Health::Asleep {
            env.health = Health::Starting;
        }
        Ok(())
    }

    async fn destroy(&self, id: &EnvId) -> Result<(), PortError> {
        lock(&self.state).envs.remove(id);
        Ok(())
    }

    async fn list(&self, pr: Option<PrNumber>) -> Result<Vec<EnvInfo>, PortError> {
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
