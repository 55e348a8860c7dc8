//! IAM roles: one role per service whose inline policy grants exactly what
//! the service declares (its secrets, bucket prefixes and database secret)
//! — least privilege by construction — trusted by the compute target's
//! tasks; on App Runner its ECR access role, on ECS each service's
//! execution role (`ecs.rs`: its image, its log group, its injected
//! secrets).

use super::{ECR_ACCESS_POLICY, database, ecs, ids, policy};
use crate::engine::graph::Resource;
use crate::resources::{Kind, Scope, bucket, iam_role, secret};
use crate::stack::{ComputeTarget, Stack};

/// The principal ECS tasks assume roles as.
const ECS_TASKS: &str = "ecs-tasks.amazonaws.com";
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
    let (mut out, tasks) = match stack.compute {
        ComputeTarget::Apprunner => (
            vec![role(
                ids::ROLE_ECR_ACCESS,
                "build.apprunner.amazonaws.com",
                policy(vec![]),
                &[ECR_ACCESS_POLICY],
            )],
            "tasks.apprunner.amazonaws.com",
        ),
        ComputeTarget::Ecs => (
            ecs::execution_roles(stack, account)
                .into_iter()
                .map(|(id, policy)| role(&id, ECS_TASKS, policy, &[]))
                .collect(),
            ECS_TASKS,
        ),
    };
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
            tasks,
            policy(statements),
            &[],
        ));
    }
    out
}
