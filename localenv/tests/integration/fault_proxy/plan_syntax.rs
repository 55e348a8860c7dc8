//! The plan string: what parses to what, and what is rejected with which reason.

use localenv::fault_proxy::{Fault, OperationMatcher, PlanError, Trigger};

use super::*;

#[test]
fn plans_parse_to_their_rules_and_print_back() {
    let plan = FaultPlan::parse(
        " seed=7; drop=5% ;throttle=10%@*;unavailable=2.5%@s3:*;drop=#1@ec2:CreateVpc,iam:CreateRole;throttle=#2-4,9;",
    )
    .unwrap();
    assert_eq!(plan.seed, 7);
    let rules: Vec<(Fault, Trigger, Vec<OperationMatcher>)> = plan
        .rules
        .iter()
        .map(|r| (r.fault, r.trigger.clone(), r.operations.clone()))
        .collect();
    use OperationMatcher::*;
    assert_eq!(
        rules,
        [
            (Fault::DropResponse, Trigger::Percent(5.0), vec![Any]),
            (Fault::Throttle, Trigger::Percent(10.0), vec![Any]),
            (
                Fault::Unavailable,
                Trigger::Percent(2.5),
                vec![Service("s3".into())]
            ),
            (
                Fault::DropResponse,
                Trigger::calls([1]),
                vec![
                    Exact("ec2:CreateVpc".into()),
                    Exact("iam:CreateRole".into())
                ]
            ),
            (
                Fault::Throttle,
                Trigger::Calls(vec![(2, 4), (9, 9)]),
                vec![Any]
            ),
        ]
    );
    let printed = plan.to_string();
    assert_eq!(
        printed,
        "seed=7;drop=5%@*;throttle=10%@*;unavailable=2.5%@s3:*;drop=#1@ec2:CreateVpc,iam:CreateRole;throttle=#2-4,9@*"
    );
    assert_eq!(FaultPlan::parse(&printed).unwrap(), plan);
    assert_eq!(FaultPlan::parse("").unwrap(), FaultPlan::new(0));
}

#[test]
fn exact_call_rules_fire_on_those_calls_only_and_the_first_rule_wins() {
    let plan = FaultPlan::parse("drop=#1@ec2:CreateVpc;throttle=#1-2@ec2:*").unwrap();
    let decided: Vec<_> = [
        ("ec2:CreateVpc", 1),
        ("ec2:CreateVpc", 2),
        ("ec2:CreateVpc", 3),
        ("ec2:CreateSubnet", 1),
        ("s3:CreateBucket", 1),
    ]
    .iter()
    .map(|(operation, call)| plan.decide(operation, *call))
    .collect();
    assert_eq!(
        decided,
        [
            Some(Fault::DropResponse),
            Some(Fault::Throttle),
            None,
            Some(Fault::Throttle),
            None
        ]
    );
}

#[test]
fn bad_plans_are_rejected_with_the_item_and_the_reason() {
    let cases = [
        (
            "seed=7;drop",
            "fault plan item 2 `drop`: expected `KEY=VALUE`",
        ),
        (
            "seed=x",
            "item 1 `seed=x`: the seed `x` is not a whole number",
        ),
        ("seed=1;seed=2", "item 2 `seed=2`: the seed is given twice"),
        (
            "delay=5%",
            "unknown key `delay`; the keys are `seed`, `throttle`, `unavailable` and `drop`",
        ),
        (
            "drop=5",
            "the trigger `5` is neither a percentage like `5%`",
        ),
        (
            "drop=150%",
            "the percentage `150%` is not between 0% and 100%",
        ),
        ("drop=#0@ec2:CreateVpc", "calls are counted from 1"),
        ("drop=#3-1", "the range `3-1` ends before it starts"),
        (
            "drop=#1@CreateVpc",
            "`CreateVpc` is not an operation pattern",
        ),
        (
            "drop=#1@EC2:CreateVpc",
            "`EC2:CreateVpc` is not an operation pattern",
        ),
        ("drop=#1@ec2:", "`ec2:` is not an operation pattern"),
    ];
    for (text, expected) in cases {
        let error: PlanError = FaultPlan::parse(text).expect_err(text);
        let message = error.to_string();
        assert!(message.contains(expected), "{text:?} gave {message:?}");
    }
}
