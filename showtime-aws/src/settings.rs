//! Settings of the ECS backend: where environments run and how they are
//! shaped.
//!
//! This module owns [`EcsSettings`] (with its defaults and its reading from
//! `SHOWTIME_*` environment variables), the size table (names to a
//! [`Size`], which the template module owns) and the small choices
//! ([`Capacity`], [`AddressKind`]). It validates what it reads
//! and names the variable at fault; it makes no AWS call and keeps no
//! credentials (those come from the AWS credential chain).

use std::collections::BTreeMap;
use std::time::Duration;

use showtime_core::Sha;
use showtime_core::ports::EnvId;

use crate::error::AwsError;
use crate::secrets::Secrets;
use crate::template;
pub use crate::template::Size;

/// Which Fargate capacity runs the tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Capacity {
    /// On-demand Fargate (launch type `FARGATE`).
    #[default]
    Fargate,
    /// Fargate Spot (capacity provider `FARGATE_SPOT`): cheaper, may be
    /// interrupted. The cluster must have the provider attached.
    FargateSpot,
}

/// Which address of the task's network interface an environment is reached
/// at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AddressKind {
    /// The public IPv4 address (needs `assign_public_ip` and a public subnet).
    #[default]
    Public,
    /// The private IPv4 address (for runners inside the VPC).
    Private,
}

/// Where and how the backend runs environments.
///
/// [`EcsSettings::default`] is the superset-showtime setup (cluster and ECR
/// repository `superset-ci`, Superset on port 8080) without the network,
/// which has no sensible default: set [`subnets`](Self::subnets) and
/// [`security_groups`](Self::security_groups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsSettings {
    /// The AWS region; `None` takes the SDK's (`AWS_REGION`, the profile).
    pub region: Option<String>,
    /// The ECS cluster (default `superset-ci`).
    pub cluster: String,
    /// The subnets of the tasks (required to deploy).
    pub subnets: Vec<String>,
    /// The security groups of the tasks; they must admit
    /// [`container_port`](Self::container_port) from wherever health checks
    /// and users come.
    pub security_groups: Vec<String>,
    /// Whether tasks get a public IP (default `true`).
    pub assign_public_ip: bool,
    /// Which address to report (default public).
    pub address: AddressKind,
    /// Fargate or Fargate Spot (default Fargate).
    pub capacity: Capacity,
    /// The ECR repository whose `pr-{n}-{sha7}-ci` image tags are deleted
    /// with their environment (default `superset-ci`).
    pub ecr_repository: String,
    /// The image to run when the deploy request names none:
    /// `{repository}` ([`ecr_repository`](Self::ecr_repository)), `{tag}`
    /// (`pr-{n}-{sha7}-ci`), `{pr}`, `{sha}` (full) and `{sha7}` are
    /// replaced. Default `{repository}:{tag}`; for ECR give the registry,
    /// e.g. `123456789012.dkr.ecr.us-west-2.amazonaws.com/{repository}:{tag}`.
    pub image_template: String,
    /// The container that gets the image and the environment variables;
    /// `None` is the template's first container.
    pub container_name: Option<String>,
    /// The port the application listens on (default 8080).
    pub container_port: u16,
    /// The paths tried, in order, by the HTTP health check (default
    /// `/health`, then `/`); any 2xx or 3xx passes. Empty: no HTTP check.
    pub health_paths: Vec<String>,
    /// The offered sizes by name.
    pub sizes: BTreeMap<String, Size>,
    /// The size used when the configuration names none (default `medium`).
    pub default_size: String,
    /// The task definition template as JSON text; `None` is the shipped
    /// Superset template ([`DEFAULT_TEMPLATE`](crate::DEFAULT_TEMPLATE)).
    pub task_definition_template: Option<String>,
    /// The prefix of feature-flag variables (default `SUPERSET_FEATURE_`).
    pub feature_prefix: String,
    /// Variables whose values ECS reads from SSM Parameter Store or Secrets
    /// Manager when a task starts (`[ecs.secrets]`); Showtime passes only
    /// their ARNs. Default none.
    pub secrets: Secrets,
    /// How long [`wait_ready`](showtime_core::ports::Backend::wait_ready)
    /// waits for the service and its address (default 15 minutes).
    pub ready_timeout: Duration,
    /// The pause between two polls of ECS (default 10 seconds).
    pub poll_interval: Duration,
    /// How long a deploy waits for a same-named service that is still being
    /// deleted (default 5 minutes).
    pub draining_timeout: Duration,
    /// How many HTTP health-check rounds are tried (default 30; 0: no HTTP
    /// check).
    pub health_attempts: u32,
    /// The pause between two health-check rounds (default 10 seconds).
    pub health_interval: Duration,
}

