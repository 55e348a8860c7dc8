//! ECS task definition family of one service: Fargate, awsvpc, cpu and
//! memory from the stack file, one container `app` with the service's port,
//! the awslogs driver into its log group, the execution role (pull, logs,
//! its secrets) and the task role (the service's own).
//!
//! Revisions are immutable, so the resource is the family (physical id: its
//! name) and what is observed is its newest ACTIVE revision: a change to
//! the shape (`aws::ecs::Shape`) registers a new revision. Image, env and
//! secrets are `create:` only, since `deploy` owns what runs: a new shape
//! takes the image, env and secrets of the current release (what expansion
//! gives them). Attributes: `arn` of the newest revision and `shape`, the
//! digest the ECS service compares to move to a new shape.
//!
//! Registering is not idempotent; a run that stopped after registering finds
//! the revision by its tags and reuses it instead of adding another.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{Kind, Observed, ResourceType, Scope, prop_int, prop_str};
use crate::aws::ecs::{self, Payload, Shape};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{PropSpec, Props, Schema, Ty, Value};

pub struct EcsTaskDefinition;

/// Logical ids of task definitions start with this; the family is
/// `<stack>-<env>-<id>`.
pub const ID_PREFIX: &str = "task-";

pub const IMAGE: &str = "create:image";
pub const ENV: &str = "create:env";
pub const SECRETS: &str = "create:secrets";

fn shape(props: &Props) -> Result<Shape, AwsError> {
    Ok(Shape {
        cpu: prop_str(props, "cpu")?.to_string(),
        memory: prop_str(props, "memory")?.to_string(),
        port: prop_int(props, "port")? as i32,
        execution_role_arn: prop_str(props, "execution_role_arn")?.to_string(),
        task_role_arn: prop_str(props, "task_role_arn")?.to_string(),
        log_group: prop_str(props, "log_group")?.to_string(),
        region: prop_str(props, "region")?.to_string(),
    })
}

fn string_map(props: &Props, key: &str) -> BTreeMap<String, String> {
    props
        .get(key)
        .and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn payload(props: &Props) -> Result<Payload, AwsError> {
    Ok(Payload {
        image: prop_str(props, IMAGE)?.to_string(),
        env: string_map(props, ENV),
        secrets: string_map(props, SECRETS),
    })
}

/// The newest ACTIVE revision of `family` as this scope's resource.
async fn describe(aws: &Aws, scope: &Scope, family: &str) -> Result<Option<Observed>, AwsError> {
    let Some((task, tags)) = ecs::describe_task_definition(aws, family).await? else {
        return Ok(None);
    };
    let Some(id) = ecs::owner(scope, &tags) else {
        return Ok(None);
    };
    let shape = Shape::of(&task);
    let payload = Payload::of(&task);
    let mut o = Observed::new(id, Kind::EcsTaskDefinition, family);
    let strings = |m: &BTreeMap<String, String>| {
        Value::Map(m.iter().map(|(k, v)| (k.clone(), Value::str(v))).collect())
    };
    o.props = Props::from([
        ("family".to_string(), Value::str(family)),
        ("cpu".to_string(), Value::str(&shape.cpu)),
        ("memory".to_string(), Value::str(&shape.memory)),
        ("port".to_string(), Value::Int(shape.port.into())),
        (
            "execution_role_arn".to_string(),
            Value::str(&shape.execution_role_arn),
        ),
        ("task_role_arn".to_string(), Value::str(&shape.task_role_arn)),
        ("log_group".to_string(), Value::str(&shape.log_group)),
        ("region".to_string(), Value::str(&shape.region)),
        (IMAGE.to_string(), Value::str(&payload.image)),
        (ENV.to_string(), strings(&payload.env)),
        (SECRETS.to_string(), strings(&payload.secrets)),
    ]);
    o.attrs.insert(
        "arn".into(),
        task.task_definition_arn().unwrap_or_default().into(),
    );
    o.attrs.insert("shape".into(), shape.digest());
    // For `update`, which registers a revision tagged like this one.
    o.attrs.insert("stack".into(), scope.stack.clone());
    o.attrs.insert("env".into(), scope.env.clone());
    Ok(Some(o))
}

#[async_trait]
impl ResourceType for EcsTaskDefinition {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("family", Ty::Str).force_new(),
            PropSpec::required("cpu", Ty::Str),
            PropSpec::required("memory", Ty::Str),
            PropSpec::required("port", Ty::Int),
            PropSpec::required("execution_role_arn", Ty::Str),
            PropSpec::required("task_role_arn", Ty::Str),
            PropSpec::required("log_group", Ty::Str),
            PropSpec::required("region", Ty::Str),
            PropSpec::required(IMAGE, Ty::Str),
            PropSpec::required(ENV, Ty::Map),
            PropSpec::required(SECRETS, Ty::Map),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let prefix = scope.name(ID_PREFIX);
        let mut families = Vec::new();
        let mut token = None;
        loop {
            let page = aws
                .ecs
                .list_task_definition_families()
                .family_prefix(&prefix)
                .status(aws_sdk_ecs::types::TaskDefinitionFamilyStatus::Active)
                .set_next_token(token)
                .send()
                .await
                .or_aws("ListTaskDefinitionFamilies")?;
            families.extend(page.families().iter().cloned());
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let mut out = Vec::new();
        for family in families {
            out.extend(describe(aws, scope, &family).await?);
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
        let family = prop_str(props, "family")?;
        let shape = shape(props)?;
        // A revision a stopped run registered with this very shape is reused.
        if let Some(existing) = describe(aws, scope, family).await?
            && existing.attrs.get("shape") == Some(&shape.digest())
        {
            return Ok(existing.physical_id);
        }
        ecs::register(aws, scope, id, family, &shape, &payload(props)?).await?;
        Ok(family.to_string())
    }

    /// A new revision with the desired shape and the current release's
    /// image, env and secrets.
    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        let family = &current.physical_id;
        // The new revision is tagged as the one it follows.
        let attr = |k: &str| current.attrs.get(k).cloned().unwrap_or_default();
        let scope = Scope::new(attr("stack"), attr("env"));
        ecs::register(
            aws,
            &scope,
            &current.id,
            family,
            &shape(desired)?,
            &payload(desired)?,
        )
        .await?;
        Ok(())
    }

    /// Every ACTIVE revision deregistered, then deleted.
    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        let arns = ecs::revisions(aws, &current.physical_id).await?;
        for arn in &arns {
            let result = aws
                .ecs
                .deregister_task_definition()
                .task_definition(arn)
                .send()
                .await
                .map(drop)
                .or_aws("DeregisterTaskDefinition");
            match result {
                Err(e) if e.is_not_found() || e.code() == Some("ClientException") => {}
                other => other?,
            }
        }
        if !arns.is_empty() {
            aws.ecs
                .delete_task_definitions()
                .set_task_definitions(Some(arns))
                .send()
                .await
                .or_aws("DeleteTaskDefinitions")?;
        }
        Ok(())
    }

    async fn find(
        &self,
        aws: &Aws,
        scope: &Scope,
        physical_id: &str,
    ) -> Result<Option<Observed>, AwsError> {
        describe(aws, scope, physical_id).await
    }
}
