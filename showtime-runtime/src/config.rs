//! Configuration: flags, environment variables and an optional
//! `showtime.toml`, in that order of precedence, merged in one place.
//!
//! [`Overrides`] are what a program's flags say; [`FileConfig`] is the file,
//! each section owned by the type it configures where that type lives
//! (`[local]` is [`showtime_local::LocalSection`]); [`Settings::resolve`]
//! merges them with the environment into one checked [`Settings`]. Nothing
//! here talks to GitHub or a cloud: see [`crate::wiring`] for that.
//!
//! ```toml
//! # showtime.toml — every key is optional
//! dialect = "seed"              # or "per-sha" (superset-showtime's)
//! default_ttl = "24h"
//! max_ttl = "2w"
//! quota_per_requester = 3
//! quota_total = 20
//! permission = "write"          # read | triage | write | maintain | admin
//! legacy_trigger = "showtime"   # the non-🎪 up-label
//! backend = "ecs"               # or "local"
//!
//! [access]                      # team members act as if they had `permission`
//! allowed_teams = ["apache/superset-committers"]
//! team_quotas = { "apache/superset-committers" = 10 }
//!
//! [github]
//! repository = "apache/superset"
//! api_url = "https://api.github.com"
//! deployments = true            # each environment a GitHub deployment
//!
//! [sizes]                       # CPU units and MiB, for ECS
//! small = { cpu = 512, memory = 1024 }
//! large = { cpu = 2048, memory = 4096 }
//!
//! [build]                       # ECS images; {image} {tag} {pr} {sha} {sha7}
//! command = ["docker", "buildx", "build", "--push", "-t", "{image}", "."]
//! image = "123456789012.dkr.ecr.us-west-2.amazonaws.com/superset-ci:{tag}"
//!
//! [ecs]
//! cluster = "superset-ci"
//! subnets = ["subnet-0abc"]
//! security_groups = ["sg-0abc"]
//!
//! [ecs.secrets]                 # read by ECS at task start; only the ARNs pass here
//! SUPERSET_SECRET_KEY = "arn:aws:ssm:us-west-2:123456789012:parameter/showtime/secret-key"
//!
//! [local]
//! state_dir = "/tmp/showtime"
//!
//! [notify]
//! expiring_warning = "2h"       # a sweep warns once this long before the TTL ends
//!
//! [heal]
//! after = "5m"                  # a serving environment unhealthy this long: failed,
//!                               # redeployed once ("off": never)
//!
//! [dashboard]                   # secrets only from variables
//! public = false                # sign in with GitHub to see the page
//! url = "https://showtime.example.com"
//! client_id = "Iv1.0123456789abcdef"
//! refresh_secs = 15
//!
//! [sleep]                       # scale idle environments to zero
//! after_idle = "8h"
//! quiet_hours = "20:00-07:00"
//! weekends = true
//! time_zone = "Europe/Paris"
//! [server]                      # showtime-webhook's public endpoint (defaults shown)
//! max_connections = 512         # open connections at most; more are answered 503
//! header_timeout_secs = 10      # a request's headers must arrive within this
//! request_timeout_secs = 30     # a whole request, body included (else 408)
//! max_header_bytes = 16384      # request line and headers (else 431)
//! rate_limit_per_sec = 10       # requests per second per source address (0: off)
//! rate_limit_burst = 100        # requests a source may send at once
//! repository_id = 1234567       # the served repository's numeric id (optional)
//!
//! [cost]
//! price_vcpu_hour = 0.04048
//! price_gb_hour = 0.004445
//! monthly_budget_usd = 500
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};
use showtime_core::labels::{Codec, DEFAULT_LEGACY_TRIGGER, Dialect};
use showtime_core::policy::Policy;
use showtime_core::ports::Permission;
use showtime_core::{SizeName, Sizes, Ttl};

mod sections;
pub use sections::*;

/// The default file name looked for in the working directory.
pub const DEFAULT_FILE: &str = "showtime.toml";

/// What a program's flags say; each overrides its environment variable,
/// which overrides the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// The configuration file (`SHOWTIME_CONFIG`; default `./showtime.toml`
    /// when it exists).
    pub config: Option<PathBuf>,
    /// Where environments run (`SHOWTIME_BACKEND`; default `ecs`).
    pub backend: Option<BackendKind>,
    /// The repository, `owner/name` (`GITHUB_REPOSITORY`).
    pub repo: Option<String>,
    /// GitHub's REST API root (`GITHUB_API_URL`).
    pub github_api_url: Option<String>,
}

