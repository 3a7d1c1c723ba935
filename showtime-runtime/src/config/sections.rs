//! The sections of `showtime.toml` beyond the top-level keys: one struct
//! per `[section]`, each with what checks or reads it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use showtime_core::Team;

use super::ConfigError;

/// `[sleep]`: a sweep scales idle environments to zero (see the README's
/// "Sleep and wake"). Without any key, nothing sleeps.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SleepSection {
    /// Asleep after this long without activity on the PR (`8h`, `1d`).
    pub after_idle: Option<String>,
    /// Asleep every day between these local times (`20:00-07:00`).
    pub quiet_hours: Option<String>,
    /// Asleep on Saturdays and Sundays (local time).
    #[serde(default)]
    pub weekends: bool,
    /// The IANA time zone of `quiet_hours` and `weekends` (default `UTC`).
    pub time_zone: Option<String>,
}

impl SleepSection {
    /// The schedule, or `None` when nothing would ever sleep.
    pub fn schedule(&self) -> Result<Option<showtime_core::schedule::SleepSchedule>, ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Value {
            name: format!("[sleep] {key}"),
            message,
        };
        let after_idle = match &self.after_idle {
            None => None,
            Some(text) => {
                let d = crate::view::parse_duration(text).map_err(|m| bad("after_idle", m))?;
                let d = chrono::Duration::from_std(d)
                    .map_err(|_| bad("after_idle", format!("`{text}` is too long")))?;
                (!d.is_zero()).then_some(d)
            }
        };
        let quiet_hours = self
            .quiet_hours
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e: showtime_core::Error| bad("quiet_hours", e.to_string()))?;
        let time_zone = self
            .time_zone
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e: showtime_core::Error| bad("time_zone", e.to_string()))?
            .unwrap_or_default();
        if after_idle.is_none() && quiet_hours.is_none() && !self.weekends {
            return Ok(None);
        }
        Ok(Some(showtime_core::schedule::SleepSchedule {
            after_idle,
            quiet_hours,
            weekends: self.weekends,
            time_zone,
        }))
    }
}

/// `[heal]`: self-healing. A serving environment its backend lists as
/// unhealthy (crashing, failing its health check) for `after` is marked
/// `failed` on its PR with the backend's reason, notified, and redeployed
/// once; one gone for good (a process that exited) at once. See the
/// README's "Self-healing".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealSection {
    /// How long an environment may stay unhealthy first (`5m` by default;
    /// `90s`, `1h`, …; `off` never acts, leaving a dead environment
    /// `running` on its PR).
    pub after: Option<String>,
}

/// `[server]`: the limits of `showtime-webhook`'s public endpoint (see
/// `showtime_runtime::server::Limits`, which holds the defaults). Every key
/// is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Connections held open at most; one more is answered `503` and closed.
    pub max_connections: Option<usize>,
    /// Seconds a connection may take to send a request's headers (an idle
    /// keep-alive connection too) before it is closed.
    pub header_timeout_secs: Option<u64>,
    /// Seconds a request may take, body included, before it is answered
    /// `408`.
    pub request_timeout_secs: Option<u64>,
    /// The largest request line and headers, in bytes; larger ones are
    /// answered `431`.
    pub max_header_bytes: Option<usize>,
    /// Requests per second one source address may keep up (an IPv6 source
    /// is its /64); `0` turns the limit off (e.g. behind a proxy whose
    /// address every request would share).
    pub rate_limit_per_sec: Option<f64>,
    /// Requests one source may send in a burst before the rate applies.
    pub rate_limit_burst: Option<u32>,
    /// The served repository's numeric id (`repository.id` in a delivery,
    /// `X-GitHub-Hook-Installation-Target-ID` on a repository webhook's):
    /// when set, a delivery naming another id is refused even when its name
    /// matches (a repository deleted and created again under the same name).
    pub repository_id: Option<u64>,
}

