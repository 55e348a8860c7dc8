//! Internet gateway and its attachment to the VPC (`vpc_id`). A gateway left
//! unattached by a crash is attached by the next run; moving to another VPC
//! replaces it, so that it is detached before its old VPC is deleted.

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType as Ec2Type;

use crate::vocab::{PropSpec, Schema, Ty};
use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_str};
use crate::aws::ec2::{single_attempt, owner, owner_filters, tag_specification};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{Props, Value};

pub struct InternetGateway;

async fn attach(aws: &Aws, igw: &str, vpc: &str) -> Result<(), AwsError> {
    aws.ec2
        .attach_internet_gateway()
        .internet_gateway_id(igw)
        .vpc_id(vpc)
        .send()
        .await
        .or_aws("AttachInternetGateway")?;
    Ok(())
}

async fn detach(aws: &Aws, igw: &str, vpc: &str) -> Result<(), AwsError> {
    let detached = aws
        .ec2
        .detach_internet_gateway()
        .internet_gateway_id(igw)
        .vpc_id(vpc)
        .send()
        .await
        .map(|_| ())
        .or_aws("DetachInternetGateway");
    match detached {
        // A repeat of a detach whose answer was lost.
        Err(e) if e.code() == Some("Gateway.NotAttached") => Ok(()),
        other => gone_ok(other),
    }
}

#[async_trait]
impl ResourceType for InternetGateway {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("vpc_id", Ty::Str).force_new(),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let igws = aws
            .ec2
            .describe_internet_gateways()
            .set_filters(Some(owner_filters(scope)))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_aws("DescribeInternetGateways")?;
        Ok(igws
            .iter()
            .filter_map(|g| {
                let mut o = Observed::new(
                    owner(scope, g.tags())?,
                    Kind::InternetGateway,
                    g.internet_gateway_id()?,
                );
                if let Some(vpc) = g.attachments().iter().find_map(|a| a.vpc_id()) {
                    o.props.insert("vpc_id".into(), Value::str(vpc));
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
        _token: &str,
    ) -> Result<String, AwsError> {
        let out = aws
            .ec2
            .create_internet_gateway()
            .tag_specifications(tag_specification(Ec2Type::InternetGateway, scope, id))
            .customize()
            .config_override(single_attempt())
            .send()
            .await
            .or_aws("CreateInternetGateway")?;
        let igw = out
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .unwrap_or_default()
            .to_string();
        attach(aws, &igw, prop_str(props, "vpc_id")?).await?;
        Ok(igw)
    }

    /// Only reached for a gateway without attachment (`vpc_id` forces
    /// replacement otherwise): attach it.
    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        attach(aws, &current.physical_id, prop_str(desired, "vpc_id")?).await
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        if let Some(vpc) = current.props.get("vpc_id").and_then(Value::as_str) {
            detach(aws, &current.physical_id, vpc).await?;
        }
        gone_ok(
            aws.ec2
                .delete_internet_gateway()
                .internet_gateway_id(&current.physical_id)
                .send()
                .await
                .map(|_| ())
                .or_aws("DeleteInternetGateway"),
        )
    }
}
