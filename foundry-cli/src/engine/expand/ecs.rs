//! `[services.*]` on ECS Fargate (`[compute] target = "ecs"`, issue 12; seed
//! 002 §8-9, §16): the environment's cluster, and per service with an image
//! (`compute::expanded_services`) its log group, task definition, load
//! balancer (internet-facing in the public subnets for a public service,
//! internal in the app subnets for a private one), target group, listener,
//! ECS service, scaling target and CPU policy. The load balancers' security
//! groups are declared for every service, image or not, like the services'
//! own (`database.rs`), so the rules between them never wait on an image:
//! a public load balancer admits only CloudFront's origin-facing prefix
//! list, a private one only the services that `connect` to it, and a
//! service only its load balancer.

use super::compute::{env_maps, expanded_services, runtime_secrets};
use super::{Facts, ids, policy};
use crate::aws::elb;
use crate::engine::graph::Resource;
use crate::resources::ecs_service::{DESIRED_COUNT, LISTENER, TASK_DEFINITION};
use crate::resources::ecs_task_definition::{ENV, IMAGE, SECRETS};
use crate::resources::{Kind, Scope, log_group};
use crate::stack::{Ingress, Service, Stack, Tier};
use crate::vocab::Value;

/// Average CPU the scaling policy keeps each service at, in percent.
pub const TARGET_CPU: i64 = 70;
/// Seconds a new task has before the load balancer's checks count.
pub const HEALTH_GRACE_SECONDS: i64 = 60;

/// The port a service's load balancer listens on: 443 with a certificate
/// (public services only), 80 otherwise.
pub fn listener_port(stack: &Stack, service: &Service) -> i64 {
    if https(stack, service) { 443 } else { 80 }
}

/// Whether the service's load balancer speaks HTTPS: a public one, when
/// `[compute] certificate_arn` is given. A private one answers HTTP inside
/// the VPC (no certificate names an internal load balancer's host).
pub fn https(stack: &Stack, service: &Service) -> bool {
    service.ingress == Ingress::Public && stack.ecs.certificate_arn.is_some()
}

/// The URL scheme other services and CloudFront use for `service`.
pub fn scheme(stack: &Stack, service: &Service) -> &'static str {
    if https(stack, service) {
        "https://"
    } else {
        "http://"
    }
}

/// Security groups of the load balancers, and the rule each service's own
/// group gets from its load balancer's.
pub(super) fn load_balancer_groups(stack: &Stack, facts: &Facts) -> Vec<Resource> {
    let scope = Scope::new(&stack.name, &stack.env);
    stack
        .services
        .iter()
        .map(|s| {
            let port = listener_port(stack, s);
            let rule = |source: (&str, Value)| {
                Value::map([
                    ("protocol", Value::str("tcp")),
                    ("from_port", Value::Int(port)),
                    ("to_port", Value::Int(port)),
                    (source.0, source.1),
                ])
            };
            let ingress: Vec<Value> = match s.ingress {
                Ingress::Public => facts
                    .cloudfront_prefix_list
                    .iter()
                    .map(|list| rule(("prefix_list", Value::str(list))))
                    .collect(),
                Ingress::Private => stack
                    .services
                    .iter()
                    .filter(|caller| caller.connects_to.contains(&s.name))
                    .map(|caller| {
                        rule((
                            "source_group",
                            Value::reference(ids::service_sg(&caller.name)),
                        ))
                    })
                    .collect(),
            };
            let id = ids::load_balancer_sg(&s.name);
            Resource::new(&id, Kind::SecurityGroup)
                .prop("vpc_id", Value::reference(ids::VPC))
                .prop("group_name", Value::str(scope.name(&id)))
                .prop(
                    "description",
                    Value::str(match s.ingress {
                        Ingress::Public => {
                            format!(
                                "Load balancer of {}: port {port} from CloudFront only",
                                s.name
                            )
                        }
                        Ingress::Private => format!(
                            "Load balancer of {}: port {port} from the services that connect to it",
                            s.name
                        ),
                    }),
                )
                .prop("ingress", Value::set(ingress))
        })
        .collect()
}