/// Which backend runs environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// AWS ECS Fargate.
    Ecs,
    /// Processes on this machine, on 127.0.0.1 (the demo, tests, trying out).
    Local,
}

impl std::str::FromStr for BackendKind {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<Self, ConfigError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "ecs" => Ok(BackendKind::Ecs),
            "local" => Ok(BackendKind::Local),
            _ => Err(ConfigError::Value {
                name: "SHOWTIME_BACKEND".into(),
                message: format!("`{text}` is not `ecs` or `local`"),
            }),
        }
    }
}

/// Reads a value through its `FromStr`, so the file accepts exactly what
/// the type's own parser does (and its error says what is accepted).
fn parsed<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let text = String::deserialize(deserializer)?;
    text.parse().map(Some).map_err(serde::de::Error::custom)
}

/// `showtime.toml`. Unknown keys are errors, so a typo is never ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The label dialect written (`seed` or `per-sha`).
    #[serde(default, deserialize_with = "parsed")]
    pub dialect: Option<Dialect>,
    /// TTL of a new environment.
    pub default_ttl: Option<Ttl>,
    /// Longest lifetime `extend` may reach.
    pub max_ttl: Option<Ttl>,
    /// Environments per requester, at most.
    pub quota_per_requester: Option<usize>,
    /// Environments in all, at most.
    pub quota_total: Option<usize>,
    /// Lowest permission that may trigger (`read` … `admin`).
    pub permission: Option<Permission>,
    /// The legacy up-label.
    pub legacy_trigger: Option<String>,
    /// The backend.
    pub backend: Option<BackendKind>,
    /// Access by team and per-team quotas.
    #[serde(default)]
    pub access: AccessSection,
    /// GitHub.
    #[serde(default)]
    pub github: GitHubSection,
    /// Sizes by name, with CPU units and MiB for ECS.
    pub sizes: Option<BTreeMap<SizeName, SizeSpec>>,
    /// The image builder.
    #[serde(default)]
    pub build: BuildSection,
    /// The ECS backend.
    #[serde(default)]
    pub ecs: EcsSection,
    /// The local backend.
    #[serde(default)]
    pub local: LocalSection,
    /// Notifications beside the PR comment.
    #[serde(default)]
    pub notify: crate::notify::NotifySection,
    /// The audit trail.
    #[serde(default)]
    pub audit: crate::audit::AuditSection,
    /// Self-healing of environments that die while serving.
    #[serde(default)]
    pub heal: HealSection,
    /// The dashboard: the web page of every environment.
    #[serde(default)]
    pub dashboard: DashboardSection,
    /// Prices and the monthly budget.
    #[serde(default)]
    pub cost: CostSection,
    /// The durable work queue between the receiver and the workers.
    #[serde(default)]
    pub queue: QueueSection,
    /// When idle environments are put to sleep (scaled to zero).
    #[serde(default)]
    pub sleep: SleepSection,
    /// The webhook server's public endpoint: its limits.
    #[serde(default)]
    pub server: ServerSection,
}

/// `[local]`: the local-process backend's own schema.
pub use showtime_local::LocalSection;

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid: the message names the line and column.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// A value (from a flag, a variable or the file) is not acceptable.
    #[error("{name}: {message}")]
    Value {
        /// Where it came from (`--repo`, `GITHUB_REPOSITORY`, `permission`).
        name: String,
        /// What is wrong and what is accepted.
        message: String,
    },
}

impl FileConfig {
    /// Parses the text of a `showtime.toml`; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let parsed: FileConfig = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or((1, 1));
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })?;
        parsed.check(path)?;
        Ok(parsed)
    }

    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Checks what serde cannot: values that parse but do not fit together.
    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let value = |name: &str, message: String| ConfigError::Value {
            name: format!("{}: {name}", path.display()),
            message,
        };
        if let Some(sizes) = &self.sizes
            && sizes.is_empty()
        {
            return Err(value(
                "sizes",
                "an empty table offers no size; remove it or name at least one".into(),
            ));
        }
        if let Some(command) = &self.build.command
            && command.is_empty()
        {
            return Err(value(
                "build.command",
                "an empty command; give the program and its arguments".into(),
            ));
        }
        self.server
            .check()
            .map_err(|(name, message)| value(&format!("server.{name}"), message))?;
        // With the default feature-flag prefix: a file cannot change it.
        #[cfg(feature = "aws")]
        self.ecs.parse_secrets(
            &showtime_aws::EcsSettings::default().feature_prefix,
            &path.display().to_string(),
        )?;
        Ok(())
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Everything the programs need, merged and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file's contents (defaults when there was none).
    pub file: FileConfig,
    /// Where the file was read from, if one was.
    pub file_path: Option<PathBuf>,
    /// The backend.
    pub backend: BackendKind,
    /// `owner/name`, when known.
    pub repository: Option<String>,
    /// GitHub's REST API root.
    pub api_url: Option<String>,
    /// The rules.
    pub policy: Policy,
}

