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
use showtime_core::ports::{Backend, Clock, EnvId, ImageBuilder, PortError};
use showtime_core::{PrNumber, Sha};
use showtime_github::{GitHubConfig, GitHubHost};
use showtime_local::{LocalBackend, LocalError, LocalSettings};

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
    Local(Box<LocalError>),
}

impl From<LocalError> for WiringError {
    fn from(e: LocalError) -> Self {
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

/// Builds images with a command (`docker buildx build --push -t {image} .`),
/// or, without one, names the image an earlier step built.
///
/// The image and each argument are filled by [`showtime_aws::fill_image`]
/// (`{repository}`, `{tag}`, `{pr}`, `{sha}`, `{sha7}`), and `{image}` in an
/// argument is the filled image.
#[derive(Debug, Clone)]
pub struct CommandBuilder {
    /// The image reference template.
    pub image: String,
    /// What `{repository}` stands for.
    pub repository: String,
    /// The build command template, one argument per item; `None` builds
    /// nothing.
    pub command: Option<Vec<String>>,
}

#[async_trait]
impl ImageBuilder for CommandBuilder {
    async fn build(&self, pr: PrNumber, sha: &Sha) -> Result<String, PortError> {
        let id = EnvId {
            pr,
            sha: sha.short(),
        };
        let fill = |template: &str| showtime_aws::fill_image(template, &self.repository, &id, sha);
        let image = fill(&self.image);
        let Some(command) = &self.command else {
            return Ok(image);
        };
        let argv: Vec<String> = command
            .iter()
            .map(|a| fill(a).replace("{image}", &image))
            .collect();
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

/// The engine for `settings`: GitHub from the environment's credentials,
/// the chosen backend (reporting long waits to `progress`) with its image
/// builder, the wall clock.
pub async fn engine(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
    progress: Progress,
) -> Result<Engine, WiringError> {
    let host = GitHubHost::new(github_config(settings, env)?)?;
    let (backend, builder): (Arc<dyn Backend>, Arc<dyn ImageBuilder>) = match settings.backend {
        BackendKind::Local => (
            Arc::new(LocalBackend::new(local_settings(settings, env)?)?),
            Arc::new(NoBuild),
        ),
        BackendKind::Ecs => {
            let ecs = ecs_settings(settings, env)?;
            let builder = CommandBuilder {
                image: (settings.file.build.image.clone())
                    .unwrap_or_else(|| ecs.image_template.clone()),
                repository: ecs.ecr_repository.clone(),
                command: settings.file.build.command.clone(),
            };
            let backend = showtime_aws::EcsBackend::from_env(ecs)
                .await?
                .with_progress(move |p| progress.report(&format!("{}: {}", p.env, p.message)));
            (Arc::new(backend), Arc::new(builder))
        }
    };
    let ports = Ports {
        host: Arc::new(host),
        backend,
        builder,
        clock: Arc::new(SystemClock::default()),
        notifier: None,
    };
    Ok(Engine::new(ports, settings.policy.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder(command: Option<&[&str]>) -> CommandBuilder {
        CommandBuilder {
            image: "registry.example/{repository}:{tag}".to_owned(),
            repository: "superset-ci".to_owned(),
            command: command.map(|c| c.iter().map(|a| (*a).to_owned()).collect()),
        }
    }

    fn pr_and_sha() -> (PrNumber, Sha) {
        let pr = PrNumber::new(42).unwrap_or_else(|| panic!("42 is a PR number"));
        let sha = "abc123f0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        (pr, sha)
    }

    #[tokio::test]
    async fn without_a_command_the_image_is_named_not_built() {
        let (pr, sha) = pr_and_sha();
        let image = builder(None).build(pr, &sha).await;
        assert_eq!(
            image,
            Ok("registry.example/superset-ci:pr-42-abc123f-ci".to_owned())
        );
    }

    #[tokio::test]
    async fn the_command_gets_every_placeholder_filled() {
        let (pr, sha) = pr_and_sha();
        // The command fails unless each placeholder arrived filled.
        let check = [
            "sh",
            "-c",
            "test \"$0 $1 $2 $3\" = \"registry.example/superset-ci:pr-42-abc123f-ci 42 abc123f \
             pr-42-abc123f-ci\"",
            "{image}",
            "{pr}",
            "{sha7}",
            "{tag}",
        ];
        let image = builder(Some(&check)).build(pr, &sha).await;
        assert_eq!(
            image,
            Ok("registry.example/superset-ci:pr-42-abc123f-ci".to_owned())
        );
    }

    #[tokio::test]
    async fn a_failed_or_missing_command_is_a_permanent_error() {
        let (pr, sha) = pr_and_sha();
        let failed = builder(Some(&["sh", "-c", "echo no space left >&2; exit 1"]))
            .build(pr, &sha)
            .await
            .err()
            .unwrap_or_else(|| panic!("the build failed"));
        assert!(!failed.is_transient());
        assert!(failed.to_string().contains("no space left"), "{failed}");
        let missing = builder(Some(&["/nonexistent/docker"]))
            .build(pr, &sha)
            .await
            .err()
            .unwrap_or_else(|| panic!("there is no such program"));
        assert!(
            missing.to_string().contains("cannot run the build command"),
            "{missing}"
        );
    }
}
