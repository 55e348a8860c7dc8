//! CloudWatch Logs group a service on ECS writes its output to, with the
//! retention the stack file gives. Named `/foundry/<stack>/<env>/<service>`
//! and tagged at creation; a create retried after a lost response finds
//! the group it made (`ResourceAlreadyExistsException`) and sets the
//! retention again.

use async_trait::async_trait;

use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_int, prop_str};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{PropSpec, Props, Schema, Ty, Value};

pub struct LogGroup;

/// The group name of service `service` in `scope`.
pub fn group_name(scope: &Scope, service: &str) -> String {
    format!("{}{service}", prefix(scope))
}

fn prefix(scope: &Scope) -> String {
    format!("/foundry/{}/{}/", scope.stack, scope.env)
}

async fn put_retention(aws: &Aws, name: &str, days: i64) -> Result<(), AwsError> {
    aws.logs
        .put_retention_policy()
        .log_group_name(name)
        .retention_in_days(days as i32)
        .send()
        .await
        .or_aws("PutRetentionPolicy")?;
    Ok(())
}

/// The group's logical id from its tags.
async fn owner(aws: &Aws, scope: &Scope, arn: &str) -> Result<Option<String>, AwsError> {
    let out = AwsError::none_if_not_found(
        aws.logs
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .or_aws("ListTagsForResource"),
    )?;
    Ok(out.and_then(|o| {
        scope.logical_id(
            o.tags()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
    }))
}

async fn list(aws: &Aws, scope: &Scope, name_prefix: &str) -> Result<Vec<Observed>, AwsError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .logs
            .describe_log_groups()
            .log_group_name_prefix(name_prefix)
            .set_next_token(token)
            .send()
            .await
            .or_aws("DescribeLogGroups")?;
        for g in page.log_groups() {
            let (Some(name), Some(arn)) = (g.log_group_name(), g.log_group_arn()) else {
                continue;
            };
            // The tag API takes the ARN without the `:*` DescribeLogGroups adds.
            let arn = arn.trim_end_matches(":*");
            let Some(id) = owner(aws, scope, arn).await? else {
                continue;
            };
            let mut o = Observed::new(id, Kind::LogGroup, name);
            o.props = Props::from([
                ("name".to_string(), Value::str(name)),
                (
                    "retention_days".to_string(),
                    Value::Int(g.retention_in_days().unwrap_or_default().into()),
                ),
            ]);
            o.attrs.insert("arn".into(), arn.to_string());
            out.push(o);
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

#[async_trait]
impl ResourceType for LogGroup {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("retention_days", Ty::Int),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        list(aws, scope, &prefix(scope)).await
    }

    async fn create(
        &self,
        aws: &Aws,
        scope: &Scope,
        id: &str,
        props: &Props,
        _token: &str,
    ) -> Result<String, AwsError> {
        let name = prop_str(props, "name")?;
        let created = aws
            .logs
            .create_log_group()
            .log_group_name(name)
            .set_tags(Some(scope.tag_map(id)))
            .send()
            .await
            .map(drop)
            .or_aws("CreateLogGroup");
        match created {
            Err(e) if e.is_already_exists() => {}
            other => other?,
        }
        put_retention(aws, name, prop_int(props, "retention_days")?).await?;
        Ok(name.to_string())
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        put_retention(aws, &current.physical_id, prop_int(desired, "retention_days")?).await
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        gone_ok(
            aws.logs
                .delete_log_group()
                .log_group_name(&current.physical_id)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteLogGroup"),
        )
    }

    async fn find(
        &self,
        aws: &Aws,
        scope: &Scope,
        physical_id: &str,
    ) -> Result<Option<Observed>, AwsError> {
        Ok(list(aws, scope, physical_id)
            .await?
            .into_iter()
            .find(|o| o.physical_id == physical_id))
    }
}
