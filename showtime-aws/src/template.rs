//! Task definitions: from the JSON template (or a running revision) to a
//! `RegisterTaskDefinition` request, with the image, environment variables
//! and size of one environment.
//!
//! This module owns the template format (a subset of ECS's own task
//! definition JSON, see [`SUPPORTED`]), its placeholders, the task [`Size`],
//! and the rules that turn a [`Config`] into environment variables. It does
//! not read the backend's settings (they reach it as values) and makes no
//! AWS call: it builds values that [`crate::EcsBackend`] sends. It must not
//! drop a field it does not understand silently: a non-empty unsupported
//! field is an error naming it.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, CpuArchitecture, EphemeralStorage, KeyValuePair,
    LogConfiguration, LogDriver, NetworkMode, OsFamily, PortMapping, RuntimePlatform, Secret, Tag,
    TaskDefinition, TransportProtocol, Volume,
};
use serde::Deserialize;
use serde_json::Value;
use showtime_core::Config;

use crate::error::AwsError;

/// The shipped template: Superset on port 8080, modelled on
/// superset-showtime's task definition (SQLite examples, no Talisman, logs
/// to CloudWatch group `/ecs/superset-ci`, roles `ecsTaskExecutionRole`).
///
/// Placeholders in string values: `{region}`, `{cluster}`, `{name}`
/// (`pr-{n}-{sha7}`), `{pr}`, `{sha}`, `{sha7}` and `{port}` (the container
/// port; also accepted as a number field's value).
pub const DEFAULT_TEMPLATE: &str = include_str!("../templates/superset-task-definition.json");

/// The template fields this backend maps onto `RegisterTaskDefinition`.
/// Others are accepted only when empty (`[]`, `{}`, `null`, `""`, `0`).
/// `family`, `cpu` and `memory` are accepted and replaced (by `pr-{n}-{sha7}`
/// and the environment's size); `image` is replaced in the chosen container.
pub const SUPPORTED: &str = "family, taskRoleArn, executionRoleArn, networkMode, \
    requiresCompatibilities, cpu, memory, runtimePlatform{cpuArchitecture, \
    operatingSystemFamily}, ephemeralStorage{sizeInGiB}, tags[key, value], \
    containerDefinitions[name, image, essential, cpu, memory, memoryReservation, \
    portMappings[containerPort, hostPort, protocol, name], environment[name, value], \
    secrets[name, valueFrom], command, entryPoint, workingDirectory, \
    logConfiguration{logDriver, options}]";

/// Names of environment variables that the configuration sets, besides the
/// feature flags; [`reset_config_env`] restores them from the template.
const CONFIG_VARS: &[&str] = &[
    "SUPERSET_LOG_LEVEL",
    "FLASK_DEBUG",
    "SUPERSET_LOAD_EXAMPLES",
    "SHOWTIME_CACHE",
];

/// The task size of an environment: Fargate CPU units and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Size {
    /// CPU units (1024 = one vCPU).
    pub cpu: u32,
    /// Memory in MiB.
    pub memory: u32,
}

/// Values substituted for the template's placeholders.
#[derive(Debug, Clone)]
pub(crate) struct Vars {
    pub region: Option<String>,
    pub cluster: String,
    pub name: String,
    pub pr: String,
    pub sha: String,
    pub sha7: String,
    pub port: u16,
}

impl Vars {
    fn substitute(&self, text: &str) -> Result<String, AwsError> {
        if !text.contains('{') {
            return Ok(text.to_owned());
        }
        let mut out = text
            .replace("{cluster}", &self.cluster)
            .replace("{name}", &self.name)
            .replace("{pr}", &self.pr)
            .replace("{sha7}", &self.sha7)
            .replace("{sha}", &self.sha)
            .replace("{port}", &self.port.to_string());
        if out.contains("{region}") {
            let region = self.region.as_deref().ok_or_else(|| AwsError::Setting {
                name: "AWS_REGION".to_owned(),
                message: "the task definition template uses `{region}` but no region is \
                          configured: set AWS_REGION"
                    .to_owned(),
            })?;
            out = out.replace("{region}", region);
        }
        Ok(out)
    }
}

