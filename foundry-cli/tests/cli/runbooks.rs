//! `foundry runbook nat-bill` against moto, with the NAT and PrivateLink
//! metrics seeded through PutMetricData: findings with evidence and dollars
//! recomputed here from the seeded figures and `runbooks/prices.toml`; `--fix`
//! edits the stack file (comments kept) and applies it; the endpoint
//! break-even; a healthy env exits 0.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use serde_json::Value;

use crate::support::TestEnv;

/// us-east-1 in runbooks/prices.toml.
const NAT_HOUR: f64 = 0.045;
const NAT_GB: f64 = 0.045;
const IPV4_HOUR: f64 = 0.005;
const ENDPOINT_AZ_HOUR: f64 = 0.01;
const GB: f64 = 1e9;

const STACK: &str = r#"# Two NATs in dev: the runbook should object.
name = "shop"
region = "us-east-1"

[network]
cidr = "10.0.0.0/16"
azs = 2
nat = "per-az"   # kept by --fix
endpoints = []
gateway_endpoints = []

[env.dev]
# dev's own settings
"#;

/// One datapoint a day for the last 30 days.
async fn seed(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    metric: &str,
    dimensions: &[(&str, &str)],
    per_day: f64,
) {
    let now = SystemTime::now();
    let data: Vec<MetricDatum> = (0..30)
        .map(|day| {
            MetricDatum::builder()
                .metric_name(metric)
                .set_dimensions(Some(
                    dimensions
                        .iter()
                        .map(|(n, v)| Dimension::builder().name(*n).value(*v).build())
                        .collect(),
                ))
                .timestamp((now - Duration::from_secs(day * 86_400 + 3_600)).into())
                .value(per_day)
                .build()
        })
        .collect();
    cloudwatch
        .put_metric_data()
        .namespace(namespace)
        .set_metric_data(Some(data))
        .send()
        .await
        .unwrap();
}

/// One datapoint, ten minutes ago.
pub(crate) async fn put_metric(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    metric: &str,
    dimensions: &[(&str, &str)],
    value: f64,
) {
    cloudwatch
        .put_metric_data()
        .namespace(namespace)
        .metric_data(
            MetricDatum::builder()
                .metric_name(metric)
                .set_dimensions(Some(
                    dimensions
                        .iter()
                        .map(|(n, v)| Dimension::builder().name(*n).value(*v).build())
                        .collect(),
                ))
                .timestamp((SystemTime::now() - Duration::from_secs(600)).into())
                .value(value)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

pub(crate) fn check<'r>(report: &'r Value, id: &str) -> &'r Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.01
}

/// NAT gateway ids by AZ, and the app route tables by AZ, from EC2.
async fn nats_and_app_tables(env: &TestEnv) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let vpc = &env.vpc_ids("shop", "dev").await[0];
    let subnets = env
        .ec2
        .describe_subnets()
        .filters(crate::support::vpc_filter(vpc))
        .send()
        .await
        .unwrap();
    let az_of = |id: &str| {
        subnets
            .subnets()
            .iter()
            .find(|s| s.subnet_id() == Some(id))
            .and_then(|s| s.availability_zone())
            .unwrap()
            .to_owned()
    };
    let nats = env
        .ec2
        .describe_nat_gateways()
        .filter(crate::support::vpc_filter(vpc))
        .send()
        .await
        .unwrap();
    let mut nats: Vec<(String, String)> = nats
        .nat_gateways()
        .iter()
        .filter(|n| n.state().map(|s| s.as_str()) == Some("available"))
        .map(|n| {
            (
                az_of(n.subnet_id().unwrap()),
                n.nat_gateway_id().unwrap().to_owned(),
            )
        })
        .collect();
    nats.sort();
    let tables = env
        .ec2
        .describe_route_tables()
        .filters(crate::support::vpc_filter(vpc))
        .send()
        .await
        .unwrap();
    let mut app: Vec<(String, String)> = tables
        .route_tables()
        .iter()
        .filter(|t| {
            t.tags().iter().any(|tag| {
                tag.key() == Some("foundry:id")
                    && tag.value().is_some_and(|v| v.starts_with("rt-app-"))
            })
        })
        .map(|t| {
            let subnet = t.associations()[0].subnet_id().unwrap();
            (az_of(subnet), t.route_table_id().unwrap().to_owned())
        })
        .collect();
    app.sort();
    (nats, app)
}