/// `[queue]`: with an SQS FIFO queue, `showtime-webhook` only receives
/// (each checked delivery is sent to the queue) and `showtime-worker`
/// processes carry the work out (see the README's "Scaling out").
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSection {
    /// The queue's URL (`SHOWTIME_SQS_QUEUE_URL` overrides); it must be a
    /// FIFO queue (`….fifo`).
    pub sqs_url: Option<String>,
    /// How long a worker's messages stay out of others' hands, extended
    /// while it works (default 120).
    pub visibility_secs: Option<u64>,
}

/// `[dashboard]`: the web page of every environment, served by
/// `showtime-webhook` and `showtime dashboard` (feature `server`). The OAuth
/// app's secret and the session key are secrets: they come only from the
/// variables `SHOWTIME_OAUTH_CLIENT_SECRET` and `SHOWTIME_SESSION_KEY`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardSection {
    /// Whether the read-only view (and `GET /environments`) is open to
    /// anyone who can reach it (default `true`); `false` requires signing in
    /// with GitHub.
    pub public: Option<bool>,
    /// Where people reach the server, `https://showtime.example.com` (the
    /// OAuth callback is `{url}/dashboard/oauth/callback`); default
    /// `http://` and the address it listens on.
    pub url: Option<String>,
    /// GitHub's web root, where OAuth and pull requests live (GitHub
    /// Enterprise Server: `https://HOST`); default: from the API root,
    /// `https://github.com` for `https://api.github.com`.
    pub github_url: Option<String>,
    /// The OAuth app's client id (`SHOWTIME_OAUTH_CLIENT_ID` overrides).
    pub client_id: Option<String>,
    /// Seconds the listed environments are reused before GitHub and the
    /// backend are asked again; also how often the page polls (default 15).
    pub refresh_secs: Option<u64>,
}

/// `[cost]`: what an environment-hour costs, and the month's budget (the
/// dashboard, `showtime cost` and the sweeper's budget warnings use it).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostSection {
    /// US dollars per vCPU-hour (default: AWS Fargate's published Linux/x86
    /// price in us-east-1, on-demand or, with `[ecs] capacity =
    /// "fargate-spot"`, an approximation of Spot).
    pub price_vcpu_hour: Option<f64>,
    /// US dollars per GB-hour of memory (default as `price_vcpu_hour`).
    pub price_gb_hour: Option<f64>,
    /// The month's budget in US dollars: a sweep warns through the notifier
    /// when the month's projected cost crosses 80 % and 100 % of it.
    pub monthly_budget_usd: Option<f64>,
}

/// `[access]`: besides the repository permission, active members of
/// `allowed_teams` may act, and each team of `team_quotas` has a quota of
/// environments requested by its members (the rules:
/// [`showtime_core::access`]). Teams are written `org/team-slug`; the
/// GitHub token needs the organization's `members: read` permission.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessSection {
    /// Teams whose active members may act whatever their repository
    /// permission, asked in this order.
    #[serde(default)]
    pub allowed_teams: Vec<Team>,
    /// At most this many environments requested by each team's members.
    #[serde(default)]
    pub team_quotas: BTreeMap<Team, usize>,
}

/// `[github]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitHubSection {
    /// `owner/name`.
    pub repository: Option<String>,
    /// REST API root (GitHub Enterprise Server: `https://host/api/v3`).
    pub api_url: Option<String>,
    /// Record each environment as a GitHub deployment, so the PR shows
    /// **View deployment** (default `false`; see [`crate::deployments`]).
    /// The token needs the `deployments: write` permission.
    pub deployments: Option<bool>,
}

