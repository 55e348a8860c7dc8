//! `[network]`: the VPC, subnets per tier and AZ, internet and NAT gateways,
//! route tables and VPC endpoints (seed 002 §1-2).

use super::ids;
use crate::engine::graph::Resource;
use crate::resources::Kind;
use crate::stack::{NatMode, Stack, Tier};
use crate::vocab::Value;

/// The network's resources, and how many NAT gateways it has (each gets an
/// egress alarm).
pub(super) fn network(stack: &Stack, az_names: &[String]) -> (Vec<Resource>, usize) {
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
    // Private App Runner services are reached through `apprunner.requests`
    // (its own endpoint: App Runner gives each connection a domain name, so
    // no private DNS).
    let requests_endpoint = super::compute::needs_requests_endpoint(stack)
        && !net
            .interface_endpoints
            .iter()
            .any(|e| e == super::compute::APPRUNNER_REQUESTS);
    if !net.interface_endpoints.is_empty() || requests_endpoint {
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
    if requests_endpoint {
        let service = super::compute::APPRUNNER_REQUESTS;
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
                .prop("private_dns_enabled", Value::Bool(false)),
        );
    }
    (out, nat_count)
}

/// `com.amazonaws.<region>.<service>`, the endpoint service name.
pub fn service_name(region: &str, service: &str) -> String {
    format!("com.amazonaws.{region}.{service}")
}
