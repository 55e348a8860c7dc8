//! Route table with its routes and subnet associations. Routes and
//! associations are reconciled in place; only the VPC forces a new table.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType as Ec2Type, Route};

use crate::vocab::{PropSpec, Schema, Ty};
use super::{seen_strs, Kind, Observed, ResourceType, Scope, gone_ok, missing, prop_str, prop_strs};
use crate::aws::ec2::{single_attempt, owner, owner_filters, tag_specification};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{Props, Value};

pub struct RouteTable;

/// A route as foundry manages it: destination and one target.
#[derive(Debug, Clone, PartialEq)]
struct Target {
    destination: String,
    key: String,
    id: String,
}

fn targets(routes: Option<&Value>) -> Vec<Target> {
    routes
        .map(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            let m = r.as_map()?;
            let destination = m.get("destination")?.as_str()?.to_string();
            let (key, id) = m.iter().find(|(k, _)| k.as_str() != "destination")?;
            Some(Target {
                destination,
                key: key.clone(),
                id: id.as_str()?.to_string(),
            })
        })
        .collect()
}

/// Routes foundry owns: IPv4 CIDR routes to a gateway or NAT, not the VPC's
/// local route nor the prefix-list routes that gateway endpoints add.
fn managed_route(r: &Route) -> Option<Value> {
    let destination = r.destination_cidr_block()?;
    let (key, id) = if let Some(nat) = r.nat_gateway_id() {
        ("nat_gateway_id", nat)
    } else {
        match r.gateway_id() {
            Some(g) if g != "local" && g.starts_with("igw-") => ("gateway_id", g),
            _ => return None,
        }
    };
    Some(Value::map([
        ("destination", Value::str(destination)),
        (key, Value::str(id)),
    ]))
}

async fn put_route(aws: &Aws, table: &str, t: &Target, replace: bool) -> Result<(), AwsError> {
    macro_rules! send {
        ($call:expr, $op:literal) => {{
            let call = $call
                .route_table_id(table)
                .destination_cidr_block(&t.destination);
            let call = if t.key == "nat_gateway_id" {
                call.nat_gateway_id(&t.id)
            } else {
                call.gateway_id(&t.id)
            };
            call.send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk($op, e))
        }};
    }
    if replace {
        send!(aws.ec2.replace_route(), "ReplaceRoute")
    } else {
        send!(aws.ec2.create_route(), "CreateRoute")
    }
}

async fn associate(aws: &Aws, table: &str, subnet: &str) -> Result<(), AwsError> {
    let result = aws
        .ec2
        .associate_route_table()
        .route_table_id(table)
        .subnet_id(subnet)
        .send()
        .await
        .or_aws("AssociateRouteTable");
    match result {
        Ok(_) => Ok(()),
        // The subnet still belongs to another table (e.g. one being
        // replaced): move the association over.
        Err(e) if e.code() == Some("Resource.AlreadyAssociated") => {
            let tables = aws
                .ec2
                .describe_route_tables()
                .filters(
                    Filter::builder()
                        .name("association.subnet-id")
                        .values(subnet)
                        .build(),
                )
                .send()
                .await
                .or_aws("DescribeRouteTables")?;
            let association = tables
                .route_tables()
                .iter()
                .flat_map(|t| t.associations())
                .find(|a| a.subnet_id() == Some(subnet))
                .and_then(|a| a.route_table_association_id())
                .ok_or(e)?;
            aws.ec2
                .replace_route_table_association()
                .association_id(association)
                .route_table_id(table)
                .send()
                .await
                .map(|_| ())
                .or_aws("ReplaceRouteTableAssociation")
        }
        Err(e) => Err(e),
    }
}

async fn disassociate(aws: &Aws, association: &str) -> Result<(), AwsError> {
    gone_ok(
        aws.ec2
            .disassociate_route_table()
            .association_id(association)
            .send()
            .await
            .map(|_| ())
            .or_aws("DisassociateRouteTable"),
    )
}

