//! ECS service on Fargate: the service's tasks in the private app subnets
//! with its security group and no public IP, registered in its target
//! group, rolled out with the deployment circuit breaker (rollback on) and
//! the healthy percentages given. Named `<stack>-<env>-<id>` in the stack's
//! cluster, owned by its tags; CreateService takes a client token, and a
//! create retried after a lost response finds the service it made.
//!
//! What runs (the task definition revision) is `deploy`'s: it is
//! `create:task_definition`, read only at creation. What `up` compares is
//! `task_shape`, the digest of the shape of the revision the service runs
//! (`aws::ecs::Shape`): when the stack changes the shape, the task
//! definition registers a revision and the service moves to it. The
//! desired count is the scaling target's after creation. Attributes: `arn`,
//! `name`, `cluster`, `task_definition` (the revision it runs), `status`.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration,
    LaunchType, LoadBalancer, NetworkConfiguration, PropagateTags, Service, ServiceField,
};

use super::{Kind, Observed, ResourceType, Scope, prop_bool, prop_int, prop_str, prop_strs};
use crate::aws::ecs::{self, CONTAINER, Shape};
use crate::aws::{Aws, AwsError, SdkResultExt, wait};
use crate::vocab::{PropSpec, Props, Schema, Ty, Value};

pub struct EcsService;

/// Logical ids of ECS services start with this.
pub const ID_PREFIX: &str = "ecs-";

pub const TASK_DEFINITION: &str = "create:task_definition";
pub const DESIRED_COUNT: &str = "create:desired_count";
/// The listener that attaches the target group to its load balancer: ECS
/// refuses a target group without one, so the service is created after it.
pub const LISTENER: &str = "create:listener";

fn network(props: &Props) -> Result<NetworkConfiguration, AwsError> {
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .set_subnets(Some(prop_strs(props, "subnet_ids")?))
                .set_security_groups(Some(prop_strs(props, "security_group_ids")?))
                .assign_public_ip(AssignPublicIp::Disabled)
                .build()
                .map_err(|e| AwsError::Api {
                    operation: "CreateService",
                    code: None,
                    message: format!("incomplete network configuration: {e}"),
                })?,
        )
        .build())
}

fn deployment(props: &Props) -> Result<DeploymentConfiguration, AwsError> {
    let breaker = prop_bool(props, "circuit_breaker")?;
    Ok(DeploymentConfiguration::builder()
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(breaker)
                .rollback(breaker)
                .build(),
        )
        .minimum_healthy_percent(prop_int(props, "min_healthy_percent")? as i32)
        .maximum_percent(prop_int(props, "max_percent")? as i32)
        .build())
}

