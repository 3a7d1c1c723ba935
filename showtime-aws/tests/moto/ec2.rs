//! The one EC2 call, `DescribeNetworkInterfaces`, over the EC2 query API.

use super::*;

#[tokio::test]
async fn network_interfaces_are_read_over_the_ec2_query_api() {
    let aws = Aws::start().await;
    let ec2 = Ec2Client::from_sdk_config(&aws.config, None).unwrap();
    assert_eq!(ec2.endpoint(), aws.moto.endpoint);

    let created = ec2
        .call(
            "CreateNetworkInterface",
            &[
                ("SubnetId", &aws.subnet),
                ("PrivateIpAddress", "10.0.1.17"),
                ("SecurityGroupId.1", &aws.security_group),
            ],
        )
        .await
        .unwrap();
    let eni = xml_field(&created, "networkInterfaceId");

    // A private interface: its address, no public one.
    let seen = ec2.describe(&eni).await.unwrap().unwrap();
    assert_eq!(seen.id, eni);
    assert_eq!(seen.private_ip, Some("10.0.1.17".parse().unwrap()));
    assert_eq!(seen.public_ip, None);

    // With an Elastic IP associated, its public address too.
    let allocated = ec2
        .call("AllocateAddress", &[("Domain", "vpc")])
        .await
        .unwrap();
    let (public, allocation) = (
        xml_field(&allocated, "publicIp"),
        xml_field(&allocated, "allocationId"),
    );
    ec2.call(
        "AssociateAddress",
        &[("AllocationId", &allocation), ("NetworkInterfaceId", &eni)],
    )
    .await
    .unwrap();
    let seen = ec2.describe(&eni).await.unwrap().unwrap();
    assert_eq!(seen.public_ip, Some(public.parse().unwrap()));

    // An interface EC2 does not know: none, not an error.
    assert_eq!(ec2.describe("eni-0000000000000dead").await.unwrap(), None);

    // An error answer is typed by its code and names the call.
    let error = ec2
        .call(
            "CreateSubnet",
            &[("VpcId", "vpc-missing"), ("CidrBlock", "10.9.0.0/24")],
        )
        .await
        .unwrap_err();
    assert!(!error.is_transient(), "{error}");
    let text = error.to_string();
    assert!(text.contains("ec2:CreateSubnet"), "{text}");
    assert!(text.contains("InvalidVpcID.NotFound"), "{text}");
}
