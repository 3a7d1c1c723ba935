//! From [`Settings`] to a running [`Engine`]: the GitHub adapter, the chosen
//! backend, the image builder and the clock. The three programs share this,
//! so they act alike on the same configuration.

use std::sync::Arc;

use showtime_core::engine::{Engine, Ports};
use showtime_core::ports::{Backend, ImageBuilder, PrHost};
use showtime_github::deployments::Deployments;
use showtime_github::{GitHubConfig, GitHubHost};
use showtime_local::{LocalBackend, LocalError, LocalSettings};

use crate::builder::NoBuild;
use crate::clock::SystemClock;
use crate::config::{BackendKind, ConfigError, Settings};
use crate::metrics::Metrics;
use crate::metrics::watch::LabelWatch;

/// Where long waits are reported (a backend's "waiting for the task…"), for
/// a spinner or log lines; [`engine`] takes one.
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// Why the engine could not be put together.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    /// The configuration is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The GitHub settings are wrong (repository, credentials, URL).
    #[error(transparent)]
    GitHub(#[from] showtime_github::GitHubError),
    /// The AWS settings are wrong.
    #[cfg(feature = "aws")]
    #[error(transparent)]
    Aws(#[from] showtime_aws::AwsError),
    /// A notification setting is wrong.
    #[error(transparent)]
    Notify(#[from] crate::notify::NotifyError),
    /// The work queue is not a FIFO queue, which per-PR order needs.
    #[error(
        "[queue] sqs_url {url} is not a FIFO queue: per-PR order needs one (its name ends \
         in `.fifo`)"
    )]
    NotFifo {
        /// The URL given.
        url: String,
    },
    /// `backend = "ecs"` in a program built without the `aws` feature.
    #[error(
        "the ECS backend is not built into this program (feature `aws` of showtime-runtime); \
         use `backend = \"local\"` or rebuild with it"
    )]
    NoEcs,
    /// The local backend cannot start.
    #[error(transparent)]
    Local(Box<LocalError>),
}

impl From<LocalError> for WiringError {
    fn from(e: LocalError) -> Self {
        WiringError::Local(Box::new(e))
    }
}

