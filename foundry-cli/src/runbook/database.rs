//! api-cant-reach-db: the database instance, the security-group path from
//! each service that connects to it (from what the service really uses: its
//! VPC connector's groups and subnets when it runs, else the group the
//! stack gives it), and the VPC's DNS attributes, without which the
//! instance's endpoint name does not resolve inside the VPC.

use aws_sdk_ec2::types::{IpPermission, VpcAttributeName};

use super::checks::{CheckError, Context, Fix, Outcome, Status};
use crate::aws::{AwsError, SdkResultExt};
use crate::engine::expand::ids;
use crate::resources::Kind;
use crate::vocab::Value;

/// The stack's database instance as RDS describes it.
struct Instance {
    identifier: String,
    status: String,
    endpoint: Option<(String, i32)>,
    security_groups: Vec<String>,
    vpc_id: Option<String>,
}

async fn instance(cx: &Context<'_>) -> Result<Option<Instance>, AwsError> {
    let identifier = cx.session.scope.name(ids::DB);
    let out = AwsError::none_if_not_found(
        cx.aws
            .rds
            .describe_db_instances()
            .db_instance_identifier(&identifier)
            .send()
            .await
            .or_aws("DescribeDBInstances"),
    )?;
    let Some(db) = out.and_then(|o| o.db_instances().first().cloned()) else {
        return Ok(None);
    };
    Ok(Some(Instance {
        identifier,
        status: db.db_instance_status().unwrap_or("unknown").to_owned(),
        endpoint: db.endpoint().and_then(|e| {
            e.address()
                .map(|a| (a.to_owned(), e.port().unwrap_or_default()))
        }),
        security_groups: db
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
            .collect(),
        vpc_id: db
            .db_subnet_group()
            .and_then(|g| g.vpc_id())
            .map(str::to_owned),
    }))
}

pub async fn instance_available(cx: &Context<'_>) -> Result<Outcome, AwsError> {
    if cx.stack.database.is_none() {
        return Ok(Outcome::pass("the stack has no database"));
    }
    let Some(db) = instance(cx).await? else {
        return Ok(Outcome::pass(format!(
            "there is no instance {}",
            cx.session.scope.name(ids::DB)
        ))
        .with(Status::Fail, Fix::restored_by_up("the instance")));
    };
    let evidence = vec![format!(
        "{}: {} at {}, security group(s) {}, in {}",
        db.identifier,
        db.status,
        db.endpoint
            .as_ref()
            .map_or("no endpoint yet".to_owned(), |(h, p)| format!("{h}:{p}")),
        db.security_groups.join(", "),
        db.vpc_id.as_deref().unwrap_or("?")
    )];
    if db.status == "available" && db.endpoint.is_some() {
        return Ok(Outcome::pass(format!("{} is available", db.identifier)).evidence(evidence));
    }
    Ok(Outcome::pass(format!(
        "{} is {}, not available: it accepts no connections now",
        db.identifier, db.status
    ))
    .evidence(evidence)
    .with(
        Status::Fail,
        Fix::Manual {
            description: "wait while RDS is modifying, backing up or rebooting; a stopped instance starts with `aws rds start-db-instance` (RDS starts it by itself after 7 days); `storage-full` needs database.max_storage_gb raised".into(),
        },
    ))
}

/// Where a service's connections to the database come from.
struct Source {
    /// How foundry knows ("its VPC connector", "the group the stack gives it").
    via: String,
    security_groups: Vec<String>,
    subnets: Vec<String>,
}