/// The rule a service's own security group has on ECS: its port, from its
/// load balancer.
pub(super) fn service_ingress(service: &Service) -> Value {
    let port = i64::from(service.port);
    Value::set([Value::map([
        ("protocol", Value::str("tcp")),
        ("from_port", Value::Int(port)),
        ("to_port", Value::Int(port)),
        (
            "source_group",
            Value::reference(ids::load_balancer_sg(&service.name)),
        ),
    ])])
}

/// The execution role of each service: pulls its image, writes its logs,
/// reads the secrets ECS injects into it, and nothing else.
pub(super) fn execution_roles(stack: &Stack, account: &str) -> Vec<(String, Value)> {
    let scope = Scope::new(&stack.name, &stack.env);
    stack
        .services
        .iter()
        .map(|s| {
            let repository = format!(
                "arn:aws:ecr:{}:{account}:repository/{}/{}/{}",
                stack.region, stack.name, stack.env, s.name
            );
            let group = format!(
                "arn:aws:logs:{}:{account}:log-group:{}:*",
                stack.region,
                log_group::group_name(&scope, &s.name)
            );
            let statement = |sid: &str, actions: &[&str], resources: Vec<Value>| {
                Value::map([
                    ("Sid", Value::str(sid)),
                    ("Effect", Value::str("Allow")),
                    ("Action", Value::set(actions.iter().map(|a| Value::str(*a)))),
                    ("Resource", Value::set(resources)),
                ])
            };
            let mut statements = vec![
                // AWS gives GetAuthorizationToken no resource-level permission.
                statement(
                    "RegistryLogin",
                    &["ecr:GetAuthorizationToken"],
                    vec![Value::str("*")],
                ),
                statement(
                    "PullImage",
                    &[
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                    ],
                    vec![Value::str(repository)],
                ),
                statement(
                    "WriteLogs",
                    &["logs:CreateLogStream", "logs:PutLogEvents"],
                    vec![Value::str(group)],
                ),
            ];
            let secrets = runtime_secrets(s);
            if !secrets.is_empty() {
                statements.push(statement(
                    "InjectSecrets",
                    &["secretsmanager:GetSecretValue"],
                    secrets.into_values().collect(),
                ));
            }
            (ids::execution_role(&s.name), policy(statements))
        })
        .collect()
}

/// The cluster and every expanded service's resources.
pub(super) fn ecs(stack: &Stack, facts: &Facts) -> Vec<Resource> {
    let scope = Scope::new(&stack.name, &stack.env);
    let expanded = expanded_services(stack, facts);
    if expanded.is_empty() {
        return Vec::new();
    }
    let mut out = vec![
        Resource::new(ids::ECS_CLUSTER, Kind::EcsCluster)
            .prop("name", Value::str(scope.name(ids::ECS_CLUSTER)))
            .prop("container_insights", Value::Bool(true)),
    ];
    for service in stack.services.iter().filter(|s| expanded.contains(&s.name)) {
        out.extend(service_resources(stack, facts, &scope, service));
    }
    out
}

