//! The price table (`runbooks/prices.toml`, embedded): what an hour or a GB
//! of each priced thing costs per region, dated, so that a finding's or a
//! plan's dollars can be recomputed by anyone from the evidence and this
//! file. `monthly` prices one resource as declared (its fixed, by-the-hour
//! part; usage is priced from metrics by the runbooks); `plan_cost` prices
//! an environment as declared, as it is, and the difference a plan makes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::Prepared;
use crate::resources::Kind;
use crate::vocab::{Props, Value};

/// Hours in the month every monthly figure uses (AWS's pricing month).
pub const HOURS_PER_MONTH: f64 = 730.0;
/// Days in that month.
pub const DAYS_PER_MONTH: f64 = HOURS_PER_MONTH / 24.0;
/// CloudWatch reports bytes; AWS prices decimal gigabytes.
pub const BYTES_PER_GB: f64 = 1e9;

pub const TABLE: &str = include_str!("../../runbooks/prices.toml");

#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    pub as_of: String,
    pub nat_gateway_hour: f64,
    pub nat_gateway_gb: f64,
    pub interface_endpoint_az_hour: f64,
    pub interface_endpoint_gb: f64,
    pub gateway_endpoint_hour: f64,
    pub public_ipv4_hour: f64,
    pub cross_az_gb: f64,
    pub secret_month: f64,
    pub alarm_month: f64,
    pub db_storage_gb_month: f64,
    pub apprunner_provisioned_gb_hour: f64,
    pub fargate_vcpu_hour: f64,
    pub fargate_gb_hour: f64,
    pub load_balancer_hour: f64,
    /// Instance class → dollars per instance-hour (Single-AZ).
    pub db_instance_hour: BTreeMap<String, f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    regions: BTreeMap<String, Prices>,
}

#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    #[error("runbooks/prices.toml is not valid: {0}")]
    Invalid(String),
    #[error(
        "runbooks/prices.toml has no prices for region {region} (it has {known}); add the region's prices from AWS's pricing pages"
    )]
    NoRegion { region: String, known: String },
}

/// The prices of `region`.
pub fn for_region(region: &str) -> Result<Prices, PriceError> {
    let table: Table = toml::from_str(TABLE).map_err(|e| PriceError::Invalid(e.to_string()))?;
    let known = table.regions.keys().cloned().collect::<Vec<_>>().join(", ");
    table
        .regions
        .get(region)
        .cloned()
        .ok_or_else(|| PriceError::NoRegion {
            region: region.to_owned(),
            known,
        })
}

impl Prices {
    /// One NAT gateway for a month, with its public IPv4 address.
    pub fn nat_gateway_month(&self) -> f64 {
        (self.nat_gateway_hour + self.public_ipv4_hour) * HOURS_PER_MONTH
    }

    /// One interface endpoint in `azs` AZs for a month, before traffic.
    pub fn interface_endpoint_month(&self, azs: usize) -> f64 {
        self.interface_endpoint_az_hour * azs as f64 * HOURS_PER_MONTH
    }
}

/// Dollars as people read them: `$32.85`.
pub fn dollars(amount: f64) -> String {
    format!("${amount:.2}")
}

/// What one resource costs a month by the hour, and how that was reckoned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cost {
    pub monthly: f64,
    /// The arithmetic, e.g. `730 h × $0.045`.
    pub basis: String,
}

