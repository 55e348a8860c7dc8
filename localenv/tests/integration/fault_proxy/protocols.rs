//! Each protocol family's throttling and 503 errors parse in the SDK as the
//! right code, and the SDK's own retry rides them out.

use std::future::Future;

use aws_sdk_cloudfront::types::{
    OriginAccessControlConfig, OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols,
};
use localenv::fault_proxy::Fault;

use super::*;

/// One operation of a protocol family and the (code, status) the SDK must
/// report for each injected fault.
struct Family {
    operation: &'static str,
    throttled: (&'static str, u16),
    unavailable: (&'static str, u16),
}

/// Calls 1 (throttled) and 2 (unavailable) with retries off surface exactly
/// the protocol's codes; call 3 (throttled) with retries on is retried by the
/// SDK as call 4, which succeeds. `call` creates the same resource each time;
/// it can only succeed once, so a fault that reached moto would show.
async fn check<F, Fut>(family: Family, call: F)
where
    F: Fn(SdkConfig) -> Fut,
    Fut: Future<Output = Result<(), Failure>>,
{
    let operation = family.operation;
    let plan = format!("seed=1;throttle=#1,3@{operation};unavailable=#2@{operation}");
    let (_moto, proxy) = moto_behind_proxy(&plan);
    let once = sdk_config(&proxy.endpoint(), RetryConfig::disabled()).await;
    let expected = |(code, status): (&str, u16)| Failure {
        code: Some(code.to_string()),
        status: Some(status),
    };
    assert_eq!(call(once.clone()).await, Err(expected(family.throttled)));
    assert_eq!(call(once).await, Err(expected(family.unavailable)));

    let retrying = sdk_config(&proxy.endpoint(), quick_retries()).await;
    if let Err(failure) = call(retrying).await {
        panic!(
            "{operation} failed despite retries: {failure:?}\n{}",
            proxy.stats()
        );
    }
    let stats = proxy.stats().operation(operation);
    assert_eq!(stats.requests, 4, "{}", proxy.stats());
    assert_eq!(
        stats.faulted_calls,
        [
            (1, Fault::Throttle),
            (2, Fault::Unavailable),
            (3, Fault::Throttle)
        ]
    );
}

#[tokio::test]
async fn ec2_query() {
    let family = Family {
        operation: "ec2:CreateVpc",
        throttled: ("RequestLimitExceeded", 503),
        unavailable: ("Unavailable", 503),
    };
    check(family, |config| async move {
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let send = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await;
        send.map(drop).map_err(failure)
    })
    .await;
}

#[tokio::test]
async fn iam_aws_query() {
    let family = Family {
        operation: "iam:CreateUser",
        throttled: ("Throttling", 400),
        unavailable: ("ServiceUnavailable", 503),
    };
    check(family, |config| async move {
        let iam = aws_sdk_iam::Client::new(&config);
        let send = iam.create_user().user_name("fault-proxy").send().await;
        send.map(drop).map_err(failure)
    })
    .await;
}

#[tokio::test]
async fn s3_rest_xml() {
    let family = Family {
        operation: "s3:CreateBucket",
        throttled: ("SlowDown", 503),
        unavailable: ("ServiceUnavailable", 503),
    };
    check(family, |config| async move {
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        );
        let send = s3.create_bucket().bucket("fault-proxy").send().await;
        send.map(drop).map_err(failure)
    })
    .await;
}

#[tokio::test]
async fn cloudfront_rest_xml() {
    let family = Family {
        operation: "cloudfront:CreateOriginAccessControl",
        throttled: ("Throttling", 400),
        unavailable: ("ServiceUnavailable", 503),
    };
    check(family, |config| async move {
        let cloudfront = aws_sdk_cloudfront::Client::new(&config);
        let oac = OriginAccessControlConfig::builder()
            .name("fault-proxy")
            .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
            .signing_behavior(OriginAccessControlSigningBehaviors::Always)
            .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
            .build()
            .expect("complete OAC config");
        let send = cloudfront
            .create_origin_access_control()
            .origin_access_control_config(oac)
            .send()
            .await;
        send.map(drop).map_err(failure)
    })
    .await;
}

#[tokio::test]
async fn secrets_manager_json() {
    let family = Family {
        operation: "secretsmanager:CreateSecret",
        throttled: ("ThrottlingException", 400),
        unavailable: ("ServiceUnavailable", 503),
    };
    check(family, |config| async move {
        let secrets = aws_sdk_secretsmanager::Client::new(&config);
        let send = secrets
            .create_secret()
            .name("fault-proxy")
            .secret_string("not-a-real-secret")
            .send()
            .await;
        send.map(drop).map_err(failure)
    })
    .await;
}
