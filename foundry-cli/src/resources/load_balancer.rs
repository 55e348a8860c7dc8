//! Application Load Balancer in front of one ECS service: internet-facing in
//! the public subnets for a public service (CloudFront's origin), internal
//! in the app subnets for a private one. Named by `aws::elb::name`, owned by
//! its tags. CreateLoadBalancer of an existing name with the same settings
//! answers with that load balancer, so a retried create adds nothing.
//! Subnets and security groups are updated in place; name and scheme force
//! a new one. Attributes: `arn`, `dns_name`, `dimension` (CloudWatch's).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, LoadBalancer as Lb, LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
};

use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_str, prop_strs};
use crate::aws::elb::{self, may_be_ours};
use crate::aws::{Aws, AwsError, SdkResultExt, wait};
use crate::vocab::{PropSpec, Props, Schema, Ty, Value};

pub struct LoadBalancer;

async fn list(aws: &Aws, scope: &Scope, arns: Option<Vec<String>>) -> Result<Vec<Observed>, AwsError> {
    let mut found: Vec<Lb> = Vec::new();
    let mut marker = None;
    loop {
        let page = match aws
            .elb
            .describe_load_balancers()
            .set_load_balancer_arns(arns.clone())
            .set_marker(marker)
            .send()
            .await
            .or_aws("DescribeLoadBalancers")
        {
            Err(e) if e.is_not_found() => return Ok(Vec::new()),
            other => other?,
        };
        found.extend(
            page.load_balancers()
                .iter()
                .filter(|lb| lb.load_balancer_name().is_some_and(|n| may_be_ours(scope, n)))
                .cloned(),
        );
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    let lb_arns: Vec<String> = found
        .iter()
        .filter_map(|lb| lb.load_balancer_arn().map(str::to_string))
        .collect();
    let owners = elb::owners(aws, scope, &lb_arns).await?;
    Ok(found
        .iter()
        .filter_map(|lb| {
            let arn = lb.load_balancer_arn()?;
            let id = owners.get(arn)?.clone();
            let mut o = Observed::new(id, Kind::LoadBalancer, arn);
            o.props = Props::from([
                ("name".to_string(), Value::str(lb.load_balancer_name()?)),
                (
                    "scheme".to_string(),
                    Value::str(lb.scheme().map(|s| s.as_str()).unwrap_or_default()),
                ),
                (
                    "subnet_ids".to_string(),
                    Value::set(
                        lb.availability_zones()
                            .iter()
                            .filter_map(|az| az.subnet_id())
                            .map(Value::str),
                    ),
                ),
                (
                    "security_group_ids".to_string(),
                    Value::set(lb.security_groups().iter().map(Value::str)),
                ),
            ]);
            o.attrs.insert("arn".into(), arn.to_string());
            o.attrs
                .insert("dns_name".into(), lb.dns_name().unwrap_or_default().into());
            o.attrs
                .insert("dimension".into(), elb::dimension(arn).to_string());
            o.attrs.insert(
                "state".into(),
                lb.state()
                    .and_then(|s| s.code())
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default(),
            );
            Some(o)
        })
        .collect())
}

#[async_trait]
impl ResourceType for LoadBalancer {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("scheme", Ty::Str).force_new(),
            PropSpec::required("subnet_ids", Ty::List),
            PropSpec::required("security_group_ids", Ty::List),
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
            .create_load_balancer()
            .name(prop_str(props, "name")?)
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(LoadBalancerSchemeEnum::from(prop_str(props, "scheme")?))
            .ip_address_type(IpAddressType::Ipv4)
            .set_subnets(Some(prop_strs(props, "subnet_ids")?))
            .set_security_groups(Some(prop_strs(props, "security_group_ids")?))
            .set_tags(Some(elb::tags(scope, id)))
            .send()
            .await
            .or_aws("CreateLoadBalancer")?;
        let arn = out
            .load_balancers()
            .first()
            .and_then(|lb| lb.load_balancer_arn())
            .unwrap_or_default()
            .to_string();
        // Listeners and targets want it active; provisioning takes minutes.
        wait::until(
            &format!("load balancer {}", prop_str(props, "name")?),
            &["active"],
            &["failed"],
            Duration::from_secs(15 * 60),
            || async {
                let found = list(aws, scope, Some(vec![arn.clone()])).await?;
                Ok(found
                    .first()
                    .and_then(|o| o.attrs.get("state"))
                    .map(|s| (s.clone(), String::new())))
            },
        )
        .await?;
        Ok(arn)
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        if current.props.get("subnet_ids") != desired.get("subnet_ids") {
            aws.elb
                .set_subnets()
                .load_balancer_arn(&current.physical_id)
                .set_subnets(Some(prop_strs(desired, "subnet_ids")?))
                .send()
                .await
                .or_aws("SetSubnets")?;
        }
        if current.props.get("security_group_ids") != desired.get("security_group_ids") {
            aws.elb
                .set_security_groups()
                .load_balancer_arn(&current.physical_id)
                .set_security_groups(Some(prop_strs(desired, "security_group_ids")?))
                .send()
                .await
                .or_aws("SetSecurityGroups")?;
        }
        Ok(())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        gone_ok(
            aws.elb
                .delete_load_balancer()
                .load_balancer_arn(&current.physical_id)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteLoadBalancer"),
        )?;
        // Its network interfaces hold the security groups until it is gone.
        wait::until_deleted(
            &format!("load balancer {}", current.physical_id),
            Duration::from_secs(15 * 60),
            || async {
                let out = AwsError::none_if_not_found(
                    aws.elb
                        .describe_load_balancers()
                        .load_balancer_arns(&current.physical_id)
                        .send()
                        .await
                        .or_aws("DescribeLoadBalancers"),
                )?;
                Ok(out
                    .and_then(|o| o.load_balancers().first().cloned())
                    .and_then(|lb| lb.state()?.code().cloned())
                    .map(|c| (c.as_str().to_string(), String::new())))
            },
        )
        .await
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