impl ServerSection {
    /// The first value out of range: its key and what is accepted.
    pub(super) fn check(&self) -> Result<(), (&'static str, String)> {
        let at_least_one = |key: &'static str, n: Option<u64>| match n {
            Some(0) => Err((key, "0 would refuse everything; give at least 1".to_owned())),
            _ => Ok(()),
        };
        at_least_one("max_connections", self.max_connections.map(|n| n as u64))?;
        at_least_one("header_timeout_secs", self.header_timeout_secs)?;
        at_least_one("request_timeout_secs", self.request_timeout_secs)?;
        at_least_one("rate_limit_burst", self.rate_limit_burst.map(u64::from))?;
        if let Some(bytes) = self.max_header_bytes
            && bytes < MIN_HEADER_BYTES
        {
            return Err((
                "max_header_bytes",
                format!(
                    "{bytes} is too small for GitHub's own headers; give at least {MIN_HEADER_BYTES}"
                ),
            ));
        }
        if let Some(rate) = self.rate_limit_per_sec
            && !(rate.is_finite() && rate >= 0.0)
        {
            return Err((
                "rate_limit_per_sec",
                format!(
                    "{rate} is not a rate; give a number of requests per second, 0 for no limit"
                ),
            ));
        }
        Ok(())
    }
}

/// The smallest `max_header_bytes` accepted: a GitHub delivery's headers
/// take about 1 KiB, a browser's with cookies a few.
pub const MIN_HEADER_BYTES: usize = 4096;

/// One size of `[sizes]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeSpec {
    /// CPU units (1024 = one vCPU).
    pub cpu: u32,
    /// Memory in MiB.
    pub memory: u32,
}

/// `[build]`: how an image is built for the ECS backend.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSection {
    /// The command, one argument per item; `{image}`, `{tag}`, `{pr}`,
    /// `{sha}`, `{sha7}` are replaced. Absent: images are expected to exist
    /// already (built by an earlier workflow step).
    pub command: Option<Vec<String>>,
    /// The image reference, with the same placeholders (default: the ECS
    /// backend's `image_template`).
    pub image: Option<String>,
}

/// `[ecs]`: the settings of `showtime_aws::EcsSettings` that a file may set
/// (the `SHOWTIME_ECS_*` variables override them).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcsSection {
    /// AWS region.
    pub region: Option<String>,
    /// ECS cluster.
    pub cluster: Option<String>,
    /// Subnets of the tasks.
    pub subnets: Option<Vec<String>>,
    /// Security groups of the tasks.
    pub security_groups: Option<Vec<String>>,
    /// `fargate` or `fargate-spot`.
    pub capacity: Option<String>,
    /// `public` or `private`.
    pub address: Option<String>,
    /// ECR repository.
    pub ecr_repository: Option<String>,
    /// Image template.
    pub image_template: Option<String>,
    /// The application's port.
    pub container_port: Option<u16>,
    /// Health-check paths.
    pub health_paths: Option<Vec<String>>,
    /// Path of a task definition template (JSON).
    pub task_definition: Option<PathBuf>,
    /// Seconds to wait for a healthy environment.
    pub ready_timeout_secs: Option<u64>,
    /// `[ecs.secrets]`: variable name to the ARN of an SSM parameter or a
    /// Secrets Manager secret, which ECS reads when a task starts (see
    /// `showtime_aws::Secrets`); checked when the file is read.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

#[cfg(feature = "aws")]
impl EcsSection {
    /// The secrets, read into `showtime_aws::Secrets` with the backend's
    /// feature-flag prefix; an error names the key at fault in `file`.
    pub fn parse_secrets(
        &self,
        feature_prefix: &str,
        file: &str,
    ) -> Result<showtime_aws::Secrets, ConfigError> {
        showtime_aws::Secrets::parse(&self.secrets, feature_prefix).map_err(|e| match e {
            showtime_aws::AwsError::Setting { name, message } => ConfigError::Value {
                name: format!("[ecs.secrets] {name} in {file}"),
                message,
            },
            other => ConfigError::Value {
                name: format!("[ecs.secrets] in {file}"),
                message: other.to_string(),
            },
        })
    }
}