#[tokio::test]
async fn nat_bill_finds_prices_and_fixes_a_costly_dev_network() {
    let env = TestEnv::start().await;
    env.write("foundry.toml", STACK);
    env.foundry(&["up", "--env", "dev", "--yes"]).success();
    let (nats, app_tables) = nats_and_app_tables(&env).await;
    assert_eq!(nats.len(), 2, "{nats:?}");
    let (nat_a, nat_b) = (&nats[0].1, &nats[1].1);

    // Subnet b's route goes to AZ a's NAT: cross-AZ drift.
    env.ec2
        .replace_route()
        .route_table_id(&app_tables[1].1)
        .destination_cidr_block("0.0.0.0/0")
        .nat_gateway_id(nat_a)
        .send()
        .await
        .unwrap();
    // 200 GB a day through NAT b (150 out, 50 back); 1 GB a day through a.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&env.sdk_config().await);
    for (nat, out, back) in [(nat_b, 150.0 * GB, 50.0 * GB), (nat_a, 0.6 * GB, 0.4 * GB)] {
        let dims = [("NatGatewayId", nat.as_str())];
        seed(
            &cloudwatch,
            "AWS/NATGateway",
            "BytesInFromSource",
            &dims,
            out,
        )
        .await;
        seed(
            &cloudwatch,
            "AWS/NATGateway",
            "BytesInFromDestination",
            &dims,
            back,
        )
        .await;
    }
    seed(
        &cloudwatch,
        "AWS/NATGateway",
        "ErrorPortAllocation",
        &[("NatGatewayId", nat_b.as_str())],
        3.0,
    )
    .await;

    // The plan prices the NATs' usage from the same metrics, per NAT.
    let plan: Value = serde_json::from_str(
        &env.foundry(&["plan", "--env", "dev", "--json"])
            .success()
            .stdout(),
    )
    .unwrap();
    let usage = plan["cost"]["usage"].as_array().unwrap();
    assert_eq!(usage.len(), 2, "{usage:#?}");
    let busy = usage
        .iter()
        .find(|u| {
            u["basis"]
                .as_str()
                .unwrap()
                .starts_with("6000.0 GB in 30 days")
        })
        .unwrap_or_else(|| panic!("NAT b's 200 GB a day: {usage:#?}"));
    assert!(
        close(
            busy["monthly"].as_f64().unwrap(),
            200.0 * 730.0 / 24.0 * NAT_GB
        ),
        "{busy:#}"
    );
    let total: f64 = usage.iter().map(|u| u["monthly"].as_f64().unwrap()).sum();
    let human = env.foundry(&["plan", "--env", "dev"]).success().stdout();
    assert!(
        human.contains(&format!(
            "Usage, estimated from the last 30 days of metrics: ${total:.2} a month on top."
        )),
        "{human}"
    );

    let run = env.foundry(&["runbook", "nat-bill", "--env", "dev", "--json"]);
    assert_eq!(run.code(), Some(3), "findings exit 3: {}", run.stderr());
    let report: Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(report["healthy"], false);

    let policy = check(&report, "nat-policy");
    assert_eq!(policy["status"], "fail", "{policy:#}");
    let evidence = policy["evidence"].to_string();
    assert!(
        evidence.contains(nat_a) && evidence.contains(nat_b),
        "{evidence}"
    );
    let one_nat_month = (NAT_HOUR + IPV4_HOUR) * 730.0;
    assert!(
        close(policy["monthly_saving"].as_f64().unwrap(), one_nat_month),
        "{policy:#}"
    );
    assert_eq!(policy["fix"]["kind"], "stack");

    let s3 = check(&report, "s3-gateway-endpoint");
    assert_eq!(s3["status"], "fail", "{s3:#}");
    assert_eq!(s3["fix"]["edits"][0]["item"], "s3");

    let routes = check(&report, "cross-az-routes");
    assert_eq!(routes["status"], "fail", "{routes:#}");
    assert!(
        routes["evidence"][0].as_str().unwrap().contains(nat_a),
        "{routes:#}"
    );
    assert_eq!(routes["fix"]["kind"], "apply");

    // The bill, recomputed from what was seeded and the price table.
    let traffic = check(&report, "nat-traffic");
    assert_eq!(traffic["status"], "warn", "{traffic:#}");
    let gb_per_day = 200.0 + 1.0;
    let expected = gb_per_day * 730.0 / 24.0 * NAT_GB + 2.0 * one_nat_month;
    let reported = traffic["monthly_dollars"].as_f64().unwrap();
    assert!(
        close(reported, expected),
        "{reported} vs {expected}: {traffic:#}"
    );
    assert!(
        traffic["evidence"].to_string().contains("200.0 GB/day"),
        "{traffic:#}"
    );

    let faults = check(&report, "nat-faults");
    assert_eq!(faults["status"], "fail", "{faults:#}");
    assert!(
        faults["evidence"][0]
            .as_str()
            .unwrap()
            .contains("ErrorPortAllocation = 90")
    );
    assert_eq!(check(&report, "idle-nat-and-ips")["status"], "pass");

    // Readable too, with the dollars.
    let text = env
        .foundry(&["runbook", "nat-bill", "--env", "dev"])
        .stdout();
    assert!(text.contains("FAIL nat-policy"), "{text}");
    assert!(
        text.contains(&format!("the fix saves ${one_nat_month:.2} a month")),
        "{text}"
    );

    // --fix: the stack file is edited, comments kept, and applied.
    let fixed = env.foundry(&["runbook", "nat-bill", "--env", "dev", "--fix", "--yes"]);
    assert!(
        fixed.stderr().contains("+") && fixed.stderr().contains("network.nat = \"single\""),
        "the diff is shown: {}",
        fixed.stderr()
    );
    let text = std::fs::read_to_string(env.path().join("foundry.toml")).unwrap();
    assert!(
        text.contains("# Two NATs in dev: the runbook should object."),
        "{text}"
    );
    assert!(
        text.contains("nat = \"per-az\"   # kept by --fix"),
        "{text}"
    );
    assert!(
        text.contains("[env.dev]\nnetwork.nat = \"single\""),
        "{text}"
    );
    assert!(text.contains("# dev's own settings"), "{text}");
    assert!(text.contains("gateway_endpoints = [\"s3\"]"), "{text}");
    // The port allocation errors were a finding no stack edit fixes.
    assert_eq!(fixed.code(), Some(3), "{}", fixed.stderr());

    let (nats, _) = nats_and_app_tables(&env).await;
    assert_eq!(nats.len(), 1, "one NAT left: {nats:?}");

    // A second run is clean: NAT b and its port allocation errors went
    // with the fix, and exits 0.
    let again = env.foundry(&["runbook", "nat-bill", "--env", "dev", "--json"]);
    let report: Value = serde_json::from_str(&again.stdout()).unwrap();
    let failing: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "pass")
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(failing.is_empty(), "{report:#}");
    assert_eq!(again.code(), Some(0));
}

