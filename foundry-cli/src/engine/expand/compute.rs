//! `[services.*]` on the compute target (`[compute] target`, design §7):
//! for App Runner, per service an auto scaling and an observability
//! configuration, a VPC connector when it reaches into the VPC (the database
//! or a private service), the service itself, and for a private service its
//! VPC ingress connection (through the `apprunner.requests` interface
//! endpoint that `network.rs` declares).
//!
//! A service is expanded only once it has an image (`Facts::images`, the
//! image of its current release): App Runner cannot create a service without
//! one. `up` pushes the first image of a new service, then plans again. A
//! service whose env names the URL of a service not expanded yet waits too,
//! as does anything else that references it (the CDN's api origin).
//!
//! Env values: text and `${…}` references become one `Value::concat`;
//! `${services.X.url}` is `https://` + the service's `url` attribute (App
//! Runner's `ServiceUrl` is a bare host name; clients want a URL), or for a
//! private service its VPC ingress connection's `domain`,
//! `${buckets.X.name}` the bucket's name, `${database.endpoint|port|name|
//! secret_arn}` the instance's attributes of those names, `${secrets.X}` the
//! secret's ARN. A secret given as a whole value (`EnvValue::Secret`) is a
//! runtime secret (`create:secrets`, by ARN): its value never passes through
//! foundry.

use std::collections::{BTreeMap, BTreeSet};

use super::{Facts, ids};
use crate::aws::apprunner::{CONFIG_NAME_MAX, NAME_MAX, name};
use crate::engine::graph::Resource;
use crate::resources::apprunner_service::{ENV, IMAGE, SECRETS};
use crate::resources::{Kind, Scope, bucket, secret};
use crate::stack::{
    ComputeTarget, EnvValue, Ingress, Part, Reference, Service, Stack, Template, Tier,
};
use crate::vocab::Value;

/// The interface endpoint private services are reached through.
pub const APPRUNNER_REQUESTS: &str = "apprunner.requests";

/// Whether the stack needs the `apprunner.requests` endpoint: some service
/// runs on App Runner with private ingress.
pub fn needs_requests_endpoint(stack: &Stack) -> bool {
    stack.compute == ComputeTarget::Apprunner
        && stack.services.iter().any(|s| s.ingress == Ingress::Private)
}

/// Names of the services that are expanded: those with an image whose env
/// references only services that are expanded too.
pub fn expanded_services(stack: &Stack, facts: &Facts) -> BTreeSet<String> {
    let mut ready: BTreeSet<String> = stack
        .services
        .iter()
        .filter(|s| facts.images.contains_key(&s.name))
        .map(|s| s.name.clone())
        .collect();
    // Drop services whose env waits on one not expanded, until none changes
    // (rings of URL references are refused when the file is read).
    loop {
        let waiting: Vec<String> = stack
            .services
            .iter()
            .filter(|s| ready.contains(&s.name))
            .filter(|s| urls_named(s).any(|other| !ready.contains(other)))
            .map(|s| s.name.clone())
            .collect();
        if waiting.is_empty() {
            return ready;
        }
        for s in waiting {
            ready.remove(&s);
        }
    }
}