/// The connector of a service that runs (it has a release), else the
/// security group the stack gives it for its connector.
async fn source_of(cx: &Context<'_>, service: &str, runs: bool) -> Result<Source, CheckError> {
    let scope = &cx.session.scope;
    if runs {
        let connectors = Kind::ApprunnerVpcConnector
            .handler()
            .observe(cx.aws, scope)
            .await?;
        if let Some(c) = connectors
            .iter()
            .find(|o| o.id == ids::service_connector(service))
        {
            let list = |key: &str| match c.props.get(key) {
                Some(Value::List(items)) => items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            return Ok(Source {
                via: format!("its VPC connector {}", c.physical_id),
                security_groups: list("security_group_ids"),
                subnets: list("subnet_ids"),
            });
        }
    }
    let groups = Kind::SecurityGroup.handler().observe(cx.aws, scope).await?;
    let group = groups
        .iter()
        .find(|o| o.id == ids::service_sg(service))
        .map(|o| o.physical_id.clone());
    Ok(Source {
        via: "the security group the stack gives its connector".into(),
        security_groups: group.into_iter().collect(),
        subnets: cx
            .network
            .subnets
            .iter()
            .filter(|s| s.logical_id.starts_with("subnet-app"))
            .map(|s| s.id.clone())
            .collect(),
    })
}

fn admits(rule: &IpPermission, port: i32, groups: &[String]) -> bool {
    let protocol = rule.ip_protocol().unwrap_or_default();
    let ports = protocol == "-1"
        || (protocol == "tcp"
            && rule.from_port().unwrap_or(0) <= port
            && port <= rule.to_port().unwrap_or(65535));
    ports
        && rule
            .user_id_group_pairs()
            .iter()
            .any(|p| p.group_id().is_some_and(|g| groups.iter().any(|x| x == g)))
}

/// Each service that connects to the database: the instance's groups admit
/// the service's groups on the port, the service's groups let the traffic
/// out, and the service's subnets are in the instance's VPC.
pub async fn admits_services(cx: &Context<'_>) -> Result<Outcome, CheckError> {
    let callers: Vec<&crate::stack::Service> = cx
        .stack
        .services
        .iter()
        .filter(|s| s.connects_to_database)
        .collect();
    if cx.stack.database.is_none() || callers.is_empty() {
        return Ok(Outcome::pass("no service connects to a database"));
    }
    let Some(db) = instance(cx).await? else {
        return Ok(Outcome::pass("there is no database instance to reach")
            .with(Status::Fail, Fix::restored_by_up("the instance")));
    };
    let port = db.endpoint.as_ref().map_or(5432, |(_, p)| *p);
    let history = crate::release::load(&cx.session.state)
        .await
        .map_err(crate::release::ReleaseError::from)?;
    let released = history.current();
    let mut all_groups = db.security_groups.clone();
    let mut sources = Vec::new();
    for service in &callers {
        let runs = released.is_some_and(|r| r.services.contains_key(&service.name));
        let source = source_of(cx, &service.name, runs).await?;
        all_groups.extend(source.security_groups.iter().cloned());
        sources.push((service, runs, source));
    }
    all_groups.sort();
    all_groups.dedup();
    let described = cx
        .aws
        .ec2
        .describe_security_groups()
        .set_group_ids(Some(all_groups))
        .send()
        .await
        .or_aws("DescribeSecurityGroups")?;
    let groups = described.security_groups();
    let inbound: Vec<&IpPermission> = groups
        .iter()
        .filter(|g| {
            g.group_id()
                .is_some_and(|id| db.security_groups.iter().any(|x| x == id))
        })
        .flat_map(|g| g.ip_permissions())
        .collect();
    let mut evidence = Vec::new();
    let mut broken = Vec::new();
    for (service, runs, source) in &sources {
        let name = &service.name;
        evidence.push(format!(
            "{name} connects from {} ({}): group(s) {}, subnet(s) {}",
            source.via,
            if *runs {
                "it runs"
            } else {
                "it has no release yet"
            },
            source.security_groups.join(", "),
            source.subnets.join(", ")
        ));
        if source.security_groups.is_empty() {
            broken.push(format!("{name} has no security group to connect from"));
            continue;
        }
        if !inbound
            .iter()
            .any(|r| admits(r, port, &source.security_groups))
        {
            broken.push(format!(
                "{} admit(s) nothing from {name}'s {} on port {port}",
                db.security_groups.join(", "),
                source.security_groups.join(", ")
            ));
        }
        let lets_out = groups
            .iter()
            .filter(|g| {
                g.group_id()
                    .is_some_and(|id| source.security_groups.iter().any(|x| x == id))
            })
            .flat_map(|g| g.ip_permissions_egress())
            .any(|r| {
                let all_ports = r.ip_protocol() == Some("-1")
                    || (r.from_port().unwrap_or(0) <= port && port <= r.to_port().unwrap_or(65535));
                all_ports
                    && (r
                        .ip_ranges()
                        .iter()
                        .any(|i| i.cidr_ip() == Some("0.0.0.0/0"))
                        || admits(r, port, &db.security_groups))
            });
        if !lets_out {
            broken.push(format!(
                "{name}'s {} let(s) nothing out to port {port}",
                source.security_groups.join(", ")
            ));
        }
        let outside: Vec<&String> = source
            .subnets
            .iter()
            .filter(|id| !cx.network.subnets.iter().any(|s| &&s.id == id))
            .collect();
        if !outside.is_empty() || cx.network.vpc_id != db.vpc_id {
            broken.push(format!(
                "{name}'s subnets {outside:?} are not in the database's VPC {}",
                db.vpc_id.as_deref().unwrap_or("?")
            ));
        }
        if *runs
            && let Some((host, _)) = &db.endpoint
            && let Some(live) = running_env(cx, name, "DATABASE_HOST").await?
        {
            if &live == host {
                evidence.push(format!("{name} runs with DATABASE_HOST={live}"));
            } else {
                broken.push(format!(
                    "{name} runs with DATABASE_HOST={live}, not the instance's endpoint {host}"
                ));
            }
        }
    }
    if broken.is_empty() {
        return Ok(Outcome::pass(format!(
            "{} admit(s) every service that connects, on port {port}",
            db.security_groups.join(", ")
        ))
        .evidence(evidence));
    }
    let summary = broken[0].clone();
    evidence.extend(broken);
    Ok(Outcome::pass(summary).evidence(evidence).with(
        Status::Fail,
        Fix::Apply {
            description: "`connect = [\"database\"]` in the stack file derives these rules; `foundry up` restores them (a service's DATABASE_HOST comes back with `foundry deploy`)".into(),
        },
    ))
}

/// A variable of the environment `service` runs with now.
async fn running_env(
    cx: &Context<'_>,
    service: &str,
    variable: &str,
) -> Result<Option<String>, CheckError> {
    Ok(running_env_all(cx, service)
        .await?
        .and_then(|env| env.get(variable).cloned()))
}

/// The environment `service` runs with now; `None` when it does not run.
pub(super) async fn running_env_all(
    cx: &Context<'_>,
    service: &str,
) -> Result<Option<std::collections::BTreeMap<String, String>>, CheckError> {
    let compute = crate::release::compute_of(cx.session)?;
    let running = compute
        .running(service)
        .await
        .map_err(crate::release::ReleaseError::from)?;
    Ok(running.map(|r| r.spec.env))
}

pub async fn vpc_dns(cx: &Context<'_>) -> Result<Outcome, AwsError> {
    let Some(vpc) = &cx.network.vpc_id else {
        return Ok(
            Outcome::pass("there is no VPC yet").with(Status::Fail, Fix::restored_by_up("the VPC"))
        );
    };
    let mut evidence = Vec::new();
    let mut off = Vec::new();
    for (name, label) in [
        (VpcAttributeName::EnableDnsSupport, "enableDnsSupport"),
        (VpcAttributeName::EnableDnsHostnames, "enableDnsHostnames"),
    ] {
        let on = crate::resources::vpc::dns_attribute(cx.aws, vpc, name).await?;
        evidence.push(format!("{vpc}: {label} = {on}"));
        if !on {
            off.push(label);
        }
    }
    if off.is_empty() {
        return Ok(
            Outcome::pass("the VPC resolves the instance's and endpoints' names")
                .evidence(evidence),
        );
    }
    Ok(Outcome::pass(format!(
        "{} off: the database's endpoint name (and private endpoints' names) do not resolve inside the VPC",
        off.join(" and ")
    ))
    .evidence(evidence)
    .with(Status::Fail, Fix::restored_by_up("both attributes on")))
}