/// A task definition about to be registered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskDraft {
    pub task_role_arn: Option<String>,
    pub execution_role_arn: Option<String>,
    pub network_mode: NetworkMode,
    pub requires_compatibilities: Vec<Compatibility>,
    pub runtime_platform: Option<RuntimePlatform>,
    pub ephemeral_storage: Option<EphemeralStorage>,
    pub volumes: Vec<Volume>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub containers: Vec<ContainerDefinition>,
    pub tags: Vec<Tag>,
}

impl TaskDraft {
    /// A draft of a new revision of a registered task definition.
    pub fn from_existing(td: &TaskDefinition, tags: &[Tag]) -> TaskDraft {
        TaskDraft {
            task_role_arn: td.task_role_arn().map(str::to_owned),
            execution_role_arn: td.execution_role_arn().map(str::to_owned),
            network_mode: td.network_mode().cloned().unwrap_or(NetworkMode::Awsvpc),
            requires_compatibilities: if td.requires_compatibilities().is_empty() {
                vec![Compatibility::Fargate]
            } else {
                td.requires_compatibilities().to_vec()
            },
            runtime_platform: td.runtime_platform().cloned(),
            ephemeral_storage: td.ephemeral_storage().cloned(),
            volumes: td.volumes().to_vec(),
            cpu: td.cpu().map(str::to_owned),
            memory: td.memory().map(str::to_owned),
            containers: td.container_definitions().to_vec(),
            tags: tags.to_vec(),
        }
    }

    /// The container that gets the image and variables: the one named, or
    /// the first.
    pub fn container_mut(
        &mut self,
        name: Option<&str>,
    ) -> Result<&mut ContainerDefinition, AwsError> {
        let names: Vec<String> = self
            .containers
            .iter()
            .map(|c| c.name().unwrap_or("?").to_owned())
            .collect();
        let found = match name {
            Some(name) => self.containers.iter_mut().find(|c| c.name() == Some(name)),
            None => self.containers.first_mut(),
        };
        found.ok_or_else(|| AwsError::Template {
            message: match name {
                Some(name) => format!(
                    "no container named `{name}` (it has {}); set the container name to one \
                     of them",
                    names.join(", ")
                ),
                None => "it has no container definition".to_owned(),
            },
        })
    }

    /// Sets the task size.
    pub fn set_size(&mut self, size: Size) {
        self.cpu = Some(size.cpu.to_string());
        self.memory = Some(size.memory.to_string());
    }

    /// ECS fetches a container's secrets with the task's execution role, so
    /// a task definition with secrets and no execution role cannot start:
    /// refused here, with the fix, rather than by ECS.
    pub fn check_secrets(&self) -> Result<(), AwsError> {
        let with_secrets = self.containers.iter().any(|c| !c.secrets().is_empty());
        if with_secrets && self.execution_role_arn.is_none() {
            return Err(AwsError::Template {
                message: "the task has secrets but no `executionRoleArn`: ECS reads secrets \
                          with the execution role, so give the template one (allowed \
                          ssm:GetParameters, secretsmanager:GetSecretValue and kms:Decrypt on \
                          the secrets)"
                    .to_owned(),
            });
        }
        Ok(())
    }

    /// The `RegisterTaskDefinition` request for `family`.
    pub fn request(
        self,
        client: &aws_sdk_ecs::Client,
        family: &str,
    ) -> aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder
    {
        client
            .register_task_definition()
            .family(family)
            .set_task_role_arn(self.task_role_arn)
            .set_execution_role_arn(self.execution_role_arn)
            .network_mode(self.network_mode)
            .set_requires_compatibilities(Some(self.requires_compatibilities))
            .set_runtime_platform(self.runtime_platform)
            .set_ephemeral_storage(self.ephemeral_storage)
            .set_volumes(non_empty(self.volumes))
            .set_cpu(self.cpu)
            .set_memory(self.memory)
            .set_container_definitions(Some(self.containers))
            .set_tags(non_empty(self.tags))
    }
}

