//! ECR as an image registry: whether an image tag is already there, so that
//! a commit built once is not built again.
//!
//! This module owns [`EcrImage`] (an image reference that names an ECR
//! repository, read from the reference an image template makes), the
//! [`Registry`] trait (the one question an image builder asks) and
//! [`EcrRegistry`], its ECR implementation (one `ecr:DescribeImages`). It
//! answers questions only: deleting an environment's image is the
//! backend's (`destroy`), and deciding to build is the builder's.

use async_trait::async_trait;

use crate::error::{self, AwsError};

/// An image reference that names an ECR repository: `repository:tag`, or
/// `<account>.dkr.ecr.<region>.amazonaws.com/repository:tag`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EcrImage {
    /// The registry's account, when the reference names the registry.
    pub registry_id: Option<String>,
    /// The registry's region, when the reference names the registry.
    pub region: Option<String>,
    /// The repository, e.g. `superset-ci`.
    pub repository: String,
    /// The tag, e.g. `pr-42-abc123f-ci`.
    pub tag: String,
}

impl EcrImage {
    /// Reads `reference` as an image in ECR repository `repository`: its
    /// path must be `repository` and its registry, if it names one, an ECR
    /// registry (`<account>.dkr.ecr.<region>.amazonaws.com`, or `.com.cn`).
    /// `None` for anything else (another repository, another registry, a
    /// digest instead of a tag), which ECR cannot be asked about.
    pub fn parse(reference: &str, repository: &str) -> Option<EcrImage> {
        if reference.contains('@') {
            return None;
        }
        let (host, rest) = match reference.split_once('/') {
            // Docker's rule: a first component with a dot or a colon, or
            // `localhost`, is a registry host.
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (Some(first), rest)
            }
            _ => (None, reference),
        };
        let (path, tag) = rest.rsplit_once(':')?;
        if path != repository || tag.is_empty() || tag.contains('/') {
            return None;
        }
        let (registry_id, region) = match host {
            None => (None, None),
            Some(host) => {
                let (account, region) = ecr_host(host)?;
                (Some(account.to_owned()), Some(region.to_owned()))
            }
        };
        Some(EcrImage {
            registry_id,
            region,
            repository: repository.to_owned(),
            tag: tag.to_owned(),
        })
    }
}

impl std::fmt::Display for EcrImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let (Some(account), Some(region)) = (&self.registry_id, &self.region) {
            write!(f, "{account}.dkr.ecr.{region}.amazonaws.com/")?;
        }
        write!(f, "{}:{}", self.repository, self.tag)
    }
}

/// The account and region of an ECR registry host.
fn ecr_host(host: &str) -> Option<(&str, &str)> {
    let rest = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))?;
    let (account, rest) = rest.split_once(".dkr.ecr.")?;
    let valid_account = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let valid_region = !rest.is_empty() && !rest.contains('.');
    (valid_account && valid_region).then_some((account, rest))
}

/// Where images are kept, as an image builder asks it: is this one there?
#[async_trait]
pub trait Registry: Send + Sync + std::fmt::Debug {
    /// Whether `image` exists. `Ok(false)` when the registry says it does
    /// not; an error when it could not be asked (the caller decides what a
    /// failed check means; a builder builds).
    async fn has_image(&self, image: &EcrImage) -> Result<bool, AwsError>;
}

/// [`Registry`] on ECR: one `ecr:DescribeImages` of the tag.
#[derive(Debug, Clone)]
pub struct EcrRegistry {
    client: aws_sdk_ecr::Client,
}

impl EcrRegistry {
    /// A registry asked through `client` (its region is the registry's
    /// region when an image reference names none).
    pub fn new(client: aws_sdk_ecr::Client) -> Self {
        EcrRegistry { client }
    }
}

#[async_trait]
impl Registry for EcrRegistry {
    /// `ImageNotFoundException` is `Ok(false)`; a missing repository is an
    /// error (nothing could have been pushed, and the push will say so). An
    /// image in another region than the client's cannot be checked: an
    /// error, without a call.
    async fn has_image(&self, image: &EcrImage) -> Result<bool, AwsError> {
        let operation = "ecr:DescribeImages";
        let ours = self.client.config().region().map(|r| r.as_ref().to_owned());
        if let (Some(theirs), Some(ours)) = (&image.region, &ours)
            && theirs != ours
        {
            return Err(AwsError::Setting {
                name: "AWS_REGION".to_owned(),
                message: format!(
                    "image {image} is in region {theirs} but the ECR client is in {ours}, so \
                     it cannot be looked up"
                ),
            });
        }
        let result = self
            .client
            .describe_images()
            .repository_name(&image.repository)
            .set_registry_id(image.registry_id.clone())
            .image_ids(
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_tag(&image.tag)
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(out) => Ok(out
                .image_details()
                .iter()
                .any(|d| d.image_tags().iter().any(|t| t == &image.tag))),
            Err(e) if error::code(&e) == Some("ImageNotFoundException") => Ok(false),
            Err(e) => Err(error::from_sdk(operation, "", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_to_the_repository_are_read() {
        let image = |r: &str| EcrImage::parse(r, "superset-ci");
        assert_eq!(
            image("123456789012.dkr.ecr.us-west-2.amazonaws.com/superset-ci:pr-42-abc123f-ci"),
            Some(EcrImage {
                registry_id: Some("123456789012".into()),
                region: Some("us-west-2".into()),
                repository: "superset-ci".into(),
                tag: "pr-42-abc123f-ci".into(),
            })
        );
        assert_eq!(
            image("superset-ci:pr-42-abc123f-ci").map(|i| (i.registry_id, i.tag)),
            Some((None, "pr-42-abc123f-ci".to_owned()))
        );
        assert!(image("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/superset-ci:t").is_some());
        let round = "123456789012.dkr.ecr.us-west-2.amazonaws.com/superset-ci:t";
        assert_eq!(image(round).map(|i| i.to_string()).as_deref(), Some(round));
    }

    #[test]
    fn other_images_are_not_ecr_questions() {
        let image = |r: &str| EcrImage::parse(r, "superset-ci");
        for other in [
            "ghcr.io/apache/superset-ci:pr-42-abc123f-ci",
            "registry.example/superset-ci:pr-42-abc123f-ci",
            "localhost:5000/superset-ci:t",
            "123456789012.dkr.ecr.us-west-2.amazonaws.com/other:t",
            "123456789012.dkr.ecr.us-west-2.amazonaws.com/team/superset-ci:t",
            "superset-ci",
            "superset-ci:",
            "superset-ci@sha256:0123",
            "apache/superset:latest",
            "1234.dkr.ecr.us-west-2.amazonaws.com/superset-ci:t",
        ] {
            assert_eq!(image(other), None, "{other}");
        }
        // A repository with a path is matched whole.
        assert!(EcrImage::parse("team/app:t", "team/app").is_some());
    }
}
