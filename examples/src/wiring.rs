//! From [`Settings`] to a running [`Engine`]: the GitHub adapter, the chosen
//! backend, the image builder and the clock. The three programs share this,
//! so they act alike on the same configuration.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use showtime_core::engine::{Engine, Ports};
use showtime_core::ports::{Backend, Clock, ImageBuilder, PortError};
use showtime_core::{PrNumber, Sha};
use showtime_github::{GitHubConfig, GitHubHost};

use crate::local::{LocalBackend, LocalSettings};
use crate::output::Progress;
use crate::settings::{BackendKind, ConfigError, Settings};

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
    #[error(transparent)]
    Aws(#[from] showtime_aws::AwsError),
    /// The local backend cannot start.
    #[error(transparent)]
    Local(Box<crate::local::LocalError>),
}

impl From<crate::local::LocalError> for WiringError {
    fn from(e: crate::local::LocalError) -> Self {
        WiringError::Local(Box::new(e))
    }
}

/// The wall clock, with an offset that [`SystemClock::advance`] moves (the
/// demo jumps past a TTL with it; programs leave it at zero).
#[derive(Debug, Default)]
pub struct SystemClock {
    offset_secs: AtomicI64,
}

impl SystemClock {
    /// Moves this clock's "now" forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_secs
            .fetch_add(by.num_seconds(), Ordering::SeqCst);
    }
}

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(self.offset_secs.load(Ordering::SeqCst))
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Fills `{pr}`, `{sha}`, `{sha7}`, `{tag}` (`pr-{n}-{sha7}-ci`) and
/// `{image}` in `template`.
pub fn fill(template: &str, pr: PrNumber, sha: &Sha, image: &str) -> String {
    let sha7 = sha.short().to_string();
    template
        .replace("{pr}", &pr.to_string())
        .replace("{sha7}", &sha7)
        .replace("{sha}", sha.as_str())
        .replace("{tag}", &format!("pr-{pr}-{sha7}-ci"))
        .replace("{image}", image)
}

/// Builds images with a command (`docker buildx build --push -t {image} .`),
/// or, without one, names the image an earlier step built.
#[derive(Debug, Clone)]
pub struct CommandBuilder {
    /// The image reference template.
    pub image: String,
    /// The build command template, one argument per item; `None` builds
    /// nothing.
    pub command: Option<Vec<String>>,
}

#[async_trait]
impl ImageBuilder for CommandBuilder {
    async fn build(&self, pr: PrNumber, sha: &Sha) -> Result<String, PortError> {
        let image = fill(&self.image, pr, sha, "");
        let Some(command) = &self.command else {
            return Ok(image);
        };
        let argv: Vec<String> = command.iter().map(|a| fill(a, pr, sha, &image)).collect();
        let Some((program, args)) = argv.split_first() else {
            return Err(PortError::permanent("the build command is empty"));
        };
        let output = tokio::process::Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| {
                PortError::permanent(format!(
                    "cannot run the build command `{program}`: {e}. Fix [build] command in \
                     showtime.toml, or install {program}"
                ))
            })?;
        if output.status.success() {
            return Ok(image);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(PortError::permanent(format!(
            "the build of {image} failed ({}): {}",
            output.status,
            tail.join("\n")
        )))
    }
}

/// The local backend "builds" nothing: its environments run this program's
/// own preview app, and the image name only labels them.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBuild;