/// Fills an image template: `{repository}`, `{tag}` (`pr-{n}-{sha7}-ci`),
/// `{pr}`, `{sha}` (full) and `{sha7}`. The one place these placeholders are
/// read, for [`EcsSettings::image_template`] and for image builders that
/// name the images the backend will run.
pub fn fill_image(template: &str, repository: &str, id: &EnvId, sha: &Sha) -> String {
    template
        .replace("{repository}", repository)
        .replace("{tag}", &id.image_tag())
        .replace("{pr}", &id.pr.to_string())
        .replace("{sha7}", id.sha.as_str())
        .replace("{sha}", sha.as_str())
}

/// The default size table: `small` 512/1024, `medium` 1024/2048, `large`
/// 2048/4096, `xlarge` 4096/8192 (CPU units / MiB), all valid Fargate pairs.
pub fn default_sizes() -> BTreeMap<String, Size> {
    [
        ("small", 512, 1024),
        ("medium", 1024, 2048),
        ("large", 2048, 4096),
        ("xlarge", 4096, 8192),
    ]
    .into_iter()
    .map(|(name, cpu, memory)| (name.to_owned(), Size { cpu, memory }))
    .collect()
}

impl Default for EcsSettings {
    fn default() -> Self {
        EcsSettings {
            region: None,
            cluster: "superset-ci".to_owned(),
            subnets: Vec::new(),
            security_groups: Vec::new(),
            assign_public_ip: true,
            address: AddressKind::Public,
            capacity: Capacity::Fargate,
            ecr_repository: "superset-ci".to_owned(),
            image_template: "{repository}:{tag}".to_owned(),
            container_name: None,
            container_port: 8080,
            health_paths: vec!["/health".to_owned(), "/".to_owned()],
            sizes: default_sizes(),
            default_size: "medium".to_owned(),
            task_definition_template: None,
            feature_prefix: "SUPERSET_FEATURE_".to_owned(),
            secrets: Secrets::default(),
            ready_timeout: Duration::from_secs(15 * 60),
            poll_interval: Duration::from_secs(10),
            draining_timeout: Duration::from_secs(5 * 60),
            health_attempts: 30,
            health_interval: Duration::from_secs(10),
        }
    }
}

impl EcsSettings {
    /// The image of environment `id` at `sha`, from
    /// [`image_template`](Self::image_template) and
    /// [`ecr_repository`](Self::ecr_repository).
    pub fn image(&self, id: &EnvId, sha: &Sha) -> String {
        fill_image(&self.image_template, &self.ecr_repository, id, sha)
    }

