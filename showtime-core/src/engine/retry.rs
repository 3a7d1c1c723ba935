//! Retries: the one place where a port call that failed transiently is
//! tried again. Adapters do not retry themselves (see [`crate::ports`]), so
//! one call of the engine is at most [`Retry::attempts`] requests.

use std::future::Future;
use std::time::Duration;

use crate::policy::Retry;
use crate::ports::PortError;

use super::Engine;

impl Engine {
    /// Calls `f` until it succeeds, fails permanently, or the attempts run
    /// out. A transient error waits an exponential backoff with jitter; a
    /// spent rate limit waits until its reset, when that is within
    /// [`Retry::max_rate_limit_wait`].
    pub(crate) async fn retry<T, F, Fut>(&self, mut f: F) -> Result<T, PortError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, PortError>>,
    {
        let mut attempt = 1;
        loop {
            match f().await {
                Err(error) if attempt < self.policy.retry.attempts => {
                    let Some(wait) = self.wait_before_retry(&error, attempt) else {
                        return Err(error);
                    };
                    tracing::warn!(
                        attempt,
                        %error,
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "a port call failed; trying again"
                    );
                    self.ports.clock.sleep(wait).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// How long to wait before trying again after `error`, or `None` when
    /// trying again cannot help (or not soon enough).
    fn wait_before_retry(&self, error: &PortError, attempt: u32) -> Option<Duration> {
        match error {
            PortError::Transient { .. } => Some(self.backoff(attempt)),
            PortError::RateLimited { reset } => {
                let until_reset = (*reset - self.ports.clock.now())
                    .to_std()
                    .unwrap_or(Duration::ZERO);
                (until_reset <= self.policy.retry.max_rate_limit_wait)
                    .then(|| until_reset.max(self.backoff(attempt)))
            }
            _ => None,
        }
    }

    /// Exponential backoff with "equal jitter": half fixed, half random.
    fn backoff(&self, attempt: u32) -> Duration {
        let Retry { base, max, .. } = self.policy.retry;
        let exp = base
            .saturating_mul(
                1u32.checked_shl(attempt.saturating_sub(1))
                    .unwrap_or(u32::MAX),
            )
            .min(max);
        let random = {
            let mut state = self.jitter.lock().unwrap_or_else(|p| p.into_inner());
            // xorshift64: enough to spread retries; not for secrets.
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            *state
        };
        let half = exp / 2;
        half + Duration::from_nanos(random % (half.as_nanos().max(1) as u64))
    }
}
