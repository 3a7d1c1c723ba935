//! How AWS's errors reach the engine: transient or permanent, and what they say.

use super::*;

#[test]
fn aws_errors_convert_to_port_errors() {
    let e = PortError::from(AwsError::Sdk {
        operation: "ecs:DescribeServices".into(),
        message: "dispatch failure".into(),
        transient: true,
    });
    assert!(e.is_transient());
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_transient_and_unknown_errors_permanent() {
    let list = mock!(Ecs::list_services).then_error(|| {
        ListServicesError::generic(error("ServerException", "Service unavailable."))
    });
    let b = backend(
        mock_sdk!(aws_sdk_ecs, [&list]),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    let err = b.list(None).await.unwrap_err();
    assert!(err.is_transient(), "{err}");

    let list = mock!(Ecs::list_services)
        .then_error(|| ListServicesError::generic(error("SomethingNewException", "Surprise.")));
    let b = backend(
        mock_sdk!(aws_sdk_ecs, [&list]),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    let err = b.list(None).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(err.to_string().contains("ecs:ListServices failed"), "{err}");

    let list = mock!(Ecs::list_services).then_error(|| {
        ListServicesError::generic(error(
            "InvalidParameterException",
            "maxResults must be at most 100",
        ))
    });
    let b = backend(
        mock_sdk!(aws_sdk_ecs, [&list]),
        no_ecr(),
        no_ec2(),
        settings(),
    );
    let err = b.list(None).await.unwrap_err().to_string();
    assert!(err.contains("AWS rejected ecs:ListServices"), "{err}");
}
