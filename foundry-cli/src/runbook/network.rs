//! What the network runbooks look at, read once per run from EC2 by the
//! stack's tags: the VPC's subnets (with AZ and tier), NAT gateways, route
//! tables, VPC endpoints and Elastic IPs; and CloudWatch metric sums.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;

use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::Scope;

#[derive(Debug, Clone, Default)]
pub struct NetworkFacts {
    pub vpc_id: Option<String>,
    pub subnets: Vec<SubnetFact>,
    pub nat_gateways: Vec<NatFact>,
    pub route_tables: Vec<RouteTableFact>,
    pub endpoints: Vec<EndpointFact>,
    pub addresses: Vec<AddressFact>,
}

#[derive(Debug, Clone)]
pub struct SubnetFact {
    pub id: String,
    pub az: String,
    /// foundry's logical id (`subnet-app-a`), which says the tier.
    pub logical_id: String,
}

impl SubnetFact {
    pub fn is_private(&self) -> bool {
        !self.logical_id.starts_with("subnet-public")
    }
}

#[derive(Debug, Clone)]
pub struct NatFact {
    pub id: String,
    pub az: String,
    pub subnet_id: String,
}

#[derive(Debug, Clone)]
pub struct RouteTableFact {
    pub id: String,
    pub subnet_ids: Vec<String>,
    /// The NAT gateway of the default route, if that is where it goes.
    pub nat_gateway_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct EndpointFact {
    pub id: String,
    /// `com.amazonaws.us-east-1.s3`.
    pub service_name: String,
    /// `Gateway` or `Interface`.
    pub kind: String,
    pub route_table_ids: Vec<String>,
    pub subnet_ids: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct AddressFact {
    pub allocation_id: String,
    pub public_ip: String,
    pub association_id: Option<String>,
}

fn tag<'a>(tags: &'a [aws_sdk_ec2::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

/// Reads the stack's network as it is now.
pub async fn observe(aws: &Aws, scope: &Scope) -> Result<NetworkFacts, AwsError> {
    let ec2 = &aws.ec2;
    let vpcs = ec2
        .describe_vpcs()
        .set_filters(Some(crate::aws::ec2::owner_filters(scope)))
        .send()
        .await
        .or_aws("DescribeVpcs")?;
    let Some(vpc_id) = vpcs
        .vpcs()
        .first()
        .and_then(|v| v.vpc_id())
        .map(str::to_owned)
    else {
        return Ok(NetworkFacts::default());
    };
    let in_vpc = Filter::builder().name("vpc-id").values(&vpc_id).build();

    let subnets: Vec<_> = ec2
        .describe_subnets()
        .filters(in_vpc.clone())
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_aws("DescribeSubnets")?;
    let subnets = subnets
        .iter()
        .map(|s| SubnetFact {
            id: s.subnet_id().unwrap_or_default().to_owned(),
            az: s.availability_zone().unwrap_or_default().to_owned(),
            logical_id: tag(s.tags(), Scope::ID_TAG).unwrap_or_default().to_owned(),
        })
        .collect();

    let nats: Vec<_> = ec2
        .describe_nat_gateways()
        .filter(in_vpc.clone())
        .filter(Filter::builder().name("state").values("available").build())
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_aws("DescribeNatGateways")?;
    let mut nat_gateways: Vec<NatFact> = nats
        .iter()
        .map(|n| NatFact {
            id: n.nat_gateway_id().unwrap_or_default().to_owned(),
            az: String::new(),
            subnet_id: n.subnet_id().unwrap_or_default().to_owned(),
        })
        .collect();
    let subnet_az: BTreeMap<String, String> = {
        let facts: &Vec<SubnetFact> = &subnets;
        facts.iter().map(|s| (s.id.clone(), s.az.clone())).collect()
    };
    for nat in &mut nat_gateways {
        nat.az = subnet_az.get(&nat.subnet_id).cloned().unwrap_or_default();
    }
    nat_gateways.sort_by(|a, b| a.az.cmp(&b.az).then(a.id.cmp(&b.id)));

    let tables: Vec<_> = ec2
        .describe_route_tables()
        .filters(in_vpc.clone())
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_aws("DescribeRouteTables")?;
    let route_tables = tables
        .iter()
        .map(|t| RouteTableFact {
            id: t.route_table_id().unwrap_or_default().to_owned(),
            subnet_ids: t
                .associations()
                .iter()
                .filter_map(|a| a.subnet_id().map(str::to_owned))
                .collect(),
            nat_gateway_id: t
                .routes()
                .iter()
                .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
                .and_then(|r| r.nat_gateway_id().map(str::to_owned)),
        })
        .collect();

    let endpoints: Vec<_> = ec2
        .describe_vpc_endpoints()
        .filters(in_vpc)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_aws("DescribeVpcEndpoints")?;
    let endpoints = endpoints
        .iter()
        .filter(|e| {
            !matches!(
                e.state().map(|s| s.as_str()),
                Some("deleted" | "deleting" | "Deleted" | "Deleting")
            )
        })
        .map(|e| EndpointFact {
            id: e.vpc_endpoint_id().unwrap_or_default().to_owned(),
            service_name: e.service_name().unwrap_or_default().to_owned(),
            kind: e
                .vpc_endpoint_type()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
            route_table_ids: e.route_table_ids().to_vec(),
            subnet_ids: e.subnet_ids().to_vec(),
        })
        .collect();

    let addresses = ec2
        .describe_addresses()
        .set_filters(Some(crate::aws::ec2::owner_filters(scope)))
        .send()
        .await
        .or_aws("DescribeAddresses")?;
    let addresses = addresses
        .addresses()
        .iter()
        .map(|a| AddressFact {
            allocation_id: a.allocation_id().unwrap_or_default().to_owned(),
            public_ip: a.public_ip().unwrap_or_default().to_owned(),
            association_id: a.association_id().map(str::to_owned),
        })
        .collect();

    Ok(NetworkFacts {
        vpc_id: Some(vpc_id),
        subnets,
        nat_gateways,
        route_tables,
        endpoints,
        addresses,
    })
}

impl NetworkFacts {
    pub fn az_of_subnet(&self, subnet_id: &str) -> Option<&str> {
        self.subnets
            .iter()
            .find(|s| s.id == subnet_id)
            .map(|s| s.az.as_str())
    }

    /// Route tables of private subnets.
    pub fn private_route_tables(&self) -> Vec<&RouteTableFact> {
        self.route_tables
            .iter()
            .filter(|t| {
                t.subnet_ids
                    .iter()
                    .any(|id| self.subnets.iter().any(|s| &s.id == id && s.is_private()))
            })
            .collect()
    }

    pub fn azs(&self) -> usize {
        let mut azs: Vec<&str> = self.subnets.iter().map(|s| s.az.as_str()).collect();
        azs.sort();
        azs.dedup();
        azs.len()
    }
}

pub use crate::aws::cloudwatch::{metric_max, metric_sum};
