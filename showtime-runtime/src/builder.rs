//! Image builders: the engine's [`ImageBuilder`] port for real programs.
//!
//! [`CommandBuilder`] runs a configured command (`docker buildx build
//! --push -t {image} .`), unless the registry already has the image, or,
//! without a command, names the image an earlier step built; [`NoBuild`] is
//! for backends that run no image (the local one). No argument ever passes
//! through a shell.

use async_trait::async_trait;
use showtime_core::ports::{ImageBuilder, PortError};
use showtime_core::{PrNumber, Sha};

#[cfg(feature = "aws")]
/// Builds images with a command (`docker buildx build --push -t {image} .`),
/// or, without one, names the image an earlier step built.
///
/// The image and each argument are filled by [`showtime_aws::fill_image`]
/// (`{repository}`, `{tag}`, `{pr}`, `{sha}`, `{sha7}`), and `{image}` in an
/// argument is the filled image.
///
/// **Image reuse.** With a [registry](CommandBuilder::with_registry), and
/// an image in the configured ECR repository, the registry is asked first
/// (one `ecr:DescribeImages`): an image that is already there is returned
/// without running the command, so a commit is built once however often it
/// is deployed (`/circus refresh` of the running commit, a redeploy after a
/// failure). A check that fails (no permission, throttling) only costs the
/// build it would have saved: the command runs, with a warning. An image
/// elsewhere (another registry or repository) cannot be asked about and is
/// built as before.
#[derive(Clone)]
pub struct CommandBuilder {
    image: String,
    repository: String,
    command: Option<Vec<String>>,
    registry: Option<std::sync::Arc<dyn showtime_aws::Registry>>,
    progress: Option<crate::wiring::Progress>,
}

#[cfg(feature = "aws")]
impl std::fmt::Debug for CommandBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandBuilder")
            .field("image", &self.image)
            .field("repository", &self.repository)
            .field("command", &self.command)
            .field("registry", &self.registry)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

#[cfg(feature = "aws")]
impl CommandBuilder {
    /// A builder of `image` (a reference template) in ECR repository
    /// `repository` (what `{repository}` stands for) with `command` (one
    /// argument per item; `None` builds nothing and names the image).
    pub fn new(
        image: impl Into<String>,
        repository: impl Into<String>,
        command: Option<Vec<String>>,
    ) -> Self {
        CommandBuilder {
            image: image.into(),
            repository: repository.into(),
            command,
            registry: None,
            progress: None,
        }
    }

    /// Asks `registry` before building whether the image is already there
    /// (see "Image reuse" on [`CommandBuilder`]).
    pub fn with_registry(mut self, registry: impl showtime_aws::Registry + 'static) -> Self {
        self.registry = Some(std::sync::Arc::new(registry));
        self
    }

    /// Tells `progress` when a build is skipped or a check failed (the
    /// same lines are logged).
    pub fn with_progress(mut self, progress: impl Into<Option<crate::wiring::Progress>>) -> Self {
        self.progress = progress.into();
        self
    }

    fn say(&self, line: &str) {
        if let Some(progress) = &self.progress {
            progress(line);
        }
    }

    /// Whether the registry has `image` already; `false` when there is no
    /// registry, the image is not in the configured ECR repository, or the
    /// question failed.
    async fn in_registry(&self, image: &str) -> bool {
        let Some(registry) = &self.registry else {
            return false;
        };
        let Some(ecr) = showtime_aws::EcrImage::parse(image, &self.repository) else {
            return false;
        };
        match registry.has_image(&ecr).await {
            Ok(true) => {
                tracing::info!(image, "image already in the registry; build skipped");
                self.say(&format!(
                    "image {image} already in the registry; build skipped"
                ));
                true
            }
            Ok(false) => false,
            Err(e) => {
                tracing::warn!(
                    image,
                    error = %e,
                    "could not ask the registry whether the image exists; building it"
                );
                self.say(&format!(
                    "could not ask the registry whether {image} exists ({e}); building it"
                ));
                false
            }
        }
    }
}

