//! The primitives runbook files are made of: each reads what it needs of the
//! live stack (through `Context`), and says pass, warn or fail with its
//! evidence, the dollars at stake where there are any, and the fix — a
//! stack-file edit where the fix belongs in the stack file. Runbook files
//! choose, order and parameterise them; adding a runbook rarely needs a new
//! primitive.

use std::time::SystemTime;

use serde::Serialize;

use super::network::{self, NetworkFacts};
use super::{auth, database, secrets, traffic, uploads};
use crate::aws::{Aws, AwsError};
use crate::engine::Session;
use crate::pricing::{BYTES_PER_GB, DAYS_PER_MONTH, HOURS_PER_MONTH, Prices, dollars};
use crate::stack::{NatMode, Part, Stack, Template};

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Release(#[from] crate::release::ReleaseError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    Number,
    Text,
    TextList,
}

#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub ty: ParamType,
}

#[derive(Debug)]
pub struct Primitive {
    pub name: &'static str,
    pub params: &'static [Param],
}

const fn param(name: &'static str, ty: ParamType) -> Param {
    Param { name, ty }
}

pub const PRIMITIVES: &[Primitive] = &[
    Primitive {
        name: "nat_gateways_per_policy",
        params: &[
            param("single", ParamType::TextList),
            param("per_az", ParamType::TextList),
        ],
    },
    Primitive {
        name: "idle_nat_gateways_and_addresses",
        params: &[],
    },
    Primitive {
        name: "gateway_endpoint_on_private_routes",
        params: &[param("service", ParamType::Text)],
    },
    Primitive {
        name: "interface_endpoints_present",
        params: &[param("services", ParamType::TextList)],
    },
    Primitive {
        name: "private_routes_in_own_az",
        params: &[],
    },
    Primitive {
        name: "nat_traffic_cost",
        params: &[param("warn_monthly_dollars", ParamType::Number)],
    },
    Primitive {
        name: "interface_endpoint_break_even",
        params: &[],
    },
    Primitive {
        name: "nat_faults",
        params: &[],
    },
    Primitive {
        name: "service_rollouts_and_bindings",
        params: &[],
    },
    Primitive {
        name: "cdn_api_origin_is_service",
        params: &[],
    },
    Primitive {
        name: "cdn_api_service_healthy",
        params: &[],
    },
    Primitive {
        name: "cdn_5xx_rate",
        params: &[param("warn_percent", ParamType::Number)],
    },
    Primitive {
        name: "private_service_reachable",
        params: &[],
    },
    Primitive {
        name: "db_connections_vs_max",
        params: &[param("warn_ratio", ParamType::Number)],
    },
    Primitive {
        name: "database_instance_available",
        params: &[],
    },
    Primitive {
        name: "database_admits_services",
        params: &[],
    },
    Primitive {
        name: "vpc_dns_attributes",
        params: &[],
    },
    Primitive {
        name: "secrets_age",
        params: &[param("max_age_days", ParamType::Number)],
    },
    Primitive {
        name: "services_read_current_secrets",
        params: &[],
    },
    Primitive {
        name: "clock_skew",
        params: &[param("warn_seconds", ParamType::Number)],
    },
    Primitive {
        name: "bucket_cors_admits_origins",
        params: &[],
    },
    Primitive {
        name: "bucket_policy_and_grants",
        params: &[],
    },
    Primitive {
        name: "upload_url_ttl",
        params: &[
            param("service", ParamType::Text),
            param("min_seconds", ParamType::Number),
            param("max_seconds", ParamType::Number),
        ],
    },
    Primitive {
        name: "service_requests",
        params: &[
            param("service", ParamType::Text),
            param("warn_5xx_percent", ParamType::Number),
            param("warn_latency_ms", ParamType::Number),
        ],
    },
    Primitive {
        name: "service_log_lines",
        params: &[
            param("service", ParamType::Text),
            param("pattern", ParamType::Text),
            param("group_by", ParamType::Text),
            param("warn_count", ParamType::Number),
        ],
    },
    Primitive {
        name: "issuer_discovery",
        params: &[],
    },
    Primitive {
        name: "jwks_keys",
        params: &[],
    },
    Primitive {
        name: "jwks_reachable_from_services",
        params: &[],
    },
    Primitive {
        name: "services_auth_settings",
        params: &[],
    },
];

pub fn find(name: &str) -> Option<&'static Primitive> {
    PRIMITIVES.iter().find(|p| p.name == name)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

