//! Target-tracking scaling policy of one ECS service: keep the service's
//! average CPU at the stack file's target by changing its desired count
//! within its scaling target. Policies take no tags; a policy is known by
//! its resource id (the service, which is this scope's) and the name
//! foundry gives. PutScalingPolicy creates or updates, so a retried create
//! changes nothing.

use async_trait::async_trait;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalingPolicy as P,
    ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
};

use super::scaling_target;
use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_int, prop_str};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{PropSpec, Props, Schema, Ty, Value};

pub struct ScalingPolicy;

/// Logical ids: `scaling-cpu-<service>`.
pub const ID_PREFIX: &str = "scaling-cpu-";

async fn put(aws: &Aws, props: &Props) -> Result<(), AwsError> {
    aws.autoscaling
        .put_scaling_policy()
        .policy_name(prop_str(props, "name")?)
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(prop_str(props, "resource_id")?)
        .policy_type(PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(
            TargetTrackingScalingPolicyConfiguration::builder()
                .target_value(prop_int(props, "target_cpu")? as f64)
                .predefined_metric_specification(
                    PredefinedMetricSpecification::builder()
                        .predefined_metric_type(MetricType::EcsServiceAverageCpuUtilization)
                        .build()
                        .map_err(|e| AwsError::Api {
                            operation: "PutScalingPolicy",
                            code: None,
                            message: format!("incomplete metric: {e}"),
                        })?,
                )
                .build()
                .map_err(|e| AwsError::Api {
                    operation: "PutScalingPolicy",
                    code: None,
                    message: format!("incomplete target tracking: {e}"),
                })?,
        )
        .send()
        .await
        .or_aws("PutScalingPolicy")?;
    Ok(())
}

fn observed(scope: &Scope, p: &P) -> Option<Observed> {
    let id = scaling_target::logical_id(scope, p.resource_id(), ID_PREFIX)?;
    if scope.id_in_name(p.policy_name(), ID_PREFIX).as_deref() != Some(id.as_str()) {
        return None;
    }
    let target = p
        .target_tracking_scaling_policy_configuration()
        .map(|c| c.target_value())
        .unwrap_or_default();
    let mut o = Observed::new(id, Kind::ScalingPolicy, p.policy_name());
    o.props = Props::from([
        ("name".to_string(), Value::str(p.policy_name())),
        ("resource_id".to_string(), Value::str(p.resource_id())),
        ("target_cpu".to_string(), Value::Int(target.round() as i64)),
    ]);
    o.attrs.insert("arn".into(), p.policy_arn().to_string());
    o.attrs
        .insert("resource_id".into(), p.resource_id().to_string());
    Some(o)
}

#[async_trait]
impl ResourceType for ScalingPolicy {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("resource_id", Ty::Str).force_new(),
            PropSpec::required("target_cpu", Ty::Int),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = aws
                .autoscaling
                .describe_scaling_policies()
                .service_namespace(ServiceNamespace::Ecs)
                .set_next_token(token)
                .send()
                .await
                .or_aws("DescribeScalingPolicies")?;
            out.extend(
                page.scaling_policies()
                    .iter()
                    .filter_map(|p| observed(scope, p)),
            );
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn create(
        &self,
        aws: &Aws,
        _scope: &Scope,
        _id: &str,
        props: &Props,
        _token: &str,
    ) -> Result<String, AwsError> {
        put(aws, props).await?;
        Ok(prop_str(props, "name")?.to_string())
    }

    async fn update(&self, aws: &Aws, _current: &Observed, desired: &Props) -> Result<(), AwsError> {
        put(aws, desired).await
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        gone_ok(
            aws.autoscaling
                .delete_scaling_policy()
                .policy_name(&current.physical_id)
                .service_namespace(ServiceNamespace::Ecs)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .resource_id(current.attrs.get("resource_id").map_or("", String::as_str))
                .send()
                .await
                .map(drop)
                .or_aws("DeleteScalingPolicy"),
        )
    }
}
