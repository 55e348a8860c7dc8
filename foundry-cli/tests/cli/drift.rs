use aws_sdk_ec2::types::AttributeBooleanValue;

use crate::support::{TestEnv, reference_census, vpc_filter};

#[tokio::test]
async fn changes_made_outside_foundry_show_as_drift_and_up_repairs_them() {
    let env = TestEnv::start().await;
    env.foundry(&["up", "--env", "dev", "--yes"]).success();
    let vpc = env.vpc_ids("acme", "dev").await[0].clone();

    let endpoints = env
        .ec2
        .describe_vpc_endpoints()
        .filters(vpc_filter(&vpc))
        .send()
        .await
        .unwrap();
    let s3 = endpoints
        .vpc_endpoints()
        .iter()
        .find(|e| e.service_name() == Some("com.amazonaws.us-east-1.s3"))
        .and_then(|e| e.vpc_endpoint_id())
        .unwrap()
        .to_string();
    env.ec2
        .delete_vpc_endpoints()
        .vpc_endpoint_ids(&s3)
        .send()
        .await
        .unwrap();
    env.ec2
        .modify_vpc_attribute()
        .vpc_id(&vpc)
        .enable_dns_hostnames(AttributeBooleanValue::builder().value(false).build())
        .send()
        .await
        .unwrap();

    let plan = env.foundry(&["plan", "--env", "dev", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(2), "{}{}", plan.stdout(), plan.stderr());
    let text = plan.stdout();
    assert!(text.contains("Changed outside foundry (drift):"), "{text}");
    assert!(
        text.contains("! vpce-s3 (vpc_endpoint) deleted outside foundry"),
        "{text}"
    );
    assert!(
        text.contains("! vpc (vpc) changed outside foundry: enable_dns_hostnames"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.contains("enable_dns_hostnames")
            && l.ends_with("= false -> true  # changed outside foundry")),
        "{text}"
    );
    assert!(
        text.contains("Plan: 1 to create, 1 to update, 0 to replace, 0 to delete."),
        "{text}"
    );

    let json = env.foundry(&["plan", "--env", "dev", "--json"]).success();
    let json: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    assert_eq!(json["summary"]["drift"], 2);

    env.foundry(&["up", "--env", "dev", "--yes"]).success();
    let attr = env
        .ec2
        .describe_vpc_attribute()
        .vpc_id(&vpc)
        .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attr.enable_dns_hostnames().and_then(|v| v.value()),
        Some(true)
    );
    assert_eq!(env.census("acme", "dev").await, reference_census(1));
    let plan = env.foundry(&["plan", "--env", "dev", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(0), "{}", plan.stdout());
}
