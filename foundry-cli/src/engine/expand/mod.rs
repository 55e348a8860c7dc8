//! Stack → graph of low-level resources. The only place that knows how the
//! high-level sections become AWS resources and their logical ids (`ids`),
//! one file per section: `network.rs`, `storage.rs` (registry, secrets,
//! buckets), `roles.rs`, `database.rs`, `compute.rs` (the services on App
//! Runner), `cdn.rs`; the NAT alarms here.

mod cdn;
mod ci;
pub mod compute;
mod database;
mod ecs;
mod network;
mod roles;
mod storage;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::resources::{Kind, Scope};
use crate::stack::{ComputeTarget, Stack};

pub use ecs::scheme as ecs_scheme;
pub use network::service_name;
pub use storage::secret_name;

use super::graph::{Graph, GraphError, Resource};
use crate::vocab::Value;

/// Logical ids, shared with `outputs` so both name things the same way.
pub mod ids {
    use crate::stack::Tier;

    pub const VPC: &str = "vpc";
    pub const IGW: &str = "igw";
    pub const RT_PUBLIC: &str = "rt-public";
    pub const RT_DATA: &str = "rt-data";
    pub const SG_ENDPOINTS: &str = "sg-endpoints";
    pub const ROLE_ECR_ACCESS: &str = "role-apprunner-ecr";
    /// `[ci]`: the account's GitHub OIDC provider, and the deploy role.
    pub const GITHUB_OIDC: &str = "github-oidc";
    pub const ROLE_CI_DEPLOY: &str = "role-ci-deploy";
    pub const TOPIC_ALARMS: &str = "topic-alarms";

    pub const DB: &str = "db";
    pub const DB_SUBNETS: &str = "db-subnets";
    pub const SG_DATABASE: &str = "sg-database";
    pub const OAC_WEB: &str = "oac-web";
    /// The web client's SPA fallback (a CloudFront Function).
    pub const FN_SPA: &str = "fn-spa";
    pub const DISTRIBUTION: &str = "cdn";
    /// The environment's ECS cluster.
    pub const ECS_CLUSTER: &str = "cluster";

    /// A service on App Runner (`svc-api`): physical id its ARN, attributes
    /// `url`, `arn`, `status`, `image`, `operation_id`.
    pub fn service(service: &str) -> String {
        format!("svc-{service}")
    }

    /// A service's App Runner auto scaling configuration.
    pub fn service_scaling(service: &str) -> String {
        format!("scale-{service}")
    }

    /// A service's App Runner observability configuration (X-Ray tracing).
    pub fn service_observability(service: &str) -> String {
        format!("obs-{service}")
    }

    /// A service's App Runner VPC connector (egress into the VPC).
    pub fn service_connector(service: &str) -> String {
        format!("vpcc-{service}")
    }

    /// A private service's App Runner VPC ingress connection.
    pub fn service_ingress(service: &str) -> String {
        format!("ingress-{service}")
    }

    /// The resource whose `create:image`, `create:env` and
    /// `create:secrets` say what `service` runs: its App Runner service, or
    /// on ECS its task definition.
    pub fn runtime(compute: crate::stack::ComputeTarget, service: &str) -> String {
        match compute {
            crate::stack::ComputeTarget::Apprunner => self::service(service),
            crate::stack::ComputeTarget::Ecs => task_definition(service),
        }
    }

    /// A service's log group on ECS.
    pub fn log_group(service: &str) -> String {
        format!("logs-{service}")
    }

    /// A service's ECS task definition family.
    pub fn task_definition(service: &str) -> String {
        format!("task-{service}")
    }

    /// A service's load balancer, its target group and its listener.
    pub fn load_balancer(service: &str) -> String {
        format!("lb-{service}")
    }

    pub fn target_group(service: &str) -> String {
        format!("tg-{service}")
    }

    pub fn listener(service: &str) -> String {
        format!("listener-{service}")
    }

    /// The security group of a service's load balancer.
    pub fn load_balancer_sg(service: &str) -> String {
        format!("sg-lb-{service}")
    }

    /// A service on ECS: physical id its ARN.
    pub fn ecs_service(service: &str) -> String {
        format!("ecs-{service}")
    }

    /// A service's Application Auto Scaling target and CPU policy.
    pub fn scaling_target(service: &str) -> String {
        format!("scaling-{service}")
    }

    pub fn scaling_policy(service: &str) -> String {
        format!("scaling-cpu-{service}")
    }

    /// The ECS execution role of a service (pull, logs, injected secrets).
    pub fn execution_role(service: &str) -> String {
        format!("role-{service}-exec")
    }

    pub fn service_role(service: &str) -> String {
        format!("role-{service}")
    }

    /// The security group of a service's VPC connector.
    pub fn service_sg(service: &str) -> String {
        format!("sg-{service}")
    }

