//! Security group with its ingress rules, each from an IPv4 CIDR (`cidr`),
//! another security group (`source_group`) or a managed prefix list
//! (`prefix_list`, CloudFront's origin-facing addresses). Egress stays the AWS
//! default; name, description and VPC force a new group.

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    IpPermission, IpRange, PrefixListId, ResourceType as Ec2Type, UserIdGroupPair,
};

use crate::vocab::{PropSpec, Schema, Ty};
use super::{Kind, Observed, ResourceType, Scope, gone_ok, missing, prop_str};
use crate::aws::ec2::{owner, owner_filters, tag_specification};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{Props, Value};

pub struct SecurityGroup;

fn rules(props: &Props) -> Vec<Value> {
    props
        .get("ingress")
        .map(|v| v.as_list().to_vec())
        .unwrap_or_default()
}

fn permission(rule: &Value) -> IpPermission {
    let m = rule.as_map().cloned().unwrap_or_default();
    let int = |k: &str| match m.get(k) {
        Some(Value::Int(i)) => *i as i32,
        _ => -1,
    };
    let permission = IpPermission::builder()
        .ip_protocol(m.get("protocol").and_then(Value::as_str).unwrap_or("tcp"))
        .from_port(int("from_port"))
        .to_port(int("to_port"));
    let source = |k: &str| m.get(k).and_then(Value::as_str);
    match (source("source_group"), source("prefix_list")) {
        (Some(group), _) => permission
            .user_id_group_pairs(UserIdGroupPair::builder().group_id(group).build())
            .build(),
        (None, Some(list)) => permission
            .prefix_list_ids(PrefixListId::builder().prefix_list_id(list).build())
            .build(),
        (None, None) => permission
            .ip_ranges(
                IpRange::builder()
                    .cidr_ip(m.get("cidr").and_then(Value::as_str).unwrap_or_default())
                    .build(),
            )
            .build(),
    }
}

/// One rule as the stack expands it, from a permission and one of its sources.
fn rule(p: &IpPermission, source: (&'static str, &str)) -> Value {
    Value::map([
        ("protocol", Value::str(p.ip_protocol().unwrap_or_default())),
        ("from_port", Value::Int(p.from_port().unwrap_or(-1).into())),
        ("to_port", Value::Int(p.to_port().unwrap_or(-1).into())),
        (source.0, Value::str(source.1)),
    ])
}

async fn authorize(aws: &Aws, group: &str, add: &[Value]) -> Result<(), AwsError> {
    if add.is_empty() {
        return Ok(());
    }
    aws.ec2
        .authorize_security_group_ingress()
        .group_id(group)
        .set_ip_permissions(Some(add.iter().map(permission).collect()))
        .send()
        .await
        .or_aws("AuthorizeSecurityGroupIngress")?;
    Ok(())
}

#[async_trait]
impl ResourceType for SecurityGroup {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("vpc_id", Ty::Str).force_new(),
            PropSpec::required("group_name", Ty::Str).force_new(),
            PropSpec::required("description", Ty::Str).force_new(),
            PropSpec::required("ingress", Ty::List),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let groups = aws
            .ec2
            .describe_security_groups()
            .set_filters(Some(owner_filters(scope)))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_aws("DescribeSecurityGroups")?;
        Ok(groups
            .iter()
            .filter_map(|g| {
                let mut o =
                    Observed::new(owner(scope, g.tags())?, Kind::SecurityGroup, g.group_id()?);
                o.props
                    .insert("vpc_id".into(), Value::str(g.vpc_id().unwrap_or_default()));
                o.props.insert(
                    "group_name".into(),
                    Value::str(g.group_name().unwrap_or_default()),
                );
                o.props.insert(
                    "description".into(),
                    Value::str(g.description().unwrap_or_default()),
                );
                let ingress = g.ip_permissions().iter().flat_map(|p| {
                    let cidrs = p
                        .ip_ranges()
                        .iter()
                        .filter_map(|r| Some(rule(p, ("cidr", r.cidr_ip()?))));
                    let groups = p
                        .user_id_group_pairs()
                        .iter()
                        .filter_map(|g| Some(rule(p, ("source_group", g.group_id()?))));
                    let lists = p
                        .prefix_list_ids()
                        .iter()
                        .filter_map(|l| Some(rule(p, ("prefix_list", l.prefix_list_id()?))));
                    cidrs.chain(groups).chain(lists)
                });
                o.props.insert("ingress".into(), Value::set(ingress));
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
            .create_security_group()
            .vpc_id(prop_str(props, "vpc_id")?)
            .group_name(prop_str(props, "group_name")?)
            .description(prop_str(props, "description")?)
            .tag_specifications(tag_specification(Ec2Type::SecurityGroup, scope, id))
            .send()
            .await
            .or_aws("CreateSecurityGroup")?;
        let group = out.group_id().unwrap_or_default().to_string();
        authorize(aws, &group, &rules(props)).await?;
        Ok(group)
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        let (have, want) = (rules(&current.props), rules(desired));
        authorize(aws, &current.physical_id, &missing(&want, &have)).await?;
        let revoke = missing(&have, &want);
        if !revoke.is_empty() {
            aws.ec2
                .revoke_security_group_ingress()
                .group_id(&current.physical_id)
                .set_ip_permissions(Some(revoke.iter().map(permission).collect()))
                .send()
                .await
                .or_aws("RevokeSecurityGroupIngress")?;
        }
        Ok(())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        gone_ok(
            aws.ec2
                .delete_security_group()
                .group_id(&current.physical_id)
                .send()
                .await
                .map(|_| ())
                .or_aws("DeleteSecurityGroup"),
        )
    }
}
