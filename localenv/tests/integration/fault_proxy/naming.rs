//! The proxy names each operation the real SDK sends as `service:Operation`,
//! for every protocol: S3's bucket lifecycle as foundry drives it, CloudFront,
//! the query services and the JSON ones.

use std::collections::BTreeSet;

use aws_sdk_cloudfront::types::{
    OriginAccessControlConfig, OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols,
};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketVersioningStatus, CorsConfiguration, CorsRule, Delete,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, ObjectIdentifier,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
    VersioningConfiguration,
};

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn s3_bucket_lifecycle(config: &SdkConfig) -> TestResult {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    );
    let bucket = "naming";
    s3.create_bucket().bucket(bucket).send().await?;
    let tags = Tagging::builder()
        .tag_set(Tag::builder().key("foundry:stack").value("t").build()?)
        .build()?;
    s3.put_bucket_tagging()
        .bucket(bucket)
        .tagging(tags)
        .send()
        .await?;
    let block = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(block)
        .send()
        .await?;
    // An Allow: moto enforces bucket policies, so a Deny could block the test.
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::naming/*"}]}"#;
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(policy)
        .send()
        .await?;
    let encryption = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::Aes256)
                        .build()?,
                )
                .build(),
        )
        .build()?;
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(encryption)
        .send()
        .await?;
    let versioning = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Enabled)
        .build();
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(versioning)
        .send()
        .await?;
    let lifecycle = BucketLifecycleConfiguration::builder()
        .rules(
            LifecycleRule::builder()
                .id("expire")
                .status(ExpirationStatus::Enabled)
                .filter(LifecycleRuleFilter::builder().prefix("tmp/").build())
                .expiration(LifecycleExpiration::builder().days(7).build())
                .build()?,
        )
        .build()?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(lifecycle)
        .send()
        .await?;
    let cors = CorsConfiguration::builder()
        .cors_rules(
            CorsRule::builder()
                .allowed_methods("GET")
                .allowed_origins("*")
                .build()?,
        )
        .build()?;
    s3.put_bucket_cors()
        .bucket(bucket)
        .cors_configuration(cors)
        .send()
        .await?;
    s3.head_bucket().bucket(bucket).send().await?;
    s3.get_bucket_tagging().bucket(bucket).send().await?;
    s3.get_public_access_block().bucket(bucket).send().await?;
    s3.get_bucket_policy().bucket(bucket).send().await?;
    s3.get_bucket_encryption().bucket(bucket).send().await?;
    // moto 5.2 answers with a root element the SDK rejects (foundry's bucket
    // reader works around it); the request still went through the proxy.
    match s3.get_bucket_versioning().bucket(bucket).send().await {
        Ok(_) => {}
        Err(e) if e.raw_response().is_some_and(|r| r.status().is_success()) => {}
        Err(e) => return Err(e.into()),
    }
    s3.get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await?;
    s3.get_bucket_cors().bucket(bucket).send().await?;
    s3.put_object()
        .bucket(bucket)
        .key("tmp/a b.txt")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await?;
    s3.get_object()
        .bucket(bucket)
        .key("tmp/a b.txt")
        .send()
        .await?;
    s3.list_buckets().send().await?;
    // Emptying a versioned bucket, as `foundry destroy` does.
    let versions = s3.list_object_versions().bucket(bucket).send().await?;
    let mut delete = Delete::builder();
    for version in versions.versions() {
        delete = delete.objects(
            ObjectIdentifier::builder()
                .key(version.key().unwrap_or_default())
                .set_version_id(version.version_id().map(str::to_string))
                .build()?,
        );
    }
    s3.delete_objects()
        .bucket(bucket)
        .delete(delete.build()?)
        .send()
        .await?;
    s3.delete_bucket_cors().bucket(bucket).send().await?;
    s3.delete_bucket_lifecycle().bucket(bucket).send().await?;
    s3.delete_bucket().bucket(bucket).send().await?;
    Ok(())
}

async fn cloudfront_origin_access_control(config: &SdkConfig) -> TestResult {
    let cloudfront = aws_sdk_cloudfront::Client::new(config);
    let oac_config = |name: &str| {
        OriginAccessControlConfig::builder()
            .name(name)
            .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
            .signing_behavior(OriginAccessControlSigningBehaviors::Always)
            .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
            .build()
    };
    let created = cloudfront
        .create_origin_access_control()
        .origin_access_control_config(oac_config("naming")?)
        .send()
        .await?;
    let id = created
        .origin_access_control()
        .map(|oac| oac.id().to_string())
        .ok_or("no OAC in the answer")?;
    let got = cloudfront
        .get_origin_access_control()
        .id(&id)
        .send()
        .await?;
    cloudfront
        .update_origin_access_control()
        .id(&id)
        .if_match(got.e_tag().unwrap_or_default())
        .origin_access_control_config(oac_config("renamed")?)
        .send()
        .await?;
    cloudfront.list_origin_access_controls().send().await?;
    cloudfront.list_distributions().send().await?;
    let etag = cloudfront
        .get_origin_access_control()
        .id(&id)
        .send()
        .await?
        .e_tag;
    cloudfront
        .delete_origin_access_control()
        .id(&id)
        .set_if_match(etag)
        .send()
        .await?;
    Ok(())
}

async fn query_and_json_services(config: &SdkConfig) -> TestResult {
    aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await?;
    aws_sdk_ec2::Client::new(config)
        .describe_vpcs()
        .send()
        .await?;
    aws_sdk_iam::Client::new(config).list_roles().send().await?;
    aws_sdk_rds::Client::new(config)
        .describe_db_instances()
        .send()
        .await?;
    aws_sdk_sns::Client::new(config)
        .list_topics()
        .send()
        .await?;
    aws_sdk_cloudwatch::Client::new(config)
        .describe_alarms()
        .send()
        .await?;
    aws_sdk_secretsmanager::Client::new(config)
        .list_secrets()
        .send()
        .await?;
    aws_sdk_ecr::Client::new(config)
        .describe_repositories()
        .send()
        .await?;
    Ok(())
}

#[tokio::test]
async fn every_protocol_s_operations_are_named() -> TestResult {
    let (_moto, proxy) = moto_behind_proxy("seed=0");
    let config = sdk_config(&proxy.endpoint(), RetryConfig::disabled()).await;
    // Keep-alive works (connections are reused), but how many a client
    // opens depends on timing under load, so it is not asserted here.
    s3_bucket_lifecycle(&config).await?;
    cloudfront_origin_access_control(&config).await?;
    assert!(proxy.connections_accepted() >= 1);
    query_and_json_services(&config).await?;

    let stats = proxy.stats();
    let seen: BTreeSet<&str> = stats.operations.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "s3:CreateBucket",
        "s3:PutBucketTagging",
        "s3:PutPublicAccessBlock",
        "s3:PutBucketPolicy",
        "s3:PutBucketEncryption",
        "s3:PutBucketVersioning",
        "s3:PutBucketLifecycleConfiguration",
        "s3:PutBucketCors",
        "s3:HeadBucket",
        "s3:GetBucketTagging",
        "s3:GetPublicAccessBlock",
        "s3:GetBucketPolicy",
        "s3:GetBucketEncryption",
        "s3:GetBucketVersioning",
        "s3:GetBucketLifecycleConfiguration",
        "s3:GetBucketCors",
        "s3:PutObject",
        "s3:GetObject",
        "s3:ListBuckets",
        "s3:ListObjectVersions",
        "s3:DeleteObjects",
        "s3:DeleteBucketCors",
        "s3:DeleteBucketLifecycle",
        "s3:DeleteBucket",
        "cloudfront:CreateOriginAccessControl",
        "cloudfront:GetOriginAccessControl",
        "cloudfront:UpdateOriginAccessControl",
        "cloudfront:ListOriginAccessControls",
        "cloudfront:ListDistributions",
        "cloudfront:DeleteOriginAccessControl",
        "sts:GetCallerIdentity",
        "ec2:DescribeVpcs",
        "iam:ListRoles",
        "rds:DescribeDBInstances",
        "sns:ListTopics",
        "cloudwatch:DescribeAlarms",
        "secretsmanager:ListSecrets",
        "ecr:DescribeRepositories",
    ]
    .into();
    assert_eq!(seen, expected, "{stats}");
    assert_eq!(stats.total_faults(), 0);
    Ok(())
}