/// Services whose URL `service`'s env names.
fn urls_named(service: &Service) -> impl Iterator<Item = &str> {
    service.env.iter().flat_map(|v| match &v.value {
        EnvValue::Text(t) => t
            .references()
            .filter_map(|r| match r {
                Reference::ServiceUrl(n) => Some(n.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>(),
        EnvValue::Secret(_) => Vec::new(),
    })
}

pub(super) fn compute(stack: &Stack, facts: &Facts) -> Vec<Resource> {
    if stack.compute == ComputeTarget::Ecs {
        return super::ecs::ecs(stack, facts);
    }
    let scope = Scope::new(&stack.name, &stack.env);
    let expanded = expanded_services(stack, facts);
    let mut out = Vec::new();
    for service in stack.services.iter().filter(|s| expanded.contains(&s.name)) {
        out.extend(apprunner(stack, facts, &scope, service));
    }
    out
}

fn is_private(stack: &Stack, name: &str) -> bool {
    stack
        .services
        .iter()
        .any(|s| s.name == name && s.ingress == Ingress::Private)
}

fn apprunner(stack: &Stack, facts: &Facts, scope: &Scope, service: &Service) -> Vec<Resource> {
    let svc = ids::service(&service.name);
    let scaling = ids::service_scaling(&service.name);
    let observability = ids::service_observability(&service.name);
    let mut out = vec![
        Resource::new(&scaling, Kind::ApprunnerAutoScaling)
            .prop("name", Value::str(name(scope, &scaling, CONFIG_NAME_MAX)))
            .prop("min_size", Value::Int(service.scaling.min.into()))
            .prop("max_size", Value::Int(service.scaling.max.into()))
            .prop(
                "max_concurrency",
                Value::Int(service.scaling.concurrency.into()),
            ),
        Resource::new(&observability, Kind::ApprunnerObservability)
            .prop(
                "name",
                Value::str(name(scope, &observability, CONFIG_NAME_MAX)),
            )
            .prop("tracing", Value::Bool(true)),
    ];
    let into_vpc = (service.connects_to_database && stack.database.is_some())
        || service.connects_to.iter().any(|n| is_private(stack, n));
    let connector = if into_vpc {
        let id = ids::service_connector(&service.name);
        out.push(
            Resource::new(&id, Kind::ApprunnerVpcConnector)
                .prop("name", Value::str(name(scope, &id, NAME_MAX)))
                .prop(
                    "subnet_ids",
                    Value::set(
                        (0..stack.network.azs as usize)
                            .map(|az| Value::reference(ids::subnet(Tier::App, az))),
                    ),
                )
                .prop(
                    "security_group_ids",
                    Value::set([Value::reference(ids::service_sg(&service.name))]),
                ),
        );
        Value::reference(id)
    } else {
        Value::str("")
    };
    let (env, secrets) = env_maps(stack, facts, scope, service);
    out.push(
        Resource::new(&svc, Kind::ApprunnerService)
            .prop("name", Value::str(name(scope, &svc, NAME_MAX)))
            .prop("port", Value::Int(service.port.into()))
            .prop("cpu", Value::str(service.cpu.to_string()))
            .prop("memory", Value::str(service.memory.to_string()))
            .prop("health_path", Value::str(&service.health_path))
            .prop(
                "publicly_accessible",
                Value::Bool(service.ingress == Ingress::Public),
            )
            .prop("vpc_connector_arn", connector)
            .prop("auto_scaling_configuration_arn", Value::reference(&scaling))
            .prop(
                "observability_configuration_arn",
                Value::reference(&observability),
            )
            .prop(
                "instance_role_arn",
                Value::attr(ids::service_role(&service.name), "arn"),
            )
            .prop("access_role_arn", Value::attr(ids::ROLE_ECR_ACCESS, "arn"))
            .prop(IMAGE, Value::str(&facts.images[&service.name]))
            .prop(ENV, Value::Map(env))
            .prop(SECRETS, Value::Map(secrets)),
    );
    if service.ingress == Ingress::Private {
        let id = ids::service_ingress(&service.name);
        out.push(
            Resource::new(&id, Kind::ApprunnerVpcIngressConnection)
                .prop("name", Value::str(name(scope, &id, NAME_MAX)))
                .prop("service_arn", Value::reference(&svc))
                .prop("vpc_id", Value::reference(ids::VPC))
                .prop(
                    "vpc_endpoint_id",
                    Value::reference(ids::endpoint(APPRUNNER_REQUESTS)),
                ),
        );
    }
    out
}

/// A service's env: plain values (text and `${…}` references), and the
/// secrets the platform injects by ARN.
pub(super) fn env_maps(
    stack: &Stack,
    facts: &Facts,
    scope: &Scope,
    service: &Service,
) -> (BTreeMap<String, Value>, BTreeMap<String, Value>) {
    let env = service
        .env
        .iter()
        .filter_map(|v| match &v.value {
            EnvValue::Text(t) => Some((v.name.clone(), env_text(stack, facts, scope, t))),
            EnvValue::Secret(_) => None,
        })
        .collect();
    (env, runtime_secrets(service))
}

/// The secrets the platform injects into `service`: variable → the
/// secret's ARN (a reference to it).
pub(super) fn runtime_secrets(service: &Service) -> BTreeMap<String, Value> {
    service
        .env
        .iter()
        .filter_map(|v| match &v.value {
            EnvValue::Secret(s) => Some((v.name.clone(), Value::reference(secret::logical_id(s)))),
            EnvValue::Text(_) => None,
        })
        .collect()
}

/// Where other services reach service `name`: a private service answers
/// inside the VPC on its VPC ingress connection's domain (the endpoint has
/// no private DNS for the service's own URL), a public one on its URL.
fn service_domain(stack: &Stack, name: &str) -> Value {
    if is_private(stack, name) {
        Value::attr(ids::service_ingress(name), "domain")
    } else {
        Value::attr(ids::service(name), "url")
    }
}

/// One env value: a plain string when it has no references, the reference
/// itself when it is one whole, otherwise a concat.
fn env_text(stack: &Stack, facts: &Facts, scope: &Scope, template: &Template) -> Value {
    let mut parts = Vec::new();
    for part in &template.0 {
        match part {
            Part::Text(t) => parts.push(Value::str(t)),
            Part::Ref(Reference::ServiceUrl(n)) if stack.compute == ComputeTarget::Ecs => {
                let service = stack.services.iter().find(|s| &s.name == n);
                let service = service.expect("validated: the URL names a declared service");
                parts.push(Value::str(super::ecs::scheme(stack, service)));
                parts.push(Value::attr(ids::load_balancer(n), "dns_name"));
            }
            Part::Ref(Reference::ServiceUrl(n)) => {
                parts.push(Value::str("https://"));
                parts.push(service_domain(stack, n));
            }
            Part::Ref(Reference::BucketName(b)) => {
                parts.push(Value::str(bucket::bucket_name(scope, b, &facts.account)))
            }
            Part::Ref(Reference::Database(a)) => parts.push(Value::attr(ids::DB, a.key())),
            Part::Ref(Reference::Secret(s)) => parts.push(Value::reference(secret::logical_id(s))),
            Part::Ref(Reference::Auth(attribute)) => {
                let auth = stack.auth.as_ref().expect("validated: [auth] is declared");
                parts.push(Value::str(auth.get(*attribute)))
            }
        }
    }
    match parts.len() {
        0 => Value::str(""),
        1 => parts.pop().expect("one part"),
        _ if parts.iter().all(|p| matches!(p, Value::Str(_))) => {
            Value::str(parts.iter().filter_map(Value::as_str).collect::<String>())
        }
        _ => Value::concat(parts),
    }
}
