//! AWS misbehaving under foundry: the fault proxy of `localenv` between the
//! real `foundry` binary and moto throttles, answers 503, or carries a call
//! out and then drops its response. Every run must still end with each
//! logical resource existing exactly once.

use localenv::fault_proxy::{Fault, FaultPlan, FaultProxy};

use crate::support::{
    Census, DataCensus, REFERENCE, REFERENCE_DATA, Run, TestEnv, reference_census,
};

/// The reference stack without the deletion protection of its prod database,
/// so that `destroy` can end what `up` made.
fn unprotected() -> String {
    REFERENCE.replace("deletion_protection = true", "deletion_protection = false")
}

fn proxy(env: &TestEnv, plan: &str) -> FaultProxy {
    let plan = FaultPlan::parse(plan).expect("a valid fault plan");
    FaultProxy::start(([127, 0, 0, 1], env.moto.port()).into(), plan).expect("proxy starts")
}

/// `foundry ARGS` with every AWS call going through `proxy`.
fn through(env: &TestEnv, proxy: &FaultProxy, args: &[&str]) -> Run {
    Run {
        output: env
            .command(args)
            .env("AWS_ENDPOINT_URL", proxy.endpoint())
            .output()
            .expect("run foundry"),
    }
}

/// Everything of `acme/<env>` counted with independent SDK calls.
#[derive(Debug, PartialEq, Eq)]
struct FullCensus {
    network: Census,
    data: DataCensus,
    /// Secrets (not scheduled for deletion), roles, repositories, topics, alarms.
    access: [usize; 5],
}

async fn census(env: &TestEnv, stage: &str) -> FullCensus {
    let config = env.sdk_config().await;
    let prefix = format!("acme/{stage}/");
    let name_prefix = format!("acme-{stage}-");
    let secrets = aws_sdk_secretsmanager::Client::new(&config)
        .list_secrets()
        .send()
        .await
        .unwrap()
        .secret_list()
        .iter()
        .filter(|s| s.name().is_some_and(|n| n.starts_with(&prefix)))
        .count();
    let roles = aws_sdk_iam::Client::new(&config)
        .list_roles()
        .path_prefix(format!("/foundry/acme/{stage}/"))
        .send()
        .await
        .unwrap()
        .roles()
        .len();
    let repositories = aws_sdk_ecr::Client::new(&config)
        .describe_repositories()
        .send()
        .await
        .unwrap()
        .repositories()
        .iter()
        .filter(|r| r.repository_name().is_some_and(|n| n.starts_with(&prefix)))
        .count();
    let topics = aws_sdk_sns::Client::new(&config)
        .list_topics()
        .send()
        .await
        .unwrap()
        .topics()
        .iter()
        .filter(|t| {
            t.topic_arn()
                .is_some_and(|a| a.contains(&format!(":{name_prefix}")))
        })
        .count();
    let alarms = aws_sdk_cloudwatch::Client::new(&config)
        .describe_alarms()
        .alarm_name_prefix(&name_prefix)
        .send()
        .await
        .unwrap()
        .metric_alarms()
        .len();
    FullCensus {
        network: env.census("acme", stage).await,
        data: env.data_census("acme", stage).await,
        access: [secrets, roles, repositories, topics, alarms],
    }
}

/// Nothing of `acme/<env>` left (secrets only scheduled for deletion).
fn empty() -> FullCensus {
    FullCensus {
        network: Census::default(),
        data: DataCensus::default(),
        access: [0; 5],
    }
}

/// The first response of every operation foundry calls is lost after AWS
/// carried the call out: every create (tagged or not, with an idempotency
/// token or without), every follow-up call and every delete of every
/// resource type. `up` and `destroy` still succeed, and no duplicate exists
/// at any point after either.
#[tokio::test]
async fn the_first_response_of_every_operation_lost_still_converges_without_duplicates() {
    let env = TestEnv::start().await;
    env.write("foundry.toml", &unprotected());
    let dropping = proxy(&env, "seed=1;drop=#1@*");
    let up = through(&env, &dropping, &["up", "--env", "prod", "--yes"]);
    assert_eq!(up.code(), Some(0), "{}{}", up.stdout(), up.stderr());
    let stats = dropping.stats();
    for create in [
        "ec2:CreateVpc",
        "ec2:CreateSubnet",
        "ec2:CreateInternetGateway",
        "ec2:AllocateAddress",
        "ec2:CreateNatGateway",
        "ec2:CreateRouteTable",
        "ec2:CreateSecurityGroup",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:CreateVpcEndpoint",
        "ecr:CreateRepository",
        "secretsmanager:CreateSecret",
        "iam:CreateRole",
        "s3:CreateBucket",
        "s3:PutBucketTagging",
        "sns:CreateTopic",
        "cloudwatch:PutMetricAlarm",
        "rds:CreateDBSubnetGroup",
        "rds:CreateDBParameterGroup",
        "rds:CreateDBInstance",
        "cloudfront:CreateOriginAccessControl",
        "cloudfront:CreateFunction",
        "cloudfront:UpdateFunction",
        "cloudfront:PublishFunction",
        "cloudfront:CreateDistributionWithTags",
    ] {
        assert_eq!(
            stats.operation(create).faulted_calls.first(),
            Some(&(1, Fault::DropResponse)),
            "{create}'s first response was dropped"
        );
    }
    let expected = FullCensus {
        network: reference_census(2),
        data: REFERENCE_DATA,
        access: [3, 3, 2, 1, 5],
    };
    assert_eq!(
        census(&env, "prod").await,
        expected,
        "each resource exactly once"
    );
    let plan = env.foundry(&["plan", "--env", "prod", "--detailed-exitcode"]);
    assert_eq!(
        plan.code(),
        Some(0),
        "converged: {}{}",
        plan.stdout(),
        plan.stderr()
    );

    let dropping = proxy(&env, "seed=1;drop=#1@*");
    let destroy = through(
        &env,
        &dropping,
        &["destroy", "--env", "prod", "--yes", "--confirm", "acme"],
    );
    assert_eq!(
        destroy.code(),
        Some(0),
        "{}{}",
        destroy.stdout(),
        destroy.stderr()
    );
    assert!(
        dropping.stats().operation("ec2:DeleteVpc").dropped >= 1
            && dropping
                .stats()
                .operation("secretsmanager:DeleteSecret")
                .dropped
                >= 1,
        "deletes lost their answers too"
    );
    assert_eq!(census(&env, "prod").await, empty());
    let out = destroy.stdout();
    assert!(
        out.contains("keeps the deleted secrets, values included, for 7 days: acme/prod/anthropic_api_key, acme/prod/internal_api_key, acme/prod/openai_api_key"),
        "{out}"
    );
}