/// How to make a finding go away.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fix {
    /// Edits of the stack file, then `up` (what `--fix` does).
    Stack {
        description: String,
        edits: Vec<StackEdit>,
    },
    /// The live stack differs from the stack file: `up` puts it back.
    Apply { description: String },
    /// Something a person decides.
    Manual { description: String },
    /// `foundry rollback --to N` (what `--fix` does).
    Rollback { description: String, to: u32 },
    /// A generated secret gets a new value (`foundry secret rotate`), then
    /// its readers restart (what `--fix` does).
    Rotate { description: String, secret: String },
    /// The services start again on their current image, reading env and
    /// secrets afresh, as a health-gated release (`foundry deploy SERVICE
    /// --image <current>`; what `--fix` does).
    Restart {
        description: String,
        services: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum StackEdit {
    /// Sets the value at the key path (`["env", "dev", "network", "nat"]`).
    Set { path: Vec<String>, value: String },
    /// Adds a string to the list at the key path, creating it if missing.
    Add { path: Vec<String>, item: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub status: Status,
    /// One sentence.
    pub summary: String,
    pub evidence: Vec<String>,
    /// What the thing checked costs per month, where it is money.
    pub monthly_dollars: Option<f64>,
    /// What the fix would save per month.
    pub monthly_saving: Option<f64>,
    pub fix: Option<Fix>,
}

impl Outcome {
    pub(super) fn pass(summary: impl Into<String>) -> Self {
        Outcome {
            status: Status::Pass,
            summary: summary.into(),
            evidence: Vec::new(),
            monthly_dollars: None,
            monthly_saving: None,
            fix: None,
        }
    }

    pub(super) fn with(mut self, status: Status, fix: Fix) -> Self {
        self.status = status;
        self.fix = Some(fix);
        self
    }

    pub(super) fn evidence(mut self, evidence: Vec<String>) -> Self {
        self.evidence = evidence;
        self
    }
}

impl Fix {
    /// The stack file describes `what`; the live stack lost it (drift).
    pub(super) fn restored_by_up(what: &str) -> Fix {
        Fix::Apply {
            description: format!("the stack file describes {what}; `foundry up` puts it back"),
        }
    }
}

/// What every check of one run shares.
pub struct Context<'a> {
    pub session: &'a Session,
    pub aws: &'a Aws,
    pub stack: &'a Stack,
    pub network: NetworkFacts,
    pub prices: Prices,
    pub days: u32,
    pub now: SystemTime,
}

pub(super) fn texts(params: &toml::Table, name: &str) -> Vec<String> {
    params
        .get(name)
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn number(params: &toml::Table, name: &str) -> f64 {
    params
        .get(name)
        .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
        .unwrap_or_default()
}

pub(super) fn text<'p>(params: &'p toml::Table, name: &str) -> &'p str {
    params
        .get(name)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
}

/// Runs one primitive (validated by the runbook file's parser).
pub async fn run(
    primitive: &Primitive,
    params: &toml::Table,
    cx: &Context<'_>,
) -> Result<Outcome, CheckError> {
    match primitive.name {
        "nat_gateways_per_policy" => Ok(nat_policy(params, cx)),
        "service_rollouts_and_bindings" => rollouts_and_bindings(cx).await,
        "cdn_api_origin_is_service" => cdn_origin(cx).await,
        "private_service_reachable" => private_services(cx).await,
        "cdn_api_service_healthy" => cdn_service_healthy(cx).await,
        "cdn_5xx_rate" => Ok(cdn_5xx(number(params, "warn_percent"), cx).await?),
        "idle_nat_gateways_and_addresses" => Ok(idle_nats_and_addresses(cx).await?),
        "gateway_endpoint_on_private_routes" => Ok(gateway_endpoint(text(params, "service"), cx)),
        "interface_endpoints_present" => Ok(interface_endpoints(&texts(params, "services"), cx)),
        "private_routes_in_own_az" => Ok(routes_in_own_az(cx)),
        "nat_traffic_cost" => Ok(nat_traffic(number(params, "warn_monthly_dollars"), cx).await?),
        "interface_endpoint_break_even" => Ok(break_even(cx).await?),
        "nat_faults" => Ok(nat_faults(cx).await?),
        "db_connections_vs_max" => Ok(db_connections(number(params, "warn_ratio"), cx).await?),
        "database_instance_available" => Ok(database::instance_available(cx).await?),
        "database_admits_services" => database::admits_services(cx).await,
        "vpc_dns_attributes" => Ok(database::vpc_dns(cx).await?),
        "secrets_age" => Ok(secrets::age(number(params, "max_age_days"), cx).await?),
        "services_read_current_secrets" => secrets::readers_current(cx).await,
        "clock_skew" => Ok(uploads::clock_skew(number(params, "warn_seconds"), cx).await),
        "bucket_cors_admits_origins" => Ok(uploads::cors(cx).await?),
        "bucket_policy_and_grants" => Ok(uploads::policy_and_grants(cx).await?),
        "upload_url_ttl" => uploads::url_ttl(params, cx).await,
        "service_requests" => traffic::requests(params, cx).await,
        "service_log_lines" => traffic::log_lines(params, cx).await,
        "issuer_discovery" => Ok(auth::discovery(cx).await),
        "jwks_keys" => Ok(auth::keys(cx).await),
        "jwks_reachable_from_services" => Ok(auth::reachable_from_services(cx)),
        "services_auth_settings" => auth::service_settings(cx).await,
        other => unreachable!("the runbook parser admits only known primitives, not {other}"),
    }
}

fn nat_list(network: &NetworkFacts) -> Vec<String> {
    network
        .nat_gateways
        .iter()
        .map(|n| format!("{} in {}", n.id, n.az))
        .collect()
}