#[tokio::test]
async fn an_idle_interface_endpoint_is_below_break_even_and_a_busy_one_passes() {
    let env = TestEnv::start().await;
    env.write(
        "foundry.toml",
        &STACK
            .replace("nat = \"per-az\"", "nat = \"single\"")
            .replace("\nendpoints = []", "\nendpoints = [\"logs\"]")
            .replace("gateway_endpoints = []", "gateway_endpoints = [\"s3\"]"),
    );
    env.foundry(&["up", "--env", "dev", "--yes"]).success();
    let (nats, _) = nats_and_app_tables(&env).await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&env.sdk_config().await);
    let dims = [("NatGatewayId", nats[0].1.as_str())];
    seed(
        &cloudwatch,
        "AWS/NATGateway",
        "BytesInFromSource",
        &dims,
        GB,
    )
    .await;

    // The endpoint carries nothing: its AZ-hours buy nothing the NAT would charge for.
    let run = env.foundry(&["runbook", "nat-bill", "--env", "dev", "--json"]);
    assert_eq!(run.code(), Some(3), "{}", run.stderr());
    let report: Value = serde_json::from_str(&run.stdout()).unwrap();
    let even = check(&report, "endpoint-break-even");
    assert_eq!(even["status"], "warn", "{even:#}");
    let fixed = ENDPOINT_AZ_HOUR * 2.0 * 730.0;
    assert!(
        close(even["monthly_saving"].as_f64().unwrap(), fixed),
        "{even:#}"
    );
    let arithmetic = even["evidence"].to_string();
    assert!(
        arithmetic.contains(&format!("${fixed:.2} ÷ (0.045 − 0.01) = 417 GB a month")),
        "{arithmetic}"
    );
    assert!(
        even["fix"]["description"]
            .as_str()
            .unwrap()
            .contains("remove \"logs\"")
    );

    // 20 GB a day through it (608 GB a month, above 417): healthy, exit 0.
    let vpc = &env.vpc_ids("shop", "dev").await[0];
    let endpoints = env
        .ec2
        .describe_vpc_endpoints()
        .filters(crate::support::vpc_filter(vpc))
        .send()
        .await
        .unwrap();
    let logs = endpoints
        .vpc_endpoints()
        .iter()
        .find(|e| e.service_name() == Some("com.amazonaws.us-east-1.logs"))
        .unwrap();
    seed(
        &cloudwatch,
        "AWS/PrivateLinkEndpoints",
        "BytesProcessed",
        &[
            ("Endpoint Type", "Interface"),
            ("Service Name", "com.amazonaws.us-east-1.logs"),
            ("VPC Endpoint Id", logs.vpc_endpoint_id().unwrap()),
            ("VPC Id", vpc),
        ],
        20.0 * GB,
    )
    .await;
    let run = env.foundry(&["runbook", "nat-bill", "--env", "dev"]);
    assert_eq!(run.code(), Some(0), "{}\n{}", run.stdout(), run.stderr());
    assert!(
        run.stdout().contains("Every check passes."),
        "{}",
        run.stdout()
    );
}

