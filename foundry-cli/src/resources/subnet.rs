//! Subnet: every property forces a new one.

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType as Ec2Type;

use crate::vocab::{PropSpec, Schema, Ty};
use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_str};
use crate::aws::ec2::{single_attempt, owner, owner_filters, tag_specification};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{Props, Value};

pub struct Subnet;

#[async_trait]
impl ResourceType for Subnet {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("vpc_id", Ty::Str).force_new(),
            PropSpec::required("cidr_block", Ty::Str).force_new(),
            PropSpec::required("availability_zone", Ty::Str).force_new(),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let subnets = aws
            .ec2
            .describe_subnets()
            .set_filters(Some(owner_filters(scope)))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_aws("DescribeSubnets")?;
        Ok(subnets
            .iter()
            .filter_map(|s| {
                let mut o = Observed::new(owner(scope, s.tags())?, Kind::Subnet, s.subnet_id()?);
                o.props
                    .insert("vpc_id".into(), Value::str(s.vpc_id().unwrap_or_default()));
                o.props.insert(
                    "cidr_block".into(),
                    Value::str(s.cidr_block().unwrap_or_default()),
                );
                o.props.insert(
                    "availability_zone".into(),
                    Value::str(s.availability_zone().unwrap_or_default()),
                );
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
        _token: &str,
    ) -> Result<String, AwsError> {
        let out = aws
            .ec2
            .create_subnet()
            .vpc_id(prop_str(props, "vpc_id")?)
            .cidr_block(prop_str(props, "cidr_block")?)
            .availability_zone(prop_str(props, "availability_zone")?)
            .tag_specifications(tag_specification(Ec2Type::Subnet, scope, id))
            .customize()
            .config_override(single_attempt())
            .send()
            .await
            .or_aws("CreateSubnet")?;
        Ok(out
            .subnet()
            .and_then(|s| s.subnet_id())
            .unwrap_or_default()
            .to_string())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        gone_ok(
            aws.ec2
                .delete_subnet()
                .subnet_id(&current.physical_id)
                .send()
                .await
                .map(|_| ())
                .or_aws("DeleteSubnet"),
        )
    }
}
