//! VPC, with DNS support and hostnames (attributes read per VPC: EC2 has no
//! batched call for them).

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType as Ec2Type, VpcAttributeName};

use crate::vocab::{PropSpec, Schema, Ty};
use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_str};
use crate::aws::ec2::{single_attempt, owner, owner_filters, tag_specification};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{Props, Value};

pub struct Vpc;

/// Whether the VPC's DNS attribute `name` is on.
pub async fn dns_attribute(
    aws: &Aws,
    vpc_id: &str,
    name: VpcAttributeName,
) -> Result<bool, AwsError> {
    let out = aws
        .ec2
        .describe_vpc_attribute()
        .vpc_id(vpc_id)
        .attribute(name.clone())
        .send()
        .await
        .or_aws("DescribeVpcAttribute")?;
    let value = match name {
        VpcAttributeName::EnableDnsSupport => out.enable_dns_support(),
        _ => out.enable_dns_hostnames(),
    };
    Ok(value.and_then(|v| v.value()).unwrap_or(false))
}

async fn set_dns_attribute(aws: &Aws, vpc_id: &str, name: &str, on: bool) -> Result<(), AwsError> {
    let value = AttributeBooleanValue::builder().value(on).build();
    let call = aws.ec2.modify_vpc_attribute().vpc_id(vpc_id);
    let call = if name == "enable_dns_support" {
        call.enable_dns_support(value)
    } else {
        call.enable_dns_hostnames(value)
    };
    call.send().await.or_aws("ModifyVpcAttribute")?;
    Ok(())
}

#[async_trait]
impl ResourceType for Vpc {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("cidr_block", Ty::Str).force_new(),
            PropSpec::required("enable_dns_support", Ty::Bool),
            PropSpec::required("enable_dns_hostnames", Ty::Bool),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let vpcs = aws
            .ec2
            .describe_vpcs()
            .set_filters(Some(owner_filters(scope)))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_aws("DescribeVpcs")?;
        let mut out = Vec::new();
        for vpc in vpcs {
            let (Some(id), Some(vpc_id)) = (owner(scope, vpc.tags()), vpc.vpc_id()) else {
                continue;
            };
            let mut o = Observed::new(id, Kind::Vpc, vpc_id);
            o.props.insert(
                "cidr_block".into(),
                Value::str(vpc.cidr_block().unwrap_or_default()),
            );
            let (support, hostnames) = tokio::try_join!(
                dns_attribute(aws, vpc_id, VpcAttributeName::EnableDnsSupport),
                dns_attribute(aws, vpc_id, VpcAttributeName::EnableDnsHostnames),
            )?;
            o.props
                .insert("enable_dns_support".into(), Value::Bool(support));
            o.props
                .insert("enable_dns_hostnames".into(), Value::Bool(hostnames));
            out.push(o);
        }
        Ok(out)
    }

    async fn create(
        &self,
        aws: &Aws,
        scope: &Scope,
        id: &str,
        props: &Props,
        _token: &str,
    ) -> Result<String, AwsError> {
        let out = aws
            .ec2
            .create_vpc()
            .cidr_block(prop_str(props, "cidr_block")?)
            .tag_specifications(tag_specification(Ec2Type::Vpc, scope, id))
            .customize()
            .config_override(single_attempt())
            .send()
            .await
            .or_aws("CreateVpc")?;
        let vpc_id = out
            .vpc()
            .and_then(|v| v.vpc_id())
            .unwrap_or_default()
            .to_string();
        // DNS support must be on before hostnames can be.
        for key in ["enable_dns_support", "enable_dns_hostnames"] {
            if let Some(on) = props.get(key).and_then(Value::as_bool) {
                set_dns_attribute(aws, &vpc_id, key, on).await?;
            }
        }
        Ok(vpc_id)
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        for key in ["enable_dns_support", "enable_dns_hostnames"] {
            if let Some(on) = desired.get(key).and_then(Value::as_bool)
                && current.props.get(key) != desired.get(key)
            {
                set_dns_attribute(aws, &current.physical_id, key, on).await?;
            }
        }
        Ok(())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        gone_ok(
            aws.ec2
                .delete_vpc()
                .vpc_id(&current.physical_id)
                .send()
                .await
                .map(|_| ())
                .or_aws("DeleteVpc"),
        )
    }
}