#[test]
fn runbook_list_and_an_unknown_name() {
    let env = std::process::Command::new(env!("CARGO_BIN_EXE_foundry"))
        .args(["runbook", "list"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&env.stdout);
    assert!(out.contains("nat-bill"), "{out}");
    let unknown = std::process::Command::new(env!("CARGO_BIN_EXE_foundry"))
        .args(["runbook", "nat-bil", "--env", "dev"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(1));
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        err.contains("there is no runbook `nat-bil`; did you mean `nat-bill`?"),
        "{err}"
    );
}

/// The fixed monthly price of one created resource from the plan's JSON,
/// recomputed from runbooks/prices.toml's us-east-1 figures.
fn expected_monthly(change: &Value, all: &[Value]) -> f64 {
    let after = |c: &Value, key: &str| -> Value {
        c["attrs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .map(|a| a["after"].clone())
            .unwrap_or(Value::Null)
    };
    match change["kind"].as_str().unwrap() {
        "nat_gateway" => NAT_HOUR * 730.0,
        "elastic_ip" => IPV4_HOUR * 730.0,
        // In every AZ of the reference stack (2); the plan's JSON shows the
        // subnets as one "(known after apply)".
        "vpc_endpoint" if after(change, "endpoint_type") == "Interface" => {
            ENDPOINT_AZ_HOUR * 2.0 * 730.0
        }
        "secret" => 0.40,
        "alarm" => 0.10,
        "db_instance" => {
            let hourly = match after(change, "instance_class").as_str().unwrap() {
                "db.m6g.large" => 0.152,
                "db.t4g.micro" => 0.016,
                other => panic!("no price in the test for {other}"),
            };
            let copies = if after(change, "multi_az") == true {
                2.0
            } else {
                1.0
            };
            let storage = after(change, "allocated_storage").as_f64().unwrap();
            copies * (hourly * 730.0 + storage * 0.115)
        }
        "apprunner_service" => {
            let memory: f64 = after(change, "memory").as_str().unwrap().parse().unwrap();
            let name = change["id"].as_str().unwrap().strip_prefix("svc-").unwrap();
            let scaling = all
                .iter()
                .find(|c| c["id"] == format!("scale-{name}"))
                .unwrap();
            after(scaling, "min_size").as_f64().unwrap() * memory / 1024.0 * 0.007 * 730.0
        }
        _ => 0.0,
    }
}

#[tokio::test]
async fn plans_price_the_env_as_declared_and_the_change_they_make() {
    let env = TestEnv::start().await;

    // prod from empty: the total is the sum of the table's prices.
    let plan = env
        .foundry(&["plan", "--env", "prod", "--json"])
        .success()
        .stdout();
    let plan: Value = serde_json::from_str(&plan).unwrap();
    let changes = plan["changes"].as_array().unwrap();
    let expected: f64 = changes.iter().map(|c| expected_monthly(c, changes)).sum();
    let cost = &plan["cost"];
    assert!(expected > 300.0, "NATs, endpoints, a database: {expected}");
    assert!(
        close(cost["declared_monthly"].as_f64().unwrap(), expected),
        "{expected} vs {cost:#}"
    );
    assert!(close(cost["delta_monthly"].as_f64().unwrap(), expected));
    assert_eq!(cost["current_monthly"], 0.0);
    let text = env.foundry(&["plan", "--env", "prod"]).success().stdout();
    assert!(
        text.contains(&format!("as declared: ${expected:.2} a month")),
        "{text}"
    );

    // dev from single NAT to one per AZ: one NAT gateway, its address, and
    // the egress alarm every NAT gets.
    env.foundry(&["up", "--env", "dev", "--yes"]).success();
    let stack = std::fs::read_to_string(env.path().join("foundry.toml")).unwrap();
    assert!(stack.contains("[env.dev]\n"));
    env.write(
        "foundry.toml",
        &stack.replace("[env.dev]\n", "[env.dev]\nnetwork.nat = \"per-az\"\n"),
    );
    let plan = env
        .foundry(&["plan", "--env", "dev", "--json"])
        .success()
        .stdout();
    let plan: Value = serde_json::from_str(&plan).unwrap();
    let cost = &plan["cost"];
    let one_nat = (NAT_HOUR + IPV4_HOUR) * 730.0 + 0.10;
    assert!(
        close(cost["delta_monthly"].as_f64().unwrap(), one_nat),
        "{cost:#}"
    );
    let mut priced: Vec<&str> = cost["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    priced.sort();
    assert_eq!(priced, ["alarm", "elastic_ip", "nat_gateway"], "{cost:#}");
    let text = env.foundry(&["plan", "--env", "dev"]).success().stdout();
    assert!(
        text.contains(&format!("this plan: +${one_nat:.2} a month")),
        "{text}"
    );
}

#[tokio::test]
async fn rds_connections_compares_the_peak_with_the_class_limit() {
    let env = TestEnv::start().await;
    env.foundry(&["up", "--env", "dev", "--yes"]).success();
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&env.sdk_config().await);
    let dims = [("DBInstanceIdentifier", "acme-dev-db")];
    seed(&cloudwatch, "AWS/RDS", "DatabaseConnections", &dims, 20.0).await;

    // db.t4g.micro: 1 GiB / 9531392 = 112 connections; a peak of 20 is fine.
    let run = env.foundry(&["runbook", "rds-connections", "--env", "dev", "--json"]);
    assert_eq!(run.code(), Some(0), "{}\n{}", run.stdout(), run.stderr());
    let report: Value = serde_json::from_str(&run.stdout()).unwrap();
    let connections = check(&report, "connections");
    assert_eq!(connections["status"], "pass", "{connections:#}");
    let evidence = connections["evidence"].to_string();
    assert!(evidence.contains("peak 20 connections"), "{evidence}");
    assert!(evidence.contains("max_connections 112"), "{evidence}");
    assert!(
        evidence.contains("api: up to 4 instance(s) × a pool of 10 = 40"),
        "{evidence}"
    );

    // A spike to 100 of 112: a warning, with what to do.
    put_metric(&cloudwatch, "AWS/RDS", "DatabaseConnections", &dims, 100.0).await;
    let run = env.foundry(&["runbook", "rds-connections", "--env", "dev", "--json"]);
    assert_eq!(run.code(), Some(3), "{}", run.stderr());
    let report: Value = serde_json::from_str(&run.stdout()).unwrap();
    let connections = check(&report, "connections");
    assert_eq!(connections["status"], "warn", "{connections:#}");
    assert!(
        connections["evidence"][0]
            .as_str()
            .unwrap()
            .contains("peak 100 connections")
    );
    assert!(
        connections["fix"]["description"]
            .as_str()
            .unwrap()
            .contains("RDS Proxy"),
        "{connections:#}"
    );
}
