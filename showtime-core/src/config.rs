//! Environment configuration: feature flags, debug mode, size and extras.
//!
//! [`Config`] is the configuration an environment runs with; a
//! [`ConfCommand`] (from a `🎪 conf-…` label or a slash command) changes it
//! without a rebuild. Size names come from a configurable set, [`Sizes`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ValueKind, serde_via_str};

/// A feature flag name: 1 to 40 of `A-Z`, `0-9` and `_`.
///
/// Reaches the environment as `SUPERSET_FEATURE_<NAME>` (or the backend's
/// equivalent), so the grammar is kept to what an environment variable allows.
///
/// ```
/// use showtime_core::FeatureName;
/// assert!("ALERT_REPORTS".parse::<FeatureName>().is_ok());
/// assert!("alerts".parse::<FeatureName>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeatureName(String);

/// The longest feature flag name.
pub const MAX_FEATURE_LEN: usize = 40;

impl FeatureName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Reads a name case-insensitively (`alerts` → `ALERTS`), as label names
    /// and slash commands are case-insensitive.
    pub(crate) fn parse_any_case(s: &str) -> Result<Self, Error> {
        s.to_ascii_uppercase()
            .parse()
            .map_err(|_| Error::invalid(ValueKind::FeatureName, s, FEATURE_EXPECTED))
    }
}

const FEATURE_EXPECTED: &str = "1 to 40 of A-Z, 0-9 and _ (e.g. `ALERT_REPORTS`)";

impl FromStr for FeatureName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let ok = (1..=MAX_FEATURE_LEN).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(FeatureName(s.to_owned()))
        } else {
            Err(Error::invalid(ValueKind::FeatureName, s, FEATURE_EXPECTED))
        }
    }
}

impl fmt::Display for FeatureName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A size name: 1 to 20 of `a-z`, `0-9` and inner `-` (e.g. `large`).
///
/// Whether a size is *offered* is decided by the configured [`Sizes`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SizeName(String);

/// The longest size name.
pub const MAX_SIZE_LEN: usize = 20;

impl SizeName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SizeName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let ok = (1..=MAX_SIZE_LEN).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(SizeName(s.to_owned()))
        } else {
            Err(Error::invalid(
                ValueKind::SizeName,
                s,
                "1 to 20 of a-z, 0-9 and inner hyphens (e.g. `large`)",
            ))
        }
    }
}

impl fmt::Display for SizeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The sizes an environment may be given; `small`, `medium`, `large` and
/// `xlarge` unless configured otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sizes(Vec<SizeName>);

impl Sizes {
    /// A set of sizes; duplicates are dropped, order is kept for messages.
    pub fn new(sizes: impl IntoIterator<Item = SizeName>) -> Self {
        let mut out: Vec<SizeName> = Vec::new();
        for size in sizes {
            if !out.contains(&size) {
                out.push(size);
            }
        }
        Sizes(out)
    }

    /// Looks `name` up, case-insensitively; the error lists the offered sizes.
    pub fn get(&self, name: &str) -> Result<SizeName, Error> {
        let lower = name.to_ascii_lowercase();
        self.0
            .iter()
            .find(|s| s.as_str() == lower)
            .cloned()
            .ok_or_else(|| Error::UnknownSize {
                input: crate::error::excerpt(name),
                valid: self.to_string(),
            })
    }

    /// Whether `size` is offered.
    pub fn contains(&self, size: &SizeName) -> bool {
        self.0.contains(size)
    }

    /// The offered sizes, in configured order.
    pub fn iter(&self) -> impl Iterator<Item = &SizeName> {
        self.0.iter()
    }
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes(
            ["small", "medium", "large", "xlarge"]
                .into_iter()
                .map(|s| SizeName(s.to_owned()))
                .collect(),
        )
    }
}

impl fmt::Display for Sizes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(SizeName::as_str).collect();
        f.write_str(&names.join(", "))
    }
}

/// The configuration an environment runs with.
///
/// The default (no flags, no debug, default size) is what a plain start gives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Feature flags set explicitly, on (`true`) or off (`false`).
    #[serde(default)]
    pub features: BTreeMap<FeatureName, bool>,
    /// Debug mode: verbose logging and the application's debug settings.
    #[serde(default)]
    pub debug: bool,
    /// The size, when not the backend's default.
    #[serde(default)]
    pub size: Option<SizeName>,
    /// Start without loading example data.
    #[serde(default)]
    pub no_examples: bool,
    /// Use Redis as the cache.
    #[serde(default)]
    pub cache_redis: bool,
}

impl Config {
    /// Applies one configuration command.
    ///
    /// `toggle-X` flips a flag that is set and turns on one that is not.
    pub fn apply(&mut self, command: &ConfCommand) {
        match command {
            ConfCommand::Enable(name) => {
                self.features.insert(name.clone(), true);
            }
            ConfCommand::Disable(name) => {
                self.features.insert(name.clone(), false);
            }
            ConfCommand::Toggle(name) => {
                let on = self.features.get(name).copied().unwrap_or(false);
                self.features.insert(name.clone(), !on);
            }
            ConfCommand::Debug(on) => self.debug = *on,
            ConfCommand::Size(size) => self.size = Some(size.clone()),
            ConfCommand::NoExamples => self.no_examples = true,
            ConfCommand::CacheRedis => self.cache_redis = true,
        }
    }

