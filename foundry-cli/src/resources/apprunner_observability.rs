//! App Runner observability configuration: tracing with AWS X-Ray
//! (`AWSXRAY`, the only vendor App Runner has). Like auto scaling
//! configurations these are immutable revisions of a name, so every key
//! forces a new one. Found by the name foundry gives, owned by its tags.

use async_trait::async_trait;
use aws_sdk_apprunner::types::{
    ObservabilityConfiguration, ObservabilityConfigurationStatus, TraceConfiguration,
    TracingVendor,
};

use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_bool, prop_str};
use crate::aws::apprunner::{self, CONFIG_NAME_MAX};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{PropSpec, Props, Schema, Ty, Value};

pub struct ApprunnerObservability;

async fn list(aws: &Aws, scope: &Scope) -> Result<Vec<String>, AwsError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .apprunner
            .list_observability_configurations()
            .latest_only(false)
            .set_next_token(token)
            .send()
            .await
            .or_aws("ListObservabilityConfigurations")?;
        out.extend(
            page.observability_configuration_summary_list()
                .iter()
                .filter(|c| {
                    c.observability_configuration_name()
                        .is_some_and(|n| apprunner::may_be_ours(scope, n, CONFIG_NAME_MAX))
                })
                .filter_map(|c| c.observability_configuration_arn().map(str::to_string)),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

fn observed(id: String, c: &ObservabilityConfiguration) -> Option<Observed> {
    let mut o = Observed::new(
        id,
        Kind::ApprunnerObservability,
        c.observability_configuration_arn()?,
    );
    o.props = Props::from([
        (
            "name".to_string(),
            Value::str(c.observability_configuration_name().unwrap_or_default()),
        ),
        (
            "tracing".to_string(),
            Value::Bool(
                c.trace_configuration()
                    .is_some_and(|t| t.vendor() == &TracingVendor::Awsxray),
            ),
        ),
    ]);
    o.attrs.insert("arn".into(), o.physical_id.clone());
    Some(o)
}

async fn describe(aws: &Aws, scope: &Scope, arn: &str) -> Result<Option<Observed>, AwsError> {
    let Some(id) = apprunner::logical_id(aws, scope, arn).await? else {
        return Ok(None);
    };
    let out = AwsError::none_if_not_found(
        aws.apprunner
            .describe_observability_configuration()
            .observability_configuration_arn(arn)
            .send()
            .await
            .or_aws("DescribeObservabilityConfiguration"),
    )?;
    Ok(out
        .and_then(|o| o.observability_configuration)
        .filter(|c| c.status() == Some(&ObservabilityConfigurationStatus::Active))
        .and_then(|c| observed(id, &c)))
}

#[async_trait]
impl ResourceType for ApprunnerObservability {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("tracing", Ty::Bool).force_new(),
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
        // A revision left by a run that stopped after this call is reused.
        if let Some(existing) = self
            .observe(aws, scope)
            .await?
            .into_iter()
            .find(|o| o.id == id)
        {
            return Ok(existing.physical_id);
        }
        let trace = prop_bool(props, "tracing")?.then(|| {
            TraceConfiguration::builder()
                .vendor(TracingVendor::Awsxray)
                .build()
                .expect("the vendor is set")
        });
        let out = aws
            .apprunner
            .create_observability_configuration()
            .observability_configuration_name(prop_str(props, "name")?)
            .set_trace_configuration(trace)
            .set_tags(Some(apprunner::tags(scope, id)))
            .send()
            .await
            .or_aws("CreateObservabilityConfiguration")?;
        Ok(out
            .observability_configuration()
            .and_then(|c| c.observability_configuration_arn())
            .unwrap_or_default()
            .to_string())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        gone_ok(
            aws.apprunner
                .delete_observability_configuration()
                .observability_configuration_arn(&current.physical_id)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteObservabilityConfiguration"),
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
