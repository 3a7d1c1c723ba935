//! Policy: the rules a deployment of Showtime chooses.
//!
//! Everything the planner decides that is a matter of taste rather than
//! correctness lives here, with defaults a small team can start from.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::labels::{Codec, Dialect};
use crate::ports::Permission;
use crate::{Team, Ttl, TtlUnit};

/// What to do with a backend environment of an open PR that no label claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrphanPolicy {
    /// Destroy it (the default): labels are the source of truth.
    #[default]
    Destroy,
    /// Make it the active environment when it runs the PR's head commit, is
    /// healthy, and nothing else is active; destroy it otherwise.
    Adopt,
}

/// How port calls that fail transiently are retried.
///
/// The engine is the one retry layer: adapters return a transient error
/// instead of retrying it themselves (see [`crate::ports`]), so one port
/// call costs at most `attempts` requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all, the first included (at least 1).
    pub attempts: u32,
    /// The wait before the second attempt; it doubles each time.
    pub base: Duration,
    /// The longest backoff between attempts.
    pub max: Duration,
    /// The longest wait for a spent rate limit to reset
    /// ([`PortError::RateLimited`](crate::ports::PortError::RateLimited));
    /// a later reset fails the call at once instead.
    pub max_rate_limit_wait: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 4,
            base: Duration::from_millis(500),
            max: Duration::from_secs(20),
            max_rate_limit_wait: Duration::from_secs(60),
        }
    }
}

/// The rules of one Showtime deployment.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The label grammar (legacy up-label, sizes).
    pub codec: Codec,
    /// The dialect labels are written in.
    pub dialect: Dialect,
    /// The lowest repository permission that may trigger, command, or push a
    /// commit that deploys automatically (default `write`).
    pub required_permission: Permission,
    /// Teams whose active members may act as if they had
    /// `required_permission`, asked only when the permission alone does
    /// not allow (see [`crate::access`]). Empty by default.
    pub allowed_teams: Vec<Team>,
    /// At most this many environments requested by members of each team,
    /// across all PRs (see [`crate::access`]). Empty by default.
    pub team_quotas: BTreeMap<Team, usize>,
    /// The TTL of a new environment when the PR has none (default `24h`).
    pub default_ttl: Ttl,
    /// The longest lifetime, counted from creation, that `extend` may reach
    /// (default 2 weeks). `close` and `manual` are not limited by it.
    pub max_ttl: Ttl,
    /// Whether `manual` (survive the PR closing) may be asked for.
    pub allow_manual_ttl: bool,
    /// At most this many environments per requester, across all PRs.
    pub quota_per_requester: Option<usize>,
    /// At most this many environments in all.
    pub quota_total: Option<usize>,
    /// What to do with an environment no label claims.
    pub orphans: OrphanPolicy,
    /// How old an unclaimed environment must be before a sweep destroys it,
    /// so that one being created by a concurrent run is spared.
    pub orphan_grace: chrono::Duration,
    /// Retries of transient port failures.
    pub retry: Retry,
    /// PRs a sweep reconciles at once, at most (a server's queue has its own
    /// `--concurrency`; the engine adds no limit of its own).
    pub max_concurrent: usize,
    /// Reconcile rounds of one PR in one run, at most (a create takes two).
    pub max_rounds: u32,
    /// Give each label Showtime adds its colour and description as it adds
    /// it (one extra request per distinct label name, once per process).
    /// Off by default: `showtime setup-labels` defines every reusable label
    /// once, and per-value labels (SHAs, times) are short-lived.
    pub define_labels: bool,
    /// How long before its TTL runs out a sweep warns, once, that an
    /// environment is about to expire (on the PR's comment and to the
    /// notifier); `None` never warns. Default 2 hours.
    pub expiry_warning: Option<chrono::Duration>,
    /// When a sweep puts idle environments to sleep (scales them to zero);
    /// `None` (the default) never. Ignored with a backend that cannot
    /// sleep ([`Backend::can_sleep`](crate::ports::Backend::can_sleep)).
    pub sleep: Option<crate::schedule::SleepSchedule>,
    /// How long a serving environment may stay [`Health::Unhealthy`]
    /// (crashing, failing its health check while the platform retries)
    /// before it is marked `failed` and redeployed once; one the backend
    /// lists as [`Health::Failed`] (gone for good) is acted on at once.
    /// `None` watches nothing: a running environment that dies stays
    /// `running` on its PR. Default 5 minutes. See
    /// [self-healing](crate::plan#self-healing).
    ///
    /// [`Health::Unhealthy`]: crate::ports::Health::Unhealthy
    /// [`Health::Failed`]: crate::ports::Health::Failed
    pub heal_after: Option<chrono::Duration>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            codec: Codec::default(),
            dialect: Dialect::Seed,
            required_permission: Permission::Write,
            allowed_teams: Vec::new(),
            team_quotas: BTreeMap::new(),
            default_ttl: Ttl::DAY,
            max_ttl: Ttl::new(2, TtlUnit::Weeks).unwrap_or(Ttl::CLOSE),
            allow_manual_ttl: true,
            quota_per_requester: Some(3),
            quota_total: Some(20),
            orphans: OrphanPolicy::Destroy,
            orphan_grace: chrono::Duration::minutes(30),
            retry: Retry::default(),
            max_concurrent: 4,
            max_rounds: 6,
            define_labels: false,
            expiry_warning: Some(chrono::Duration::hours(2)),
            sleep: None,
            heal_after: Some(chrono::Duration::minutes(5)),
        }
    }
}