    /// Whether nothing is configured.
    pub fn is_default(&self) -> bool {
        *self == Config::default()
    }
}

/// A change to an environment's configuration, as a `🎪 conf-<command>`
/// label carries it: `enable-X`, `disable-X`, `toggle-X`, `debug-on`,
/// `debug-off`, `size-<name>`, `no-examples`, `cache-redis`.
///
/// ```
/// use showtime_core::ConfCommand;
/// let cmd: ConfCommand = "enable-ALERTS".parse().unwrap();
/// assert_eq!(cmd.to_string(), "enable-ALERTS");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConfCommand {
    /// Turn a feature flag on.
    Enable(FeatureName),
    /// Turn a feature flag off.
    Disable(FeatureName),
    /// Flip a feature flag.
    Toggle(FeatureName),
    /// Debug mode on (`true`) or off.
    Debug(bool),
    /// Resize the environment.
    Size(SizeName),
    /// Skip loading example data.
    NoExamples,
    /// Use Redis as the cache.
    CacheRedis,
}

const CONF_EXPECTED: &str = "one of `enable-<FLAG>`, `disable-<FLAG>`, `toggle-<FLAG>`, \
                             `debug-on`, `debug-off`, `size-<name>`, `no-examples`, `cache-redis`";

impl FromStr for ConfCommand {
    type Err = Error;

    /// Reads a command case-insensitively, as label names are.
    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = || Error::invalid(ValueKind::ConfCommand, s, CONF_EXPECTED);
        let lower = s.to_ascii_lowercase();
        let feature = |rest: &str| FeatureName::parse_any_case(rest).map_err(|_| invalid());
        match lower.as_str() {
            "debug-on" => return Ok(ConfCommand::Debug(true)),
            "debug-off" => return Ok(ConfCommand::Debug(false)),
            "no-examples" => return Ok(ConfCommand::NoExamples),
            "cache-redis" => return Ok(ConfCommand::CacheRedis),
            _ => {}
        }
        if let Some(rest) = lower.strip_prefix("enable-") {
            Ok(ConfCommand::Enable(feature(rest)?))
        } else if let Some(rest) = lower.strip_prefix("disable-") {
            Ok(ConfCommand::Disable(feature(rest)?))
        } else if let Some(rest) = lower.strip_prefix("toggle-") {
            Ok(ConfCommand::Toggle(feature(rest)?))
        } else if let Some(rest) = lower.strip_prefix("size-") {
            Ok(ConfCommand::Size(rest.parse().map_err(|_| invalid())?))
        } else {
            Err(invalid())
        }
    }
}

impl fmt::Display for ConfCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfCommand::Enable(name) => write!(f, "enable-{name}"),
            ConfCommand::Disable(name) => write!(f, "disable-{name}"),
            ConfCommand::Toggle(name) => write!(f, "toggle-{name}"),
            ConfCommand::Debug(true) => f.write_str("debug-on"),
            ConfCommand::Debug(false) => f.write_str("debug-off"),
            ConfCommand::Size(size) => write!(f, "size-{size}"),
            ConfCommand::NoExamples => f.write_str("no-examples"),
            ConfCommand::CacheRedis => f.write_str("cache-redis"),
        }
    }
}

serde_via_str!(FeatureName);
serde_via_str!(SizeName);
serde_via_str!(ConfCommand);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_names_are_strict_but_read_any_case() {
        assert!("A".parse::<FeatureName>().is_ok());
        assert!("A".repeat(41).parse::<FeatureName>().is_err());
        assert!("ALERTS-X".parse::<FeatureName>().is_err());
        assert_eq!(
            FeatureName::parse_any_case("alerts").unwrap().as_str(),
            "ALERTS"
        );
    }

    #[test]
    fn unknown_size_lists_the_offered_ones() {
        let err = Sizes::default().get("huge").unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown size `huge`: expected one of small, medium, large, xlarge"
        );
        assert_eq!(Sizes::default().get("LARGE").unwrap().as_str(), "large");
    }

    #[test]
    fn conf_commands_round_trip_and_apply() {
        let mut config = Config::default();
        for text in [
            "enable-ALERTS",
            "disable-DASHBOARD_RBAC",
            "toggle-SSH_TUNNELING",
            "debug-on",
            "size-large",
            "no-examples",
            "cache-redis",
        ] {
            let cmd: ConfCommand = text.parse().unwrap();
            assert_eq!(cmd.to_string(), text);
            config.apply(&cmd);
        }
        assert_eq!(config.features.len(), 3);
        assert!(config.features[&"SSH_TUNNELING".parse::<FeatureName>().unwrap()]);
        assert!(config.debug && config.no_examples && config.cache_redis);
        config.apply(&ConfCommand::Debug(false));
        assert!(!config.debug);
    }

    #[test]
    fn bad_conf_commands_say_what_is_valid() {
        for bad in [
            "enable-",
            "enable-A-B",
            "size-",
            "debug-maybe",
            "explode",
            "",
        ] {
            let err = bad.parse::<ConfCommand>().unwrap_err().to_string();
            assert!(err.contains("debug-on"), "{bad}: {err}");
        }
    }
}