/// The fixed monthly cost of a resource of `kind` with `props`; `resolve`
/// finds another resource's props by logical id (App Runner's minimum
/// instances are in its auto scaling configuration). `None` for resources
/// that cost nothing by the hour (VPCs, subnets, roles, ...) or cost only by
/// use (buckets, CloudFront, repositories).
pub fn monthly(
    id: &str,
    kind: Kind,
    props: &Props,
    resolve: &dyn Fn(&str) -> Option<Props>,
    p: &Prices,
) -> Option<Cost> {
    let cost = |monthly: f64, basis: String| Some(Cost { monthly, basis });
    match kind {
        Kind::NatGateway => cost(
            p.nat_gateway_hour * HOURS_PER_MONTH,
            format!("730 h × ${} (NAT gateway-hour)", p.nat_gateway_hour),
        ),
        Kind::ElasticIp => cost(
            p.public_ipv4_hour * HOURS_PER_MONTH,
            format!("730 h × ${} (public IPv4)", p.public_ipv4_hour),
        ),
        Kind::VpcEndpoint => {
            let interface = props.get("endpoint_type").and_then(Value::as_str) == Some("Interface");
            if !interface {
                return None;
            }
            let azs = match props.get("subnet_ids") {
                Some(Value::List(subnets)) => subnets.len().max(1),
                _ => 1,
            };
            cost(
                p.interface_endpoint_month(azs),
                format!(
                    "{azs} AZ × 730 h × ${} (interface endpoint)",
                    p.interface_endpoint_az_hour
                ),
            )
        }
        Kind::Secret => cost(p.secret_month, format!("${} a secret", p.secret_month)),
        Kind::Alarm => cost(p.alarm_month, format!("${} an alarm", p.alarm_month)),
        Kind::DbInstance => {
            let class = props.get("instance_class").and_then(Value::as_str)?;
            let hourly = *p.db_instance_hour.get(class)?;
            let storage = match props.get("allocated_storage") {
                Some(Value::Int(gb)) => *gb as f64,
                _ => 0.0,
            };
            let copies = if props.get("multi_az").and_then(Value::as_bool) == Some(true) {
                2.0
            } else {
                1.0
            };
            cost(
                copies * (hourly * HOURS_PER_MONTH + storage * p.db_storage_gb_month),
                format!(
                    "{copies} × (730 h × ${hourly} ({class}) + {storage} GB × ${})",
                    p.db_storage_gb_month
                ),
            )
        }
        Kind::ApprunnerService => {
            let memory_gb = props
                .get("memory")
                .and_then(Value::as_str)
                .and_then(memory_gb)?;
            let scaling = id.strip_prefix("svc-").map(|name| format!("scale-{name}"));
            let min = scaling
                .and_then(|s| resolve(&s))
                .and_then(|props| match props.get("min_size") {
                    Some(Value::Int(n)) => Some(*n as f64),
                    _ => None,
                })
                .unwrap_or(1.0);
            cost(
                min * memory_gb * p.apprunner_provisioned_gb_hour * HOURS_PER_MONTH,
                format!(
                    "{min} instance(s) × {memory_gb} GB × 730 h × ${} (provisioned; active vCPU-hours are usage)",
                    p.apprunner_provisioned_gb_hour
                ),
            )
        }
        Kind::LoadBalancer => cost(
            p.load_balancer_hour * HOURS_PER_MONTH,
            format!(
                "730 h × ${} (Application Load Balancer; LCUs are usage)",
                p.load_balancer_hour
            ),
        ),
        Kind::EcsService => {
            let name = id.strip_prefix("ecs-")?;
            let task = resolve(&format!("task-{name}"))?;
            let number = |v: Option<&Value>| v.and_then(Value::as_str)?.parse::<f64>().ok();
            let vcpu = number(task.get("cpu"))? / 1024.0;
            let memory_gb = number(task.get("memory"))? / 1024.0;
            let tasks = resolve(&format!("scaling-{name}"))
                .and_then(|props| match props.get("min") {
                    Some(Value::Int(n)) => Some(*n as f64),
                    _ => None,
                })
                .unwrap_or(1.0);
            cost(
                tasks
                    * (vcpu * p.fargate_vcpu_hour + memory_gb * p.fargate_gb_hour)
                    * HOURS_PER_MONTH,
                format!(
                    "{tasks} task(s) × 730 h × ({vcpu} vCPU × ${} + {memory_gb} GB × ${}) (Fargate, at the minimum)",
                    p.fargate_vcpu_hour, p.fargate_gb_hour
                ),
            )
        }
        _ => None,
    }
}

/// App Runner's memory values: `2048`, `2048 MB`, `2 GB`.
fn memory_gb(text: &str) -> Option<f64> {
    let text = text.trim().to_ascii_lowercase();
    if let Some(gb) = text.strip_suffix("gb") {
        return gb.trim().parse().ok();
    }
    let mb: f64 = text.trim_end_matches("mb").trim().parse().ok()?;
    Some(mb / 1024.0)
}

/// What an environment costs a month by the hour: as the stack file
/// declares it, as it runs now, and per resource that the plan changes.
#[derive(Debug, Clone, Serialize)]
pub struct PlanCost {
    pub prices_as_of: String,
    pub declared_monthly: f64,
    pub current_monthly: f64,
    pub delta_monthly: f64,
    /// Resources whose cost the plan changes, by logical id.
    pub changes: Vec<CostChange>,
    /// Declared resources with an hourly price this table lacks.
    pub unpriced: Vec<String>,
    /// Usage priced from the env's own metrics, when it exists.
    pub usage: Vec<UsageCost>,
    /// Why usage could not be estimated (the metrics could not be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_error: Option<String>,
}

