//! The wall clock: the engine's [`Clock`] port for real programs.
//!
//! Time reaches the core only through this port, so tests and the demo can
//! move it; a program uses [`SystemClock`] and leaves its offset at zero.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use showtime_core::ports::Clock;

/// The wall clock, with an offset that [`SystemClock::advance`] moves (the
/// demo jumps past a TTL with it; programs leave it at zero).
#[derive(Debug, Default)]
pub struct SystemClock {
    offset_secs: AtomicI64,
}

impl SystemClock {
    /// Moves this clock's "now" forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_secs
            .fetch_add(by.num_seconds(), Ordering::SeqCst);
    }
}

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(self.offset_secs.load(Ordering::SeqCst))
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}