/// `seed` → one `up` and one `destroy` of the dev reference stack with 5 %
/// of all responses lost; each must exit 0 with every resource once.
async fn five_percent_lost(seed: u64) {
    let env = TestEnv::start().await;
    let plan = format!("seed={seed};drop=5%");
    let lossy = proxy(&env, &plan);
    let up = through(&env, &lossy, &["up", "--env", "dev", "--yes"]);
    assert_eq!(
        up.code(),
        Some(0),
        "seed {seed}: {}{}",
        up.stdout(),
        up.stderr()
    );
    assert!(
        lossy.stats().total_faults() > 0,
        "seed {seed}: some responses were lost"
    );
    let expected = FullCensus {
        network: reference_census(1),
        data: REFERENCE_DATA,
        access: [3, 3, 2, 1, 4],
    };
    assert_eq!(census(&env, "dev").await, expected, "seed {seed}");
    let lossy = proxy(&env, &plan);
    let destroy = through(&env, &lossy, &["destroy", "--env", "dev", "--yes"]);
    assert_eq!(
        destroy.code(),
        Some(0),
        "seed {seed}: {}{}",
        destroy.stdout(),
        destroy.stderr()
    );
    assert_eq!(census(&env, "dev").await, empty(), "seed {seed}");
}

#[tokio::test]
async fn five_percent_lost_responses_seeds_1_to_5() {
    for seed in 1..=5 {
        five_percent_lost(seed).await;
    }
}

#[tokio::test]
async fn five_percent_lost_responses_seeds_6_to_10() {
    for seed in 6..=10 {
        five_percent_lost(seed).await;
    }
}

/// 10 % throttling and 10 % 503s: the retries ride them out, and `--stats`
/// counts them.
#[tokio::test]
async fn throttling_and_unavailability_are_ridden_out_and_counted() {
    let env = TestEnv::start().await;
    let flaky = proxy(&env, "seed=3;throttle=10%;unavailable=10%");
    let up = through(&env, &flaky, &["up", "--env", "dev", "--yes", "--stats"]);
    assert_eq!(up.code(), Some(0), "{}{}", up.stdout(), up.stderr());
    let faults = flaky.stats().total_faults();
    assert!(faults > 10, "the proxy faulted {faults} calls");
    let stats = up
        .stderr()
        .lines()
        .find(|l| l.starts_with("stats: "))
        .expect("--stats printed")
        .to_string();
    let retries: u64 = stats
        .split(" calls, ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("retries in {stats}"));
    // The SDK's retries; single-attempt creates are retried by foundry
    // itself after a look-up, which counts as a new call.
    assert!(retries > 0, "{stats}: the faults ({faults}) were retried");
    assert_eq!(env.census("acme", "dev").await, reference_census(1));
}

/// A storm of throttling that outlasts the retry budget (30 % of every call,
/// and every DescribeAvailabilityZones; foundry rides out 30 % alone): the
/// run gives up with a message that names the call and says what to do,
/// prints `--stats`, and a rerun in calm weather converges.
#[tokio::test]
async fn a_throttling_storm_stops_with_advice_and_a_rerun_converges() {
    let env = TestEnv::start().await;
    let storm = proxy(
        &env,
        "seed=11;throttle=100%@ec2:DescribeAvailabilityZones;throttle=30%",
    );
    let up = through(&env, &storm, &["up", "--env", "dev", "--yes", "--stats"]);
    let err = up.stderr();
    assert_eq!(up.code(), Some(1), "the storm wins: {}{err}", up.stdout());
    assert!(
        err.contains("AWS kept refusing through the whole retry budget"),
        "{err}"
    );
    assert!(err.contains("lower --concurrency"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.lines().any(|l| l.starts_with("stats: ")),
        "--stats on failure: {err}"
    );

    env.foundry(&["up", "--env", "dev", "--yes"]).success();
    assert_eq!(env.census("acme", "dev").await, reference_census(1));
    let plan = env.foundry(&["plan", "--env", "dev", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(0), "{}{}", plan.stdout(), plan.stderr());
}
