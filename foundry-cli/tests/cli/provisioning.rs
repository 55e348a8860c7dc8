use crate::support::{Census, TestEnv, reference_census, vpc_filter};

#[tokio::test]
async fn dev_creates_the_reference_network_once_and_a_second_up_creates_nothing() {
    let env = TestEnv::start().await;
    let plan = env.foundry(&["plan", "--env", "dev", "--json", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(2), "{}", plan.stderr());
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout()).unwrap();
    assert_eq!(
        plan["summary"]["create"], 46,
        "the reference stack's dev env: network (apprunner.requests for the private ai), repositories, secrets, roles, buckets, alarms, the database and the CDN (with its SPA function)"
    );
    let subnet = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "subnet-app-a")
        .unwrap();
    let vpc_id = subnet["attrs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "vpc_id")
        .unwrap();
    assert_eq!(vpc_id["after"], "(known after apply)");

    let up = env.foundry(&["up", "--env", "dev", "--yes"]).success();
    assert!(
        up.stdout()
            .contains("Plan: 46 to create, 0 to update, 0 to replace, 0 to delete."),
        "{}",
        up.stdout()
    );
    assert!(
        up.stdout().contains("vpc_id"),
        "outputs are printed: {}",
        up.stdout()
    );
    assert_eq!(env.census("acme", "dev").await, reference_census(1));

    let vpc = &env.vpc_ids("acme", "dev").await[0];
    let hostnames = env
        .ec2
        .describe_vpc_attribute()
        .vpc_id(vpc)
        .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames)
        .send()
        .await
        .unwrap();
    assert_eq!(
        hostnames.enable_dns_hostnames().and_then(|v| v.value()),
        Some(true)
    );

    // The S3 gateway endpoint serves every private route table (2 app + 1 data).
    let endpoints = env
        .ec2
        .describe_vpc_endpoints()
        .filters(vpc_filter(vpc))
        .send()
        .await
        .unwrap();
    let s3 = endpoints
        .vpc_endpoints()
        .iter()
        .find(|e| e.service_name() == Some("com.amazonaws.us-east-1.s3"))
        .unwrap();
    let mut rts = s3.route_table_ids().to_vec();
    rts.sort();
    let tables = env
        .ec2
        .describe_route_tables()
        .filters(vpc_filter(vpc))
        .send()
        .await
        .unwrap();
    let mut private: Vec<String> = tables
        .route_tables()
        .iter()
        .filter(|t| {
            let name = t
                .tags()
                .iter()
                .find(|t| t.key() == Some("foundry:id"))
                .and_then(|t| t.value());
            name.is_some_and(|n| n.starts_with("rt-app-") || n == "rt-data")
        })
        .filter_map(|t| t.route_table_id().map(str::to_string))
        .collect();
    private.sort();
    assert_eq!(private.len(), 3);
    assert_eq!(rts, private);

    // Interface endpoints: private DNS, in the app subnets, behind the endpoints group (443 from the VPC only).
    let groups = env
        .ec2
        .describe_security_groups()
        .filters(vpc_filter(vpc))
        .send()
        .await
        .unwrap();
    let sg = groups
        .security_groups()
        .iter()
        .find(|g| g.group_name() == Some("acme-dev-endpoints"))
        .unwrap();
    let rules: Vec<_> = sg
        .ip_permissions()
        .iter()
        .flat_map(|p| {
            p.ip_ranges()
                .iter()
                .map(move |r| (p.from_port(), p.to_port(), r.cidr_ip().map(str::to_string)))
        })
        .collect();
    assert_eq!(
        rules,
        [(Some(443), Some(443), Some("10.0.0.0/16".to_string()))]
    );
    for e in endpoints
        .vpc_endpoints()
        .iter()
        .filter(|e| e.vpc_endpoint_type().map(|t| t.as_str()) == Some("Interface"))
    {
        // App Runner's private services are reached by their ingress
        // connection's domain name, not the endpoint's private DNS.
        let requests = e.service_name() == Some("com.amazonaws.us-east-1.apprunner.requests");
        assert_eq!(e.private_dns_enabled(), Some(!requests));
        assert_eq!(e.subnet_ids().len(), 2);
        assert_eq!(
            e.groups()
                .iter()
                .filter_map(|g| g.group_id())
                .collect::<Vec<_>>(),
            [sg.group_id().unwrap()]
        );
    }

    // Tags from creation on every resource: stack, env, logical id and Name.
    let subnets = env
        .ec2
        .describe_subnets()
        .filters(vpc_filter(vpc))
        .send()
        .await
        .unwrap();
    for s in subnets.subnets() {
        let keys: Vec<_> = s.tags().iter().filter_map(|t| t.key()).collect();
        for k in ["foundry:stack", "foundry:env", "foundry:id", "Name"] {
            assert!(
                keys.contains(&k),
                "subnet {:?} lacks tag {k}",
                s.subnet_id()
            );
        }
    }

    let again = env.foundry(&["up", "--env", "dev", "--yes"]).success();
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());
    assert!(!again.stderr().contains("created"), "{}", again.stderr());
    assert_eq!(env.census("acme", "dev").await, reference_census(1));
    let plan = env.foundry(&["plan", "--env", "dev", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(0), "{}{}", plan.stdout(), plan.stderr());

    let outputs = env
        .foundry(&["outputs", "--env", "dev", "--json"])
        .success();
    let outputs: serde_json::Value = serde_json::from_str(&outputs.stdout()).unwrap();
    assert_eq!(outputs["vpc_id"], vpc.as_str());
    assert_eq!(outputs["nat_gateway_ids"].as_array().unwrap().len(), 1);
}

