//! VPC endpoint, gateway (route tables) or interface (subnets, security
//! groups, private DNS). Membership changes go through ModifyVpcEndpoint.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType as Ec2Type, VpcEndpointType};

use crate::vocab::{PropError, PropSpec, Schema, Ty, opt_strs};
use super::{Kind, Observed, ResourceType, Scope, gone_ok, missing, prop_str, prop_strs};
use crate::aws::ec2::{single_attempt, owner, owner_filters, tag_specification};
use crate::aws::wait;
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{Props, Value};

pub struct VpcEndpoint;

const WAIT: Duration = Duration::from_secs(10 * 60);

async fn state(aws: &Aws, id: &str) -> Result<Option<(String, String)>, AwsError> {
    let out = aws
        .ec2
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(id)
        .send()
        .await
        .or_aws("DescribeVpcEndpoints");
    let Some(out) = AwsError::none_if_not_found(out)? else {
        return Ok(None);
    };
    Ok(out.vpc_endpoints().first().map(|e| {
        let state = e
            .state()
            .map_or("unknown", |s| s.as_str())
            .to_ascii_lowercase();
        let reason = e
            .last_error()
            .and_then(|l| l.message())
            .unwrap_or_default()
            .to_string();
        (state, reason)
    }))
}

fn is_interface(props: &Props) -> Result<bool, PropError> {
    Ok(prop_str(props, "endpoint_type")? == "Interface")
}

#[async_trait]
impl ResourceType for VpcEndpoint {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("vpc_id", Ty::Str).force_new(),
            PropSpec::required("service_name", Ty::Str).force_new(),
            PropSpec::required("endpoint_type", Ty::Str).force_new(),
            PropSpec::optional("route_table_ids", Ty::StrSet),
            PropSpec::optional("subnet_ids", Ty::StrSet),
            PropSpec::optional("security_group_ids", Ty::StrSet),
            PropSpec::optional("private_dns_enabled", Ty::Bool),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let endpoints = aws
            .ec2
            .describe_vpc_endpoints()
            .set_filters(Some(owner_filters(scope)))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_aws("DescribeVpcEndpoints")?;
        Ok(endpoints
            .iter()
            // States come capitalised from AWS and in lower case from some
            // emulators; gone or failed endpoints are history, not resources.
            .filter(|e| {
                let state = e
                    .state()
                    .map(|s| s.as_str().to_ascii_lowercase())
                    .unwrap_or_default();
                !matches!(
                    state.as_str(),
                    "deleted" | "deleting" | "failed" | "rejected"
                )
            })
            .filter_map(|e| {
                let mut o = Observed::new(
                    owner(scope, e.tags())?,
                    Kind::VpcEndpoint,
                    e.vpc_endpoint_id()?,
                );
                let kind = e.vpc_endpoint_type().map_or("Gateway", |t| t.as_str());
                o.props
                    .insert("vpc_id".into(), Value::str(e.vpc_id().unwrap_or_default()));
                o.props.insert(
                    "service_name".into(),
                    Value::str(e.service_name().unwrap_or_default()),
                );
                o.props.insert("endpoint_type".into(), Value::str(kind));
                let strs = |items: &[String]| Value::set(items.iter().map(Value::str));
                if kind == "Interface" {
                    o.props.insert("subnet_ids".into(), strs(e.subnet_ids()));
                    o.props.insert(
                        "security_group_ids".into(),
                        Value::set(
                            e.groups()
                                .iter()
                                .filter_map(|g| g.group_id())
                                .map(Value::str),
                        ),
                    );
                    o.props.insert(
                        "private_dns_enabled".into(),
                        Value::Bool(e.private_dns_enabled().unwrap_or(false)),
                    );
                    if let Some(dns) = e.dns_entries().first().and_then(|d| d.dns_name()) {
                        o.attrs.insert("dns_name".into(), dns.to_string());
                    }
                } else {
                    o.props
                        .insert("route_table_ids".into(), strs(e.route_table_ids()));
                }
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
        let mut call = aws
            .ec2
            .create_vpc_endpoint()
            .vpc_id(prop_str(props, "vpc_id")?)
            .service_name(prop_str(props, "service_name")?)
            .vpc_endpoint_type(VpcEndpointType::from(prop_str(props, "endpoint_type")?))
            .client_token(token)
            .tag_specifications(tag_specification(Ec2Type::VpcEndpoint, scope, id));
        if is_interface(props)? {
            call = call
                .set_subnet_ids(Some(prop_strs(props, "subnet_ids")?))
                .set_security_group_ids(Some(prop_strs(props, "security_group_ids")?))
                .private_dns_enabled(
                    props
                        .get("private_dns_enabled")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                );
        } else {
            call = call.set_route_table_ids(Some(prop_strs(props, "route_table_ids")?));
        }
        let out = call// The client token makes a repeat idempotent on AWS; emulators
            // ignore it, so the repeat after a lost response is foundry's
            // (look up by tag first), never the SDK's blind one.
            .customize()
            .config_override(single_attempt())
            .send().await.or_aws("CreateVpcEndpoint")?;
        let endpoint = out
            .vpc_endpoint()
            .and_then(|e| e.vpc_endpoint_id())
            .unwrap_or_default()
            .to_string();
        wait::until(
            &format!("VPC endpoint {endpoint}"),
            &["available"],
            &["failed", "rejected", "deleted", "gone"],
            WAIT,
            || state(aws, &endpoint),
        )
        .await?;
        Ok(endpoint)
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        // Each endpoint type has only its own list keys: an absent one is empty.
        let diff = |key: &str| -> Result<_, PropError> {
            let (have, want) = (opt_strs(&current.props, key)?, opt_strs(desired, key)?);
            Ok((missing(&want, &have), missing(&have, &want)))
        };
        let mut call = aws
            .ec2
            .modify_vpc_endpoint()
            .vpc_endpoint_id(&current.physical_id);
        if is_interface(desired)? {
            let (add, remove) = diff("subnet_ids")?;
            call = call
                .set_add_subnet_ids(Some(add))
                .set_remove_subnet_ids(Some(remove));
            let (add, remove) = diff("security_group_ids")?;
            call = call
                .set_add_security_group_ids(Some(add))
                .set_remove_security_group_ids(Some(remove));
            if current.props.get("private_dns_enabled") != desired.get("private_dns_enabled") {
                call = call.private_dns_enabled(
                    desired
                        .get("private_dns_enabled")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                );
            }
        } else {
            let (add, remove) = diff("route_table_ids")?;
            call = call
                .set_add_route_table_ids(Some(add))
                .set_remove_route_table_ids(Some(remove));
        }
        call.send().await.or_aws("ModifyVpcEndpoint")?;
        Ok(())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        let id = &current.physical_id;
        gone_ok(
            aws.ec2
                .delete_vpc_endpoints()
                .vpc_endpoint_ids(id)
                .send()
                .await
                .map(|_| ())
                .or_aws("DeleteVpcEndpoints"),
        )?;
        wait::until_deleted(&format!("VPC endpoint {id}"), WAIT, || state(aws, id)).await
    }
}