impl Settings {
    /// Merges `args` (flags), `env` (variables) and the file they name (or
    /// `./showtime.toml` when it exists).
    pub fn resolve(
        args: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let file_path = match (&args.config, get("SHOWTIME_CONFIG")) {
            (Some(path), _) => Some(path.clone()),
            (None, Some(path)) => Some(PathBuf::from(path)),
            (None, None) => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.is_file()),
        };
        let file = match &file_path {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let backend = match (args.backend, get("SHOWTIME_BACKEND")) {
            (Some(kind), _) => kind,
            (None, Some(text)) => text.parse()?,
            (None, None) => file.backend.unwrap_or(BackendKind::Ecs),
        };
        let repository = args
            .repo
            .clone()
            .or_else(|| get("GITHUB_REPOSITORY"))
            .or_else(|| file.github.repository.clone());
        let api_url = args
            .github_api_url
            .clone()
            .or_else(|| get("GITHUB_API_URL"))
            .or_else(|| file.github.api_url.clone());
        let policy = policy(&file)?;
        Ok(Settings {
            file,
            file_path,
            backend,
            repository,
            api_url,
            policy,
        })
    }
}

impl Settings {
    /// The configuration file's name for messages (`showtime.toml` when
    /// none was read).
    pub fn file_name(&self) -> String {
        self.file_path
            .as_ref()
            .map_or_else(|| DEFAULT_FILE.to_owned(), |p| p.display().to_string())
    }
}

