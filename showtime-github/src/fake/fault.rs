//! Injected faults: the next matching requests fail (a status, optionally
//! with `Retry-After` or an exhausted primary rate limit), answer late, or
//! have their connection cut.

use std::time::Duration;

use serde_json::Value;

#[cfg(doc)]
use super::FakeGitHub;

/// What an injected [`Fault`] does to a matching request.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// Answer with `status` instead of serving the request (the request
    /// does not touch the state or the rate-limit budget).
    Respond {
        /// The HTTP status.
        status: u16,
        /// Send `Retry-After: {secs}` (secondary rate limits).
        retry_after: Option<u64>,
        /// Send `x-ratelimit-remaining: 0` and `x-ratelimit-reset: {epoch}`
        /// (an exhausted primary rate limit).
        ratelimit_reset: Option<i64>,
        /// The JSON body; `None` picks GitHub's usual one for the situation
        /// (`{"message": "You have exceeded a secondary rate limit...",
        /// ...}` for 403/429 with `retry_after`, `"API rate limit exceeded
        /// for ..."` with `ratelimit_reset`, `"Server Error"` for 500/502,
        /// otherwise the reason phrase).
        body: Option<Value>,
    },
    /// Wait this long, then serve the request normally.
    Delay(Duration),
    /// Cut the connection instead of answering: the client sees a reset
    /// mid-answer. With `served`, the request is carried out first (the
    /// write happened, but its sender cannot know), as when a connection
    /// dies on the way back.
    Reset {
        /// Whether the request changes the state before the cut.
        served: bool,
    },
}

/// A fault to inject with [`FakeGitHub::inject`]: the next
/// [`times`](Self::times) requests matching [`method`](Self::method) and
/// [`path_contains`](Self::path_contains) get [`action`](Self::action).
///
/// Faults are checked in injection order; the first match is used up.
///
/// ```
/// use showtime_github::fake::Fault;
/// use std::time::Duration;
///
/// let flaky = Fault::status(502).method("GET").path_contains("/pulls").times(2);
/// let abuse = Fault::secondary_rate_limit(403, 60).method("POST");
/// let slow = Fault::delay(Duration::from_millis(300)).path_contains("/labels");
/// let cut = Fault::lost_answer().method("POST").path_contains("/comments");
/// # let _ = (flaky, abuse, slow, cut);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Only requests with this method (case-insensitive); `None`: any.
    pub method: Option<String>,
    /// Only requests whose path as sent (with any `/api/v3` prefix, plus
    /// `?query` when there is one) contains this; `None`: any.
    pub path_contains: Option<String>,
    /// What happens to matching requests.
    pub action: FaultAction,
    /// How many matching requests it applies to.
    pub times: usize,
}

impl Fault {
    /// Answer the next matching request with `status` (and GitHub's usual
    /// body for it).
    pub fn status(status: u16) -> Self {
        Self {
            method: None,
            path_contains: None,
            action: FaultAction::Respond {
                status,
                retry_after: None,
                ratelimit_reset: None,
                body: None,
            },
            times: 1,
        }
    }

    /// Delay the next matching request by `latency`, then serve it.
    pub fn delay(latency: Duration) -> Self {
        Self {
            action: FaultAction::Delay(latency),
            ..Self::status(0)
        }
    }

    /// Cut the connection of the next matching request before serving it.
    pub fn reset() -> Self {
        Self {
            action: FaultAction::Reset { served: false },
            ..Self::status(0)
        }
    }

    /// Serve the next matching request, then cut its connection before the
    /// answer is through: the write is done, its sender sees an error.
    pub fn lost_answer() -> Self {
        Self {
            action: FaultAction::Reset { served: true },
            ..Self::status(0)
        }
    }

    /// A secondary rate limit: `status` (403 or 429) with
    /// `Retry-After: {retry_after_secs}` and GitHub's "You have exceeded a
    /// secondary rate limit" body.
    pub fn secondary_rate_limit(status: u16, retry_after_secs: u64) -> Self {
        Self::status(status).retry_after(retry_after_secs)
    }

    /// An exhausted primary rate limit: 403 with `x-ratelimit-remaining: 0`,
    /// `x-ratelimit-reset: {reset_epoch}` and GitHub's "API rate limit
    /// exceeded" body. (To exhaust the real budget instead, use
    /// [`FakeGitHub::set_rate_limit_remaining`].)
    pub fn primary_rate_limit(reset_epoch: i64) -> Self {
        Self::status(403).ratelimit_reset(reset_epoch)
    }

    /// Only match requests with this method.
    pub fn method(mut self, method: impl AsRef<str>) -> Self {
        self.method = Some(method.as_ref().to_ascii_uppercase());
        self
    }

    /// Only match requests whose path (and query) contains `fragment`.
    pub fn path_contains(mut self, fragment: impl Into<String>) -> Self {
        self.path_contains = Some(fragment.into());
        self
    }

    /// Apply to the next `times` matching requests (default 1).
    pub fn times(mut self, times: usize) -> Self {
        self.times = times;
        self
    }

    /// Add `Retry-After: {secs}` (no effect on a delay).
    pub fn retry_after(mut self, secs: u64) -> Self {
        if let FaultAction::Respond { retry_after, .. } = &mut self.action {
            *retry_after = Some(secs);
        }
        self
    }

    /// Add `x-ratelimit-remaining: 0` and `x-ratelimit-reset: {epoch}` (no
    /// effect on a delay).
    pub fn ratelimit_reset(mut self, epoch: i64) -> Self {
        if let FaultAction::Respond {
            ratelimit_reset, ..
        } = &mut self.action
        {
            *ratelimit_reset = Some(epoch);
        }
        self
    }

    /// Answer with this JSON body (no effect on a delay).
    pub fn body(mut self, body: Value) -> Self {
        if let FaultAction::Respond { body: slot, .. } = &mut self.action {
            *slot = Some(body);
        }
        self
    }

    /// Whether the fault applies to a request (`target`: path and query).
    pub(super) fn matches(&self, method: &str, target: &str) -> bool {
        self.times > 0
            && self
                .method
                .as_deref()
                .is_none_or(|expected| expected.eq_ignore_ascii_case(method))
            && self
                .path_contains
                .as_deref()
                .is_none_or(|fragment| target.contains(fragment))
    }
}
