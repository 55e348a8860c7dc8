//! Alarms and their notification topic, checked with independent SDK calls.

use crate::support::{REFERENCE, TestEnv};

async fn clients(env: &TestEnv) -> (aws_sdk_cloudwatch::Client, aws_sdk_sns::Client) {
    let config = env.sdk_config().await;
    (
        aws_sdk_cloudwatch::Client::new(&config),
        aws_sdk_sns::Client::new(&config),
    )
}

#[tokio::test]
async fn every_nat_gateway_has_an_egress_alarm_that_notifies_the_topic() {
    let env = TestEnv::start().await;
    let (cw, sns) = clients(&env).await;
    env.foundry(&["up", "--env", "prod", "--yes"]).success();

    let topics = sns.list_topics().send().await.unwrap();
    let topic = topics
        .topics()
        .iter()
        .filter_map(|t| t.topic_arn())
        .find(|a| a.ends_with(":acme-prod-topic-alarms"))
        .expect("the alarm topic exists")
        .to_string();
    let subs = sns
        .list_subscriptions_by_topic()
        .topic_arn(&topic)
        .send()
        .await
        .unwrap();
    let emails: Vec<_> = subs
        .subscriptions()
        .iter()
        .filter_map(|s| s.endpoint())
        .collect();
    assert_eq!(emails, ["ops@acme.example"]);

    let vpc = &env.vpc_ids("acme", "prod").await[0];
    let nats = env
        .ec2
        .describe_nat_gateways()
        .filter(crate::support::vpc_filter(vpc))
        .send()
        .await
        .unwrap();
    let mut nat_ids: Vec<String> = nats
        .nat_gateways()
        .iter()
        .filter_map(|n| n.nat_gateway_id().map(str::to_string))
        .collect();
    nat_ids.sort();
    assert_eq!(nat_ids.len(), 2);

    let alarms = cw
        .describe_alarms()
        .alarm_name_prefix("acme-prod-alarm-nat-")
        .send()
        .await
        .unwrap();
    let mut watched = Vec::new();
    for a in alarms.metric_alarms() {
        assert_eq!(a.namespace(), Some("AWS/NATGateway"));
        assert_eq!(a.metric_name(), Some("BytesOutToDestination"));
        assert_eq!(a.statistic().map(|s| s.as_str()), Some("Sum"));
        assert_eq!(a.period(), Some(300));
        assert_eq!(a.threshold(), Some(5_000_000_000.0));
        assert_eq!(
            a.comparison_operator().map(|c| c.as_str()),
            Some("GreaterThanThreshold")
        );
        assert_eq!(a.alarm_actions(), std::slice::from_ref(&topic));
        let dim = &a.dimensions()[0];
        assert_eq!(dim.name(), Some("NatGatewayId"));
        watched.push(dim.value().unwrap().to_string());
    }
    watched.sort();
    assert_eq!(watched, nat_ids, "one alarm per NAT gateway");
    let plan = env.foundry(&["plan", "--env", "prod", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(0), "{}", plan.stdout());

    // A new threshold is an in-place update of both alarms.
    env.write(
        "foundry.toml",
        &REFERENCE.replace(
            "[alarms]\n",
            "[alarms]\nnat_bytes_out_per_5min = 1000000000\n",
        ),
    );
    let plan = env.foundry(&["plan", "--env", "prod"]).success();
    assert!(
        plan.stdout()
            .contains("Plan: 0 to create, 2 to update, 0 to replace, 0 to delete."),
        "{}",
        plan.stdout()
    );
    env.foundry(&["up", "--env", "prod", "--yes"]).success();
    let alarms = cw
        .describe_alarms()
        .alarm_name_prefix("acme-prod-alarm-nat-")
        .send()
        .await
        .unwrap();
    assert!(
        alarms
            .metric_alarms()
            .iter()
            .all(|a| a.threshold() == Some(1_000_000_000.0))
    );
}
