//! [`PortError`]: how a port call fails, in the three ways the engine
//! treats differently (retry soon, wait for a reset, give up).

use chrono::{DateTime, Utc};

/// An error from a port call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PortError {
    /// May succeed if retried: a timeout, a 5xx, throttling.
    #[error("{message} (temporary)")]
    Transient {
        /// What happened, for a person.
        message: String,
    },
    /// The API's request budget is spent, or it asked to wait, until
    /// `reset`; retrying sooner is pointless. The engine waits until then
    /// and tries again when that is soon enough
    /// ([`Retry::max_rate_limit_wait`](crate::policy::Retry)).
    #[error("rate limit exhausted until {reset}")]
    RateLimited {
        /// When the budget refills, or when the API said to try again (for
        /// a `Retry-After` of N seconds: now plus N seconds).
        reset: DateTime<Utc>,
    },
    /// Will not succeed if retried: fix the cause first.
    #[error("{message}")]
    Permanent {
        /// What happened and what would fix it, for a person.
        message: String,
    },
    /// The thing asked for does not exist (a PR, a repository).
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
}

impl PortError {
    /// A transient error.
    pub fn transient(message: impl Into<String>) -> Self {
        PortError::Transient {
            message: message.into(),
        }
    }

    /// A permanent error.
    pub fn permanent(message: impl Into<String>) -> Self {
        PortError::Permanent {
            message: message.into(),
        }
    }

    /// Whether retrying the same call soon may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, PortError::Transient { .. })
    }

    /// Whether the failure passes by itself, sooner ([`Transient`]) or
    /// later ([`RateLimited`]): an answer that is not one to act on.
    ///
    /// [`Transient`]: PortError::Transient
    /// [`RateLimited`]: PortError::RateLimited
    pub fn may_pass(&self) -> bool {
        matches!(
            self,
            PortError::Transient { .. } | PortError::RateLimited { .. }
        )
    }
}