#[cfg(feature = "aws")]
#[async_trait]
impl ImageBuilder for CommandBuilder {
    async fn build(&self, pr: PrNumber, sha: &Sha) -> Result<String, PortError> {
        let id = showtime_core::ports::EnvId {
            pr,
            sha: sha.short(),
        };
        let fill = |template: &str| showtime_aws::fill_image(template, &self.repository, &id, sha);
        let image = fill(&self.image);
        let Some(command) = &self.command else {
            return Ok(image);
        };
        if self.in_registry(&image).await {
            return Ok(image);
        }
        let argv: Vec<String> = command
            .iter()
            .map(|a| fill(a).replace("{image}", &image))
            .collect();
        let Some((program, args)) = argv.split_first() else {
            return Err(PortError::permanent("the build command is empty"));
        };
        let output = tokio::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
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

#[cfg(all(test, feature = "aws"))]
mod tests {
    use super::*;

    fn builder(command: Option<&[&str]>) -> CommandBuilder {
        CommandBuilder::new(
            "registry.example/{repository}:{tag}",
            "superset-ci",
            command.map(|c| c.iter().map(|a| (*a).to_owned()).collect()),
        )
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

#[cfg(all(test, feature = "aws"))]
mod reuse_tests {
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex};

    use showtime_aws::{AwsError, EcrImage, Registry};

    use super::*;

    const ECR: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com";

    /// A registry that answers from a fixed answer and counts questions.
    #[derive(Debug, Clone)]
    struct Canned {
        answer: Result<bool, AwsError>,
        asked: Arc<Mutex<Vec<EcrImage>>>,
    }

    impl Canned {
        fn new(answer: Result<bool, AwsError>) -> Self {
            Canned {
                answer,
                asked: Arc::default(),
            }
        }

        fn asked(&self) -> Vec<EcrImage> {
            self.asked.lock().unwrap_or_else(|p| p.into_inner()).clone()
        }
    }

    #[async_trait]
    impl Registry for Canned {
        async fn has_image(&self, image: &EcrImage) -> Result<bool, AwsError> {
            self.asked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(image.clone());
            self.answer.clone()
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("showtime-builder-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        dir
    }

    /// A command that leaves `built` in `dir` (and fails when `fail`, so a
    /// run that should not have happened cannot pass unnoticed).
    fn marking(dir: &Path, image: &str, fail: bool) -> CommandBuilder {
        let script = format!(
            "touch '{}/built'; exit {}",
            dir.display(),
            if fail { 1 } else { 0 }
        );
        CommandBuilder::new(
            image,
            "superset-ci",
            Some(vec!["sh".into(), "-c".into(), script]),
        )
    }

    fn pr_and_sha() -> (PrNumber, Sha) {
        let pr = PrNumber::new(42).unwrap_or_else(|| panic!("42 is a PR number"));
        let sha = "abc123f0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        (pr, sha)
    }

    fn lines() -> (crate::wiring::Progress, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let progress: crate::wiring::Progress = Arc::new(move |line: &str| {
            sink.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(line.to_owned());
        });
        (progress, seen)
    }

    #[tokio::test]
    async fn an_image_in_the_registry_is_not_built_again() {
        let dir = scratch("present");
        let registry = Canned::new(Ok(true));
        let (progress, seen) = lines();
        let builder = marking(&dir, &format!("{ECR}/{{repository}}:{{tag}}"), true)
            .with_registry(registry.clone())
            .with_progress(progress);
        let (pr, sha) = pr_and_sha();
        let image = builder.build(pr, &sha).await;
        let expected = format!("{ECR}/superset-ci:pr-42-abc123f-ci");
        assert_eq!(image, Ok(expected.clone()));
        assert!(!dir.join("built").exists(), "the command did not run");
        let asked = registry.asked();
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].tag, "pr-42-abc123f-ci");
        assert_eq!(asked[0].registry_id.as_deref(), Some("123456789012"));
        let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(
            seen,
            [format!(
                "image {expected} already in the registry; build skipped"
            )]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn an_absent_image_is_built() {
        let dir = scratch("absent");
        let registry = Canned::new(Ok(false));
        let builder = marking(&dir, "{repository}:{tag}", false).with_registry(registry.clone());
        let (pr, sha) = pr_and_sha();
        let image = builder.build(pr, &sha).await;
        assert_eq!(image, Ok("superset-ci:pr-42-abc123f-ci".to_owned()));
        assert!(dir.join("built").exists(), "the command ran");
        assert_eq!(registry.asked().len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_failed_check_builds_anyway_and_says_so() {
        let dir = scratch("unknown");
        let registry = Canned::new(Err(AwsError::AccessDenied {
            operation: "ecr:DescribeImages".into(),
            message: "not allowed".into(),
        }));
        let (progress, seen) = lines();
        let builder = marking(&dir, "{repository}:{tag}", false)
            .with_registry(registry)
            .with_progress(progress);
        let (pr, sha) = pr_and_sha();
        assert!(builder.build(pr, &sha).await.is_ok());
        assert!(dir.join("built").exists(), "the command ran");
        let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert!(
            seen.len() == 1
                && seen[0].contains("ecr:DescribeImages")
                && seen[0].contains("building it"),
            "{seen:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn an_image_elsewhere_is_built_without_asking() {
        let dir = scratch("elsewhere");
        let registry = Canned::new(Ok(true));
        for image in [
            "ghcr.io/apache/superset-ci:{tag}",
            &format!("{ECR}/another-repository:{{tag}}"),
        ] {
            let _ = std::fs::remove_file(dir.join("built"));
            let builder = marking(&dir, image, false).with_registry(registry.clone());
            let (pr, sha) = pr_and_sha();
            assert!(builder.build(pr, &sha).await.is_ok(), "{image}");
            assert!(dir.join("built").exists(), "{image} is built");
        }
        assert!(registry.asked().is_empty(), "ECR was not asked");

        // Without a build command nothing is built and nothing asked.
        let named = CommandBuilder::new("{repository}:{tag}", "superset-ci", None)
            .with_registry(registry.clone());
        let (pr, sha) = pr_and_sha();
        assert!(named.build(pr, &sha).await.is_ok());
        assert!(registry.asked().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A registry over a directory: an image "exists" once the build
    /// command has left a file named for its tag there, as a push would.
    /// It records its answers, so the test sees each build the engine asked
    /// for.
    #[derive(Debug, Clone)]
    struct Pushed(PathBuf, Arc<Mutex<Vec<bool>>>);

    #[async_trait]
    impl Registry for Pushed {
        async fn has_image(&self, image: &EcrImage) -> Result<bool, AwsError> {
            let there = self.0.join(&image.tag).exists();
            self.1.lock().unwrap_or_else(|p| p.into_inner()).push(there);
            Ok(there)
        }
    }

    /// `/circus refresh` of the commit that runs goes through the whole
    /// pipeline again (a "rebuild") and costs no build: the engine over
    /// in-memory GitHub and backend, with this builder and a registry that
    /// holds what the command pushed.
    #[tokio::test]
    async fn refresh_of_the_running_commit_builds_nothing() {
        use showtime_core::commands::SlashCommand;
        use showtime_core::plan::Event;
        use showtime_core::ports::{Health, Permission};
        use showtime_core::testing::World;

        let dir = scratch("refresh");
        let answers = Arc::new(Mutex::new(Vec::new()));
        let script = format!(
            "echo {{tag}} >> '{0}/builds' && touch '{0}/{{tag}}'",
            dir.display()
        );
        let builder = CommandBuilder::new(
            "{repository}:{tag}",
            "superset-ci",
            Some(vec!["sh".into(), "-c".into(), script]),
        )
        .with_registry(Pushed(dir.clone(), answers.clone()));
        let world = World::new();
        world.host.set_permission("maxime", Permission::Write);
        let pr = world.open_pr(
            7,
            "abc123f0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6",
            "maxime",
            &["🎪 ⚡ showtime-trigger-start"],
        );
        let mut ports = world.ports();
        ports.builder = Arc::new(builder);
        let engine = showtime_core::engine::Engine::new(ports, world.policy.clone());
        let maxime = || Some("maxime".parse().unwrap_or_else(|e| panic!("{e}")));
        let builds = || {
            std::fs::read_to_string(dir.join("builds"))
                .unwrap_or_default()
                .lines()
                .count()
        };

        engine
            .reconcile(pr, Event::Look, maxime())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(builds(), 1, "the first start builds");
        let deploys = world.backend.calls("deploy");

        engine
            .reconcile(pr, Event::Command(SlashCommand::Refresh), maxime())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(builds(), 1, "the refresh found the image and built nothing");
        assert_eq!(
            answers.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            [false, true],
            "the engine asked for a build both times; the registry had it the second"
        );
        assert!(
            world.backend.calls("deploy") > deploys,
            "the refresh went through the deploy pipeline again"
        );
        let running: Vec<_> = world
            .backend
            .environments()
            .into_iter()
            .filter(|e| e.health == Health::Healthy)
            .map(|e| e.id.to_string())
            .collect();
        assert_eq!(running, ["pr-7-abc123f"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