    /// Reads settings through `lookup` (usually `|k| std::env::var(k).ok()`),
    /// starting from the defaults. Unset or blank variables keep the default.
    ///
    /// | variable | meaning |
    /// | --- | --- |
    /// | `AWS_REGION` | region |
    /// | `SHOWTIME_ECS_CLUSTER` | cluster |
    /// | `SHOWTIME_ECS_SUBNETS` | subnets, comma-separated |
    /// | `SHOWTIME_ECS_SECURITY_GROUPS` | security groups, comma-separated |
    /// | `SHOWTIME_ECS_CAPACITY` | `fargate` or `fargate-spot` |
    /// | `SHOWTIME_ECS_ADDRESS` | `public` or `private` |
    /// | `SHOWTIME_ECR_REPOSITORY` | ECR repository |
    /// | `SHOWTIME_IMAGE_TEMPLATE` | image template |
    /// | `SHOWTIME_CONTAINER_PORT` | port, 1-65535 |
    /// | `SHOWTIME_HEALTH_PATH` | health-check paths, comma-separated, each starting with `/` |
    /// | `SHOWTIME_TASK_DEFINITION` | path of a task definition template (JSON), read and checked now |
    /// | `SHOWTIME_READY_TIMEOUT` | readiness timeout in seconds |
    ///
    /// A bad value is [`AwsError::Setting`] naming the variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, AwsError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut s = EcsSettings::default();
        if let Some(region) = get("AWS_REGION") {
            s.region = Some(region);
        }
        if let Some(cluster) = get("SHOWTIME_ECS_CLUSTER") {
            s.cluster = cluster;
        }
        if let Some(subnets) = get("SHOWTIME_ECS_SUBNETS") {
            s.subnets = split_list(&subnets);
        }
        if let Some(groups) = get("SHOWTIME_ECS_SECURITY_GROUPS") {
            s.security_groups = split_list(&groups);
        }
        if let Some(capacity) = get("SHOWTIME_ECS_CAPACITY") {
            s.capacity = match capacity.to_ascii_lowercase().as_str() {
                "fargate" => Capacity::Fargate,
                "fargate-spot" | "fargate_spot" => Capacity::FargateSpot,
                _ => {
                    return Err(setting(
                        "SHOWTIME_ECS_CAPACITY",
                        format!("`{capacity}` is not `fargate` or `fargate-spot`"),
                    ));
                }
            };
        }
        if let Some(address) = get("SHOWTIME_ECS_ADDRESS") {
            s.address = match address.to_ascii_lowercase().as_str() {
                "public" => AddressKind::Public,
                "private" => AddressKind::Private,
                _ => {
                    return Err(setting(
                        "SHOWTIME_ECS_ADDRESS",
                        format!("`{address}` is not `public` or `private`"),
                    ));
                }
            };
        }
        if let Some(repository) = get("SHOWTIME_ECR_REPOSITORY") {
            s.ecr_repository = repository;
        }
        if let Some(image) = get("SHOWTIME_IMAGE_TEMPLATE") {
            s.image_template = image;
        }
        if let Some(port) = get("SHOWTIME_CONTAINER_PORT") {
            s.container_port = port.parse().ok().filter(|p| *p > 0).ok_or_else(|| {
                setting(
                    "SHOWTIME_CONTAINER_PORT",
                    format!("`{port}` is not a port number from 1 to 65535"),
                )
            })?;
        }
        if let Some(paths) = get("SHOWTIME_HEALTH_PATH") {
            let paths = split_list(&paths);
            if let Some(bad) = paths.iter().find(|p| !valid_path(p)) {
                return Err(setting(
                    "SHOWTIME_HEALTH_PATH",
                    format!(
                        "`{bad}` is not an HTTP path: give paths starting with `/`, without \
                         spaces, separated by commas (e.g. `/health,/`)"
                    ),
                ));
            }
            s.health_paths = paths;
        }
        if let Some(path) = get("SHOWTIME_TASK_DEFINITION") {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                setting(
                    "SHOWTIME_TASK_DEFINITION",
                    format!("cannot read the task definition template `{path}`: {e}"),
                )
            })?;
            template::check(&text).map_err(|e| {
                setting(
                    "SHOWTIME_TASK_DEFINITION",
                    format!("the task definition template `{path}` is not usable: {e}"),
                )
            })?;
            s.task_definition_template = Some(text);
        }
        if let Some(secs) = get("SHOWTIME_READY_TIMEOUT") {
            let secs: u64 = secs.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                setting(
                    "SHOWTIME_READY_TIMEOUT",
                    format!("`{secs}` is not a whole number of seconds above 0 (e.g. `900`)"),
                )
            })?;
            s.ready_timeout = Duration::from_secs(secs);
        }
        Ok(s)
    }

    /// The size called `name`, or [`AwsError::InvalidParameter`] listing the
    /// offered sizes.
    pub fn size(&self, name: &str) -> Result<Size, AwsError> {
        self.sizes
            .get(name)
            .copied()
            .ok_or_else(|| AwsError::InvalidParameter {
                operation: "ecs:RegisterTaskDefinition".to_owned(),
                message: format!(
                    "unknown size `{name}`: this backend offers {}; pick one of them \
                     (or add it to the size table)",
                    self.size_names()
                ),
            })
    }

    /// The offered size names, comma-separated, for messages.
    pub fn size_names(&self) -> String {
        let names: Vec<&str> = self.sizes.keys().map(String::as_str).collect();
        names.join(", ")
    }
}

