//! Application Auto Scaling target of one ECS service: its desired count
//! between the stack file's `scaling.min` and `scaling.max`. The resource id
//! (`service/<cluster>/<service>`) is the name foundry gives, and ownership
//! follows from it: the cluster is this scope's. RegisterScalableTarget
//! creates or updates, so a retried create changes nothing. Tags go with
//! the registration (AWS keeps them; the API lists them by ARN).

use async_trait::async_trait;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ScalableTarget, ServiceNamespace};

use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_int, prop_str};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{PropSpec, Props, Schema, Ty, Value};

pub struct ScalingTarget;

/// Logical ids: `scaling-<service>`, for the ECS service `ecs-<service>`.
pub const ID_PREFIX: &str = "scaling-";

/// The logical id a resource id of this scope's cluster gives, from the
/// service name `<stack>-<env>-ecs-<service>` in it.
pub fn logical_id(scope: &Scope, resource_id: &str, id_prefix: &str) -> Option<String> {
    let cluster = scope.name(super::ecs_cluster::ID_PREFIX);
    let service = resource_id.strip_prefix(&format!("service/{cluster}/"))?;
    let id = scope.id_in_name(service, super::ecs_service::ID_PREFIX)?;
    Some(format!(
        "{id_prefix}{}",
        id.strip_prefix(super::ecs_service::ID_PREFIX)?
    ))
}

fn observed(scope: &Scope, t: &ScalableTarget) -> Option<Observed> {
    let id = logical_id(scope, t.resource_id(), ID_PREFIX)?;
    let mut o = Observed::new(id, Kind::ScalingTarget, t.resource_id());
    o.props = Props::from([
        ("resource_id".to_string(), Value::str(t.resource_id())),
        ("min".to_string(), Value::Int(t.min_capacity().into())),
        ("max".to_string(), Value::Int(t.max_capacity().into())),
    ]);
    if let Some(arn) = t.scalable_target_arn() {
        o.attrs.insert("arn".into(), arn.to_string());
    }
    Some(o)
}

async fn list(aws: &Aws, scope: &Scope, ids: Option<Vec<String>>) -> Result<Vec<Observed>, AwsError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .autoscaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .set_resource_ids(ids.clone())
            .set_next_token(token)
            .send()
            .await
            .or_aws("DescribeScalableTargets")?;
        out.extend(
            page.scalable_targets()
                .iter()
                .filter_map(|t| observed(scope, t)),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

async fn register(aws: &Aws, scope: &Scope, id: &str, props: &Props) -> Result<(), AwsError> {
    aws.autoscaling
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(prop_str(props, "resource_id")?)
        .min_capacity(prop_int(props, "min")? as i32)
        .max_capacity(prop_int(props, "max")? as i32)
        .set_tags(Some(scope.tag_map(id)))
        .send()
        .await
        .or_aws("RegisterScalableTarget")?;
    Ok(())
}

#[async_trait]
impl ResourceType for ScalingTarget {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("resource_id", Ty::Str).force_new(),
            PropSpec::required("min", Ty::Int),
            PropSpec::required("max", Ty::Int),
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
        register(aws, scope, id, props).await?;
        Ok(prop_str(props, "resource_id")?.to_string())
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        // Registering again updates min and max; the tags stay.
        aws.autoscaling
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(&current.physical_id)
            .min_capacity(prop_int(desired, "min")? as i32)
            .max_capacity(prop_int(desired, "max")? as i32)
            .send()
            .await
            .or_aws("RegisterScalableTarget")?;
        Ok(())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        gone_ok(
            aws.autoscaling
                .deregister_scalable_target()
                .service_namespace(ServiceNamespace::Ecs)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .resource_id(&current.physical_id)
                .send()
                .await
                .map(drop)
                .or_aws("DeregisterScalableTarget"),
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
