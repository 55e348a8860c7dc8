//! A lost response: the call took effect on moto, the caller never heard.

use aws_sdk_ec2::types::Filter;
use aws_smithy_types::retry::ErrorKind;

use super::*;

async fn vpcs_with_cidr(ec2: &aws_sdk_ec2::Client, cidr: &str) -> usize {
    let filter = Filter::builder().name("cidr").values(cidr).build();
    let vpcs = ec2.describe_vpcs().filters(filter).send().await;
    vpcs.expect("moto answers DescribeVpcs").vpcs().len()
}

#[tokio::test]
async fn a_dropped_create_vpc_response_leaves_the_vpc_and_the_sdk_retry_makes_another() {
    let (moto, proxy) = moto_behind_proxy("seed=1;drop=#1,2@ec2:CreateVpc");
    let direct =
        aws_sdk_ec2::Client::new(&sdk_config(&moto.endpoint(), RetryConfig::disabled()).await);

    // Without retries the SDK reports a dispatch failure: hyper's
    // IncompleteMessage ("connection closed before message completed"),
    // classified as a transient error, with no response and so no error code;
    // nothing says whether the VPC was created.
    let once =
        aws_sdk_ec2::Client::new(&sdk_config(&proxy.endpoint(), RetryConfig::disabled()).await);
    let error = once
        .create_vpc()
        .cidr_block("10.1.0.0/16")
        .send()
        .await
        .expect_err("the response was dropped");
    match &error {
        SdkError::DispatchFailure(dispatch) => {
            assert_eq!(
                dispatch.as_other(),
                Some(ErrorKind::TransientError),
                "{error:?}"
            );
            assert!(
                format!("{error:?}").contains("IncompleteMessage"),
                "{error:?}"
            );
        }
        other => panic!("expected a dispatch failure, got {other:?}"),
    }
    assert_eq!(vpcs_with_cidr(&direct, "10.1.0.0/16").await, 1);

    // With retries the SDK treats the lost response as transient and sends
    // CreateVpc again: the call "succeeds", and moto holds two VPCs.
    let retrying = aws_sdk_ec2::Client::new(&sdk_config(&proxy.endpoint(), quick_retries()).await);
    let created = retrying
        .create_vpc()
        .cidr_block("10.2.0.0/16")
        .send()
        .await
        .expect("the retry gets moto's answer");
    let vpc_id = created.vpc().and_then(|v| v.vpc_id()).expect("a VPC id");
    assert_eq!(vpcs_with_cidr(&direct, "10.2.0.0/16").await, 2, "{vpc_id}");

    let stats = proxy.stats().operation("ec2:CreateVpc");
    assert_eq!((stats.requests, stats.dropped), (3, 2), "{}", proxy.stats());
}
