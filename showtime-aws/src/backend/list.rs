//! Listing and ownership: what makes a service Showtime's (its name and the
//! tags written at deploy), and the environments found in the cluster.
//! Its AWS calls only read: it must not change a service, Showtime's or not.

use aws_sdk_ecs::types::{Service, ServiceField, Tag};
use chrono::{DateTime, SecondsFormat, Utc};
use showtime_core::ports::{EnvId, EnvInfo, EnvSpec, Health};
use showtime_core::{Config, Login, PrNumber};

use super::EcsBackend;
use super::ready::{Rollout, rollout};
use crate::error::AwsError;

/// The tag that marks a resource as Showtime's (value `true`).
pub const MANAGED_TAG: &str = "showtime_managed";
/// The tag with the PR number.
pub const PR_TAG: &str = "showtime_pr";
/// The tag with the full commit SHA.
pub const SHA_TAG: &str = "showtime_sha";
/// The tag with who asked for the environment (`name[bot]` is written
/// `name@bot`: ECS tag values do not allow brackets).
pub const REQUESTED_BY_TAG: &str = "showtime_requested_by";
/// The tag with the creation time (RFC 3339, UTC).
pub const CREATED_TAG: &str = "showtime_created";
/// The tag with the expiry time (RFC 3339, UTC), absent without a TTL.
pub const EXPIRES_TAG: &str = "showtime_expires";
/// The tag with the configuration the environment runs with, as
/// space-separated words: `debug`, `no-examples`, `cache-redis`,
/// `size=NAME`, `+FEATURE` (on) and `-FEATURE` (off); `default` when none
/// applies. What does not fit one tag value (256 characters) continues in
/// `showtime_config_2`, `showtime_config_3` and so on.
pub const CONFIG_TAG: &str = "showtime_config";

/// The longest ECS tag value.
const TAG_VALUE_MAX: usize = 256;

impl EcsBackend {
    /// Reads a service name of the form `pr-{n}-{sha7}-service` exactly;
    /// anything else is not Showtime's.
    pub fn parse_service_name(name: &str) -> Option<EnvId> {
        let base = name.strip_suffix("-service")?;
        EnvId::parse_name(base).filter(|id| id.name() == base)
    }

    /// Whether a described service is Showtime's: tagged
    /// `showtime_managed=true` and named `pr-{n}-{sha7}-service`.
    pub fn is_managed(service: &Service) -> bool {
        service
            .service_name()
            .and_then(Self::parse_service_name)
            .is_some()
            && tag(service.tags(), MANAGED_TAG) == Some("true")
    }

    /// The tags that mark what is created for `spec` as Showtime's: put on
    /// its task definition and its service.
    pub(super) fn showtime_tags(spec: &EnvSpec) -> Vec<Tag> {
        let mut tags = vec![
            new_tag(MANAGED_TAG, "true"),
            new_tag(PR_TAG, &spec.id.pr.to_string()),
            new_tag(SHA_TAG, spec.sha.as_str()),
            new_tag(CREATED_TAG, &rfc3339(spec.created_at)),
        ];
        if let Some(login) = &spec.requested_by {
            tags.push(new_tag(REQUESTED_BY_TAG, &encode_login(login)));
        }
        if let Some(expires) = spec.expires_at {
            tags.push(new_tag(EXPIRES_TAG, &rfc3339(expires)));
        }
        tags.extend(config_tags(&spec.config));
        tags
    }

    /// List: see [`Backend::list`](showtime_core::ports::Backend::list).
    pub(super) async fn environments(
        &self,
        pr: Option<PrNumber>,
    ) -> Result<Vec<EnvInfo>, AwsError> {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .ecs
                .list_services()
                .cluster(&self.settings.cluster)
                .max_results(100)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| self.sdk("ecs:ListServices", e))?;
            for arn in out.service_arns() {
                let name = arn.rsplit('/').next().unwrap_or(arn);
                if let Some(id) = Self::parse_service_name(name) {
                    if pr.is_none_or(|pr| pr == id.pr) {
                        names.push(name.to_owned());
                    }
                }
            }
            token = out.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        let mut envs = Vec::new();
        for chunk in names.chunks(10) {
            let out = self
                .ecs
                .describe_services()
                .cluster(&self.settings.cluster)
                .set_services(Some(chunk.to_vec()))
                .include(ServiceField::Tags)
                .send()
                .await
                .map_err(|e| self.sdk("ecs:DescribeServices", e))?;
            for service in out.services() {
                if service.status() != Some("ACTIVE") || !Self::is_managed(service) {
                    continue;
                }
                if let Some(mut info) = env_info(service) {
                    // Two more reads, only for a service whose tasks die.
                    if super::crashes::lost_tasks(service) {
                        info.health = self.crash_health(service).await?;
                    }
                    envs.push(info);
                }
            }
        }
        envs.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(envs)
    }
}

/// The key of the `n`th (from 1) tag of the configuration.
fn config_key(n: usize) -> String {
    if n <= 1 {
        CONFIG_TAG.to_owned()
    } else {
        format!("{CONFIG_TAG}_{n}")
    }
}