fn service_resources(
    stack: &Stack,
    facts: &Facts,
    scope: &Scope,
    service: &Service,
) -> Vec<Resource> {
    let name = &service.name;
    let azs = stack.network.azs as usize;
    let subnets =
        |tier: Tier| Value::set((0..azs).map(|az| Value::reference(ids::subnet(tier, az))));
    let (logs, task, lb, tg, listener, svc, scaling, policy) = (
        ids::log_group(name),
        ids::task_definition(name),
        ids::load_balancer(name),
        ids::target_group(name),
        ids::listener(name),
        ids::ecs_service(name),
        ids::scaling_target(name),
        ids::scaling_policy(name),
    );
    let (env, secrets) = env_maps(stack, facts, scope, service);
    let public = service.ingress == Ingress::Public;
    let https = https(stack, service);
    vec![
        Resource::new(&logs, Kind::LogGroup)
            .prop("name", Value::str(log_group::group_name(scope, name)))
            .prop(
                "retention_days",
                Value::Int(stack.ecs.log_retention_days.into()),
            ),
        Resource::new(&task, Kind::EcsTaskDefinition)
            .prop("family", Value::str(scope.name(&task)))
            .prop("cpu", Value::str(service.cpu.to_string()))
            .prop("memory", Value::str(service.memory.to_string()))
            .prop("port", Value::Int(service.port.into()))
            .prop(
                "execution_role_arn",
                Value::attr(ids::execution_role(name), "arn"),
            )
            .prop("task_role_arn", Value::attr(ids::service_role(name), "arn"))
            .prop("log_group", Value::reference(&logs))
            .prop("region", Value::str(&stack.region))
            .prop(IMAGE, Value::str(&facts.images[name]))
            .prop(ENV, Value::Map(env))
            .prop(SECRETS, Value::Map(secrets)),
        Resource::new(&lb, Kind::LoadBalancer)
            .prop("name", Value::str(elb::name(scope, &lb)))
            .prop(
                "scheme",
                Value::str(if public {
                    "internet-facing"
                } else {
                    "internal"
                }),
            )
            .prop(
                "subnet_ids",
                subnets(if public { Tier::Public } else { Tier::App }),
            )
            .prop(
                "security_group_ids",
                Value::set([Value::reference(ids::load_balancer_sg(name))]),
            ),
        Resource::new(&tg, Kind::TargetGroup)
            .prop("name", Value::str(elb::name(scope, &tg)))
            .prop("port", Value::Int(service.port.into()))
            .prop("protocol", Value::str("HTTP"))
            .prop("vpc_id", Value::reference(ids::VPC))
            .prop("target_type", Value::str("ip"))
            .prop("health_path", Value::str(&service.health_path)),
        Resource::new(&listener, Kind::Listener)
            .prop("load_balancer_arn", Value::reference(&lb))
            .prop("port", Value::Int(listener_port(stack, service)))
            .prop("protocol", Value::str(if https { "HTTPS" } else { "HTTP" }))
            .prop(
                "certificate_arn",
                Value::str(if https {
                    stack.ecs.certificate_arn.as_deref().unwrap_or_default()
                } else {
                    ""
                }),
            )
            .prop("target_group_arn", Value::reference(&tg)),
        Resource::new(&svc, Kind::EcsService)
            .prop("name", Value::str(scope.name(&svc)))
            .prop("cluster", Value::reference(ids::ECS_CLUSTER))
            .prop("task_shape", Value::attr(&task, "shape"))
            .prop("subnet_ids", subnets(Tier::App))
            .prop(
                "security_group_ids",
                Value::set([Value::reference(ids::service_sg(name))]),
            )
            .prop("target_group_arn", Value::reference(&tg))
            .prop("container_port", Value::Int(service.port.into()))
            .prop("circuit_breaker", Value::Bool(true))
            .prop("min_healthy_percent", Value::Int(100))
            .prop("max_percent", Value::Int(200))
            .prop(
                "health_check_grace_seconds",
                Value::Int(HEALTH_GRACE_SECONDS),
            )
            .prop(LISTENER, Value::reference(&listener))
            .prop(TASK_DEFINITION, Value::attr(&task, "arn"))
            .prop(DESIRED_COUNT, Value::Int(service.scaling.min.into())),
        Resource::new(&scaling, Kind::ScalingTarget)
            .prop(
                "resource_id",
                Value::concat(vec![
                    Value::str("service/"),
                    Value::reference(ids::ECS_CLUSTER),
                    Value::str("/"),
                    Value::attr(&svc, "name"),
                ]),
            )
            .prop("min", Value::Int(service.scaling.min.into()))
            .prop("max", Value::Int(service.scaling.max.into())),
        Resource::new(&policy, Kind::ScalingPolicy)
            .prop("name", Value::str(scope.name(&policy)))
            .prop("resource_id", Value::reference(&scaling))
            .prop("target_cpu", Value::Int(TARGET_CPU)),
    ]
}