fn nat_policy(params: &toml::Table, cx: &Context<'_>) -> Outcome {
    let env = &cx.stack.env;
    let network = &cx.network;
    let count = network.nat_gateways.len();
    let azs = network.azs().max(1);
    let (wanted, mode, word) = if texts(params, "single").contains(env) {
        (1, "single", "one NAT gateway")
    } else if texts(params, "per_az").contains(env) {
        (azs, "per-az", "one NAT gateway per AZ")
    } else {
        return Outcome::pass(format!(
            "no NAT policy for env {env}: {count} NAT gateway(s)"
        ));
    };
    let evidence = nat_list(network);
    let set_mode = |mode: &str| StackEdit::Set {
        path: vec!["env".into(), env.clone(), "network".into(), "nat".into()],
        value: mode.to_owned(),
    };
    if count == wanted || (count == 0 && cx.stack.network.nat == NatMode::None) {
        let mut o = Outcome::pass(format!(
            "{count} NAT gateway(s): {word} in {env}, as policy says"
        ))
        .evidence(evidence);
        o.monthly_dollars = Some(count as f64 * cx.prices.nat_gateway_month());
        return o;
    }
    let monthly = count as f64 * cx.prices.nat_gateway_month();
    let mut o = Outcome::pass(format!(
        "{count} NAT gateway(s) in {env}, where policy is {word} ({wanted})"
    ))
    .evidence(evidence);
    o.monthly_dollars = Some(monthly);
    if count > wanted {
        let extra = (count - wanted) as f64;
        o.monthly_saving = Some(extra * cx.prices.nat_gateway_month());
        o = o.with(
            Status::Fail,
            Fix::Stack {
                description: format!(
                    "set network.nat = \"{mode}\" for {env}: {} fewer NAT gateway(s) and Elastic IP(s), {} × 730 h × ({} + {}) = {} a month",
                    count - wanted,
                    count - wanted,
                    cx.prices.nat_gateway_hour,
                    cx.prices.public_ipv4_hour,
                    dollars(extra * cx.prices.nat_gateway_month())
                ),
                edits: vec![set_mode(mode)],
            },
        );
    } else {
        o = o.with(
            Status::Warn,
            Fix::Stack {
                description: format!(
                    "set network.nat = \"{mode}\" for {env}, so that one AZ's failure does not cut the others off ({} a month per NAT gateway)",
                    dollars(cx.prices.nat_gateway_month())
                ),
                edits: vec![set_mode(mode)],
            },
        );
    }
    o
}

/// Bytes the NAT gateway processed over the run's window.
async fn nat_bytes(cx: &Context<'_>, nat_id: &str) -> Result<(f64, f64), AwsError> {
    crate::aws::cloudwatch::nat_gateway_bytes(cx.aws, nat_id, cx.days, cx.now).await
}

async fn idle_nats_and_addresses(cx: &Context<'_>) -> Result<Outcome, AwsError> {
    let mut evidence = Vec::new();
    let mut saving = 0.0;
    for nat in &cx.network.nat_gateways {
        let (out, back) = nat_bytes(cx, &nat.id).await?;
        if out + back == 0.0 {
            evidence.push(format!(
                "{} in {} processed 0 bytes in {} days",
                nat.id, nat.az, cx.days
            ));
            saving += cx.prices.nat_gateway_month();
        }
    }
    for address in cx
        .network
        .addresses
        .iter()
        .filter(|a| a.association_id.is_none())
    {
        evidence.push(format!(
            "Elastic IP {} ({}) is attached to nothing",
            address.public_ip, address.allocation_id
        ));
        saving += cx.prices.public_ipv4_hour * HOURS_PER_MONTH;
    }
    if evidence.is_empty() {
        return Ok(Outcome::pass(
            "every NAT gateway carried traffic; no Elastic IP is unattached",
        ));
    }
    let mut o = Outcome::pass(format!("{} idle thing(s) paid by the hour", evidence.len()))
        .evidence(evidence)
        .with(
            Status::Warn,
            Fix::Manual {
                description: "if nothing in these subnets needs the internet, set network.nat = \"none\"; release unattached Elastic IPs (foundry tags its own; one left behind by a crashed run goes with `foundry up`)".into(),
            },
        );
    o.monthly_saving = Some(saving);
    Ok(o)
}

fn gateway_endpoint(service: &str, cx: &Context<'_>) -> Outcome {
    let name = format!("com.amazonaws.{}.{service}", cx.stack.region);
    let private = cx.network.private_route_tables();
    let found = cx
        .network
        .endpoints
        .iter()
        .find(|e| e.service_name == name && e.kind.eq_ignore_ascii_case("gateway"));
    let missing: Vec<&str> = private
        .iter()
        .filter(|t| found.is_none_or(|e| !e.route_table_ids.contains(&t.id)))
        .map(|t| t.id.as_str())
        .collect();
    if cx.network.nat_gateways.is_empty() || missing.is_empty() {
        return Outcome::pass(match found {
            Some(e) => format!(
                "{service} gateway endpoint {} on every private route table",
                e.id
            ),
            None => format!("no NAT gateway: {service} traffic cannot cross one"),
        });
    }
    let evidence = vec![match found {
        None => format!(
            "no gateway endpoint for {name} in {}",
            cx.network.vpc_id.as_deref().unwrap_or("the VPC")
        ),
        Some(e) => format!(
            "{} is missing from route table(s) {}",
            e.id,
            missing.join(", ")
        ),
    }];
    let fix = if cx
        .stack
        .network
        .gateway_endpoints
        .iter()
        .any(|s| s == service)
    {
        Fix::Apply {
            description: format!(
                "the stack file has the {service} gateway endpoint but the live VPC does not: `foundry up` restores it"
            ),
        }
    } else {
        Fix::Stack {
            description: format!(
                "add \"{service}\" to network.gateway_endpoints: {service} traffic from private subnets stops paying the NAT's {} per GB (the gateway endpoint is free)",
                dollars(cx.prices.nat_gateway_gb)
            ),
            edits: vec![StackEdit::Add {
                path: vec!["network".into(), "gateway_endpoints".into()],
                item: service.to_owned(),
            }],
        }
    };
    Outcome::pass(format!(
        "{service} traffic from private subnets goes through the NAT"
    ))
    .evidence(evidence)
    .with(Status::Fail, fix)
}