#[async_trait]
impl ImageBuilder for NoBuild {
    async fn build(&self, pr: PrNumber, sha: &Sha) -> Result<String, PortError> {
        Ok(format!("local/pr-{pr}-{}", sha.short()))
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

/// The backend the settings choose.
pub async fn backend(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
    progress: Progress,
) -> Result<Arc<dyn Backend>, WiringError> {
    Ok(match settings.backend {
        BackendKind::Local => Arc::new(LocalBackend::new(local_settings(settings, env)?)?),
        BackendKind::Ecs => {
            let ecs = ecs_settings(settings, env)?;
            Arc::new(
                showtime_aws::EcsBackend::from_env(ecs)
                    .await?
                    .with_progress(move |p| progress.report(&format!("{}: {}", p.env, p.message))),
            )
        }
    })
}

/// The local backend's settings: `SHOWTIME_STATE_DIR`, else the file's
/// `[local]`, else the user's cache directory.
pub fn local_settings(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<LocalSettings, WiringError> {
    let state_dir = match env("SHOWTIME_STATE_DIR").filter(|d| !d.trim().is_empty()) {
        Some(dir) => dir.into(),
        None => match &settings.file.local.state_dir {
            Some(dir) => dir.clone(),
            None => LocalSettings::default_state_dir()?,
        },
    };
    let command = match &settings.file.local.command {
        Some(command) => command.clone(),
        None => LocalSettings::default_command()?,
    };
    let mut local = LocalSettings::new(state_dir, command);
    if let Some(timeout) = settings.local_ready_timeout() {
        local.ready_timeout = timeout;
    }
    Ok(local)
}

/// The ECS settings: the file's `[ecs]` and `[sizes]`, then the
/// `SHOWTIME_ECS_*` and `AWS_REGION` variables.
pub fn ecs_settings(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<showtime_aws::EcsSettings, WiringError> {
    let f = &settings.file.ecs;
    // The file's values are offered as variables the real ones override, so
    // one parser (EcsSettings::from_lookup) checks both alike.
    let from_file = |k: &str| -> Option<String> {
        match k {
            "AWS_REGION" => f.region.clone(),
            "SHOWTIME_ECS_CLUSTER" => f.cluster.clone(),
            "SHOWTIME_ECS_SUBNETS" => f.subnets.as_ref().map(|v| v.join(",")),
            "SHOWTIME_ECS_SECURITY_GROUPS" => f.security_groups.as_ref().map(|v| v.join(",")),
            "SHOWTIME_ECS_CAPACITY" => f.capacity.clone(),
            "SHOWTIME_ECS_ADDRESS" => f.address.clone(),
            "SHOWTIME_ECR_REPOSITORY" => f.ecr_repository.clone(),
            "SHOWTIME_IMAGE_TEMPLATE" => f.image_template.clone(),
            "SHOWTIME_CONTAINER_PORT" => f.container_port.map(|p| p.to_string()),
            "SHOWTIME_HEALTH_PATH" => f.health_paths.as_ref().map(|v| v.join(",")),
            "SHOWTIME_TASK_DEFINITION" => {
                f.task_definition.as_ref().map(|p| p.display().to_string())
            }
            "SHOWTIME_READY_TIMEOUT" => f.ready_timeout_secs.map(|s| s.to_string()),
            _ => None,
        }
    };
    let mut ecs = showtime_aws::EcsSettings::from_lookup(|k| {
        env(k)
            .filter(|v| !v.trim().is_empty())
            .or_else(|| from_file(k))
    })?;
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

/// The image builder the settings choose.
pub fn builder(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn ImageBuilder>, WiringError> {
    Ok(match settings.backend {
        BackendKind::Local => Arc::new(NoBuild),
        BackendKind::Ecs => {
            let image = match &settings.file.build.image {
                Some(image) => image.clone(),
                None => {
                    let ecs = ecs_settings(settings, env)?;
                    ecs.image_template
                        .replace("{repository}", &ecs.ecr_repository)
                }
            };
            Arc::new(CommandBuilder {
                image,
                command: settings.file.build.command.clone(),
            })
        }
    })
}

/// The engine for `settings`: GitHub from the environment's credentials,
/// the chosen backend (reporting long waits to `progress`) and builder, the
/// wall clock.
pub async fn engine(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
    progress: Progress,
) -> Result<Engine, WiringError> {
    let host = GitHubHost::new(github_config(settings, env)?)?;
    let ports = Ports {
        host: Arc::new(host),
        backend: backend(settings, env, progress).await?,
        builder: builder(settings, env)?,
        clock: Arc::new(SystemClock::default()),
        notifier: None,
    };
    Ok(Engine::new(ports, settings.policy.clone()))
}
