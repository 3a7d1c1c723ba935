//! The ECR registry check: one `ecr:DescribeImages`, "absent" for
//! `ImageNotFoundException`, an error for anything else (which a builder
//! turns into a build), no call for an image in another region.

use super::*;
use aws_sdk_ecr::operation::describe_images::{DescribeImagesError, DescribeImagesOutput};
use aws_sdk_ecr::types::ImageDetail;
use showtime_aws::{EcrImage, EcrRegistry, Registry};

fn image(region: &str) -> EcrImage {
    EcrImage::parse(
        &format!("123456789012.dkr.ecr.{region}.amazonaws.com/superset-ci:pr-42-abc123f-ci"),
        "superset-ci",
    )
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_registry_answers_present_absent_or_unknown() {
    let present = mock!(Ecr::describe_images)
        .match_requests(|r| {
            r.repository_name() == Some("superset-ci")
                && r.registry_id() == Some("123456789012")
                && r.image_ids().len() == 1
                && r.image_ids()[0].image_tag() == Some("pr-42-abc123f-ci")
        })
        .then_output(|| {
            DescribeImagesOutput::builder()
                .image_details(
                    ImageDetail::builder()
                        .image_tags("pr-42-abc123f-ci")
                        .build(),
                )
                .build()
        });
    let absent = mock!(Ecr::describe_images).then_error(|| {
        DescribeImagesError::generic(error("ImageNotFoundException", "no such image"))
    });
    let denied = mock!(Ecr::describe_images).then_error(|| {
        DescribeImagesError::generic(error("AccessDeniedException", "not authorized"))
    });
    let rules = [&present, &absent, &denied];
    let registry = EcrRegistry::new(mock_sdk!(aws_sdk_ecr, rules));

    assert_eq!(registry.has_image(&image("us-east-1")).await, Ok(true));
    assert_eq!(registry.has_image(&image("us-east-1")).await, Ok(false));
    let err = registry.has_image(&image("us-east-1")).await.unwrap_err();
    assert!(matches!(err, AwsError::AccessDenied { .. }), "{err}");
    assert!(err.to_string().contains("ecr:DescribeImages"), "{err}");
    assert_eq!(calls(&rules), 3, "one call per question");

    // Another region than the client's: not asked.
    let err = registry.has_image(&image("eu-west-1")).await.unwrap_err();
    assert!(err.to_string().contains("eu-west-1"), "{err}");
    assert_eq!(calls(&rules), 3);
}
