//! NAT gateway: created with a client token, waited for until available;
//! deleted and waited for until gone, so that its Elastic IP can be released.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ConnectivityType, NatGatewayState, ResourceType as Ec2Type};

use crate::vocab::{PropSpec, Schema, Ty};
use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_str};
use crate::aws::ec2::{single_attempt, owner, owner_filters, tag_specification};
use crate::aws::wait;
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{Props, Value};

pub struct NatGateway;

const WAIT: Duration = Duration::from_secs(15 * 60);

async fn state(aws: &Aws, nat_id: &str) -> Result<Option<(String, String)>, AwsError> {
    let out = aws
        .ec2
        .describe_nat_gateways()
        .nat_gateway_ids(nat_id)
        .send()
        .await
        .or_aws("DescribeNatGateways");
    let Some(out) = AwsError::none_if_not_found(out)? else {
        return Ok(None);
    };
    Ok(out.nat_gateways().first().map(|n| {
        (
            n.state().map_or("unknown", |s| s.as_str()).to_string(),
            n.failure_message().unwrap_or_default().to_string(),
        )
    }))
}

#[async_trait]
impl ResourceType for NatGateway {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("subnet_id", Ty::Str).force_new(),
            PropSpec::required("allocation_id", Ty::Str).force_new(),
            PropSpec::required("connectivity_type", Ty::Str).force_new(),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let nats = aws
            .ec2
            .describe_nat_gateways()
            .set_filter(Some(owner_filters(scope)))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_aws("DescribeNatGateways")?;
        Ok(nats
            .iter()
            .filter(|n| {
                // Deleted NAT gateways stay visible for an hour; they are history, not resources.
                !matches!(
                    n.state(),
                    Some(
                        NatGatewayState::Deleted
                            | NatGatewayState::Deleting
                            | NatGatewayState::Failed
                    )
                )
            })
            .filter_map(|n| {
                let mut o = Observed::new(
                    owner(scope, n.tags())?,
                    Kind::NatGateway,
                    n.nat_gateway_id()?,
                );
                o.props.insert(
                    "subnet_id".into(),
                    Value::str(n.subnet_id().unwrap_or_default()),
                );
                let address = n.nat_gateway_addresses().first();
                o.props.insert(
                    "allocation_id".into(),
                    Value::str(address.and_then(|a| a.allocation_id()).unwrap_or_default()),
                );
                o.props.insert(
                    "connectivity_type".into(),
                    Value::str(n.connectivity_type().map_or("public", |c| c.as_str())),
                );
                if let Some(ip) = address.and_then(|a| a.public_ip()) {
                    o.attrs.insert("public_ip".into(), ip.to_string());
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
        let out = aws
            .ec2
            .create_nat_gateway()
            .subnet_id(prop_str(props, "subnet_id")?)
            .allocation_id(prop_str(props, "allocation_id")?)
            .connectivity_type(ConnectivityType::from(prop_str(props, "connectivity_type")?))
            .client_token(token)
            .tag_specifications(tag_specification(Ec2Type::Natgateway, scope, id))
            // The client token makes a repeat idempotent on AWS; emulators
            // ignore it, so the repeat after a lost response is foundry's
            // (look up by tag first), never the SDK's blind one.
            .customize()
            .config_override(single_attempt())
            .send()
            .await
            .or_aws("CreateNatGateway")?;
        let nat_id = out
            .nat_gateway()
            .and_then(|n| n.nat_gateway_id())
            .unwrap_or_default()
            .to_string();
        wait::until(
            &format!("NAT gateway {nat_id}"),
            &["available"],
            &["failed", "deleted", "gone"],
            WAIT,
            || state(aws, &nat_id),
        )
        .await?;
        Ok(nat_id)
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        let id = &current.physical_id;
        gone_ok(
            aws.ec2
                .delete_nat_gateway()
                .nat_gateway_id(id)
                .send()
                .await
                .map(|_| ())
                .or_aws("DeleteNatGateway"),
        )?;
        wait::until_deleted(&format!("NAT gateway {id}"), WAIT, || state(aws, id)).await
    }
}