    /// The parameter group of one engine family (`db-params-postgres16`): a
    /// new family is a new group, switched to before the old one goes.
    pub fn db_params(family: &str) -> String {
        format!("db-params-{}", family.replace('.', "-"))
    }

    /// `a`, `b`, ... for the first, second, ... AZ.
    pub fn az_letter(index: usize) -> char {
        (b'a' + index as u8) as char
    }

    pub fn subnet(tier: Tier, az: usize) -> String {
        format!("subnet-{tier}-{}", az_letter(az))
    }

    pub fn nat(az: usize) -> String {
        format!("nat-{}", az_letter(az))
    }

    pub fn nat_eip(az: usize) -> String {
        format!("eip-nat-{}", az_letter(az))
    }

    pub fn rt_app(az: usize) -> String {
        format!("rt-app-{}", az_letter(az))
    }

    pub fn endpoint(service: &str) -> String {
        format!("vpce-{}", service.replace('.', "-"))
    }
}

/// What expansion needs to know about the account: the names of its
/// availability zones and its id (part of globally unique bucket names);
/// and the releases: the image each service runs.
#[derive(Debug, Clone)]
pub struct Facts {
    pub azs: Vec<String>,
    pub account: String,
    /// Service name → image identifier (`<registry>/<repo>@sha256:…`) of its
    /// current release. A service without one gets no compute resources
    /// (see `compute.rs`).
    pub images: BTreeMap<String, String>,
    /// The id of CloudFront's origin-facing managed prefix list, which the
    /// public load balancers of the ECS target admit (looked up only then).
    pub cloudfront_prefix_list: Option<String>,
}

pub fn expand(stack: &Stack, facts: &Facts) -> Result<Graph, GraphError> {
    let (mut out, nat_count) = network::network(stack, &facts.azs);
    out.extend(storage::repositories(stack));
    out.extend(storage::secrets(stack));
    out.extend(storage::buckets(stack, facts));
    out.extend(roles::roles(stack, &facts.account));
    out.extend(ci::ci(stack, &facts.account));
    out.extend(database::database(stack));
    if stack.compute == ComputeTarget::Ecs {
        out.extend(ecs::load_balancer_groups(stack, facts));
    }
    out.extend(compute::compute(stack, facts));
    out.extend(cdn::cdn(stack, facts));
    out.extend(alarms(stack, nat_count));
    out.extend(database::alarms(stack, &alarm_actions(stack)));
    Graph::new(out)
}

/// Notification topic and alarms: NAT egress per NAT gateway (seed 002 §7, §10).
fn alarms(stack: &Stack, nat_count: usize) -> Vec<Resource> {
    let scope = Scope::new(&stack.name, &stack.env);
    let mut out = Vec::new();
    if !stack.alarm_emails.is_empty() {
        out.push(
            Resource::new(ids::TOPIC_ALARMS, Kind::SnsTopic)
                .prop("name", Value::str(scope.name(ids::TOPIC_ALARMS)))
                .prop(
                    "emails",
                    Value::set(stack.alarm_emails.iter().map(Value::str)),
                ),
        );
    }
    let actions = alarm_actions(stack);
    for az in 0..nat_count {
        let id = format!("alarm-{}-egress", ids::nat(az));
        out.push(
            Resource::new(&id, Kind::Alarm)
                .prop("name", Value::str(scope.name(&id)))
                .prop(
                    "description",
                    Value::str(format!(
                        "NAT egress spike on {} (seed 002 runbook: nat-bill)",
                        ids::nat(az)
                    )),
                )
                .prop("namespace", Value::str("AWS/NATGateway"))
                .prop("metric_name", Value::str("BytesOutToDestination"))
                .prop(
                    "dimensions",
                    Value::map([("NatGatewayId", Value::reference(ids::nat(az)))]),
                )
                .prop("statistic", Value::str("Sum"))
                .prop("period", Value::Int(300))
                .prop("evaluation_periods", Value::Int(1))
                .prop("threshold", Value::Int(stack.nat_bytes_out_per_5min as i64))
                .prop("comparison", Value::str("GreaterThanThreshold"))
                .prop("alarm_actions", actions.clone()),
        );
    }
    out
}

/// Where alarms notify: the topic, when there are addresses to notify.
fn alarm_actions(stack: &Stack) -> Value {
    if stack.alarm_emails.is_empty() {
        Value::set([])
    } else {
        Value::set([Value::reference(ids::TOPIC_ALARMS)])
    }
}

/// An IAM policy document; without statements it stands for "no inline policy".
fn policy(statements: Vec<Value>) -> Value {
    if statements.is_empty() {
        return Value::map([("Statement", Value::set([]))]);
    }
    Value::map([
        ("Version", Value::str("2012-10-17")),
        ("Statement", Value::set(statements)),
    ])
}

/// AWS-managed policy that lets App Runner pull from ECR.
pub const ECR_ACCESS_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AWSAppRunnerServicePolicyForECRAccess";
