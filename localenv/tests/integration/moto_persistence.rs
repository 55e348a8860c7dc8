//! moto with a snapshot: what a stack creates survives a SIGTERM and a new
//! start on the same file, with the same ids and values, and the restored
//! server keeps serving new requests.

use std::process::Command;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::config::Credentials;
use localenv::moto::{self, MotoError, MotoServer};

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await
}

/// boto3 in moto's own virtualenv, for what the workspace has no SDK crate
/// for (KMS, ACM) or builds verbosely (a CloudFront distribution):
/// `script` has `client(name)` and `kms`, gets `endpoint` and `args` as
/// `sys.argv[1:]`, and prints its answer.
fn boto3(endpoint: &str, script: &str, args: &[&str]) -> String {
    let prelude = "import sys, base64, json, boto3
def client(name):
    return boto3.client(name, endpoint_url=sys.argv[1], region_name='us-east-1',
        aws_access_key_id='test', aws_secret_access_key='test')
kms = client('kms')
";
    let output = Command::new(moto::venv_dir().join("bin").join("python"))
        .arg("-I")
        .arg("-c")
        .arg(format!("{prelude}{script}"))
        .arg(endpoint)
        .args(args)
        .output()
        .expect("moto's virtualenv has python");
    assert!(
        output.status.success(),
        "boto3 call failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// Everything the test created, as the first server answered it.
#[derive(Debug, PartialEq)]
struct Seen {
    vpc: String,
    subnets: Vec<String>,
    db_resource_id: String,
    db_endpoint: String,
    master_secret_arn: String,
    master_secret_value: String,
    object: Vec<u8>,
    secret_value: String,
    role_id: String,
    repository_uri: String,
    log_messages: Vec<String>,
    /// The KMS key, CloudFront, SNS, CloudWatch and ACM, as boto3 lists them.
    others: String,
}

/// A distribution, a topic with a subscription, an alarm on it, and a
/// certificate (an x509 object inside moto).
const CREATE_OTHERS: &str = "
client('cloudfront').create_distribution(DistributionConfig={'CallerReference': 'web', 'Comment': 'web',
    'Enabled': True, 'Origins': {'Quantity': 1, 'Items': [{'Id': 'web', 'DomainName': 'foundry-uploads.s3.amazonaws.com',
    'S3OriginConfig': {'OriginAccessIdentity': ''}}]}, 'DefaultCacheBehavior': {'TargetOriginId': 'web',
    'ViewerProtocolPolicy': 'redirect-to-https', 'ForwardedValues': {'QueryString': False, 'Cookies': {'Forward': 'none'}},
    'MinTTL': 0, 'TrustedSigners': {'Enabled': False, 'Quantity': 0}}})
topic = client('sns').create_topic(Name='alarms')['TopicArn']
client('sns').subscribe(TopicArn=topic, Protocol='email', Endpoint='ops@example.com')
client('cloudwatch').put_metric_alarm(AlarmName='api-errors', MetricName='5xxStatusResponses', Namespace='AWS/AppRunner',
    Statistic='Sum', Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator='GreaterThanThreshold', AlarmActions=[topic])
client('acm').request_certificate(DomainName='app.example.com')
";

const LIST_OTHERS: &str = "
print(json.dumps([
    kms.describe_key(KeyId=sys.argv[2])['KeyMetadata']['KeyId'],
    [d['Id'] for d in client('cloudfront').list_distributions()['DistributionList']['Items']],
    client('sns').list_topics()['Topics'],
    [s['SubscriptionArn'] for s in client('sns').list_subscriptions()['Subscriptions']],
    [a['AlarmArn'] for a in client('cloudwatch').describe_alarms()['MetricAlarms']],
    [client('acm').describe_certificate(CertificateArn=c['CertificateArn'])['Certificate']['DomainName']
     for c in client('acm').list_certificates()['CertificateSummaryList']],
]))
";

async fn look(config: &SdkConfig, vpc: &str, key_id: &str) -> Seen {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let rds = aws_sdk_rds::Client::new(config);
    let s3 = aws_sdk_s3::Client::new(config);
    let secrets = aws_sdk_secretsmanager::Client::new(config);
    let iam = aws_sdk_iam::Client::new(config);
    let ecr = aws_sdk_ecr::Client::new(config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(config);

    let vpcs = ec2.describe_vpcs().vpc_ids(vpc).send().await.expect("vpc");
    let subnets = ec2
        .describe_subnets()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(vpc)
                .build(),
        )
        .send()
        .await
        .expect("subnets");
    let mut subnet_ids: Vec<String> = subnets
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_owned))
        .collect();
    subnet_ids.sort();
    let db = rds
        .describe_db_instances()
        .db_instance_identifier("app")
        .send()
        .await
        .expect("db instance");
    let db = &db.db_instances()[0];
    let master_secret_arn = db
        .master_user_secret()
        .and_then(|s| s.secret_arn())
        .expect("RDS manages the master password")
        .to_owned();
    let master_secret_value = secrets
        .get_secret_value()
        .secret_id(&master_secret_arn)
        .send()
        .await
        .expect("master secret")
        .secret_string()
        .expect("string")
        .to_owned();
    let object = s3
        .get_object()
        .bucket("foundry-uploads")
        .key("docs/one.txt")
        .send()
        .await
        .expect("object")
        .body
        .collect()
        .await
        .expect("body")
        .to_vec();
    let secret_value = secrets
        .get_secret_value()
        .secret_id("app/provider-key")
        .send()
        .await
        .expect("secret")
        .secret_string()
        .expect("string")
        .to_owned();
    let role = iam
        .get_role()
        .role_name("app-instance")
        .send()
        .await
        .expect("role");
    let repositories = ecr
        .describe_repositories()
        .repository_names("app/api")
        .send()
        .await
        .expect("repository");
    let events = logs
        .get_log_events()
        .log_group_name("/app/api")
        .log_stream_name("instance/1")
        .start_from_head(true)
        .send()
        .await
        .expect("log events");
    let others = boto3(
        config.endpoint_url().expect("endpoint"),
        LIST_OTHERS,
        &[key_id],
    );
    Seen {
        vpc: vpcs.vpcs()[0].vpc_id().expect("id").to_owned(),
        subnets: subnet_ids,
        db_resource_id: db.dbi_resource_id().expect("resource id").to_owned(),
        db_endpoint: format!("{:?}", db.endpoint()),
        master_secret_arn,
        master_secret_value,
        object,
        secret_value,
        role_id: role.role().expect("role").role_id().to_owned(),
        repository_uri: repositories.repositories()[0]
            .repository_uri()
            .expect("uri")
            .to_owned(),
        log_messages: events
            .events()
            .iter()
            .filter_map(|e| e.message().map(str::to_owned))
            .collect(),
        others,
    }
}