/// Checks a configuration file: it parses, its values are valid, and it
/// names no unknown key. The file is `path`, else `SHOWTIME_CONFIG`, else
/// `./showtime.toml`; returns the one checked.
pub fn check(
    path: Option<PathBuf>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PathBuf, ConfigError> {
    let path = path
        .or_else(|| env("SHOWTIME_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_FILE));
    policy(&FileConfig::load(&path)?)?;
    Ok(path)
}

/// The policy the file describes, on top of the defaults.
pub fn policy(file: &FileConfig) -> Result<Policy, ConfigError> {
    let mut policy = Policy::default();
    let sizes = match &file.sizes {
        Some(table) => Sizes::new(table.keys().cloned()),
        None => Sizes::default(),
    };
    let trigger = file
        .legacy_trigger
        .as_deref()
        .unwrap_or(DEFAULT_LEGACY_TRIGGER);
    policy.codec = Codec::new(trigger, sizes).map_err(|e| ConfigError::Value {
        name: "legacy_trigger".into(),
        message: e.to_string(),
    })?;
    if let Some(dialect) = file.dialect {
        policy.dialect = dialect;
    }
    if let Some(ttl) = file.default_ttl {
        policy.default_ttl = ttl;
    }
    if let Some(ttl) = file.max_ttl {
        policy.max_ttl = ttl;
    }
    if let Some(n) = file.quota_per_requester {
        policy.quota_per_requester = Some(n);
    }
    if let Some(n) = file.quota_total {
        policy.quota_total = Some(n);
    }
    if let Some(p) = file.permission {
        policy.required_permission = p;
    }
    policy.allowed_teams = file.access.allowed_teams.clone();
    policy.team_quotas = file.access.team_quotas.clone();
    if let Some(text) = &file.notify.expiring_warning {
        let bad = |message: String| ConfigError::Value {
            name: "[notify] expiring_warning".into(),
            message,
        };
        let warning = crate::view::parse_duration(text).map_err(bad)?;
        let warning = chrono::Duration::from_std(warning)
            .map_err(|_| bad(format!("`{text}` is too long")))?;
        policy.expiry_warning = (!warning.is_zero()).then_some(warning);
    }
    policy.sleep = file.sleep.schedule()?;
    if let Some(text) = &file.heal.after {
        let bad = |message: String| ConfigError::Value {
            name: "[heal] after".into(),
            message,
        };
        policy.heal_after = if text == "off" {
            None
        } else {
            let after = crate::view::parse_duration(text).map_err(bad)?;
            Some(
                chrono::Duration::from_std(after)
                    .map_err(|_| bad(format!("`{text}` is too long")))?,
            )
        };
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use showtime_core::Team;

    fn parse(text: &str) -> Result<FileConfig, ConfigError> {
        FileConfig::parse(text, Path::new("showtime.toml"))
    }

    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("config.rs");
        let example: String = doc
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//!").trim_start())
            .collect::<Vec<_>>()
            .join("\n");
        let file = parse(&example).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.backend, Some(BackendKind::Ecs));
        assert_eq!(file.sizes.as_ref().map(BTreeMap::len), Some(2));
        let policy = policy(&file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(policy.quota_total, Some(20));
    }

    #[test]
    fn the_readme_example_parses() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("### Configuration: `showtime.toml`")
            .nth(1)
            .unwrap_or_default();
        let example = section
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .unwrap_or_default();
        let file = parse(example).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.ecs.cluster.as_deref(), Some("superset-ci"));
        assert_eq!(file.local.ready_timeout_secs, Some(30));
        policy(&file).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn the_sleep_schedule_is_read_and_checked() {
        let file = parse(
            "[sleep]\nafter_idle = \"8h\"\nquiet_hours = \"20:00-07:00\"\n\
             weekends = true\ntime_zone = \"Europe/Paris\"\n",
        )
        .unwrap();
        let schedule = policy(&file).unwrap().sleep.unwrap();
        assert_eq!(schedule.after_idle, Some(chrono::Duration::hours(8)));
        assert_eq!(schedule.time_zone.name(), "Europe/Paris");
        assert!(schedule.weekends);
        assert!(policy(&parse("").unwrap()).unwrap().sleep.is_none());
        for (text, key) in [
            (
                "[sleep]\ntime_zone = \"Mars/Olympus\"\nweekends = true\n",
                "time_zone",
            ),
            ("[sleep]\nquiet_hours = \"8pm-7am\"\n", "quiet_hours"),
            ("[sleep]\nafter_idle = \"soon\"\n", "after_idle"),
        ] {
            let err = policy(&parse(text).unwrap()).unwrap_err().to_string();
            assert!(err.contains(&format!("[sleep] {key}")), "{err}");
        }
    }

    #[test]
    fn the_heal_delay_is_read_and_checked() {
        let policy_of = |text: &str| policy(&parse(text).unwrap_or_else(|e| panic!("{e}")));
        let default = policy_of("").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(default.heal_after, Some(chrono::Duration::minutes(5)));
        let set = policy_of("[heal]\nafter = \"90s\"\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.heal_after, Some(chrono::Duration::seconds(90)));
        let off = policy_of("[heal]\nafter = \"off\"\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(off.heal_after, None);
        let bad = policy_of("[heal]\nafter = \"soon\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(bad.contains("[heal] after"), "{bad}");
    }

    #[test]
    fn the_server_section_is_read_and_checked() {
        let file = parse("[server]\nmax_connections = 64\nrate_limit_per_sec = 0\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.server.max_connections, Some(64));
        assert_eq!(file.server.rate_limit_per_sec, Some(0.0));
        for (text, key) in [
            ("max_connections = 0", "server.max_connections"),
            ("header_timeout_secs = 0", "server.header_timeout_secs"),
            ("max_header_bytes = 100", "server.max_header_bytes"),
            ("rate_limit_per_sec = -1.0", "server.rate_limit_per_sec"),
            ("rate_limit_burst = 0", "server.rate_limit_burst"),
        ] {
            let message = parse(&format!("[server]\n{text}\n"))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(message.contains(key), "{text}: {message}");
        }
        assert!(parse("[server]\nmax_conections = 1\n").is_err(), "a typo");
    }

    #[test]
    fn the_expiry_warning_is_read_and_checked() {
        let policy_of = |text: &str| policy(&parse(text).unwrap_or_else(|e| panic!("{e}")));
        let default = policy_of("").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(default.expiry_warning, Some(chrono::Duration::hours(2)));
        let set =
            policy_of("[notify]\nexpiring_warning = \"30m\"\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.expiry_warning, Some(chrono::Duration::minutes(30)));
        let off =
            policy_of("[notify]\nexpiring_warning = \"0s\"\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(off.expiry_warning, None);
        let bad = policy_of("[notify]\nexpiring_warning = \"soon\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(bad.contains("[notify] expiring_warning"), "{bad}");
    }

    #[cfg(feature = "aws")]
    #[test]
    fn secrets_are_checked_when_the_file_is_read() {
        let arn = "arn:aws:ssm:us-west-2:123456789012:parameter/showtime/key";
        let good = parse(&format!("[ecs.secrets]\nSUPERSET_SECRET_KEY = \"{arn}\"\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            good.ecs
                .secrets
                .get("SUPERSET_SECRET_KEY")
                .map(String::as_str),
            Some(arn)
        );
        for (text, names, says) in [
            (
                "[ecs.secrets]\nDB = \"hunter2\"\n",
                "[ecs.secrets] DB in showtime.toml",
                "not an ARN",
            ),
            (
                "[ecs.secrets]\nDB = \"arn:aws:ssm:us-west-2:1:parameter/x\"\n",
                "[ecs.secrets] DB in showtime.toml",
                "12 digits",
            ),
            (
                &format!("[ecs.secrets]\nSUPERSET_FEATURE_X = \"{arn}\"\n"),
                "[ecs.secrets] SUPERSET_FEATURE_X",
                "set by Showtime",
            ),
            (
                &format!("[ecs.secrets]\n\"A-B\" = \"{arn}\"\n"),
                "[ecs.secrets] A-B",
                "not an environment variable name",
            ),
        ] {
            let err = parse(text).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(names) && err.contains(says), "{text}: {err}");
            assert!(
                !err.contains("hunter2"),
                "a pasted value is not repeated: {err}"
            );
        }
    }

    #[test]
    fn access_by_team_is_read_and_team_names_are_checked() {
        let file = parse(
            "[access]\nallowed_teams = [\"Apache/committers\", \"apache/pmc\"]\n\
             team_quotas = { \"apache/committers\" = 10 }\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let policy = policy(&file).unwrap_or_else(|e| panic!("{e}"));
        let teams: Vec<String> = policy.allowed_teams.iter().map(Team::to_string).collect();
        assert_eq!(teams, ["apache/committers", "apache/pmc"]);
        assert_eq!(
            policy.team_quotas.get(
                &"apache/committers"
                    .parse::<Team>()
                    .unwrap_or_else(|e| panic!("{e}"))
            ),
            Some(&10)
        );
        for bad in [
            "[access]\nallowed_teams = [\"committers\"]\n",
            "[access]\nteam_quotas = { \"apache\" = 3 }\n",
        ] {
            let err = parse(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(
                err.starts_with("showtime.toml:") && err.contains("org/team-slug"),
                "{bad}: {err}"
            );
        }
        let err = parse("[access]\nallowed_team = []\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("allowed_team"), "{err}");
    }

    #[test]
    fn errors_point_at_the_line() {
        let err = parse("dialect = \"seed\"\n\nmax_ttl = \"forever\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("showtime.toml:3:"), "{err}");
        let err = parse("backend = \"ecs\"\nbakend = \"local\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("showtime.toml:2:1"), "{err}");
        assert!(err.contains("bakend"), "{err}");
        let err = parse("backend = \"local\"\npermission = \"owner\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("showtime.toml:2:"), "{err}");
        assert!(err.contains("owner"), "{err}");
    }

    #[test]
    fn flags_beat_variables_beat_the_file() {
        let dir = std::env::temp_dir().join(format!("showtime-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let path = dir.join("showtime.toml");
        std::fs::write(
            &path,
            "backend = \"ecs\"\n[github]\nrepository = \"a/file\"\n",
        )
        .unwrap_or_default();
        let vars: BTreeMap<&str, String> = [
            ("SHOWTIME_CONFIG", path.display().to_string()),
            ("GITHUB_REPOSITORY", "a/env".to_owned()),
            ("SHOWTIME_BACKEND", "local".to_owned()),
        ]
        .into();
        let env = |k: &str| vars.get(k).cloned();
        let s = Settings::resolve(&Overrides::default(), &env).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.repository.as_deref(), Some("a/env"));
        assert_eq!(s.backend, BackendKind::Local);
        let args = Overrides {
            repo: Some("a/flag".into()),
            backend: Some(BackendKind::Ecs),
            ..Overrides::default()
        };
        let s = Settings::resolve(&args, &env).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.repository.as_deref(), Some("a/flag"));
        assert_eq!(s.backend, BackendKind::Ecs);
        let none = |_: &str| None;
        let args = Overrides {
            config: Some(path.clone()),
            ..Overrides::default()
        };
        let s = Settings::resolve(&args, &none).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.repository.as_deref(), Some("a/file"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