/// Makes routes and associations of `table` match `desired`.
async fn reconcile(
    aws: &Aws,
    table: &str,
    current: &Props,
    attrs: &BTreeMap<String, String>,
    desired: &Props,
) -> Result<(), AwsError> {
    let have = targets(current.get("routes"));
    let want = targets(desired.get("routes"));
    for t in &want {
        match have.iter().find(|h| h.destination == t.destination) {
            Some(h) if h == t => {}
            Some(_) => put_route(aws, table, t, true).await?,
            None => put_route(aws, table, t, false).await?,
        }
    }
    for h in have
        .iter()
        .filter(|h| !want.iter().any(|w| w.destination == h.destination))
    {
        gone_ok(
            aws.ec2
                .delete_route()
                .route_table_id(table)
                .destination_cidr_block(&h.destination)
                .send()
                .await
                .map(|_| ())
                .or_aws("DeleteRoute"),
        )?;
    }
    let have = seen_strs(current, "subnet_ids");
    let want = prop_strs(desired, "subnet_ids")?;
    for subnet in missing(&want, &have) {
        associate(aws, table, &subnet).await?;
    }
    for subnet in missing(&have, &want) {
        if let Some(association) = attrs.get(&format!("association:{subnet}")) {
            disassociate(aws, association).await?;
        }
    }
    Ok(())
}

#[async_trait]
impl ResourceType for RouteTable {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("vpc_id", Ty::Str).force_new(),
            PropSpec::required("routes", Ty::List),
            PropSpec::required("subnet_ids", Ty::StrSet),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let tables = aws
            .ec2
            .describe_route_tables()
            .set_filters(Some(owner_filters(scope)))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_aws("DescribeRouteTables")?;
        Ok(tables
            .iter()
            .filter_map(|t| {
                let mut o = Observed::new(
                    owner(scope, t.tags())?,
                    Kind::RouteTable,
                    t.route_table_id()?,
                );
                o.props
                    .insert("vpc_id".into(), Value::str(t.vpc_id().unwrap_or_default()));
                o.props.insert(
                    "routes".into(),
                    Value::set(t.routes().iter().filter_map(managed_route)),
                );
                let mut subnets = Vec::new();
                for a in t.associations().iter().filter(|a| a.main() != Some(true)) {
                    if let (Some(subnet), Some(id)) =
                        (a.subnet_id(), a.route_table_association_id())
                    {
                        subnets.push(Value::str(subnet));
                        o.attrs
                            .insert(format!("association:{subnet}"), id.to_string());
                    }
                }
                o.props.insert("subnet_ids".into(), Value::set(subnets));
                Some(o)
            })
            .collect())
    }

    async fn create(
        &self,
        aws: &Aws,
        scope: &Scope,
        id: &str,
        props: &Props,
        token: &str,
    ) -> Result<String, AwsError> {
        let out = aws
            .ec2
            .create_route_table()
            .vpc_id(prop_str(props, "vpc_id")?)
            .client_token(token)
            .tag_specifications(tag_specification(Ec2Type::RouteTable, scope, id))
            // The client token makes a repeat idempotent on AWS; emulators
            // ignore it, so the repeat after a lost response is foundry's
            // (look up by tag first), never the SDK's blind one.
            .customize()
            .config_override(single_attempt())
            .send()
            .await
            .or_aws("CreateRouteTable")?;
        let table = out
            .route_table()
            .and_then(|t| t.route_table_id())
            .unwrap_or_default()
            .to_string();
        // Between the table and its routes: where a fresh id is most often unknown.
        crate::aws::fault::not_found("mid-create", id)?;
        reconcile(aws, &table, &Props::new(), &BTreeMap::new(), props).await?;
        Ok(table)
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        reconcile(
            aws,
            &current.physical_id,
            &current.props,
            &current.attrs,
            desired,
        )
        .await
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        for (key, association) in &current.attrs {
            if key.starts_with("association:") {
                disassociate(aws, association).await?;
            }
        }
        gone_ok(
            aws.ec2
                .delete_route_table()
                .route_table_id(&current.physical_id)
                .send()
                .await
                .map(|_| ())
                .or_aws("DeleteRouteTable"),
        )
    }
}