/// Each private-app route table's default route goes to the NAT in its own AZ.
async fn assert_nat_per_az(env: &TestEnv) {
    let vpc = &env.vpc_ids("acme", "prod").await[0];
    let nats = env
        .ec2
        .describe_nat_gateways()
        .filter(vpc_filter(vpc))
        .send()
        .await
        .unwrap();
    let subnets = env
        .ec2
        .describe_subnets()
        .filters(vpc_filter(vpc))
        .send()
        .await
        .unwrap();
    let az_of_subnet = |id: &str| {
        subnets
            .subnets()
            .iter()
            .find(|s| s.subnet_id() == Some(id))
            .and_then(|s| s.availability_zone())
            .unwrap()
            .to_string()
    };
    let az_of_nat = |id: &str| {
        let nat = nats
            .nat_gateways()
            .iter()
            .find(|n| n.nat_gateway_id() == Some(id))
            .unwrap();
        az_of_subnet(nat.subnet_id().unwrap())
    };
    let tables = env
        .ec2
        .describe_route_tables()
        .filters(vpc_filter(vpc))
        .send()
        .await
        .unwrap();
    let mut azs = Vec::new();
    for t in tables.route_tables() {
        let id = t
            .tags()
            .iter()
            .find(|t| t.key() == Some("foundry:id"))
            .and_then(|t| t.value())
            .unwrap_or("");
        if !id.starts_with("rt-app-") {
            continue;
        }
        let subnet = t.associations().iter().find_map(|a| a.subnet_id()).unwrap();
        let nat = t
            .routes()
            .iter()
            .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
            .and_then(|r| r.nat_gateway_id())
            .unwrap();
        assert_eq!(
            az_of_nat(nat),
            az_of_subnet(subnet),
            "{id} routes to a NAT in another AZ"
        );
        azs.push(az_of_subnet(subnet));
    }
    azs.sort();
    azs.dedup();
    assert_eq!(azs.len(), 2, "the two app route tables serve two AZs");
}

#[tokio::test]
async fn prod_creates_a_nat_per_az_each_used_by_its_own_az() {
    let env = TestEnv::start().await;
    env.foundry(&["up", "--env", "prod", "--yes"]).success();
    assert_eq!(env.census("acme", "prod").await, reference_census(2));
    assert_nat_per_az(&env).await;
    let plan = env.foundry(&["plan", "--env", "prod", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(0), "{}{}", plan.stdout(), plan.stderr());
}

#[tokio::test]
async fn switching_nat_mode_plans_and_applies_cleanly_both_ways() {
    let env = TestEnv::start().await;
    let single = crate::support::REFERENCE.replace("network.nat = \"per-az\"", "");
    let per_az = single.replace("nat = \"single\"", "nat = \"per-az\"");
    env.write("foundry.toml", &single);
    env.foundry(&["up", "--env", "prod", "--yes"]).success();
    assert_eq!(env.census("acme", "prod").await, reference_census(1));

    env.write("foundry.toml", &per_az);
    let plan = env.foundry(&["plan", "--env", "prod", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(2));
    assert!(
        plan.stdout()
            .contains("Plan: 3 to create, 1 to update, 0 to replace, 0 to delete."),
        "{}",
        plan.stdout()
    );
    env.foundry(&["up", "--env", "prod", "--yes"]).success();
    assert_eq!(env.census("acme", "prod").await, reference_census(2));
    assert_nat_per_az(&env).await;

    env.write("foundry.toml", &single);
    let plan = env.foundry(&["plan", "--env", "prod"]).success();
    assert!(
        plan.stdout()
            .contains("Plan: 0 to create, 1 to update, 0 to replace, 3 to delete."),
        "{}",
        plan.stdout()
    );
    env.foundry(&["up", "--env", "prod", "--yes"]).success();
    let census = env.census("acme", "prod").await;
    assert_eq!(
        census,
        Census {
            ..reference_census(1)
        }
    );
    let plan = env.foundry(&["plan", "--env", "prod", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(0), "{}", plan.stdout());
}
