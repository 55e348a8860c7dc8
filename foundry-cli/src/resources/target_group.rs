//! Target group of one ECS service: IP targets (Fargate tasks) on the
//! service's port, health-checked on its health path; ECS registers and
//! drains the tasks. Named by `aws::elb::name`, owned by its tags.
//! CreateTargetGroup of an existing name with the same settings answers
//! with that group. The health check is updated in place; name, port,
//! protocol, VPC and target type force a new group. Attributes: `arn`,
//! `dimension` (CloudWatch's).

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup as Tg, TargetTypeEnum,
};

use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_int, prop_str};
use crate::aws::elb::{self, may_be_ours};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{PropSpec, Props, Schema, Ty, Value};

pub struct TargetGroup;

/// Seconds between checks, and checks in a row that change a target's state.
const INTERVAL: i32 = 15;
const THRESHOLD: i32 = 2;

fn observed(id: String, tg: &Tg) -> Option<Observed> {
    let arn = tg.target_group_arn()?;
    let mut o = Observed::new(id, Kind::TargetGroup, arn);
    o.props = Props::from([
        ("name".to_string(), Value::str(tg.target_group_name()?)),
        ("port".to_string(), Value::Int(tg.port()?.into())),
        (
            "protocol".to_string(),
            Value::str(tg.protocol().map(|p| p.as_str()).unwrap_or_default()),
        ),
        ("vpc_id".to_string(), Value::str(tg.vpc_id().unwrap_or_default())),
        (
            "target_type".to_string(),
            Value::str(tg.target_type().map(|t| t.as_str()).unwrap_or_default()),
        ),
        (
            "health_path".to_string(),
            Value::str(tg.health_check_path().unwrap_or_default()),
        ),
    ]);
    o.attrs.insert("arn".into(), arn.to_string());
    o.attrs
        .insert("dimension".into(), elb::dimension(arn).to_string());
    Some(o)
}

async fn list(aws: &Aws, scope: &Scope, arns: Option<Vec<String>>) -> Result<Vec<Observed>, AwsError> {
    let mut found: Vec<Tg> = Vec::new();
    let mut marker = None;
    loop {
        let page = match aws
            .elb
            .describe_target_groups()
            .set_target_group_arns(arns.clone())
            .set_marker(marker)
            .send()
            .await
            .or_aws("DescribeTargetGroups")
        {
            Err(e) if e.is_not_found() => return Ok(Vec::new()),
            other => other?,
        };
        found.extend(
            page.target_groups()
                .iter()
                .filter(|tg| tg.target_group_name().is_some_and(|n| may_be_ours(scope, n)))
                .cloned(),
        );
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    let tg_arns: Vec<String> = found
        .iter()
        .filter_map(|tg| tg.target_group_arn().map(str::to_string))
        .collect();
    let owners = elb::owners(aws, scope, &tg_arns).await?;
    Ok(found
        .iter()
        .filter_map(|tg| observed(owners.get(tg.target_group_arn()?)?.clone(), tg))
        .collect())
}

#[async_trait]
impl ResourceType for TargetGroup {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("port", Ty::Int).force_new(),
            PropSpec::required("protocol", Ty::Str).force_new(),
            PropSpec::required("vpc_id", Ty::Str).force_new(),
            PropSpec::required("target_type", Ty::Str).force_new(),
            PropSpec::required("health_path", Ty::Str),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        list(aws, scope, None).await
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
            .elb
            .create_target_group()
            .name(prop_str(props, "name")?)
            .port(prop_int(props, "port")? as i32)
            .protocol(ProtocolEnum::from(prop_str(props, "protocol")?))
            .vpc_id(prop_str(props, "vpc_id")?)
            .target_type(TargetTypeEnum::from(prop_str(props, "target_type")?))
            .health_check_enabled(true)
            .health_check_path(prop_str(props, "health_path")?)
            .health_check_interval_seconds(INTERVAL)
            .healthy_threshold_count(THRESHOLD)
            .unhealthy_threshold_count(THRESHOLD)
            .matcher(Matcher::builder().http_code("200-299").build())
            .set_tags(Some(elb::tags(scope, id)))
            .send()
            .await
            .or_aws("CreateTargetGroup")?;
        Ok(out
            .target_groups()
            .first()
            .and_then(|tg| tg.target_group_arn())
            .unwrap_or_default()
            .to_string())
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        aws.elb
            .modify_target_group()
            .target_group_arn(&current.physical_id)
            .health_check_path(prop_str(desired, "health_path")?)
            .send()
            .await
            .or_aws("ModifyTargetGroup")?;
        Ok(())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        gone_ok(
            aws.elb
                .delete_target_group()
                .target_group_arn(&current.physical_id)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteTargetGroup"),
        )
    }

    async fn find(
        &self,
        aws: &Aws,
        scope: &Scope,
        physical_id: &str,
    ) -> Result<Option<Observed>, AwsError> {
        Ok(list(aws, scope, Some(vec![physical_id.to_string()]))
            .await?
            .into_iter()
            .next())
    }
}
