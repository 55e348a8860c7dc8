//! Stack → graph of low-level resources. The only place that knows how the
//! high-level sections become AWS resources and their logical ids: the
//! network, registry, secrets, buckets and roles here, `[database]` in
//! `database.rs`, `[cdn]` in `cdn.rs`.

mod cdn;
mod database;

use crate::resources::{Kind, Scope, bucket, ecr_repository, iam_role, secret};
use crate::stack::{NatMode, Stack, Tier};

use super::graph::{CREATE_ONLY_GENERATE, Graph, GraphError, Resource, Value};

/// Logical ids, shared with `outputs` so both name things the same way.
pub mod ids {
    use crate::stack::Tier;

    pub const VPC: &str = "vpc";
    pub const IGW: &str = "igw";
    pub const RT_PUBLIC: &str = "rt-public";
    pub const RT_DATA: &str = "rt-data";
    pub const SG_ENDPOINTS: &str = "sg-endpoints";
    pub const ROLE_ECR_ACCESS: &str = "role-apprunner-ecr";
    pub const TOPIC_ALARMS: &str = "topic-alarms";

    pub const DB: &str = "db";
    pub const DB_SUBNETS: &str = "db-subnets";
    pub const SG_DATABASE: &str = "sg-database";
    pub const OAC_WEB: &str = "oac-web";
    pub const DISTRIBUTION: &str = "cdn";

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
/// availability zones and its id (part of globally unique bucket names).
#[derive(Debug, Clone)]
pub struct Facts {
    pub azs: Vec<String>,
    pub account: String,
}

pub fn expand(stack: &Stack, facts: &Facts) -> Result<Graph, GraphError> {
    let az_names = &facts.azs;
    let net = &stack.network;
    let azs = net.azs as usize;
    let mut out = Vec::new();

    out.push(
        Resource::new(ids::VPC, Kind::Vpc)
            .prop("cidr_block", Value::str(net.cidr.to_string()))
            .prop("enable_dns_support", Value::Bool(true))
            .prop("enable_dns_hostnames", Value::Bool(true)),
    );
    for tier in Tier::ALL {
        for (az, cidr) in net.subnets(tier).iter().enumerate() {
            out.push(
                Resource::new(ids::subnet(tier, az), Kind::Subnet)
                    .prop("vpc_id", Value::reference(ids::VPC))
                    .prop("cidr_block", Value::str(cidr.to_string()))
                    .prop("availability_zone", Value::str(&az_names[az])),
            );
        }
    }
    out.push(
        Resource::new(ids::IGW, Kind::InternetGateway).prop("vpc_id", Value::reference(ids::VPC)),
    );

    let nat_count = match net.nat {
        NatMode::Single => 1,
        NatMode::PerAz => azs,
        NatMode::None => 0,
    };
    for az in 0..nat_count {
        out.push(
            Resource::new(ids::nat_eip(az), Kind::ElasticIp).prop("domain", Value::str("vpc")),
        );
        out.push(
            Resource::new(ids::nat(az), Kind::NatGateway)
                .prop("subnet_id", Value::reference(ids::subnet(Tier::Public, az)))
                .prop("allocation_id", Value::reference(ids::nat_eip(az)))
                .prop("connectivity_type", Value::str("public")),
        );
    }

    let default_route = |target_key: &str, target: String| {
        Value::map([
            ("destination", Value::str("0.0.0.0/0")),
            (target_key, Value::reference(target)),
        ])
    };
    let subnets_of =
        |tier: Tier| Value::set((0..azs).map(|az| Value::reference(ids::subnet(tier, az))));
    out.push(
        Resource::new(ids::RT_PUBLIC, Kind::RouteTable)
            .prop("vpc_id", Value::reference(ids::VPC))
            .prop(
                "routes",
                Value::set([default_route("gateway_id", ids::IGW.to_string())]),
            )
            .prop("subnet_ids", subnets_of(Tier::Public)),
    );
    for az in 0..azs {
        let routes = match net.nat {
            NatMode::None => Value::set([]),
            NatMode::Single => Value::set([default_route("nat_gateway_id", ids::nat(0))]),
            NatMode::PerAz => Value::set([default_route("nat_gateway_id", ids::nat(az))]),
        };
        out.push(
            Resource::new(ids::rt_app(az), Kind::RouteTable)
                .prop("vpc_id", Value::reference(ids::VPC))
                .prop("routes", routes)
                .prop(
                    "subnet_ids",
                    Value::set([Value::reference(ids::subnet(Tier::App, az))]),
                ),
        );
    }
    out.push(
        Resource::new(ids::RT_DATA, Kind::RouteTable)
            .prop("vpc_id", Value::reference(ids::VPC))
            .prop("routes", Value::set([]))
            .prop("subnet_ids", subnets_of(Tier::Data)),
    );

    let private_route_tables = Value::set(
        (0..azs)
            .map(|az| Value::reference(ids::rt_app(az)))
            .chain([Value::reference(ids::RT_DATA)]),
    );
    for service in &net.gateway_endpoints {
        out.push(
            Resource::new(ids::endpoint(service), Kind::VpcEndpoint)
                .prop("vpc_id", Value::reference(ids::VPC))
                .prop(
                    "service_name",
                    Value::str(service_name(&stack.region, service)),
                )
                .prop("endpoint_type", Value::str("Gateway"))
                .prop("route_table_ids", private_route_tables.clone()),
        );
    }
    if !net.interface_endpoints.is_empty() {
        out.push(
            Resource::new(ids::SG_ENDPOINTS, Kind::SecurityGroup)
                .prop("vpc_id", Value::reference(ids::VPC))
                .prop(
                    "group_name",
                    Value::str(format!("{}-{}-endpoints", stack.name, stack.env)),
                )
                .prop(
                    "description",
                    Value::str("Interface endpoints: HTTPS from inside the VPC"),
                )
                .prop(
                    "ingress",
                    Value::set([Value::map([
                        ("protocol", Value::str("tcp")),
                        ("from_port", Value::Int(443)),
                        ("to_port", Value::Int(443)),
                        ("cidr", Value::str(net.cidr.to_string())),
                    ])]),
                ),
        );
    }
    for service in &net.interface_endpoints {
        out.push(
            Resource::new(ids::endpoint(service), Kind::VpcEndpoint)
                .prop("vpc_id", Value::reference(ids::VPC))
                .prop(
                    "service_name",
                    Value::str(service_name(&stack.region, service)),
                )
                .prop("endpoint_type", Value::str("Interface"))
                .prop("subnet_ids", subnets_of(Tier::App))
                .prop(
                    "security_group_ids",
                    Value::set([Value::reference(ids::SG_ENDPOINTS)]),
                )
                .prop("private_dns_enabled", Value::Bool(true)),
        );
    }
    for service in &stack.services {
        out.push(
            Resource::new(
                ecr_repository::logical_id(&service.name),
                Kind::EcrRepository,
            )
            .prop(
                "name",
                Value::str(format!("{}/{}/{}", stack.name, stack.env, service.name)),
            )
            .prop("scan_on_push", Value::Bool(true))
            .prop("image_tag_mutability", Value::str("IMMUTABLE"))
            .prop("encryption", Value::str("AES256"))
            .prop("keep_images", Value::Int(stack.keep_images.into())),
        );
    }
    for secret in &stack.secrets {
        out.push(
            Resource::new(secret::logical_id(&secret.name), Kind::Secret)
                .prop("name", Value::str(secret_name(stack, &secret.name)))
                .prop("description", Value::str(&secret.description))
                .prop(CREATE_ONLY_GENERATE, Value::Bool(secret.generate)),
        );
    }
    let scope = Scope::new(&stack.name, &stack.env);
    for b in &stack.buckets {
        let name = bucket::bucket_name(&scope, &b.name, &facts.account);
        let mut statements = vec![bucket::tls_only_statement(&name)];
        if stack.cdn.as_ref().is_some_and(|c| c.web_bucket == b.name) {
            statements.extend(cdn::web_bucket_statement(&name));
        }
        let mut lifecycle = Vec::new();
        if let Some(d) = b.ia_after_days {
            lifecycle.push(("ia_after_days", Value::Int(d.into())));
        }
        if let Some(d) = b.glacier_after_days {
            lifecycle.push(("glacier_after_days", Value::Int(d.into())));
        }
        out.push(
            Resource::new(bucket::logical_id(&b.name), Kind::Bucket)
                .prop("name", Value::str(&name))
                .prop("block_public_access", Value::Bool(true))
                .prop("encryption", Value::str("AES256"))
                .prop("versioning", Value::Bool(b.versioning))
                .prop("lifecycle", Value::map(lifecycle))
                .prop("policy", policy(statements))
                .prop(
                    "cors_origins",
                    Value::set(b.cors_origins.iter().map(Value::str)),
                ),
        );
    }
    out.extend(roles(stack, &facts.account));
    out.extend(database::database(stack));
    out.extend(cdn::cdn(stack, facts));
    out.extend(alarms(stack, nat_count));
    out.extend(database::alarms(stack, &alarm_actions(stack)));
    Graph::new(out)
}

/// The App Runner ECR access role, and one instance role per service whose
/// inline policy grants exactly what the service's connections name.
fn roles(stack: &Stack, account: &str) -> Vec<Resource> {
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

/// `<stack>/<env>/<name>`, the secret's name in Secrets Manager.
pub fn secret_name(stack: &Stack, name: &str) -> String {
    format!("{}/{}/{name}", stack.name, stack.env)
}

/// `com.amazonaws.<region>.<service>`, the endpoint service name.
pub fn service_name(region: &str, service: &str) -> String {
    format!("com.amazonaws.{region}.{service}")
}
