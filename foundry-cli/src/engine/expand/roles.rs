//! IAM roles: App Runner's ECR access role, and one instance role per service
//! whose inline policy grants exactly what the service declares (its
//! secrets, bucket prefixes and database secret) — least privilege by
//! construction.

use super::{ECR_ACCESS_POLICY, database, ids, policy};
use crate::engine::graph::Resource;
use crate::resources::{Kind, Scope, bucket, iam_role, secret};
use crate::stack::Stack;
use crate::vocab::Value;

/// The App Runner ECR access role, and one instance role per service whose
/// inline policy grants exactly what the service's connections name.
pub(super) fn roles(stack: &Stack, account: &str) -> Vec<Resource> {
    if stack.services.is_empty() {
        return Vec::new();
    }
    let scope = Scope::new(&stack.name, &stack.env);
    let role = |id: &str, trust: &str, policy: Value, managed: &[&str]| {
        Resource::new(id, Kind::IamRole)
            .prop(
                "name",
                Value::str(scope.name(id.trim_start_matches("role-"))),
            )
            .prop("path", Value::str(iam_role::path(&scope)))
            .prop("trust_service", Value::str(trust))
            .prop("policy", policy)
            .prop(
                "managed_policy_arns",
                Value::set(managed.iter().map(|a| Value::str(*a))),
            )
    };
    let mut out = vec![role(
        ids::ROLE_ECR_ACCESS,
        "build.apprunner.amazonaws.com",
        policy(vec![]),
        &[ECR_ACCESS_POLICY],
    )];
    for service in &stack.services {
        let mut statements = Vec::new();
        if !service.secrets.is_empty() {
            statements.push(Value::map([
                ("Sid", Value::str("ReadSecrets")),
                ("Effect", Value::str("Allow")),
                (
                    "Action",
                    Value::set([Value::str("secretsmanager:GetSecretValue")]),
                ),
                (
                    "Resource",
                    Value::set(
                        service
                            .secrets
                            .iter()
                            .map(|s| Value::reference(secret::logical_id(s))),
                    ),
                ),
            ]));
        }
        if service.connects_to_database && stack.database.is_some() {
            statements.push(database::secret_statement(stack, account));
        }
        if !service.buckets.is_empty() {
            let objects = service.buckets.iter().map(|(b, prefix)| {
                let name = bucket::bucket_name(&scope, b, account);
                Value::str(format!("{}/{prefix}*", bucket::arn(&name)))
            });
            statements.push(Value::map([
                ("Sid", Value::str("UseBucketPrefixes")),
                ("Effect", Value::str("Allow")),
                (
                    "Action",
                    Value::set(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"].map(Value::str)),
                ),
                ("Resource", Value::set(objects)),
            ]));
        }
        out.push(role(
            &ids::service_role(&service.name),
            "tasks.apprunner.amazonaws.com",
            policy(statements),
            &[],
        ));
    }
    out
}