fn interface_endpoints(services: &[String], cx: &Context<'_>) -> Outcome {
    if cx.stack.services.is_empty() || cx.network.nat_gateways.is_empty() {
        return Outcome::pass("no services pull images through a NAT here");
    }
    let missing: Vec<&String> = services
        .iter()
        .filter(|s| {
            let name = format!("com.amazonaws.{}.{s}", cx.stack.region);
            !cx.network
                .endpoints
                .iter()
                .any(|e| e.service_name == name && e.kind.eq_ignore_ascii_case("interface"))
        })
        .collect();
    if missing.is_empty() {
        return Outcome::pass(format!("interface endpoints for {}", services.join(", ")));
    }
    let declared: Vec<&String> = missing
        .iter()
        .copied()
        .filter(|s| cx.stack.network.interface_endpoints.contains(s))
        .collect();
    let fix = if declared.len() == missing.len() {
        Fix::Apply {
            description: "the stack file declares them but the live VPC lacks them: `foundry up` restores them".into(),
        }
    } else {
        Fix::Stack {
            description: format!(
                "add {} to network.endpoints ({} a month each in {} AZs; see endpoint-break-even for whether the traffic pays for it)",
                missing
                    .iter()
                    .map(|s| format!("\"{s}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
                dollars(cx.prices.interface_endpoint_month(cx.network.azs())),
                cx.network.azs()
            ),
            edits: missing
                .iter()
                .map(|s| StackEdit::Add {
                    path: vec!["network".into(), "endpoints".into()],
                    item: (*s).clone(),
                })
                .collect(),
        }
    };
    Outcome::pass(format!(
        "images, logs or secrets go through the NAT: no interface endpoint for {}",
        missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .with(Status::Warn, fix)
}

fn routes_in_own_az(cx: &Context<'_>) -> Outcome {
    let network = &cx.network;
    let mut evidence = Vec::new();
    for table in network.private_route_tables() {
        let Some(nat_id) = &table.nat_gateway_id else {
            continue;
        };
        let Some(nat) = network.nat_gateways.iter().find(|n| &n.id == nat_id) else {
            continue;
        };
        for subnet in &table.subnet_ids {
            let Some(az) = network.az_of_subnet(subnet) else {
                continue;
            };
            let own_az_has_nat = network.nat_gateways.iter().any(|n| n.az == az);
            if az != nat.az && own_az_has_nat {
                evidence.push(format!(
                    "{subnet} in {az} routes 0.0.0.0/0 through {} in {} (route table {}), though its own AZ has a NAT gateway",
                    nat.id, nat.az, table.id
                ));
            }
        }
    }
    if evidence.is_empty() {
        return Outcome::pass(
            "every private subnet uses the NAT gateway of its own AZ (where there is one)",
        );
    }
    Outcome::pass(format!("{} private subnet(s) routed across AZs", evidence.len()))
        .evidence(evidence)
        .with(
            Status::Fail,
            Fix::Apply {
                description: format!(
                    "the stack file routes each private subnet to its own AZ's NAT; the live route differs (drift): `foundry up` puts it back, ending {} per GB each way of cross-AZ transfer",
                    dollars(cx.prices.cross_az_gb)
                ),
            },
        )
}

async fn nat_traffic(warn_monthly: f64, cx: &Context<'_>) -> Result<Outcome, AwsError> {
    if cx.network.nat_gateways.is_empty() {
        return Ok(Outcome::pass("no NAT gateway"));
    }
    let mut evidence = Vec::new();
    let mut total_gb = 0.0;
    for nat in &cx.network.nat_gateways {
        let (out, back) = nat_bytes(cx, &nat.id).await?;
        let gb = (out + back) / BYTES_PER_GB;
        total_gb += gb;
        evidence.push(format!(
            "{} in {}: {:.1} GB from the subnets + {:.1} GB back from destinations over {} days = {:.1} GB/day",
            nat.id,
            nat.az,
            out / BYTES_PER_GB,
            back / BYTES_PER_GB,
            cx.days,
            gb / f64::from(cx.days)
        ));
    }
    let monthly_gb = total_gb / f64::from(cx.days) * DAYS_PER_MONTH;
    let processing = monthly_gb * cx.prices.nat_gateway_gb;
    let hours = cx.network.nat_gateways.len() as f64 * cx.prices.nat_gateway_month();
    let monthly = processing + hours;
    evidence.push(format!(
        "projected: {monthly_gb:.0} GB a month × {} = {} processing + {} NAT gateway(s) × 730 h × ({} + {}) = {} hours and addresses; {} a month (prices of {})",
        dollars(cx.prices.nat_gateway_gb),
        dollars(processing),
        cx.network.nat_gateways.len(),
        cx.prices.nat_gateway_hour,
        cx.prices.public_ipv4_hour,
        dollars(hours),
        dollars(monthly),
        cx.prices.as_of
    ));
    let mut o = Outcome::pass(format!(
        "the NAT gateways cost about {} a month ({monthly_gb:.0} GB processed)",
        dollars(monthly)
    ))
    .evidence(evidence);
    o.monthly_dollars = Some(monthly);
    if monthly > warn_monthly {
        o = o.with(
            Status::Warn,
            Fix::Manual {
                description: format!(
                    "above the runbook's {} a month: the checks above say which part is avoidable (S3 through the gateway endpoint, AWS APIs through interface endpoints, one NAT where policy allows)",
                    dollars(warn_monthly)
                ),
            },
        );
    }
    Ok(o)
}

async fn break_even(cx: &Context<'_>) -> Result<Outcome, AwsError> {
    let interfaces: Vec<_> = cx
        .network
        .endpoints
        .iter()
        .filter(|e| e.kind.eq_ignore_ascii_case("interface"))
        .collect();
    if interfaces.is_empty() {
        return Ok(Outcome::pass("no interface endpoints"));
    }
    let p = &cx.prices;
    let azs = cx.network.azs().max(1);
    let fixed = p.interface_endpoint_month(azs);
    // Per GB the endpoint saves the NAT's price less its own.
    let break_even_gb = fixed / (p.nat_gateway_gb - p.interface_endpoint_gb);
    let vpc = cx.network.vpc_id.clone().unwrap_or_default();
    let mut evidence = Vec::new();
    let mut below = Vec::new();
    let mut saving = 0.0;
    for e in &interfaces {
        let bytes = network::metric_sum(
            cx.aws,
            "AWS/PrivateLinkEndpoints",
            "BytesProcessed",
            &[
                ("Endpoint Type", "Interface"),
                ("Service Name", &e.service_name),
                ("VPC Endpoint Id", &e.id),
                ("VPC Id", &vpc),
            ],
            cx.days,
            cx.now,
        )
        .await?;
        let monthly_gb = bytes / BYTES_PER_GB / f64::from(cx.days) * DAYS_PER_MONTH;
        let endpoint_cost = fixed + monthly_gb * p.interface_endpoint_gb;
        let through_nat = monthly_gb * p.nat_gateway_gb;
        let short = e.service_name.rsplit('.').next().unwrap_or(&e.service_name);
        let service = e
            .service_name
            .strip_prefix(&format!("com.amazonaws.{}.", cx.stack.region))
            .unwrap_or(short);
        evidence.push(format!(
            "{} ({service}): {monthly_gb:.1} GB a month; endpoint {azs} AZ × 730 h × {} + {monthly_gb:.1} GB × {} = {}, through the NAT {monthly_gb:.1} GB × {} = {}",
            e.id,
            p.interface_endpoint_az_hour,
            p.interface_endpoint_gb,
            dollars(endpoint_cost),
            p.nat_gateway_gb,
            dollars(through_nat)
        ));
        if endpoint_cost > through_nat {
            below.push(service.to_owned());
            saving += endpoint_cost - through_nat;
        }
    }
    evidence.push(format!(
        "break-even: {} ÷ ({} − {}) = {break_even_gb:.0} GB a month per endpoint",
        dollars(fixed),
        p.nat_gateway_gb,
        p.interface_endpoint_gb
    ));
    if below.is_empty() {
        let mut o = Outcome::pass("every interface endpoint carries more than its break-even")
            .evidence(evidence);
        o.monthly_dollars = Some(fixed * interfaces.len() as f64);
        return Ok(o);
    }
    let mut o = Outcome::pass(format!(
        "{} interface endpoint(s) carry less than their break-even of {break_even_gb:.0} GB a month: the NAT would be cheaper",
        below.len()
    ))
    .evidence(evidence)
    .with(
        Status::Warn,
        Fix::Manual {
            description: format!(
                "remove {} from network.endpoints if the traffic stays this low (saving {} a month); keep them where private subnets must not reach AWS APIs over the internet",
                below.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", "),
                dollars(saving)
            ),
        },
    );
    o.monthly_saving = Some(saving);
    o.monthly_dollars = Some(fixed * interfaces.len() as f64);
    Ok(o)
}

async fn nat_faults(cx: &Context<'_>) -> Result<Outcome, AwsError> {
    let mut evidence = Vec::new();
    let mut exhausted = false;
    for nat in &cx.network.nat_gateways {
        for metric in [
            "ErrorPortAllocation",
            "PacketsDropCount",
            "IdleTimeoutCount",
        ] {
            let sum = network::metric_sum(
                cx.aws,
                "AWS/NATGateway",
                metric,
                &[("NatGatewayId", &nat.id)],
                cx.days,
                cx.now,
            )
            .await?;
            if sum > 0.0 {
                exhausted |= metric == "ErrorPortAllocation";
                evidence.push(format!(
                    "{}: {metric} = {sum:.0} over {} days",
                    nat.id, cx.days
                ));
            }
        }
    }
    if evidence.is_empty() {
        return Ok(Outcome::pass(
            "no port allocation errors, drops or idle timeouts",
        ));
    }
    let status = if exhausted {
        Status::Fail
    } else {
        Status::Warn
    };
    Ok(Outcome::pass(format!("{} fault figure(s) above zero", evidence.len()))
        .evidence(evidence)
        .with(
            status,
            Fix::Manual {
                description: "port allocation errors: more than 55,000 simultaneous connections to one destination — reuse connections (keep-alive, pools) or spread destinations; idle timeouts: keep-alives under 350 s".into(),
            },
        ))
}

/// Memory of the instance classes whose `max_connections` the runbook can
/// work out, in GiB (RDS's default is derived from it).
const CLASS_MEMORY_GIB: &[(&str, f64)] = &[
    ("db.t4g.micro", 1.0),
    ("db.t4g.small", 2.0),
    ("db.t4g.medium", 4.0),
    ("db.t4g.large", 8.0),
    ("db.t3.micro", 1.0),
    ("db.t3.small", 2.0),
    ("db.t3.medium", 4.0),
    ("db.m6g.large", 8.0),
    ("db.m7g.large", 8.0),
    ("db.r6g.large", 16.0),
    ("db.r7g.large", 16.0),
];

/// RDS's default `max_connections`: PostgreSQL `LEAST(DBInstanceClassMemory
/// / 9531392, 5000)`, MySQL `DBInstanceClassMemory / 12582880` (foundry's
/// parameter groups leave it at the default).
pub fn default_max_connections(engine: &str, class: &str) -> Option<u64> {
    let gib = CLASS_MEMORY_GIB.iter().find(|(c, _)| *c == class)?.1;
    let bytes = gib * 1024.0 * 1024.0 * 1024.0;
    Some(match engine {
        "mysql" => (bytes / 12_582_880.0) as u64,
        _ => ((bytes / 9_531_392.0) as u64).min(5000),
    })
}

async fn db_connections(warn_ratio: f64, cx: &Context<'_>) -> Result<Outcome, AwsError> {
    let Some(db) = &cx.stack.database else {
        return Ok(Outcome::pass("the stack has no database"));
    };
    let identifier = crate::vocab::Scope::new(&cx.stack.name, &cx.stack.env).name("db");
    let class = &db.instance_class;
    let Some(max) = default_max_connections(db.engine.name(), class) else {
        return Ok(Outcome::pass(format!(
            "{class}: its memory is not in the runbook's table, so its max_connections is unknown"
        )));
    };
    let peak = network::metric_max(
        cx.aws,
        "AWS/RDS",
        "DatabaseConnections",
        &[("DBInstanceIdentifier", &identifier)],
        cx.days,
        cx.now,
    )
    .await?;
    // What the services could open at their scaling maximum, with the
    // pools' default size (the api's DB_MAX_CONNECTIONS, 10) unless their
    // env says otherwise.
    let mut could_open = 0;
    let mut evidence = Vec::new();
    for service in cx.stack.services.iter().filter(|s| s.connects_to_database) {
        let pool = service
            .env
            .iter()
            .find(|v| v.name == "DB_MAX_CONNECTIONS")
            .and_then(|v| match &v.value {
                crate::stack::EnvValue::Text(Template(parts)) => match parts.as_slice() {
                    [Part::Text(text)] => text.parse().ok(),
                    _ => None,
                },
                crate::stack::EnvValue::Secret(_) => None,
            })
            .unwrap_or(10u64);
        let most = u64::from(service.scaling.max) * pool;
        could_open += most;
        evidence.push(format!(
            "{}: up to {} instance(s) × a pool of {pool} = {most} connections",
            service.name, service.scaling.max
        ));
    }
    let Some(peak) = peak else {
        return Ok(Outcome::pass(format!(
            "no DatabaseConnections figures for {identifier} in {} days",
            cx.days
        ))
        .evidence(evidence));
    };
    evidence.insert(
        0,
        format!(
            "{identifier} ({class}): peak {peak:.0} connections in {} days against max_connections {max} (LEAST(memory / 9531392, 5000)); {:.0}%",
            cx.days,
            100.0 * peak / max as f64
        ),
    );
    let over_at_scale = could_open > max;
    if could_open > 0 {
        evidence.push(format!(
            "at their scaling maximum the services could open {could_open} of {max}"
        ));
    }
    if peak / (max as f64) < warn_ratio && !over_at_scale {
        return Ok(
            Outcome::pass(format!("peak {peak:.0} of {max} connections")).evidence(evidence),
        );
    }
    let status = if peak >= max as f64 * 0.95 {
        Status::Fail
    } else {
        Status::Warn
    };
    Ok(Outcome::pass(format!(
        "{identifier} nears its connection limit: peak {peak:.0} of {max}{}",
        if over_at_scale { ", and the services could open more than it allows" } else { "" }
    ))
    .evidence(evidence)
    .with(
        status,
        Fix::Manual {
            description: format!(
                "make the pools fit: services × max instances × pool ≤ {max} with room for migrations and admin sessions (lower DB_MAX_CONNECTIONS or scaling.max); or put RDS Proxy in front; or a larger class (database.instance_class in the stack file, which raises max_connections with memory)"
            ),
        },
    ))
}

/// Each service's last rollout on its compute target, and whether what runs
/// is what the current release says (env and secrets changed behind
/// foundry's back are the usual cause of a crash loop).
async fn rollouts_and_bindings(cx: &Context<'_>) -> Result<Outcome, CheckError> {
    use crate::release;
    if cx.stack.services.is_empty() {
        return Ok(Outcome::pass("the stack has no services"));
    }
    let history = release::load(&cx.session.state)
        .await
        .map_err(release::ReleaseError::from)?;
    let current = history.current();
    let compute = release::compute_of(cx.session)?;
    let mut evidence = Vec::new();
    let mut drifted = false;
    let mut missing = false;
    for service in &cx.stack.services {
        let name = &service.name;
        let state = compute
            .state(name)
            .await
            .map_err(release::ReleaseError::from)?;
        let running = compute
            .running(name)
            .await
            .map_err(release::ReleaseError::from)?;
        let (Some(state), Some(running)) = (state, running) else {
            evidence.push(format!("{name} does not exist on {}", compute.name()));
            missing = true;
            continue;
        };
        if let Some(op) = &state.last_operation
            && matches!(
                op.status.as_str(),
                "FAILED" | "ROLLBACK_SUCCEEDED" | "ROLLBACK_FAILED"
            )
        {
            evidence.push(format!(
                "{name}: {} {} ended {} at {}",
                op.kind,
                op.id,
                op.status,
                op.ended_at.as_deref().unwrap_or("?")
            ));
        }
        let Some(released) = current.and_then(|r| r.services.get(name)) else {
            continue;
        };
        let mut differences = Vec::new();
        if running.spec.image != released.image {
            differences.push(format!(
                "image {} (release: {})",
                running.spec.image, released.image
            ));
        }
        let keys: std::collections::BTreeSet<&String> =
            running.spec.env.keys().chain(released.env.keys()).collect();
        for key in keys {
            if running.spec.env.get(key) != released.env.get(key) {
                differences.push(format!("env {key}"));
            }
        }
        let keys: std::collections::BTreeSet<&String> = running
            .spec
            .secrets
            .keys()
            .chain(released.secrets.keys())
            .collect();
        for key in keys {
            let same = match (running.spec.secrets.get(key), released.secrets.get(key)) {
                (Some(live), Some(kept)) => live.starts_with(&kept.arn),
                (None, None) => true,
                _ => false,
            };
            if !same {
                differences.push(format!("secret {key}"));
            }
        }
        if !differences.is_empty() {
            drifted = true;
            evidence.push(format!(
                "{name} runs what release {} does not say: {} (changed outside foundry)",
                current.map_or(0, |r| r.number),
                differences.join(", ")
            ));
        }
    }
    if let Some(newest) = history.releases.last()
        && let release::Outcome::Failed { reason } | release::Outcome::FailedKept { reason } =
            &newest.outcome
    {
        evidence.push(format!("release {} failed: {reason}", newest.number));
    }
    if evidence.is_empty() {
        return Ok(Outcome::pass(
            "every service runs its current release; no failed rollout",
        ));
    }
    let outcome =
        Outcome::pass(format!("{} sign(s) of a crash loop", evidence.len())).evidence(evidence);
    Ok(match (missing, drifted, current) {
        (true, _, _) => outcome.with(
            Status::Fail,
            Fix::Apply {
                description: "`foundry up` creates the missing service(s)".into(),
            },
        ),
        (false, true, Some(current)) => outcome.with(
            Status::Fail,
            Fix::Rollback {
                description: format!(
                    "roll back to release {}: the image, env and secrets it recorded, without a build",
                    current.number
                ),
                to: current.number,
            },
        ),
        _ => outcome.with(
            Status::Warn,
            Fix::Manual {
                description: "the previous version kept serving; read the failed instance's output (`foundry logs SERVICE --since 1h`), fix, and deploy again".into(),
            },
        ),
    })
}

/// The CDN's api service, when the stack routes `/graphql` to one.
fn cdn_api_service<'a>(cx: &Context<'a>) -> Option<&'a crate::stack::Service> {
    match &cx.stack.cdn.as_ref()?.api_origin {
        crate::stack::ApiOrigin::Service(name) => {
            cx.stack.services.iter().find(|s| &s.name == name)
        }
        crate::stack::ApiOrigin::Domain(_) => None,
    }
}

/// The stack's distribution as the engine observes it.
async fn distribution(cx: &Context<'_>) -> Result<Option<crate::resources::Observed>, AwsError> {
    let found = crate::resources::Kind::Distribution
        .handler()
        .observe(cx.aws, &cx.session.scope)
        .await?;
    Ok(found.into_iter().next())
}

async fn cdn_origin(cx: &Context<'_>) -> Result<Outcome, CheckError> {
    let Some(service) = cdn_api_service(cx) else {
        return Ok(Outcome::pass(
            "the CDN's api origin is not a service of the stack",
        ));
    };
    let Some(dist) = distribution(cx).await? else {
        return Ok(Outcome::pass("no distribution yet").with(
            Status::Fail,
            Fix::Apply {
                description: "`foundry up` creates the distribution".into(),
            },
        ));
    };
    let compute = crate::release::compute_of(cx.session)?;
    let url = compute
        .running(&service.name)
        .await
        .map_err(crate::release::ReleaseError::from)?
        .and_then(|r| r.url);
    let origin = dist
        .props
        .get("api_origin_domain")
        .and_then(crate::vocab::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let evidence = vec![format!(
        "distribution {} sends /graphql to {origin}; {} answers at {}",
        dist.attrs.get("id").map_or("?", String::as_str),
        service.name,
        url.as_deref()
            .unwrap_or("(no URL: the service does not exist)")
    )];
    if url.as_deref() == Some(origin.as_str()) {
        return Ok(
            Outcome::pass(format!("the api origin is {}'s URL", service.name)).evidence(evidence),
        );
    }
    Ok(Outcome::pass(format!(
        "the api origin is not {}'s URL: CloudFront reaches nothing, or the wrong thing",
        service.name
    ))
    .evidence(evidence)
    .with(
        Status::Fail,
        Fix::Apply {
            description: "`foundry up` points the origin at the service's URL again".into(),
        },
    ))
}

async fn cdn_service_healthy(cx: &Context<'_>) -> Result<Outcome, CheckError> {
    let Some(service) = cdn_api_service(cx) else {
        return Ok(Outcome::pass(
            "the CDN's api origin is not a service of the stack",
        ));
    };
    let compute = crate::release::compute_of(cx.session)?;
    let url = compute
        .running(&service.name)
        .await
        .map_err(crate::release::ReleaseError::from)?
        .and_then(|r| r.url);
    let Some(probe_url) = crate::release::health::reachable_health_url(service, url.as_deref())
    else {
        return Ok(
            Outcome::pass(format!("{} has no URL to probe", service.name)).with(
                Status::Fail,
                Fix::Apply {
                    description: "`foundry up` creates the service".into(),
                },
            ),
        );
    };
    let probe =
        crate::release::health::probe(&probe_url, crate::release::health::PROBE_TIMEOUT).await;
    let evidence = vec![format!(
        "GET {} → {} in {} ms",
        probe.url,
        probe
            .error
            .clone()
            .unwrap_or_else(|| format!("{}", probe.status.unwrap_or(0))),
        probe.latency_ms
    )];
    if probe.healthy() {
        return Ok(
            Outcome::pass(format!("{} answers its health path", service.name)).evidence(evidence),
        );
    }
    Ok(Outcome::pass(format!("{} does not answer its health path: CloudFront turns that into 502/503", service.name))
        .evidence(evidence)
        .with(
            Status::Fail,
            Fix::Manual {
                description: format!(
                    "read its output (`foundry logs {} --since 30m`); if a release broke it, `foundry rollback`",
                    service.name
                ),
            },
        ))
}

async fn cdn_5xx(warn_percent: f64, cx: &Context<'_>) -> Result<Outcome, AwsError> {
    let Some(dist) = distribution(cx).await? else {
        return Ok(Outcome::pass("no distribution"));
    };
    let id = dist.attrs.get("id").cloned().unwrap_or_default();
    let peak = network::metric_max(
        cx.aws,
        "AWS/CloudFront",
        "5xxErrorRate",
        &[("DistributionId", &id), ("Region", "Global")],
        cx.days,
        cx.now,
    )
    .await?;
    let Some(peak) = peak else {
        return Ok(Outcome::pass(format!(
            "no 5xxErrorRate figures for {id} in {} days",
            cx.days
        )));
    };
    let evidence = vec![format!(
        "{id}: 5xxErrorRate peaked at {peak:.1}% in {} days (warn above {warn_percent}%)",
        cx.days
    )];
    if peak <= warn_percent {
        return Ok(Outcome::pass(format!("5xx rate at most {peak:.1}%")).evidence(evidence));
    }
    Ok(Outcome::pass(format!("CloudFront answered 5xx to {peak:.1}% of requests at the worst"))
        .evidence(evidence)
        .with(
            Status::Warn,
            Fix::Manual {
                description: "502 is CloudFront failing to reach or talk TLS to the origin (check cdn-origin); 503/504 are the service refusing or timing out (check api-health and `foundry logs`)".into(),
            },
        ))
}

/// Every private service: its ingress connection is available in the
/// stack's VPC through its endpoint, the callers' URL variables name the
/// connection's domain, and the callers' VPC connectors sit in the VPC.
async fn private_services(cx: &Context<'_>) -> Result<Outcome, CheckError> {
    use crate::resources::Kind;
    use crate::stack::{Ingress, Reference};
    let private: Vec<&crate::stack::Service> = cx
        .stack
        .services
        .iter()
        .filter(|s| s.ingress == Ingress::Private)
        .collect();
    if private.is_empty() {
        return Ok(Outcome::pass("the stack has no private service"));
    }
    let scope = &cx.session.scope;
    let ingresses = Kind::ApprunnerVpcIngressConnection
        .handler()
        .observe(cx.aws, scope)
        .await?;
    let connectors = Kind::ApprunnerVpcConnector
        .handler()
        .observe(cx.aws, scope)
        .await?;
    let vpc = cx.network.vpc_id.clone().unwrap_or_default();
    let compute = crate::release::compute_of(cx.session)?;
    let mut evidence = Vec::new();
    let mut broken = Vec::new();
    for service in private {
        let name = &service.name;
        let Some(ingress) = ingresses
            .iter()
            .find(|o| o.id == crate::engine::expand::ids::service_ingress(name))
        else {
            broken.push(format!(
                "{name} has no VPC ingress connection: nothing in the VPC can reach it"
            ));
            continue;
        };
        let prop = |key: &str| {
            ingress
                .props
                .get(key)
                .and_then(crate::vocab::Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let status = ingress.attrs.get("status").cloned().unwrap_or_default();
        let domain = ingress.attrs.get("domain").cloned().unwrap_or_default();
        evidence.push(format!(
            "{name}: ingress connection {} {status}, domain {domain}, in {} through {}",
            ingress.physical_id,
            prop("vpc_id"),
            prop("vpc_endpoint_id")
        ));
        if status != "AVAILABLE" {
            broken.push(format!(
                "{name}'s ingress connection is {status}, not AVAILABLE"
            ));
        }
        if prop("vpc_id") != vpc {
            broken.push(format!(
                "{name}'s ingress connection is in {}, not the stack's VPC {vpc}",
                prop("vpc_id")
            ));
        }
        if !cx
            .network
            .endpoints
            .iter()
            .any(|e| e.id == prop("vpc_endpoint_id"))
        {
            broken.push(format!(
                "{name}'s ingress connection goes through {}, which is not an endpoint of the stack's VPC",
                prop("vpc_endpoint_id")
            ));
        }
        for caller in cx
            .stack
            .services
            .iter()
            .filter(|s| s.connects_to.contains(name))
        {
            let running = compute
                .running(&caller.name)
                .await
                .map_err(crate::release::ReleaseError::from)?;
            for var in &caller.env {
                let crate::stack::EnvValue::Text(template) = &var.value else {
                    continue;
                };
                if !template
                    .references()
                    .any(|r| r == &Reference::ServiceUrl(name.clone()))
                {
                    continue;
                }
                let live = running
                    .as_ref()
                    .and_then(|r| r.spec.env.get(&var.name))
                    .cloned()
                    .unwrap_or_default();
                if live.contains(&domain) && !domain.is_empty() {
                    evidence.push(format!("{}: {}={live}", caller.name, var.name));
                } else {
                    broken.push(format!(
                        "{}'s {} is {live:?}, not {name}'s private domain {domain}",
                        caller.name, var.name
                    ));
                }
            }
            if let Some(connector) = connectors
                .iter()
                .find(|o| o.id == crate::engine::expand::ids::service_connector(&caller.name))
            {
                let subnets: Vec<String> = match connector.props.get("subnet_ids") {
                    Some(crate::vocab::Value::List(items)) => items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                    _ => Vec::new(),
                };
                let outside: Vec<&String> = subnets
                    .iter()
                    .filter(|id| !cx.network.subnets.iter().any(|s| &&s.id == id))
                    .collect();
                if outside.is_empty() {
                    evidence.push(format!(
                        "{}'s VPC connector uses {} of the stack's subnets",
                        caller.name,
                        subnets.len()
                    ));
                } else {
                    broken.push(format!(
                        "{}'s VPC connector uses subnets outside the stack's VPC: {outside:?}",
                        caller.name
                    ));
                }
            }
        }
    }
    if broken.is_empty() {
        return Ok(
            Outcome::pass("every private service is reachable from its callers").evidence(evidence),
        );
    }
    let summary = broken[0].clone();
    evidence.extend(broken);
    Ok(Outcome::pass(summary).evidence(evidence).with(
        Status::Fail,
        Fix::Apply {
            description: "the stack file describes the connection, the endpoint and the callers' URLs; `foundry up` (and a deploy, for a caller's env) puts them back".into(),
        },
    ))
}
