//! The manual clock and the notifier that keeps what it is told.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::{Clock, Notice, Notifier, PortError};

use super::lock;

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