fn setting(name: &str, message: String) -> AwsError {
    AwsError::Setting {
        name: name.to_owned(),
        message,
    }
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn valid_path(path: &str) -> bool {
    path.starts_with('/') && path.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_match_superset_showtime() {
        let s = EcsSettings::from_lookup(lookup(&[])).unwrap();
        assert_eq!(s, EcsSettings::default());
        assert_eq!(s.cluster, "superset-ci");
        assert_eq!(
            s.sizes["medium"],
            Size {
                cpu: 1024,
                memory: 2048
            }
        );
        assert_eq!(s.health_paths, ["/health", "/"]);
    }

    #[test]
    fn variables_are_read() {
        let s = EcsSettings::from_lookup(lookup(&[
            ("AWS_REGION", "eu-west-1"),
            ("SHOWTIME_ECS_CLUSTER", "previews"),
            ("SHOWTIME_ECS_SUBNETS", "subnet-a, subnet-b,"),
            ("SHOWTIME_ECS_SECURITY_GROUPS", "sg-1"),
            ("SHOWTIME_ECS_CAPACITY", "fargate-spot"),
            ("SHOWTIME_ECS_ADDRESS", "Private"),
            ("SHOWTIME_CONTAINER_PORT", "8088"),
            ("SHOWTIME_HEALTH_PATH", "/healthz"),
            ("SHOWTIME_READY_TIMEOUT", "600"),
            ("SHOWTIME_ECR_REPOSITORY", " "),
        ]))
        .unwrap();
        assert_eq!(s.region.as_deref(), Some("eu-west-1"));
        assert_eq!(s.cluster, "previews");
        assert_eq!(s.subnets, ["subnet-a", "subnet-b"]);
        assert_eq!(s.capacity, Capacity::FargateSpot);
        assert_eq!(s.address, AddressKind::Private);
        assert_eq!(s.container_port, 8088);
        assert_eq!(s.health_paths, ["/healthz"]);
        assert_eq!(s.ready_timeout, Duration::from_secs(600));
        assert_eq!(s.ecr_repository, "superset-ci", "blank keeps the default");
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("SHOWTIME_ECS_CAPACITY", "ec2"),
            ("SHOWTIME_ECS_ADDRESS", "ipv6"),
            ("SHOWTIME_CONTAINER_PORT", "0"),
            ("SHOWTIME_CONTAINER_PORT", "http"),
            ("SHOWTIME_HEALTH_PATH", "health"),
            ("SHOWTIME_READY_TIMEOUT", "15m"),
            (
                "SHOWTIME_TASK_DEFINITION",
                "/nonexistent/showtime-task.json",
            ),
        ] {
            let err = EcsSettings::from_lookup(lookup(&[(name, value)])).unwrap_err();
            assert!(
                matches!(&err, AwsError::Setting { name: n, .. } if n == name),
                "{name}: {err:?}"
            );
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn a_template_file_is_read_and_checked() {
        let dir = std::env::temp_dir().join(format!("showtime-aws-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.json");
        std::fs::write(&good, crate::DEFAULT_TEMPLATE).unwrap();
        let bad = dir.join("bad.json");
        std::fs::write(&bad, "{\"containerDefinitions\": []}").unwrap();
        let s = EcsSettings::from_lookup(lookup(&[(
            "SHOWTIME_TASK_DEFINITION",
            good.to_str().unwrap(),
        )]))
        .unwrap();
        assert_eq!(
            s.task_definition_template.as_deref(),
            Some(crate::DEFAULT_TEMPLATE)
        );
        let err = EcsSettings::from_lookup(lookup(&[(
            "SHOWTIME_TASK_DEFINITION",
            bad.to_str().unwrap(),
        )]))
        .unwrap_err();
        assert!(err.to_string().contains("container"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_sizes_list_the_offered_ones() {
        let err = EcsSettings::default().size("huge").unwrap_err().to_string();
        assert!(err.contains("large, medium, small, xlarge"), "{err}");
    }
}