/// The service as observed; the shape of the revision it runs is read from
/// that revision.
async fn observed(aws: &Aws, scope: &Scope, s: &Service) -> Result<Option<Observed>, AwsError> {
    if s.status() != Some("ACTIVE") {
        return Ok(None);
    }
    let (Some(id), Some(arn), Some(name)) = (
        ecs::owner(scope, s.tags()),
        s.service_arn(),
        s.service_name(),
    ) else {
        return Ok(None);
    };
    let running = s.task_definition().unwrap_or_default();
    let shape = match ecs::describe_task_definition(aws, running).await? {
        Some((task, _)) => Shape::of(&task).digest(),
        None => String::new(),
    };
    let cluster = s
        .cluster_arn()
        .and_then(|a| a.rsplit('/').next())
        .unwrap_or_default();
    let vpc = s
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration());
    let lb = s.load_balancers().first();
    let config = s.deployment_configuration();
    let breaker = config.and_then(|c| c.deployment_circuit_breaker());
    let mut o = Observed::new(id, Kind::EcsService, arn);
    o.props = Props::from([
        ("name".to_string(), Value::str(name)),
        ("cluster".to_string(), Value::str(cluster)),
        ("task_shape".to_string(), Value::str(shape)),
        (
            "subnet_ids".to_string(),
            Value::set(
                vpc.map(|v| v.subnets().to_vec())
                    .unwrap_or_default()
                    .into_iter()
                    .map(Value::str),
            ),
        ),
        (
            "security_group_ids".to_string(),
            Value::set(
                vpc.map(|v| v.security_groups().to_vec())
                    .unwrap_or_default()
                    .into_iter()
                    .map(Value::str),
            ),
        ),
        (
            "target_group_arn".to_string(),
            Value::str(lb.and_then(|l| l.target_group_arn()).unwrap_or_default()),
        ),
        (
            "container_port".to_string(),
            Value::Int(lb.and_then(|l| l.container_port()).unwrap_or_default().into()),
        ),
        (
            "circuit_breaker".to_string(),
            Value::Bool(breaker.is_some_and(|b| b.enable() && b.rollback())),
        ),
        (
            "min_healthy_percent".to_string(),
            Value::Int(
                config
                    .and_then(|c| c.minimum_healthy_percent())
                    .unwrap_or_default()
                    .into(),
            ),
        ),
        (
            "max_percent".to_string(),
            Value::Int(
                config
                    .and_then(|c| c.maximum_percent())
                    .unwrap_or_default()
                    .into(),
            ),
        ),
        (
            "health_check_grace_seconds".to_string(),
            Value::Int(s.health_check_grace_period_seconds().unwrap_or_default().into()),
        ),
    ]);
    o.attrs.insert("arn".into(), arn.to_string());
    o.attrs.insert("name".into(), name.to_string());
    o.attrs.insert("cluster".into(), cluster.to_string());
    o.attrs.insert("task_definition".into(), running.to_string());
    o.attrs
        .insert("status".into(), s.status().unwrap_or_default().to_string());
    Ok(Some(o))
}

/// The services `names` (names or ARNs) of `cluster` that are this scope's.
async fn describe(
    aws: &Aws,
    scope: &Scope,
    cluster: &str,
    names: &[String],
) -> Result<Vec<Observed>, AwsError> {
    let mut out = Vec::new();
    // DescribeServices takes at most 10.
    for chunk in names.chunks(10) {
        let described = match aws
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
            .or_aws("DescribeServices")
        {
            Err(e) if e.is_not_found() => return Ok(out),
            other => other?,
        };
        for s in described.services() {
            out.extend(observed(aws, scope, s).await?);
        }
    }
    Ok(out)
}

/// The cluster `current` runs in (service ARNs name it only in ECS's long
/// format).
fn cluster_of(current: &Observed) -> &str {
    current.attrs.get("cluster").map_or("", String::as_str)
}

#[async_trait]
impl ResourceType for EcsService {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("cluster", Ty::Str).force_new(),
            PropSpec::required("task_shape", Ty::Str),
            PropSpec::required("subnet_ids", Ty::List),
            PropSpec::required("security_group_ids", Ty::List),
            PropSpec::required("target_group_arn", Ty::Str).force_new(),
            PropSpec::required("container_port", Ty::Int).force_new(),
            PropSpec::required("circuit_breaker", Ty::Bool),
            PropSpec::required("min_healthy_percent", Ty::Int),
            PropSpec::required("max_percent", Ty::Int),
            PropSpec::required("health_check_grace_seconds", Ty::Int),
            PropSpec::required(TASK_DEFINITION, Ty::Str),
            PropSpec::required(DESIRED_COUNT, Ty::Int),
            PropSpec::required(LISTENER, Ty::Str),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let mut out = Vec::new();
        for cluster in Kind::EcsCluster.handler().observe(aws, scope).await? {
            let mut arns = Vec::new();
            let mut token = None;
            loop {
                let page = aws
                    .ecs
                    .list_services()
                    .cluster(&cluster.physical_id)
                    .set_next_token(token)
                    .send()
                    .await
                    .or_aws("ListServices")?;
                arns.extend(page.service_arns().iter().cloned());
                token = page.next_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
            out.extend(describe(aws, scope, &cluster.physical_id, &arns).await?);
        }
        Ok(out)
    }

