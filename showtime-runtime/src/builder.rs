//! Image builders: the engine's [`ImageBuilder`] port for real programs.
//!
//! [`CommandBuilder`] runs a configured command (`docker buildx build
//! --push -t {image} .`), or, without one, names the image an earlier step
//! built; [`NoBuild`] is for backends that run no image (the local one). No
//! argument ever passes through a shell.

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
