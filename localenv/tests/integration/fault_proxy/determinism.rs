//! The same seed gives the same faults, call by call per operation, whatever
//! else runs in between; another seed gives others.

use std::collections::BTreeMap;

use localenv::fault_proxy::Fault;

use super::*;

fn decisions(plan: &FaultPlan, operation: &str, calls: u64) -> Vec<Option<Fault>> {
    (1..=calls)
        .map(|call| plan.decide(operation, call))
        .collect()
}

#[test]
fn a_seed_decides_the_same_faults_every_time_and_another_seed_others() {
    let plan = |seed: u64| FaultPlan::parse(&format!("seed={seed};throttle=30%;drop=10%")).unwrap();
    let first = decisions(&plan(7), "ec2:CreateVpc", 200);
    assert_eq!(first, decisions(&plan(7), "ec2:CreateVpc", 200));
    assert_ne!(first, decisions(&plan(8), "ec2:CreateVpc", 200));
    assert_ne!(first, decisions(&plan(7), "ec2:CreateSubnet", 200));
    assert!(first.contains(&Some(Fault::Throttle)) && first.contains(&Some(Fault::DropResponse)));
}

#[test]
fn percentages_hold_over_many_calls() {
    // Throttle 10% of all calls; drop 50% of the rest of one operation.
    let plan = FaultPlan::parse("seed=3;throttle=10%;drop=50%@s3:PutObject").unwrap();
    let calls = 20_000;
    let count = |operation: &str, fault: Fault| {
        decisions(&plan, operation, calls)
            .iter()
            .filter(|d| **d == Some(fault))
            .count() as f64
            / calls as f64
    };
    let throttled = count("s3:PutObject", Fault::Throttle);
    let dropped = count("s3:PutObject", Fault::DropResponse);
    assert!((0.09..0.11).contains(&throttled), "{throttled}");
    // The drop rule only sees calls the throttle rule let through: 50% of 90%.
    assert!((0.43..0.47).contains(&dropped), "{dropped}");
    assert_eq!(count("ec2:CreateVpc", Fault::DropResponse), 0.0);
}

#[derive(Clone, Copy)]
enum Call {
    DescribeVpcs,
    GetCallerIdentity,
}

/// Makes the calls in `order` through a proxy with `plan`, retries off, and
/// returns per operation the error code of each call (None for success).
async fn outcomes(
    moto: &MotoServer,
    plan: &str,
    order: &[Call],
) -> BTreeMap<&'static str, Vec<Option<String>>> {
    let proxy = proxy_to(moto, plan);
    let config = sdk_config(&proxy.endpoint(), RetryConfig::disabled()).await;
    let (ec2, sts) = (
        aws_sdk_ec2::Client::new(&config),
        aws_sdk_sts::Client::new(&config),
    );
    let mut outcomes: BTreeMap<&str, Vec<Option<String>>> = BTreeMap::new();
    for call in order {
        let (operation, result) = match call {
            Call::DescribeVpcs => (
                "ec2:DescribeVpcs",
                ec2.describe_vpcs().send().await.map(drop).map_err(failure),
            ),
            Call::GetCallerIdentity => (
                "sts:GetCallerIdentity",
                sts.get_caller_identity()
                    .send()
                    .await
                    .map(drop)
                    .map_err(failure),
            ),
        };
        outcomes
            .entry(operation)
            .or_default()
            .push(result.err().map(|f| f.code.unwrap_or_default()));
    }
    let stats = proxy.stats();
    for (operation, codes) in &outcomes {
        let faulted: Vec<u64> = stats
            .operation(operation)
            .faulted_calls
            .iter()
            .map(|(call, _)| *call)
            .collect();
        let failed: Vec<u64> = (1..)
            .zip(codes)
            .filter(|(_, code)| code.is_some())
            .map(|(call, _)| call)
            .collect();
        assert_eq!(
            faulted, failed,
            "the SDK failed exactly on the faulted calls of {operation}"
        );
    }
    outcomes
}

#[tokio::test]
async fn through_the_proxy_faults_follow_the_seed_not_the_interleaving() {
    let moto = MotoServer::start().expect("moto starts");
    let plan = |seed| {
        format!("seed={seed};throttle=40%@ec2:DescribeVpcs;unavailable=40%@sts:GetCallerIdentity")
    };
    let alternating: Vec<Call> = (0..24)
        .map(|i| {
            if i % 2 == 0 {
                Call::DescribeVpcs
            } else {
                Call::GetCallerIdentity
            }
        })
        .collect();
    let grouped: Vec<Call> = [[Call::GetCallerIdentity; 12], [Call::DescribeVpcs; 12]].concat();

    let seven = outcomes(&moto, &plan(7), &alternating).await;
    assert_eq!(seven, outcomes(&moto, &plan(7), &grouped).await);
    assert_ne!(seven, outcomes(&moto, &plan(8), &alternating).await);

    // And the proxy did what the plan predicts, with each protocol's code.
    let predicted = FaultPlan::parse(&plan(7)).unwrap();
    let expect = |operation: &str, code: &str| -> Vec<Option<String>> {
        (1..=12)
            .map(|call| predicted.decide(operation, call).map(|_| code.to_string()))
            .collect()
    };
    assert_eq!(
        seven["ec2:DescribeVpcs"],
        expect("ec2:DescribeVpcs", "RequestLimitExceeded")
    );
    assert_eq!(
        seven["sts:GetCallerIdentity"],
        expect("sts:GetCallerIdentity", "ServiceUnavailable")
    );
}
