//! The ECR registry check against moto: a pushed tag is there, an absent
//! one (or one in an empty repository) is not, a missing repository is an
//! error; one `ecr:DescribeImages` each.

use super::*;

fn image(aws: &Aws, tag: &str) -> EcrImage {
    EcrImage::parse(&format!("{}:{tag}", aws.repository_uri), REPOSITORY)
        .unwrap_or_else(|| panic!("{} names the repository", aws.repository_uri))
}

#[tokio::test]
async fn the_registry_says_whether_a_tag_was_pushed() {
    let aws = Aws::start().await;
    let registry = aws.backend().registry();
    aws.push_image("pr-7-1234567-ci", "7").await;

    aws.moto.reset_calls();
    let pushed = image(&aws, "pr-7-1234567-ci");
    assert!(
        pushed.registry_id.is_some(),
        "moto's repository URI names the registry: {pushed:?}"
    );
    assert!(registry.has_image(&pushed).await.unwrap());
    assert!(
        !registry
            .has_image(&image(&aws, "pr-7-7654321-ci"))
            .await
            .unwrap()
    );
    // Without a registry in the reference: the client's account.
    let bare = EcrImage::parse("superset-ci:pr-7-1234567-ci", REPOSITORY).unwrap();
    assert!(registry.has_image(&bare).await.unwrap());
    assert_eq!(
        aws.moto.calls(),
        BTreeMap::from([("ecr:DescribeImages".to_owned(), 3)])
    );

    // A repository that does not exist: an error naming the call, which a
    // builder treats as "not known" (and builds).
    let elsewhere = EcrImage {
        repository: "no-such-repository".to_owned(),
        ..bare
    };
    let err = registry.has_image(&elsewhere).await.unwrap_err();
    assert!(err.to_string().contains("ecr:DescribeImages"), "{err}");
}
