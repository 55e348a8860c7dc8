//! `[ci] github`: the account's GitHub OIDC identity provider (shared with
//! every other stack that uses it, see `resources::iam_oidc_provider`) and
//! this environment's deploy role, which only the repository's `main`
//! branch (prod: its `production` environment) may assume, allowed exactly
//! what `foundry build --push`, `deploy` and `rollback` do.

use super::{ids, policy};
use crate::aws::apprunner;
use crate::engine::graph::Resource;
use crate::resources::iam_oidc_provider::{GITHUB_ISSUER, STS_AUDIENCE};
use crate::resources::{Kind, Scope, iam_role};
use crate::stack::{Stack, StateBackend};
use crate::vocab::Value;

/// The read-only calls a run makes to observe the stack before it plans a
/// deploy: AWS gives them no resource-level permissions, so they take `*`.
/// Nothing here writes.
const OBSERVE_ACTIONS: &[&str] = &[
    "ec2:Describe*",
    "rds:Describe*",
    "rds:ListTagsForResource",
    "iam:GetAccountAuthorizationDetails",
    "iam:ListOpenIDConnectProviders",
    "iam:GetOpenIDConnectProvider",
    "s3:ListAllMyBuckets",
    "s3:GetBucket*",
    "s3:GetEncryptionConfiguration",
    "s3:GetLifecycleConfiguration",
    "cloudfront:Get*",
    "cloudfront:List*",
    "cloudfront:DescribeFunction",
    "secretsmanager:ListSecrets",
    "secretsmanager:DescribeSecret",
    "ecr:DescribeRepositories",
    "ecr:GetLifecyclePolicy",
    "ecr:ListTagsForResource",
    "apprunner:List*",
    "apprunner:Describe*",
    "sns:ListTopics",
    "sns:GetTopicAttributes",
    "sns:ListSubscriptionsByTopic",
    "sns:ListTagsForResource",
    "cloudwatch:DescribeAlarms",
    // The plan's usage estimate (the NAT gateways' last 30 days).
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:ListTagsForResource",
    // `aws-actions/configure-aws-credentials` and `docker login`'s
    // equivalent: ECR's login token is account-wide by design.
    "ecr:GetAuthorizationToken",
];

/// The provider and the deploy role, when the stack names a repository.
pub(super) fn ci(stack: &Stack, account: &str) -> Vec<Resource> {
    let Some(ci) = &stack.ci else {
        return Vec::new();
    };
    let scope = Scope::new(&stack.name, &stack.env);
    let provider = Resource::new(ids::GITHUB_OIDC, Kind::IamOidcProvider)
        .prop("url", Value::str(GITHUB_ISSUER))
        .prop("client_ids", Value::set([Value::str(STS_AUDIENCE)]));
    let host = GITHUB_ISSUER.trim_start_matches("https://");
    let trust = Value::map([
        ("Version", Value::str("2012-10-17")),
        (
            "Statement",
            Value::set([Value::map([
                ("Effect", Value::str("Allow")),
                (
                    "Principal",
                    Value::map([("Federated", Value::reference(ids::GITHUB_OIDC))]),
                ),
                ("Action", Value::str("sts:AssumeRoleWithWebIdentity")),
                (
                    "Condition",
                    Value::map([(
                        "StringEquals",
                        Value::map([
                            (format!("{host}:aud"), Value::str(STS_AUDIENCE)),
                            (format!("{host}:sub"), Value::str(ci.subject(&stack.env))),
                        ]),
                    )]),
                ),
            ])]),
        ),
    ]);
    let role = Resource::new(ids::ROLE_CI_DEPLOY, Kind::IamRole)
        .prop(
            "name",
            Value::str(scope.name(ids::ROLE_CI_DEPLOY.trim_start_matches("role-"))),
        )
        .prop("path", Value::str(iam_role::path(&scope)))
        .prop("trust_policy", trust)
        .prop("policy", policy(deploy_statements(stack, &scope, account)))
        .prop("managed_policy_arns", Value::set([]));
    vec![provider, role]
}

fn statement(sid: &str, actions: &[&str], resources: Vec<String>) -> Value {
    Value::map([
        ("Sid", Value::str(sid)),
        ("Effect", Value::str("Allow")),
        ("Action", Value::set(actions.iter().map(|a| Value::str(*a)))),
        (
            "Resource",
            Value::set(resources.into_iter().map(Value::str)),
        ),
    ])
}

/// What the deploy role may do: read the stack (the `*` of
/// [`OBSERVE_ACTIONS`]), and write only under this environment's names:
/// its ECR repositories, its App Runner services, its state objects, and
/// pass its own service roles.
fn deploy_statements(stack: &Stack, scope: &Scope, account: &str) -> Vec<Value> {
    let region = &stack.region;
    let mut out = vec![
        statement("ObserveTheStack", OBSERVE_ACTIONS, vec!["*".into()]),
        statement(
            "PushImages",
            &[
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:CompleteLayerUpload",
                "ecr:DescribeImages",
                "ecr:GetDownloadUrlForLayer",
                "ecr:InitiateLayerUpload",
                "ecr:ListImages",
                "ecr:PutImage",
                "ecr:UploadLayerPart",
            ],
            vec![format!(
                "arn:aws:ecr:{region}:{account}:repository/{}/{}/*",
                stack.name, stack.env
            )],
        ),
    ];
    if !stack.services.is_empty() {
        let kept = apprunner::name_prefix(scope, apprunner::NAME_MAX);
        out.push(statement(
            "RollOutServices",
            &[
                "apprunner:UpdateService",
                "apprunner:DescribeService",
                "apprunner:ListOperations",
            ],
            vec![format!(
                "arn:aws:apprunner:{region}:{account}:service/{kept}*"
            )],
        ));
        let path = iam_role::path(scope);
        let roles = std::iter::once(ids::ROLE_ECR_ACCESS.to_string())
            .chain(stack.services.iter().map(|s| ids::service_role(&s.name)))
            .map(|id| {
                format!(
                    "arn:aws:iam::{account}:role{path}{}",
                    scope.name(id.trim_start_matches("role-"))
                )
            })
            .collect();
        out.push(statement("PassServiceRoles", &["iam:PassRole"], roles));
    }
    if let StateBackend::S3 { bucket, prefix } = &stack.state {
        let base = crate::state::s3_base_key(prefix, &stack.name, &stack.env);
        out.push(statement(
            "KeepState",
            &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            vec![format!("arn:aws:s3:::{bucket}/{base}/*")],
        ));
        // Without ListBucket, S3 answers a missing state object with 403
        // instead of 404; the condition keeps the listing to this prefix.
        out.push(Value::map([
            ("Sid", Value::str("ListState")),
            ("Effect", Value::str("Allow")),
            ("Action", Value::str("s3:ListBucket")),
            ("Resource", Value::str(format!("arn:aws:s3:::{bucket}"))),
            (
                "Condition",
                Value::map([(
                    "StringLike",
                    Value::map([("s3:prefix", Value::str(format!("{base}/*")))]),
                )]),
            ),
        ]));
    }
    out
}