    async fn create(
        &self,
        aws: &Aws,
        scope: &Scope,
        id: &str,
        props: &Props,
        token: &str,
    ) -> Result<String, AwsError> {
        let cluster = prop_str(props, "cluster")?;
        let name = prop_str(props, "name")?;
        let existing = describe(aws, scope, cluster, &[name.to_string()]).await?;
        if let Some(o) = existing.into_iter().find(|o| o.id == id) {
            return Ok(o.physical_id);
        }
        let out = aws
            .ecs
            .create_service()
            .cluster(cluster)
            .service_name(name)
            .task_definition(prop_str(props, TASK_DEFINITION)?)
            .desired_count(prop_int(props, DESIRED_COUNT)? as i32)
            .launch_type(LaunchType::Fargate)
            .network_configuration(network(props)?)
            .load_balancers(
                LoadBalancer::builder()
                    .target_group_arn(prop_str(props, "target_group_arn")?)
                    .container_name(CONTAINER)
                    .container_port(prop_int(props, "container_port")? as i32)
                    .build(),
            )
            .deployment_configuration(deployment(props)?)
            .health_check_grace_period_seconds(prop_int(props, "health_check_grace_seconds")? as i32)
            .propagate_tags(PropagateTags::Service)
            .enable_ecs_managed_tags(true)
            .client_token(token.chars().take(36).collect::<String>())
            .set_tags(Some(ecs::tags(scope, id)))
            .send()
            .await
            .or_aws("CreateService")?;
        Ok(out
            .service()
            .and_then(|s| s.service_arn())
            .unwrap_or_default()
            .to_string())
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        let mut call = aws
            .ecs
            .update_service()
            .cluster(cluster_of(current))
            .service(&current.physical_id)
            .network_configuration(network(desired)?)
            .deployment_configuration(deployment(desired)?)
            .health_check_grace_period_seconds(
                prop_int(desired, "health_check_grace_seconds")? as i32,
            );
        // A new shape: the revision the task definition just registered.
        if current.props.get("task_shape") != desired.get("task_shape") {
            call = call.task_definition(prop_str(desired, TASK_DEFINITION)?);
        }
        call.send().await.or_aws("UpdateService")?;
        Ok(())
    }

    /// Scaled in and deleted (`force`), then waited for until it is no
    /// longer draining: its tasks hold the target group and subnets.
    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        let cluster = cluster_of(current).to_string();
        let deleted = aws
            .ecs
            .delete_service()
            .cluster(&cluster)
            .service(&current.physical_id)
            .force(true)
            .send()
            .await
            .map(drop)
            .or_aws("DeleteService");
        match deleted {
            Err(e) if e.is_not_found() || e.code() == Some("ClusterNotFoundException") => {
                return Ok(());
            }
            other => other?,
        }
        wait::until_deleted(
            &format!("ECS service {}", current.physical_id),
            Duration::from_secs(20 * 60),
            || async {
                let out = AwsError::none_if_not_found(
                    aws.ecs
                        .describe_services()
                        .cluster(&cluster)
                        .services(&current.physical_id)
                        .send()
                        .await
                        .or_aws("DescribeServices"),
                )?;
                Ok(out
                    .and_then(|o| o.services().first().and_then(|s| s.status().map(str::to_string)))
                    .map(|s| match s.as_str() {
                        "INACTIVE" => ("gone".to_string(), String::new()),
                        _ => (s, String::new()),
                    }))
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
        let cluster = scope.name(super::ecs_cluster::ID_PREFIX);
        Ok(describe(aws, scope, &cluster, &[physical_id.to_string()])
            .await?
            .into_iter()
            .next())
    }
}