/// The GitHub settings: credentials from the environment
/// ([`GitHubConfig::from_lookup`]), the repository and API root from the
/// settings.
pub fn github_config(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<GitHubConfig, WiringError> {
    let repository = settings.repository.clone();
    let lookup = |k: &str| match k {
        "GITHUB_REPOSITORY" => repository.clone(),
        _ => env(k),
    };
    let mut config = GitHubConfig::from_lookup(lookup)?;
    if let Some(url) = &settings.api_url {
        config = config.with_api_url(url);
    }
    Ok(config)
}

/// The local backend's settings: `SHOWTIME_STATE_DIR`, else the file's
/// `[local]`, else the user's cache directory.
pub fn local_settings(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<LocalSettings, WiringError> {
    Ok(settings.file.local.settings(env)?)
}

/// The ECS settings: the file's `[ecs]` and `[sizes]`, then the
/// `SHOWTIME_ECS_*` and `AWS_REGION` variables.
#[cfg(feature = "aws")]
pub fn ecs_settings(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<showtime_aws::EcsSettings, WiringError> {
    let f = &settings.file.ecs;
    // The file's values are offered as variables the real ones override, so
    // one parser (EcsSettings::from_lookup) checks both alike; each says
    // which `[ecs]` key it came from, so an error names what was written.
    let from_file = |k: &str| -> Option<(&'static str, String)> {
        let joined = |v: &Option<Vec<String>>| v.as_ref().map(|v| v.join(","));
        let value = match k {
            "AWS_REGION" => ("region", f.region.clone()),
            "SHOWTIME_ECS_CLUSTER" => ("cluster", f.cluster.clone()),
            "SHOWTIME_ECS_SUBNETS" => ("subnets", joined(&f.subnets)),
            "SHOWTIME_ECS_SECURITY_GROUPS" => ("security_groups", joined(&f.security_groups)),
            "SHOWTIME_ECS_CAPACITY" => ("capacity", f.capacity.clone()),
            "SHOWTIME_ECS_ADDRESS" => ("address", f.address.clone()),
            "SHOWTIME_ECR_REPOSITORY" => ("ecr_repository", f.ecr_repository.clone()),
            "SHOWTIME_IMAGE_TEMPLATE" => ("image_template", f.image_template.clone()),
            "SHOWTIME_CONTAINER_PORT" => {
                ("container_port", f.container_port.map(|p| p.to_string()))
            }
            "SHOWTIME_HEALTH_PATH" => ("health_paths", joined(&f.health_paths)),
            "SHOWTIME_TASK_DEFINITION" => (
                "task_definition",
                f.task_definition.as_ref().map(|p| p.display().to_string()),
            ),
            "SHOWTIME_READY_TIMEOUT" => (
                "ready_timeout_secs",
                f.ready_timeout_secs.map(|s| s.to_string()),
            ),
            _ => return None,
        };
        Some((value.0, value.1?))
    };
    let set = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let parsed = showtime_aws::EcsSettings::from_lookup(|k| {
        set(k).or_else(|| from_file(k).map(|(_, value)| value))
    });
    let mut ecs = parsed.map_err(|e| match e {
        // A value the file gave, not a variable: name the file's key.
        showtime_aws::AwsError::Setting { name, message } if set(&name).is_none() => {
            match from_file(&name) {
                Some((key, _)) => WiringError::Config(ConfigError::Value {
                    name: format!("[ecs] {key} in {}", settings.file_name()),
                    message,
                }),
                None => WiringError::Aws(showtime_aws::AwsError::Setting { name, message }),
            }
        }
        other => WiringError::Aws(other),
    })?;
    ecs.secrets = f.parse_secrets(&ecs.feature_prefix, &settings.file_name())?;
    if let Some(sizes) = &settings.file.sizes {
        ecs.sizes = sizes
            .iter()
            .map(|(name, s)| {
                (
                    name.to_string(),
                    showtime_aws::Size {
                        cpu: s.cpu,
                        memory: s.memory,
                    },
                )
            })
            .collect();
        if !ecs.sizes.contains_key(&ecs.default_size)
            && let Some(first) = ecs.sizes.keys().next()
        {
            ecs.default_size = first.clone();
        }
    }
    Ok(ecs)
}

/// The engine for `settings`: GitHub from the environment's credentials,
/// the chosen backend (reporting long waits to `progress`) with its image
/// builder, the wall clock; with `[github] deployments = true`, the backend
/// and builder record each environment as a GitHub deployment
/// ([`crate::deployments`]).
pub async fn engine(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
    progress: Option<Progress>,
) -> Result<Engine, WiringError> {
    engine_with(settings, env, Extras::default().progress(progress)).await
}

/// What a program adds to the engine beyond its settings: where long waits
/// are reported, and where figures are recorded.
#[derive(Clone, Default)]
pub struct Extras {
    progress: Option<Progress>,
    metrics: Option<Arc<Metrics>>,
}

impl Extras {
    /// Long waits (a backend's "waiting for the task…") go to `progress`.
    pub fn progress(mut self, progress: impl Into<Option<Progress>>) -> Self {
        self.progress = progress.into();
        self
    }

    /// GitHub's answers and the environments' statuses go to `metrics`
    /// (the GitHub adapter's [observer](showtime_github::Observer) and a
    /// [`LabelWatch`] around the PR host; no request is added).
    pub fn metrics(mut self, metrics: impl Into<Option<Arc<Metrics>>>) -> Self {
        self.metrics = metrics.into();
        self
    }
}

/// [`engine`] with [`Extras`].
pub async fn engine_with(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
    extras: Extras,
) -> Result<Engine, WiringError> {
    let Extras { progress, metrics } = extras;
    let mut config = github_config(settings, env)?;
    if let Some(metrics) = &metrics {
        config = config.with_observer(metrics.github_observer());
    }
    let github = Arc::new(GitHubHost::new(config)?);
    let host: Arc<dyn PrHost> = match &metrics {
        Some(metrics) => Arc::new(LabelWatch::new(
            github.clone(),
            settings.policy.codec.clone(),
            metrics.clone(),
        )),
        None => github.clone(),
    };
    let (backend, builder) = match settings.backend {
        BackendKind::Local => (
            Arc::new(LocalBackend::new(local_settings(settings, env)?)?) as Arc<dyn Backend>,
            Arc::new(NoBuild) as Arc<dyn ImageBuilder>,
        ),
        BackendKind::Ecs => ecs(settings, env, progress).await?,
    };
    // Off by default: with it off, nothing is wrapped and no request added.
    let (backend, builder) = if settings.file.github.deployments.unwrap_or(false) {
        let deployments = Arc::new(Deployments::new(github.clone()));
        crate::deployments::record(backend, builder, deployments)
    } else {
        (backend, builder)
    };
    let ports = Ports {
        host,
        backend,
        builder,
        clock: Arc::new(SystemClock::default()),
        notifier: notifier(settings, env)?,
    };
    Ok(Engine::new(ports, settings.policy.clone()))
}

/// The notifiers `[notify]` and the variables configure, as one.
fn notifier(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Arc<dyn showtime_core::ports::Notifier>>, WiringError> {
    let all =
        crate::notify::from_settings(&settings.file.notify, env, settings.repository.clone())?;
    Ok((!all.is_empty()).then(|| Arc::new(crate::notify::Fanout(all)) as Arc<_>))
}

/// The ECS backend and its command builder.
#[cfg(feature = "aws")]
async fn ecs(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
    progress: Option<Progress>,
) -> Result<(Arc<dyn Backend>, Arc<dyn ImageBuilder>), WiringError> {
    let ecs = ecs_settings(settings, env)?;
    let image = (settings.file.build.image.clone()).unwrap_or_else(|| ecs.image_template.clone());
    let repository = ecs.ecr_repository.clone();
    let mut backend = showtime_aws::EcsBackend::from_env(ecs).await?;
    // The builder asks ECR through the backend's client before building
    // (no call at all when there is no build command).
    let builder =
        crate::builder::CommandBuilder::new(image, repository, settings.file.build.command.clone())
            .with_registry(backend.registry())
            .with_progress(progress.clone());
    if let Some(progress) = progress {
        backend = backend.with_progress(move |p| progress(&format!("{}: {}", p.env, p.message)));
    }
    Ok((Arc::new(backend), Arc::new(builder)))
}

#[cfg(not(feature = "aws"))]
async fn ecs(
    _: &Settings,
    _: &dyn Fn(&str) -> Option<String>,
    _: Option<Progress>,
) -> Result<(Arc<dyn Backend>, Arc<dyn ImageBuilder>), WiringError> {
    Err(WiringError::NoEcs)
}

#[cfg(all(test, feature = "aws"))]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{FileConfig, Overrides};

    fn settings(file: &str) -> Settings {
        let mut settings =
            Settings::resolve(&Overrides::default(), &|_| None).unwrap_or_else(|e| panic!("{e}"));
        settings.file =
            FileConfig::parse(file, Path::new("showtime.toml")).unwrap_or_else(|e| panic!("{e}"));
        settings
    }

    #[test]
    fn a_bad_value_is_reported_where_it_was_written() {
        let file = settings("[ecs]\ncapacity = \"spotty\"\n");
        let from_file = ecs_settings(&file, &|_| None)
            .err()
            .unwrap_or_else(|| panic!("`spotty` is refused"))
            .to_string();
        assert!(from_file.contains("[ecs] capacity"), "{from_file}");
        assert!(!from_file.contains("SHOWTIME_ECS_CAPACITY"), "{from_file}");

        let env = |k: &str| (k == "SHOWTIME_ECS_CAPACITY").then(|| "cheap".to_owned());
        let from_variable = ecs_settings(&settings(""), &env)
            .err()
            .unwrap_or_else(|| panic!("`cheap` is refused"))
            .to_string();
        assert!(
            from_variable.contains("SHOWTIME_ECS_CAPACITY"),
            "{from_variable}"
        );

        // The variable wins over the file, and a good one passes.
        let good = |k: &str| (k == "SHOWTIME_ECS_CAPACITY").then(|| "fargate-spot".to_owned());
        assert!(ecs_settings(&file, &good).is_ok());
    }
}

/// The durable work queue `[queue] sqs_url` (or `SHOWTIME_SQS_QUEUE_URL`)
/// names, if any: SQS FIFO in the region `[ecs] region` names, else the
/// AWS configuration's.
pub async fn work_queue(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<std::sync::Arc<dyn showtime_core::ports::WorkQueue>>, WiringError> {
    let url = env("SHOWTIME_SQS_QUEUE_URL")
        .filter(|v| !v.trim().is_empty())
        .or_else(|| settings.file.queue.sqs_url.clone());
    let Some(url) = url else {
        return Ok(None);
    };
    if !url.ends_with(".fifo") {
        return Err(WiringError::NotFifo { url });
    }
    #[cfg(feature = "aws")]
    {
        let region = settings.file.ecs.region.clone();
        let queue = showtime_aws::SqsQueue::from_env(url, region).await;
        Ok(Some(std::sync::Arc::new(queue)))
    }
    #[cfg(not(feature = "aws"))]
    {
        let _ = url;
        Err(WiringError::NoEcs)
    }
}