pub(crate) fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    if v.is_empty() { None } else { Some(v) }
}

/// Checks that `text` is a usable template (with example placeholder
/// values).
pub(crate) fn check(text: &str) -> Result<(), AwsError> {
    let vars = Vars {
        region: Some("us-east-1".to_owned()),
        cluster: "cluster".to_owned(),
        name: "pr-1-abcdef0".to_owned(),
        pr: "1".to_owned(),
        sha: "abcdef0".to_owned(),
        sha7: "abcdef0".to_owned(),
        port: 8080,
    };
    parse(text, &vars).map(|_| ())
}

/// Reads a template into a draft, placeholders substituted.
pub(crate) fn parse(text: &str, vars: &Vars) -> Result<TaskDraft, AwsError> {
    let value: Value = serde_json::from_str(text).map_err(|e| AwsError::Template {
        message: format!("not valid JSON: {e}"),
    })?;
    let value = substitute(value, vars)?;
    let json: TemplateJson = serde_json::from_value(value).map_err(|e| AwsError::Template {
        message: format!("{e} (supported fields: {SUPPORTED})"),
    })?;
    json.into_draft()
}

fn substitute(value: Value, vars: &Vars) -> Result<Value, AwsError> {
    Ok(match value {
        Value::String(s) => Value::String(vars.substitute(&s)?),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| substitute(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| Ok((k, substitute(v, vars)?)))
                .collect::<Result<_, AwsError>>()?,
        ),
        other => other,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TemplateJson {
    #[serde(default)]
    container_definitions: Vec<ContainerJson>,
    task_role_arn: Option<String>,
    execution_role_arn: Option<String>,
    network_mode: Option<String>,
    #[serde(default)]
    requires_compatibilities: Vec<String>,
    runtime_platform: Option<RuntimePlatformJson>,
    ephemeral_storage: Option<EphemeralStorageJson>,
    #[serde(default)]
    tags: Vec<TagJson>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RuntimePlatformJson {
    cpu_architecture: Option<String>,
    operating_system_family: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EphemeralStorageJson {
    size_in_gi_b: Number,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TagJson {
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerJson {
    name: String,
    image: Option<String>,
    essential: Option<bool>,
    cpu: Option<Number>,
    memory: Option<Number>,
    memory_reservation: Option<Number>,
    #[serde(default)]
    port_mappings: Vec<PortMappingJson>,
    #[serde(default)]
    environment: Vec<NameValue>,
    #[serde(default)]
    secrets: Vec<SecretJson>,
    #[serde(default)]
    command: Vec<String>,
    #[serde(default)]
    entry_point: Vec<String>,
    working_directory: Option<String>,
    log_configuration: Option<LogConfigurationJson>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PortMappingJson {
    container_port: Number,
    host_port: Option<Number>,
    protocol: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameValue {
    name: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SecretJson {
    name: String,
    value_from: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LogConfigurationJson {
    log_driver: String,
    #[serde(default)]
    options: BTreeMap<String, String>,
}

/// A whole number written as a JSON number or as a string (after
/// placeholder substitution, `"{port}"` is a string).
#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Int(i64),
    Text(String),
}

impl Number {
    fn get(&self, field: &str) -> Result<i32, AwsError> {
        let n = match self {
            Number::Int(n) => i32::try_from(*n).ok(),
            Number::Text(s) => s.trim().parse().ok(),
        };
        n.ok_or_else(|| AwsError::Template {
            message: format!("`{field}` must be a whole number"),
        })
    }
}

/// Top-level fields that are accepted and replaced.
const REPLACED: &[&str] = &["family", "cpu", "memory"];

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Bool(_) => false,
    }
}

fn reject_unsupported(
    other: &BTreeMap<String, Value>,
    skip: &[&str],
    where_: &str,
) -> Result<(), AwsError> {
    if let Some((field, _)) = other
        .iter()
        .find(|(k, v)| !skip.contains(&k.as_str()) && !is_empty(v))
    {
        return Err(AwsError::Template {
            message: format!(
                "`{where_}{field}` is not supported by showtime-aws (it would be lost); remove \
                 it, or use only: {SUPPORTED}"
            ),
        });
    }
    Ok(())
}

impl TemplateJson {
    fn into_draft(self) -> Result<TaskDraft, AwsError> {
        reject_unsupported(&self.other, REPLACED, "")?;
        if self.container_definitions.is_empty() {
            return Err(AwsError::Template {
                message: "`containerDefinitions` is empty: the template needs at least one \
                          container"
                    .to_owned(),
            });
        }
        let network_mode = self.network_mode.as_deref().unwrap_or("awsvpc");
        if network_mode != "awsvpc" {
            return Err(AwsError::Template {
                message: format!("`networkMode` is `{network_mode}`, but Fargate needs `awsvpc`"),
            });
        }
        let requires_compatibilities = if self.requires_compatibilities.is_empty() {
            vec![Compatibility::Fargate]
        } else {
            self.requires_compatibilities
                .iter()
                .map(|c| Compatibility::from(c.as_str()))
                .collect()
        };
        let runtime_platform = self.runtime_platform.map(|p| {
            RuntimePlatform::builder()
                .set_cpu_architecture(p.cpu_architecture.as_deref().map(CpuArchitecture::from))
                .set_operating_system_family(
                    p.operating_system_family.as_deref().map(OsFamily::from),
                )
                .build()
        });
        let ephemeral_storage = match self.ephemeral_storage {
            Some(e) => Some(
                EphemeralStorage::builder()
                    .size_in_gib(e.size_in_gi_b.get("ephemeralStorage.sizeInGiB")?)
                    .build(),
            ),
            None => None,
        };
        let containers = self
            .container_definitions
            .into_iter()
            .map(ContainerJson::into_sdk)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TaskDraft {
            task_role_arn: self.task_role_arn.filter(|s| !s.is_empty()),
            execution_role_arn: self.execution_role_arn.filter(|s| !s.is_empty()),
            network_mode: NetworkMode::Awsvpc,
            requires_compatibilities,
            runtime_platform,
            ephemeral_storage,
            volumes: Vec::new(),
            cpu: None,
            memory: None,
            containers,
            tags: self
                .tags
                .into_iter()
                .map(|t| Tag::builder().key(t.key).value(t.value).build())
                .collect(),
        })
    }
}

impl ContainerJson {
    fn into_sdk(self) -> Result<ContainerDefinition, AwsError> {
        let prefix = format!("containerDefinitions[{}].", self.name);
        reject_unsupported(&self.other, &[], &prefix)?;
        let field = |f: &str| format!("{prefix}{f}");
        let mut b = ContainerDefinition::builder()
            .name(&self.name)
            .set_image(self.image.filter(|s| !s.is_empty()))
            .set_essential(self.essential)
            .set_working_directory(self.working_directory.filter(|s| !s.is_empty()));
        if let Some(cpu) = &self.cpu {
            b = b.cpu(cpu.get(&field("cpu"))?);
        }
        if let Some(memory) = &self.memory {
            b = b.memory(memory.get(&field("memory"))?);
        }
        if let Some(reservation) = &self.memory_reservation {
            b = b.memory_reservation(reservation.get(&field("memoryReservation"))?);
        }
        for p in &self.port_mappings {
            let mut m = PortMapping::builder()
                .container_port(p.container_port.get(&field("portMappings.containerPort"))?)
                .set_protocol(p.protocol.as_deref().map(TransportProtocol::from))
                .set_name(p.name.clone());
            if let Some(host) = &p.host_port {
                m = m.host_port(host.get(&field("portMappings.hostPort"))?);
            }
            b = b.port_mappings(m.build());
        }
        for e in self.environment {
            b = b.environment(KeyValuePair::builder().name(e.name).value(e.value).build());
        }
        for s in self.secrets {
            b = b.secrets(
                Secret::builder()
                    .name(s.name)
                    .value_from(s.value_from)
                    .build()
                    .map_err(|e| AwsError::Template {
                        message: format!("`{}`: {e}", field("secrets")),
                    })?,
            );
        }
        if !self.command.is_empty() {
            b = b.set_command(Some(self.command));
        }
        if !self.entry_point.is_empty() {
            b = b.set_entry_point(Some(self.entry_point));
        }
        if let Some(log) = self.log_configuration {
            let mut l =
                LogConfiguration::builder().log_driver(LogDriver::from(log.log_driver.as_str()));
            for (k, v) in log.options {
                l = l.options(k, v);
            }
            b = b.log_configuration(l.build().map_err(|e| AwsError::Template {
                message: format!("`{}`: {e}", field("logConfiguration")),
            })?);
        }
        Ok(b.build())
    }
}

/// The environment variables a configuration sets, in order: feature flags
/// (`{prefix}{NAME}=True|False`), then debug (`SUPERSET_LOG_LEVEL=DEBUG`,
/// `FLASK_DEBUG=True`), `SUPERSET_LOAD_EXAMPLES=no`, `SHOWTIME_CACHE=redis`.
pub fn config_env(config: &Config, feature_prefix: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = config
        .features
        .iter()
        .map(|(name, on)| {
            (
                format!("{feature_prefix}{name}"),
                if *on { "True" } else { "False" }.to_owned(),
            )
        })
        .collect();
    if config.debug {
        env.push(("SUPERSET_LOG_LEVEL".to_owned(), "DEBUG".to_owned()));
        env.push(("FLASK_DEBUG".to_owned(), "True".to_owned()));
    }
    if config.no_examples {
        env.push(("SUPERSET_LOAD_EXAMPLES".to_owned(), "no".to_owned()));
    }
    if config.cache_redis {
        env.push(("SHOWTIME_CACHE".to_owned(), "redis".to_owned()));
    }
    env
}

/// Sets `name` to `value` in `env`: in place when present (a later item
/// overrides an earlier one of the same name), else appended.
pub(crate) fn upsert(env: &mut Vec<KeyValuePair>, name: &str, value: &str) {
    let item = KeyValuePair::builder().name(name).value(value).build();
    match env.iter_mut().find(|kv| kv.name() == Some(name)) {
        Some(slot) => *slot = item,
        None => env.push(item),
    }
}

/// Whether a configuration decides variable `name`.
pub(crate) fn is_config_var(name: &str, feature_prefix: &str) -> bool {
    (!feature_prefix.is_empty() && name.starts_with(feature_prefix)) || CONFIG_VARS.contains(&name)
}

/// Undoes the previous configuration in `current`: removes every variable a
/// configuration decides, then puts back the template's own values of them.
pub(crate) fn reset_config_env(
    current: &[KeyValuePair],
    template: &[KeyValuePair],
    feature_prefix: &str,
) -> Vec<KeyValuePair> {
    let mut env: Vec<KeyValuePair> = current
        .iter()
        .filter(|kv| !is_config_var(kv.name().unwrap_or_default(), feature_prefix))
        .cloned()
        .collect();
    for kv in template {
        let name = kv.name().unwrap_or_default();
        if is_config_var(name, feature_prefix) {
            upsert(&mut env, name, kv.value().unwrap_or_default());
        }
    }
    env
}

/// Applies `config` to a container: its variables on top of `base`, and a
/// port mapping for `port` when the container has none.
pub(crate) fn apply_config(
    container: &mut ContainerDefinition,
    base: Vec<KeyValuePair>,
    config: &Config,
    feature_prefix: &str,
) {
    let mut env = base;
    for (name, value) in config_env(config, feature_prefix) {
        upsert(&mut env, &name, &value);
    }
    container.environment = Some(env);
}

/// Makes sure the container maps `port`.
pub(crate) fn ensure_port(container: &mut ContainerDefinition, port: u16) {
    if container.port_mappings().is_empty() {
        container.port_mappings = Some(vec![
            PortMapping::builder()
                .container_port(i32::from(port))
                .protocol(TransportProtocol::Tcp)
                .build(),
        ]);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn vars() -> Vars {
        Vars {
            region: Some("us-west-2".to_owned()),
            cluster: "superset-ci".to_owned(),
            name: "pr-42-abc123f".to_owned(),
            pr: "42".to_owned(),
            sha: "abc123f".repeat(5) + "abcde",
            sha7: "abc123f".to_owned(),
            port: 8080,
        }
    }

    pub(crate) fn env_of(c: &ContainerDefinition) -> Vec<(String, String)> {
        c.environment()
            .iter()
            .map(|kv| {
                (
                    kv.name().unwrap_or_default().to_owned(),
                    kv.value().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn the_default_template_parses() {
        let draft = parse(DEFAULT_TEMPLATE, &vars()).unwrap();
        assert_eq!(draft.containers.len(), 1);
        let c = &draft.containers[0];
        assert_eq!(c.port_mappings()[0].container_port(), Some(8080));
        let log = c.log_configuration().unwrap();
        assert_eq!(
            log.options()
                .unwrap()
                .get("awslogs-region")
                .map(String::as_str),
            Some("us-west-2")
        );
        assert_eq!(draft.requires_compatibilities, [Compatibility::Fargate]);
        assert!(env_of(c).contains(&("SUPERSET_PORT".to_owned(), "8080".to_owned())));
    }

    #[test]
    fn unknown_non_empty_fields_are_refused() {
        let text = r#"{"containerDefinitions":[{"name":"a","links":[],"mountPoints":[{"x":1}]}]}"#;
        let err = parse(text, &vars()).unwrap_err().to_string();
        assert!(err.contains("containerDefinitions[a].mountPoints"), "{err}");
        let text = r#"{"containerDefinitions":[{"name":"a"}],"volumes":[],"pidMode":"task"}"#;
        let err = parse(text, &vars()).unwrap_err().to_string();
        assert!(err.contains("`pidMode`"), "{err}");
        let text = r#"{"containerDefinitions":[{"name":"a"}],"networkMode":"bridge"}"#;
        assert!(parse(text, &vars()).is_err());
        assert!(parse("{", &vars()).is_err());
    }

    #[test]
    fn region_placeholder_needs_a_region() {
        let mut v = vars();
        v.region = None;
        let err = parse(DEFAULT_TEMPLATE, &v).unwrap_err();
        assert!(matches!(err, AwsError::Setting { ref name, .. } if name == "AWS_REGION"));
    }

    #[test]
    fn config_overrides_template_and_resets() {
        let mut config = Config::default();
        config.features.insert("ALERTS".parse().unwrap(), true);
        config.features.insert("OFF".parse().unwrap(), false);
        config.debug = true;
        config.no_examples = true;
        let draft = parse(DEFAULT_TEMPLATE, &vars()).unwrap();
        let template_env = draft.containers[0].environment().to_vec();
        let mut c = draft.containers[0].clone();
        apply_config(&mut c, template_env.clone(), &config, "SUPERSET_FEATURE_");
        let env = env_of(&c);
        let get = |n: &str| {
            env.iter()
                .filter(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("SUPERSET_FEATURE_ALERTS"), ["True"]);
        assert_eq!(get("SUPERSET_FEATURE_OFF"), ["False"]);
        assert_eq!(
            get("SUPERSET_LOAD_EXAMPLES"),
            ["no"],
            "overridden once, not duplicated"
        );
        assert_eq!(get("SUPERSET_LOG_LEVEL"), ["DEBUG"]);
        assert_eq!(get("FLASK_DEBUG"), ["True"]);
        assert_eq!(
            get("PYTHONUNBUFFERED"),
            ["1"],
            "template variables are kept"
        );

        // A plain configuration afterwards restores the template's values.
        let base = reset_config_env(c.environment(), &template_env, "SUPERSET_FEATURE_");
        apply_config(&mut c, base, &Config::default(), "SUPERSET_FEATURE_");
        let mut after = env_of(&c);
        let mut expected = env_of(&draft.containers[0]);
        after.sort();
        expected.sort();
        assert_eq!(after, expected);
    }
}