/// A usage-driven cost estimated from the last `USAGE_DAYS` of metrics.
#[derive(Debug, Clone, Serialize)]
pub struct UsageCost {
    /// The resource (logical id) the usage is of.
    pub id: String,
    pub what: String,
    pub monthly: f64,
    /// The arithmetic, from the metric to the dollars.
    pub basis: String,
}

/// The window usage estimates read.
pub const USAGE_DAYS: u32 = 30;

/// Usage-driven costs of the env as it exists, from its metrics: the data
/// each NAT gateway processed over the last 30 days, projected to a month.
/// (CloudFront, S3 and request charges are not estimated: the plan says so.)
pub async fn estimate_usage(
    aws: &crate::aws::Aws,
    world: &crate::engine::observe::World,
    prices: &Prices,
    now: std::time::SystemTime,
) -> Result<Vec<UsageCost>, crate::aws::AwsError> {
    let mut out = Vec::new();
    for (id, observed) in world
        .resources
        .iter()
        .filter(|(_, o)| o.kind == Kind::NatGateway)
    {
        let (from_subnets, back) =
            crate::aws::cloudwatch::nat_gateway_bytes(aws, &observed.physical_id, USAGE_DAYS, now)
                .await?;
        let bytes = from_subnets + back;
        let monthly_gb = bytes / BYTES_PER_GB / f64::from(USAGE_DAYS) * DAYS_PER_MONTH;
        let monthly = monthly_gb * prices.nat_gateway_gb;
        out.push(UsageCost {
            id: id.clone(),
            what: "NAT data processed".into(),
            monthly,
            basis: format!(
                "{:.1} GB in {USAGE_DAYS} days → {monthly_gb:.0} GB a month × ${}",
                bytes / BYTES_PER_GB,
                prices.nat_gateway_gb
            ),
        });
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct CostChange {
    pub id: String,
    pub kind: String,
    pub before: Option<f64>,
    pub after: Option<f64>,
    pub basis: Option<String>,
}

/// Prices a plan: the graph as declared against the world as observed.
pub fn plan_cost(prepared: &Prepared, prices: &Prices) -> PlanCost {
    let declared: BTreeMap<&str, (Kind, &Props)> = prepared
        .graph
        .resources()
        .iter()
        .map(|r| (r.id.as_str(), (r.kind, &r.props)))
        .collect();
    let current: BTreeMap<&str, (Kind, &Props)> = prepared
        .world
        .resources
        .iter()
        .map(|(id, o)| (id.as_str(), (o.kind, &o.props)))
        .collect();
    let price_all = |set: &BTreeMap<&str, (Kind, &Props)>| -> BTreeMap<String, Cost> {
        let resolve = |id: &str| set.get(id).map(|(_, props)| (*props).clone());
        set.iter()
            .filter_map(|(id, (kind, props))| {
                monthly(id, *kind, props, &resolve, prices).map(|c| (id.to_string(), c))
            })
            .collect()
    };
    let after = price_all(&declared);
    let before = price_all(&current);
    let mut ids: Vec<&String> = after.keys().chain(before.keys()).collect();
    ids.sort();
    ids.dedup();
    let changes = ids
        .into_iter()
        .filter_map(|id| {
            let (b, a) = (before.get(id), after.get(id));
            let moved = match (b, a) {
                (Some(b), Some(a)) => (a.monthly - b.monthly).abs() > 0.005,
                _ => true,
            };
            let kind = declared
                .get(id.as_str())
                .or_else(|| current.get(id.as_str()))
                .map(|(k, _)| k.name().to_owned())
                .unwrap_or_default();
            moved.then(|| CostChange {
                id: id.clone(),
                kind,
                before: b.map(|c| c.monthly),
                after: a.map(|c| c.monthly),
                basis: a.or(b).map(|c| c.basis.clone()),
            })
        })
        .collect();
    let unpriced = declared
        .iter()
        .filter(|(id, (kind, props))| {
            *kind == Kind::DbInstance && monthly(id, *kind, props, &|_| None, prices).is_none()
        })
        .map(|(id, _)| id.to_string())
        .collect();
    let declared_monthly: f64 = after.values().map(|c| c.monthly).sum();
    let current_monthly: f64 = before.values().map(|c| c.monthly).sum();
    PlanCost {
        prices_as_of: prices.as_of.clone(),
        declared_monthly,
        current_monthly,
        delta_monthly: declared_monthly - current_monthly,
        changes,
        unpriced,
        usage: Vec::new(),
        usage_error: None,
    }
}

/// Prices a plan and the usage of the env as it exists: what `plan` and
/// `up` end with. Metrics that cannot be read leave usage unestimated and
/// say why; they never stop the plan.
pub async fn plan_cost_with_usage(
    aws: &crate::aws::Aws,
    prepared: &Prepared,
    prices: &Prices,
) -> PlanCost {
    let mut cost = plan_cost(prepared, prices);
    match estimate_usage(aws, &prepared.world, prices, std::time::SystemTime::now()).await {
        Ok(usage) => cost.usage = usage,
        Err(e) => cost.usage_error = Some(e.to_string()),
    }
    cost
}

/// The cost lines a plan ends with.
pub fn human(cost: &PlanCost, stack: &str, env: &str) -> String {
    let sign = |x: f64| {
        if x < 0.0 {
            format!("-{}", dollars(-x))
        } else {
            format!("+{}", dollars(x))
        }
    };
    let mut out = format!(
        "\nEstimated cost of {stack}/{env} as declared: {} a month by the hour (prices of {}); this plan: {} a month.\n",
        dollars(cost.declared_monthly),
        cost.prices_as_of,
        sign(cost.delta_monthly)
    );
    for change in &cost.changes {
        let delta = change.after.unwrap_or(0.0) - change.before.unwrap_or(0.0);
        out.push_str(&format!(
            "  {:>9}  {} ({}): {}\n",
            sign(delta),
            change.id,
            change.kind,
            change.basis.as_deref().unwrap_or("")
        ));
    }
    for id in &cost.unpriced {
        out.push_str(&format!(
            "  {id}: its instance class is not in the price table (runbooks/prices.toml)\n"
        ));
    }
    if let Some(error) = &cost.usage_error {
        out.push_str(&format!("Usage not estimated: {error}\n"));
    }
    if cost.usage.is_empty() {
        out.push_str("Usage comes on top (NAT and endpoint GB, App Runner active vCPU, CloudFront, S3, requests): `foundry runbook nat-bill` prices the network's from its metrics.\n");
    } else {
        let total: f64 = cost.usage.iter().map(|u| u.monthly).sum();
        out.push_str(&format!(
            "Usage, estimated from the last {USAGE_DAYS} days of metrics: {} a month on top.\n",
            dollars(total)
        ));
        for u in &cost.usage {
            out.push_str(&format!(
                "  {:>9}  {} ({}): {}\n",
                dollars(u.monthly),
                u.id,
                u.what,
                u.basis
            ));
        }
        out.push_str("Not estimated (usage): endpoint GB, App Runner active vCPU, CloudFront, S3, requests.\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_runner_memory_reads_in_any_unit() {
        assert_eq!(memory_gb("2048"), Some(2.0));
        assert_eq!(memory_gb("2048 MB"), Some(2.0));
        assert_eq!(memory_gb("3 GB"), Some(3.0));
        assert_eq!(memory_gb("lots"), None);
    }

    #[test]
    fn the_table_parses_and_us_east_1_has_the_published_prices() {
        let p = for_region("us-east-1").unwrap();
        assert_eq!(p.nat_gateway_hour, 0.045);
        assert_eq!(p.nat_gateway_gb, 0.045);
        assert_eq!(dollars(p.nat_gateway_month()), "$36.50");
        assert_eq!(dollars(p.interface_endpoint_month(2)), "$14.60");
        assert!(matches!(
            for_region("xx-nowhere-1"),
            Err(PriceError::NoRegion { known, .. }) if known.contains("us-east-1")
        ));
    }

    #[test]
    fn ohio_and_oregon_publish_the_prices_of_north_virginia() {
        let east = for_region("us-east-1").unwrap();
        for region in ["us-east-2", "us-west-2"] {
            assert_eq!(for_region(region).unwrap(), east, "{region}");
        }
    }

    /// A Fargate service costs its minimum tasks' vCPU and memory by the
    /// hour, its task definition and scaling target read through `resolve`.
    #[test]
    fn an_ecs_service_costs_its_minimum_tasks() {
        let p = for_region("us-east-1").unwrap();
        let task = Props::from([
            ("cpu".to_string(), Value::str("1024")),
            ("memory".to_string(), Value::str("2048")),
        ]);
        let scaling = Props::from([("min".to_string(), Value::Int(2))]);
        let resolve = |id: &str| match id {
            "task-api" => Some(task.clone()),
            "scaling-api" => Some(scaling.clone()),
            _ => None,
        };
        let service = monthly("ecs-api", Kind::EcsService, &Props::new(), &resolve, &p).unwrap();
        // 2 × 730 × (1 × 0.04048 + 2 × 0.004445)
        assert_eq!(dollars(service.monthly), "$72.08");
        let lb = monthly("lb-api", Kind::LoadBalancer, &Props::new(), &resolve, &p).unwrap();
        assert_eq!(dollars(lb.monthly), "$16.43");
    }
}