#[tokio::test]
async fn a_stopped_moto_starts_again_with_everything_it_had() -> TestResult {
    let dir = tempfile::tempdir()?;
    let snapshot = dir.path().join("moto.snapshot");

    let first = MotoServer::start_persistent(&snapshot)?;
    let config = sdk_config(&first.endpoint()).await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.20.0.0/16")
        .send()
        .await?
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_owned();
    let mut subnets = Vec::new();
    for (cidr, zone) in [
        ("10.20.1.0/24", "us-east-1a"),
        ("10.20.2.0/24", "us-east-1b"),
    ] {
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(cidr)
            .availability_zone(zone)
            .send()
            .await?;
        subnets.push(
            subnet
                .subnet()
                .and_then(|s| s.subnet_id())
                .expect("id")
                .to_owned(),
        );
    }
    let rds = aws_sdk_rds::Client::new(&config);
    rds.create_db_subnet_group()
        .db_subnet_group_name("app")
        .db_subnet_group_description("app database")
        .set_subnet_ids(Some(subnets.clone()))
        .send()
        .await?;
    rds.create_db_instance()
        .db_instance_identifier("app")
        .db_instance_class("db.t4g.micro")
        .engine("postgres")
        .master_username("app")
        .manage_master_user_password(true)
        .allocated_storage(20)
        .db_subnet_group_name("app")
        .send()
        .await?;
    let s3 = aws_sdk_s3::Client::new(&config);
    s3.create_bucket().bucket("foundry-uploads").send().await?;
    s3.put_object()
        .bucket("foundry-uploads")
        .key("docs/one.txt")
        .body(b"the first document".to_vec().into())
        .send()
        .await?;
    aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name("app/provider-key")
        .secret_string("sk-local-value")
        .send()
        .await?;
    aws_sdk_iam::Client::new(&config)
        .create_role()
        .role_name("app-instance")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"tasks.apprunner.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await?;
    aws_sdk_ecr::Client::new(&config)
        .create_repository()
        .repository_name("app/api")
        .send()
        .await?;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    logs.create_log_group()
        .log_group_name("/app/api")
        .send()
        .await?;
    logs.create_log_stream()
        .log_group_name("/app/api")
        .log_stream_name("instance/1")
        .send()
        .await?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let mut put = logs
        .put_log_events()
        .log_group_name("/app/api")
        .log_stream_name("instance/1");
    for (i, message) in ["listening on 8080", "GET /readyz 200"].iter().enumerate() {
        put = put.log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now_ms + i as i64)
                .message(*message)
                .build()?,
        );
    }
    put.send().await?;
    // An asymmetric key: its private half must come back as it was, so a
    // signature made now verifies after the restart.
    let created = boto3(
        &first.endpoint(),
        &format!(
            "{CREATE_OTHERS}\
             key = kms.create_key(KeySpec='RSA_2048', KeyUsage='SIGN_VERIFY')['KeyMetadata']['KeyId']\n\
             signature = kms.sign(KeyId=key, Message=b'foundry', SigningAlgorithm='RSASSA_PSS_SHA_256')['Signature']\n\
             print(key, base64.b64encode(signature).decode())"
        ),
        &[],
    );
    let (key_id, signature) = created.split_once(' ').expect("key and signature");

    let before = look(&config, &vpc, key_id).await;
    assert_eq!(before.subnets.len(), 2);
    assert_eq!(
        before.log_messages,
        ["listening on 8080", "GET /readyz 200"]
    );
    assert!(
        before.others.contains("app.example.com"),
        "{}",
        before.others
    );
    let status = first.stop()?;
    assert!(status.success(), "moto saves and exits 0, not {status}");
    assert!(snapshot.is_file(), "the snapshot is written at stop");

    let second = MotoServer::start_persistent(&snapshot)?;
    let config = sdk_config(&second.endpoint()).await;
    let after = look(&config, &vpc, key_id).await;
    assert_eq!(after, before);
    let verified = boto3(
        &second.endpoint(),
        "print(kms.verify(KeyId=sys.argv[2], Message=b'foundry', Signature=base64.b64decode(sys.argv[3]),\n\
             SigningAlgorithm='RSASSA_PSS_SHA_256')['SignatureValid'])",
        &[key_id, signature],
    );
    assert_eq!(
        verified, "True",
        "the restored key verifies the old signature"
    );

    // The restored server serves new requests on the restored resources.
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let third_subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.20.3.0/24")
        .availability_zone("us-east-1c")
        .send()
        .await?;
    assert!(third_subnet.subnet().and_then(|s| s.subnet_id()).is_some());
    let overlapping = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.20.1.0/24")
        .send()
        .await;
    assert!(
        overlapping.is_err(),
        "the restored VPC still knows the subnets it had"
    );
    let s3 = aws_sdk_s3::Client::new(&config);
    s3.put_object()
        .bucket("foundry-uploads")
        .key("docs/two.txt")
        .body(b"the second document".to_vec().into())
        .send()
        .await?;
    let listed = s3
        .list_objects_v2()
        .bucket("foundry-uploads")
        .send()
        .await?;
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["docs/one.txt", "docs/two.txt"]);

    // And what it holds now survives the next restart too.
    assert!(second.stop()?.success());
    let third = MotoServer::start_persistent(&snapshot)?;
    let config = sdk_config(&third.endpoint()).await;
    let again = aws_sdk_s3::Client::new(&config)
        .list_objects_v2()
        .bucket("foundry-uploads")
        .send()
        .await?;
    assert_eq!(again.contents().len(), 2);
    Ok(())
}

#[test]
fn a_snapshot_that_cannot_be_read_fails_the_start_naming_the_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let snapshot = dir.path().join("moto.snapshot");
    std::fs::write(&snapshot, b"not a pickle")?;
    match MotoServer::start_persistent(&snapshot) {
        Err(error @ MotoError::SnapshotUnreadable { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains(&snapshot.display().to_string()),
                "{message}"
            );
        }
        Err(other) => panic!("expected SnapshotUnreadable, got {other}"),
        Ok(_) => panic!("moto started empty over an unreadable snapshot"),
    }
    assert_eq!(
        std::fs::read(&snapshot)?,
        b"not a pickle",
        "the file is left for the user to look at"
    );
    Ok(())
}
