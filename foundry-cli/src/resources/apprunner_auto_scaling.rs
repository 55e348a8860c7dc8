//! App Runner auto scaling configuration of one service: instances (min,
//! max) and requests per instance. App Runner keeps these as immutable,
//! numbered revisions of a name: a change is a new configuration (every key
//! forces a new one), which the service then points at. Found by the name
//! foundry gives (`aws::apprunner::name`), owned by its tags.

use async_trait::async_trait;
use aws_sdk_apprunner::types::{AutoScalingConfiguration, AutoScalingConfigurationStatus};

use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_int, prop_str};
use crate::aws::apprunner::{self, CONFIG_NAME_MAX};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{PropSpec, Props, Schema, Ty, Value};

pub struct ApprunnerAutoScaling;

/// Every active revision whose name may be this scope's: ARN and name.
async fn list(aws: &Aws, scope: &Scope) -> Result<Vec<String>, AwsError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .apprunner
            .list_auto_scaling_configurations()
            .latest_only(false)
            .set_next_token(token)
            .send()
            .await
            .or_aws("ListAutoScalingConfigurations")?;
        out.extend(
            page.auto_scaling_configuration_summary_list()
                .iter()
                .filter(|c| c.status() == Some(&AutoScalingConfigurationStatus::Active))
                .filter(|c| {
                    c.auto_scaling_configuration_name()
                        .is_some_and(|n| apprunner::may_be_ours(scope, n, CONFIG_NAME_MAX))
                })
                .filter_map(|c| c.auto_scaling_configuration_arn().map(str::to_string)),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

fn observed(id: String, c: &AutoScalingConfiguration) -> Option<Observed> {
    let mut o = Observed::new(
        id,
        Kind::ApprunnerAutoScaling,
        c.auto_scaling_configuration_arn()?,
    );
    let int = |n: Option<i32>| Value::Int(n.unwrap_or_default().into());
    o.props = Props::from([
        (
            "name".to_string(),
            Value::str(c.auto_scaling_configuration_name().unwrap_or_default()),
        ),
        ("min_size".to_string(), int(c.min_size())),
        ("max_size".to_string(), int(c.max_size())),
        ("max_concurrency".to_string(), int(c.max_concurrency())),
    ]);
    o.attrs.insert("arn".into(), o.physical_id.clone());
    if let Some(revision) = c.auto_scaling_configuration_revision() {
        o.attrs.insert("revision".into(), revision.to_string());
    }
    Some(o)
}

/// The active revision `arn` as this scope's resource, `None` if it is gone,
/// inactive or not ours.
async fn describe(aws: &Aws, scope: &Scope, arn: &str) -> Result<Option<Observed>, AwsError> {
    let Some(id) = apprunner::logical_id(aws, scope, arn).await? else {
        return Ok(None);
    };
    let out = AwsError::none_if_not_found(
        aws.apprunner
            .describe_auto_scaling_configuration()
            .auto_scaling_configuration_arn(arn)
            .send()
            .await
            .or_aws("DescribeAutoScalingConfiguration"),
    )?;
    Ok(out
        .and_then(|o| o.auto_scaling_configuration)
        .filter(|c| c.status() == Some(&AutoScalingConfigurationStatus::Active))
        .and_then(|c| observed(id, &c)))
}

#[async_trait]
impl ResourceType for ApprunnerAutoScaling {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("min_size", Ty::Int).force_new(),
            PropSpec::required("max_size", Ty::Int).force_new(),
            PropSpec::required("max_concurrency", Ty::Int).force_new(),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let mut out = Vec::new();
        for arn in list(aws, scope).await? {
            out.extend(describe(aws, scope, &arn).await?);
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
        // No idempotency token: a run that stopped after this call left a
        // tagged revision, which is reused instead of adding another.
        if let Some(existing) = self
            .observe(aws, scope)
            .await?
            .into_iter()
            .find(|o| o.id == id)
        {
            return Ok(existing.physical_id);
        }
        let out = aws
            .apprunner
            .create_auto_scaling_configuration()
            .auto_scaling_configuration_name(prop_str(props, "name")?)
            .min_size(prop_int(props, "min_size")? as i32)
            .max_size(prop_int(props, "max_size")? as i32)
            .max_concurrency(prop_int(props, "max_concurrency")? as i32)
            .set_tags(Some(apprunner::tags(scope, id)))
            .send()
            .await
            .or_aws("CreateAutoScalingConfiguration")?;
        Ok(out
            .auto_scaling_configuration()
            .and_then(|c| c.auto_scaling_configuration_arn())
            .unwrap_or_default()
            .to_string())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        gone_ok(
            aws.apprunner
                .delete_auto_scaling_configuration()
                .auto_scaling_configuration_arn(&current.physical_id)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteAutoScalingConfiguration"),
        )
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