/// Whether `key` is one of the configuration's tags.
pub(super) fn is_config_key(key: &str) -> bool {
    key == CONFIG_TAG
        || key
            .strip_prefix(CONFIG_TAG)
            .and_then(|rest| rest.strip_prefix('_'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The tags that record `config` ([`CONFIG_TAG`]).
pub(super) fn config_tags(config: &Config) -> Vec<Tag> {
    let mut words = Vec::new();
    if config.debug {
        words.push("debug".to_owned());
    }
    if config.no_examples {
        words.push("no-examples".to_owned());
    }
    if config.cache_redis {
        words.push("cache-redis".to_owned());
    }
    if let Some(size) = &config.size {
        words.push(format!("size={size}"));
    }
    for (name, on) in &config.features {
        words.push(format!("{}{name}", if *on { '+' } else { '-' }));
    }
    if words.is_empty() {
        words.push("default".to_owned());
    }
    let mut values: Vec<String> = Vec::new();
    for word in words {
        match values.last_mut() {
            Some(last) if last.len() + 1 + word.len() <= TAG_VALUE_MAX => {
                last.push(' ');
                last.push_str(&word);
            }
            _ => values.push(word),
        }
    }
    values
        .iter()
        .enumerate()
        .map(|(i, v)| new_tag(&config_key(i + 1), v))
        .collect()
}

/// The configuration recorded in `tags`; [`Config::default`] when there is
/// none. Words it does not know are skipped.
pub(super) fn config_from_tags(tags: &[Tag]) -> Config {
    let mut config = Config::default();
    let mut n = 1;
    while let Some(value) = tag(tags, &config_key(n)) {
        for word in value.split_whitespace() {
            match word {
                "debug" => config.debug = true,
                "no-examples" => config.no_examples = true,
                "cache-redis" => config.cache_redis = true,
                _ => {
                    if let Some(size) = word.strip_prefix("size=") {
                        config.size = size.parse().ok().or(config.size);
                    } else if let Some(name) = word.strip_prefix('+') {
                        if let Ok(name) = name.parse() {
                            config.features.insert(name, true);
                        }
                    } else if let Some(name) = word.strip_prefix('-') {
                        if let Ok(name) = name.parse() {
                            config.features.insert(name, false);
                        }
                    }
                }
            }
        }
        n += 1;
    }
    config
}

fn new_tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

pub(super) fn tag<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `name[bot]` → `name@bot`: ECS tag values allow `@` but not brackets.
fn encode_login(login: &Login) -> String {
    match login.as_str().strip_suffix("[bot]") {
        Some(name) => format!("{name}@bot"),
        None => login.as_str().to_owned(),
    }
}

fn decode_login(text: &str) -> Option<Login> {
    match text.strip_suffix("@bot") {
        Some(name) => format!("{name}[bot]").parse().ok(),
        None => text.parse().ok(),
    }
}

fn env_info(service: &Service) -> Option<EnvInfo> {
    let id = EcsBackend::parse_service_name(service.service_name()?)?;
    let health = match rollout(service) {
        // Scaled to zero on purpose (ACTIVE, no task wanted): asleep.
        _ if service.desired_count() == 0 => Health::Asleep,
        Rollout::Ready => Health::Healthy,
        Rollout::Failed(reason) => Health::Failed { reason },
        Rollout::Pending(_) => Health::Starting,
    };
    let created_at = tag(service.tags(), CREATED_TAG)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            service
                .created_at()
                .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()))
        })
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    Some(EnvInfo {
        id,
        health,
        address: None,
        created_at,
        requested_by: tag(service.tags(), REQUESTED_BY_TAG).and_then(decode_login),
        config: config_from_tags(service.tags()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_parse_exactly() {
        let id = EnvId::parse_name("pr-42-abc123f").unwrap();
        assert_eq!(EcsBackend::service_name(&id), "pr-42-abc123f-service");
        assert_eq!(
            EcsBackend::parse_service_name("pr-42-abc123f-service"),
            Some(id)
        );
        for bad in [
            "pr-42-abc123f",
            "pr-42-abc123f-service-x",
            "pr-42-abc123f-svc",
            "pr-042-abc123f-service",
            "pr-+42-abc123f-service",
            "pr-42-abc123-service",
            "xpr-42-abc123f-service",
            "superset-ci-service",
        ] {
            assert!(EcsBackend::parse_service_name(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn configurations_survive_tags() {
        let mut config = Config {
            debug: true,
            cache_redis: true,
            size: Some("large".parse().unwrap()),
            ..Config::default()
        };
        config.features.insert("ALERTS".parse().unwrap(), true);
        config
            .features
            .insert("DASHBOARD_RBAC".parse().unwrap(), false);
        let tags = config_tags(&config);
        assert_eq!(tags.len(), 1);
        assert_eq!(
            tags[0].value(),
            Some("debug cache-redis size=large +ALERTS -DASHBOARD_RBAC")
        );
        assert_eq!(config_from_tags(&tags), config);
        assert_eq!(config_tags(&Config::default())[0].value(), Some("default"));
        assert_eq!(config_from_tags(&[]), Config::default());

        // Many features spread over several tags, each value short enough.
        let mut many = Config::default();
        for i in 0..40 {
            many.features.insert(
                format!("FEATURE_NUMBER_{i:02}_{}", "X".repeat(20))
                    .parse()
                    .unwrap(),
                i % 2 == 0,
            );
        }
        let tags = config_tags(&many);
        assert!(tags.len() > 1);
        assert!(
            tags.iter()
                .all(|t| t.value().unwrap().len() <= TAG_VALUE_MAX)
        );
        assert!(tags.iter().all(|t| is_config_key(t.key().unwrap())));
        assert_eq!(tags[1].key(), Some("showtime_config_2"));
        assert_eq!(config_from_tags(&tags), many);
        assert!(!is_config_key("showtime_config_"));
        assert!(!is_config_key("showtime_configx"));
    }

    #[test]
    fn logins_survive_tags() {
        for login in ["maxime", "dependabot[bot]"] {
            let login: Login = login.parse().unwrap();
            let encoded = encode_login(&login);
            assert!(!encoded.contains('['));
            assert_eq!(decode_login(&encoded), Some(login));
        }
    }
}
