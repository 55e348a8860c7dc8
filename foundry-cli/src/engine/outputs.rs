//! Outputs: the ids and addresses scripts need, read from what AWS reports.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use super::expand::ids;
use super::observe::World;
use crate::resources::{bucket, ecr_repository, secret};
use crate::stack::{ComputeTarget, Stack, Tier};

pub fn compute(stack: &Stack, world: &World) -> BTreeMap<String, Json> {
    let physical = |id: &str| world.get(id).map(|o| o.physical_id.clone());
    let azs = stack.network.azs as usize;
    let mut out = BTreeMap::new();
    out.insert("region".into(), json!(stack.region));
    out.insert("vpc_id".into(), json!(physical(ids::VPC)));
    out.insert("vpc_cidr".into(), json!(stack.network.cidr.to_string()));
    for tier in Tier::ALL {
        let list: Vec<_> = (0..azs)
            .filter_map(|az| physical(&ids::subnet(tier, az)))
            .collect();
        out.insert(format!("{tier}_subnet_ids"), json!(list));
    }
    let nats: Vec<_> = (0..azs).filter_map(|az| world.get(&ids::nat(az))).collect();
    out.insert(
        "nat_gateway_ids".into(),
        json!(nats.iter().map(|o| &o.physical_id).collect::<Vec<_>>()),
    );
    out.insert(
        "nat_public_ips".into(),
        json!(
            nats.iter()
                .filter_map(|o| o.attrs.get("public_ip"))
                .collect::<Vec<_>>()
        ),
    );
    let endpoints: BTreeMap<_, _> = stack
        .network
        .gateway_endpoints
        .iter()
        .chain(&stack.network.interface_endpoints)
        .filter_map(|s| Some((s.clone(), physical(&ids::endpoint(s))?)))
        .collect();
    out.insert("vpc_endpoint_ids".into(), json!(endpoints));
    let attr = |id: String, key: &str| world.get(&id).and_then(|o| o.attrs.get(key).cloned());
    let repositories: BTreeMap<_, _> = stack
        .services
        .iter()
        .filter_map(|s| {
            Some((
                s.name.clone(),
                attr(ecr_repository::logical_id(&s.name), "uri")?,
            ))
        })
        .collect();
    out.insert("repository_uris".into(), json!(repositories));
    // App Runner: https:// for every service; a private one answers only
    // inside the VPC (through its VPC ingress connection), which the URL
    // does not say. ECS: its load balancer, internal for a private one.
    let service_urls: BTreeMap<_, _> = stack
        .services
        .iter()
        .filter_map(|s| {
            let url = match stack.compute {
                ComputeTarget::Apprunner => {
                    format!("https://{}", attr(ids::service(&s.name), "url")?)
                }
                ComputeTarget::Ecs => format!(
                    "{}{}",
                    crate::engine::expand::ecs_scheme(stack, s),
                    attr(ids::load_balancer(&s.name), "dns_name")?
                ),
            };
            Some((s.name.clone(), url))
        })
        .collect();
    out.insert("service_urls".into(), json!(service_urls));
    let secrets: BTreeMap<_, _> = stack
        .secrets
        .iter()
        .filter_map(|s| Some((s.name.clone(), physical(&secret::logical_id(&s.name))?)))
        .collect();
    out.insert("secret_arns".into(), json!(secrets));
    let buckets: BTreeMap<_, _> = stack
        .buckets
        .iter()
        .filter_map(|b| Some((b.name.clone(), physical(&bucket::logical_id(&b.name))?)))
        .collect();
    out.insert("bucket_names".into(), json!(buckets));
    let role_ids = stack
        .services
        .iter()
        .map(|s| ids::service_role(&s.name))
        .chain([ids::ROLE_ECR_ACCESS.to_string()]);
    let roles: BTreeMap<_, _> = role_ids
        .filter_map(|id| Some((id.clone(), attr(id, "arn")?)))
        .collect();
    out.insert("role_arns".into(), json!(roles));
    if stack.ci.is_some() {
        // What the repository's workflow assumes (`role-to-assume`).
        out.insert(
            "ci_deploy_role_arn".into(),
            json!(attr(ids::ROLE_CI_DEPLOY.to_string(), "arn")),
        );
    }
    let service_groups: BTreeMap<_, _> = stack
        .services
        .iter()
        .filter_map(|s| Some((s.name.clone(), physical(&ids::service_sg(&s.name))?)))
        .collect();
    out.insert("service_security_group_ids".into(), json!(service_groups));
    if let (Some(db), Some(o)) = (&stack.database, world.get(ids::DB)) {
        out.insert("database_endpoint".into(), json!(o.attrs.get("address")));
        out.insert("database_port".into(), json!(db.engine.port()));
        out.insert("database_name".into(), json!(db.db_name));
        // The ARN of the secret RDS keeps the master password in, never the value.
        out.insert(
            "database_secret_arn".into(),
            json!(o.attrs.get("secret_arn")),
        );
    }
    if let Some(o) = world.get(ids::DISTRIBUTION) {
        out.insert("distribution_id".into(), json!(o.attrs.get("id")));
        out.insert(
            "distribution_domain".into(),
            json!(o.attrs.get("domain_name")),
        );
    }
    if let Some(sg) = physical(ids::SG_ENDPOINTS) {
        out.insert("endpoints_security_group_id".into(), Json::String(sg));
    }
    out
}

/// `key = value` lines for people.
pub fn human(outputs: &BTreeMap<String, Json>) -> String {
    let width = outputs.keys().map(String::len).max().unwrap_or(0);
    outputs
        .iter()
        .map(|(k, v)| format!("{k:<width$} = {v}\n"))
        .collect()
}
