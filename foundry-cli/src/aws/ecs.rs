//! ECS helpers: tags at creation and ownership read back from them, the
//! task definition a service runs and the "shape" that `up` owns in it, and
//! registering a revision of a family with a new image, env and secrets.
//!
//! A task definition holds both what `up` manages (cpu, memory, port, roles,
//! logs: the shape) and what `deploy` manages (image, env,
//! secrets). Revisions are immutable, so the two meet in one rule: a
//! revision registered by either copies the other's part from the revision
//! it starts from.
//!
//! Containers get no health check command: foundry's images hold one binary
//! and no shell. The target group's check of the service's health path is
//! the one ECS acts on (the service's `healthCheckGracePeriodSeconds` gives
//! a new task time to start).

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, KeyValuePair, LogConfiguration, LogDriver, NetworkMode,
    PortMapping, Secret, Tag, TaskDefinition, TaskDefinitionField, TransportProtocol,
};

use super::{Aws, AwsError, SdkResultExt};
use crate::vocab::Scope;

/// The one container of every task foundry defines.
pub const CONTAINER: &str = "app";

/// How long a service's rollout may take before foundry stops following.
pub const ROLLOUT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// `foundry:*` and `Name` tags for a create call.
pub fn tags(scope: &Scope, id: &str) -> Vec<Tag> {
    scope
        .tags(id)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The logical id these tags give in `scope`.
pub fn owner(scope: &Scope, tags: &[Tag]) -> Option<String> {
    scope.logical_id(tags.iter().filter_map(|t| Some((t.key()?, t.value()?))))
}

/// What `up` owns in a task definition. Two revisions with the same shape
/// differ only in what `deploy` put there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub cpu: String,
    pub memory: String,
    pub port: i32,
    pub execution_role_arn: String,
    pub task_role_arn: String,
    pub log_group: String,
    pub region: String,
}

impl Shape {
    /// A stable digest of the shape, compared by plans (FNV-1a of its fields).
    pub fn digest(&self) -> String {
        let text = format!(
            "{}|{}|{}|{}|{}|{}|{}",
            self.cpu,
            self.memory,
            self.port,
            self.execution_role_arn,
            self.task_role_arn,
            self.log_group,
            self.region
        );
        format!("{:016x}", crate::vocab::fnv1a(&text))
    }

    /// The shape of a registered revision (its container `app`).
    pub fn of(task: &TaskDefinition) -> Shape {
        let container = app_container(task);
        let log_options = container
            .and_then(|c| c.log_configuration())
            .and_then(|l| l.options());
        let log = |k: &str| {
            log_options
                .and_then(|o| o.get(k))
                .cloned()
                .unwrap_or_default()
        };
        Shape {
            cpu: task.cpu().unwrap_or_default().to_string(),
            memory: task.memory().unwrap_or_default().to_string(),
            port: container
                .and_then(|c| c.port_mappings().first())
                .and_then(|p| p.container_port())
                .unwrap_or_default(),
            execution_role_arn: task.execution_role_arn().unwrap_or_default().to_string(),
            task_role_arn: task.task_role_arn().unwrap_or_default().to_string(),
            log_group: log("awslogs-group"),
            region: log("awslogs-region"),
        }
    }
}

/// What `deploy` owns in a task definition: the image by digest, plain env,
/// and secrets by ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub image: String,
    pub env: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
}

impl Payload {
    pub fn of(task: &TaskDefinition) -> Payload {
        let container = app_container(task);
        Payload {
            image: container
                .and_then(|c| c.image())
                .unwrap_or_default()
                .to_string(),
            env: container
                .map(|c| {
                    c.environment()
                        .iter()
                        .filter_map(|kv| Some((kv.name()?.to_string(), kv.value()?.to_string())))
                        .collect()
                })
                .unwrap_or_default(),
            secrets: container
                .map(|c| {
                    c.secrets()
                        .iter()
                        .map(|s| (s.name().to_string(), s.value_from().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

fn app_container(task: &TaskDefinition) -> Option<&ContainerDefinition> {
    task.container_definitions()
        .iter()
        .find(|c| c.name() == Some(CONTAINER))
}

/// Registers a revision of `family` with `shape` and `payload`, tagged in
/// `scope` as `id`; returns its ARN.
pub async fn register(
    aws: &Aws,
    scope: &Scope,
    id: &str,
    family: &str,
    shape: &Shape,
    payload: &Payload,
) -> Result<String, AwsError> {
    let container = ContainerDefinition::builder()
        .name(CONTAINER)
        .image(&payload.image)
        .essential(true)
        .port_mappings(
            PortMapping::builder()
                .container_port(shape.port)
                .protocol(TransportProtocol::Tcp)
                .build(),
        )
        .set_environment(Some(
            payload
                .env
                .iter()
                .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
                .collect(),
        ))
        .set_secrets(Some(
            payload
                .secrets
                .iter()
                .map(|(k, arn)| {
                    Secret::builder()
                        .name(k)
                        .value_from(arn)
                        .build()
                        .expect("name and valueFrom are set")
                })
                .collect(),
        ))
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", &shape.log_group)
                .options("awslogs-region", &shape.region)
                .options("awslogs-stream-prefix", CONTAINER)
                .build()
                .expect("log driver is set"),
        )
        .build();
    let out = aws
        .ecs
        .register_task_definition()
        .family(family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu(&shape.cpu)
        .memory(&shape.memory)
        .execution_role_arn(&shape.execution_role_arn)
        .task_role_arn(&shape.task_role_arn)
        .container_definitions(container)
        .set_tags(Some(tags(scope, id)))
        .send()
        .await
        .or_aws("RegisterTaskDefinition")?;
    Ok(out
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .unwrap_or_default()
        .to_string())
}

/// The task definition `arn_or_family` (a family gives its latest ACTIVE
/// revision) with its tags; `None` when there is none.
pub async fn describe_task_definition(
    aws: &Aws,
    arn_or_family: &str,
) -> Result<Option<(TaskDefinition, Vec<Tag>)>, AwsError> {
    let out = match aws
        .ecs
        .describe_task_definition()
        .task_definition(arn_or_family)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .or_aws("DescribeTaskDefinition")
    {
        Ok(out) => out,
        // ECS answers a family without ACTIVE revisions with a client error.
        Err(e) if e.is_not_found() || e.code() == Some("ClientException") => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(out
        .task_definition
        .map(|t| (t, out.tags.unwrap_or_default())))
}

/// ARNs of the ACTIVE revisions of `family`, newest first.
pub async fn revisions(aws: &Aws, family: &str) -> Result<Vec<String>, AwsError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .sort(aws_sdk_ecs::types::SortOrder::Desc)
            .set_next_token(token)
            .send()
            .await
            .or_aws("ListTaskDefinitions")?;
        // A prefix also matches longer families (`api` and `api-2`).
        out.extend(
            page.task_definition_arns()
                .iter()
                .filter(|arn| family_of(arn) == family)
                .cloned(),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// `family` of `arn:…:task-definition/family:revision`.
pub fn family_of(arn: &str) -> &str {
    let tail = arn.rsplit('/').next().unwrap_or(arn);
    tail.rsplit_once(':').map_or(tail, |(f, _)| f)
}
