//! CloudFront Function: a few lines of JavaScript CloudFront runs on each
//! viewer request of the behaviours it is associated with (foundry's: the
//! web client's SPA fallback). A function has two stages: DEVELOPMENT, which
//! create and update write, and LIVE, which a distribution runs and which
//! only a publish changes; foundry publishes after every write, and observes
//! LIVE, so a function a crash left unpublished shows as a change to make.
//!
//! The SDK's CreateFunction takes no tags, so a function is known by its
//! deterministic name `<stack>-<env>-<id>`, as origin access controls are;
//! names are unique in the account, which also makes a create retried after
//! a crash find the first one. Every write names the ETag just read.

use async_trait::async_trait;
use aws_sdk_cloudfront::error::ProvideErrorMetadata;
use aws_sdk_cloudfront::primitives::Blob;
use aws_sdk_cloudfront::types::{FunctionConfig, FunctionRuntime, FunctionStage};

use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_str};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{PropSpec, Props, Schema, Ty, Value};

pub struct CloudfrontFunction;

/// Logical ids of functions start with this, which tells ours from another
/// environment's whose name extends this one (`dev`, `dev-2`).
pub const ID_PREFIX: &str = "fn-";

fn config(props: &Props) -> Result<FunctionConfig, AwsError> {
    FunctionConfig::builder()
        .comment(prop_str(props, "comment")?)
        .runtime(FunctionRuntime::from(prop_str(props, "runtime")?))
        .build()
        .map_err(|e| AwsError::Api {
            operation: "CreateFunction",
            code: None,
            message: format!("incomplete function config: {e}"),
        })
}

fn single_attempt() -> aws_sdk_cloudfront::config::Builder {
    aws_sdk_cloudfront::config::Builder::default()
        .retry_config(aws_config::retry::RetryConfig::disabled())
}

/// The ETag of the function's DEVELOPMENT stage, `None` when it is gone.
async fn development_etag(aws: &Aws, name: &str) -> Result<Option<String>, AwsError> {
    let out = AwsError::none_if_not_found(
        aws.cloudfront
            .describe_function()
            .name(name)
            .stage(FunctionStage::Development)
            .send()
            .await
            .or_aws("DescribeFunction"),
    )?;
    Ok(out.and_then(|o| o.e_tag().map(str::to_owned)))
}

async fn publish(aws: &Aws, name: &str, etag: &str) -> Result<(), AwsError> {
    aws.cloudfront
        .publish_function()
        .name(name)
        .if_match(etag)
        .send()
        .await
        .or_aws("PublishFunction")?;
    Ok(())
}

/// Writes `props` into the existing function's DEVELOPMENT stage and
/// publishes it.
async fn write_and_publish(aws: &Aws, name: &str, props: &Props) -> Result<(), AwsError> {
    let Some(etag) = development_etag(aws, name).await? else {
        return Err(AwsError::Api {
            operation: "UpdateFunction",
            code: Some("NoSuchFunctionExists".into()),
            message: format!("function {name} no longer exists"),
        });
    };
    let out = aws
        .cloudfront
        .update_function()
        .name(name)
        .if_match(etag)
        .function_config(config(props)?)
        .function_code(Blob::new(prop_str(props, "code")?.as_bytes()))
        // One attempt: the SDK's repeat after a lost response would name
        // the ETag the first attempt replaced (412); the engine reads the
        // function again and starts over instead.
        .customize()
        .config_override(single_attempt())
        .send()
        .await
        .or_aws("UpdateFunction")?;
    publish(aws, name, out.e_tag().unwrap_or_default()).await
}

/// What the LIVE stage runs, as properties; the code is "" (never
/// published) when the function exists only in DEVELOPMENT.
async fn observed(aws: &Aws, id: String, name: &str, arn: &str) -> Result<Observed, AwsError> {
    let live = AwsError::none_if_not_found(
        aws.cloudfront
            .describe_function()
            .name(name)
            .stage(FunctionStage::Live)
            .send()
            .await
            .or_aws("DescribeFunction"),
    )?;
    let code = match &live {
        Some(_) => aws
            .cloudfront
            .get_function()
            .name(name)
            .stage(FunctionStage::Live)
            .send()
            .await
            .or_aws("GetFunction")?
            .function_code()
            .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
            .unwrap_or_default(),
        None => String::new(),
    };
    let summary = live.as_ref().and_then(|l| l.function_summary());
    let config = summary.and_then(|s| s.function_config());
    let mut found = Observed::new(id, Kind::CloudfrontFunction, name);
    found.props = Props::from([
        ("name".to_string(), Value::str(name)),
        (
            "comment".to_string(),
            Value::str(config.map(|c| c.comment()).unwrap_or_default()),
        ),
        (
            "runtime".to_string(),
            Value::str(config.map(|c| c.runtime().as_str()).unwrap_or_default()),
        ),
        ("code".to_string(), Value::str(code)),
    ]);
    found.attrs.insert("arn".into(), arn.to_owned());
    Ok(found)
}

#[async_trait]
impl ResourceType for CloudfrontFunction {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("comment", Ty::Str),
            PropSpec::required("runtime", Ty::Str),
            PropSpec::required("code", Ty::Str),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        // ListFunctions has no paginator in the SDK: follow NextMarker.
        let mut summaries = Vec::new();
        let mut marker = None;
        loop {
            let out = aws
                .cloudfront
                .list_functions()
                .stage(FunctionStage::Development)
                .set_marker(marker)
                .send()
                .await
                .or_aws("ListFunctions")?;
            let list = out.function_list();
            summaries.extend(list.map(|l| l.items().to_vec()).unwrap_or_default());
            marker = list
                .and_then(|l| l.next_marker())
                .filter(|m| !m.is_empty())
                .map(str::to_owned);
            if marker.is_none() {
                break;
            }
        }
        let mut found = Vec::new();
        for s in summaries {
            let Some(id) = scope.id_in_name(s.name(), ID_PREFIX) else {
                continue;
            };
            let arn = s
                .function_metadata()
                .map(|m| m.function_arn())
                .unwrap_or_default();
            found.push(observed(aws, id, s.name(), arn).await?);
        }
        Ok(found)
    }

    async fn create(
        &self,
        aws: &Aws,
        _scope: &Scope,
        _id: &str,
        props: &Props,
        _token: &str,
    ) -> Result<String, AwsError> {
        let name = prop_str(props, "name")?;
        let out = aws
            .cloudfront
            .create_function()
            .name(name)
            .function_config(config(props)?)
            .function_code(Blob::new(prop_str(props, "code")?.as_bytes()))
            // One attempt: a repeat after a lost response meets the name taken.
            .customize()
            .config_override(single_attempt())
            .send()
            .await;
        match out {
            Ok(out) => publish(aws, name, out.e_tag().unwrap_or_default()).await?,
            // No idempotency token; the unique name stands in for one: the
            // first attempt's function gets these properties and is published.
            Err(e) if e.code() == Some("FunctionAlreadyExists") => {
                write_and_publish(aws, name, props).await?;
            }
            Err(e) => return Err(AwsError::from_sdk("CreateFunction", e)),
        }
        Ok(name.to_owned())
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        write_and_publish(aws, &current.physical_id, desired).await
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        let name = &current.physical_id;
        let Some(etag) = development_etag(aws, name).await? else {
            return Ok(());
        };
        gone_ok(
            aws.cloudfront
                .delete_function()
                .name(name)
                .if_match(etag)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteFunction"),
        )
    }

    async fn find(
        &self,
        aws: &Aws,
        scope: &Scope,
        physical_id: &str,
    ) -> Result<Option<Observed>, AwsError> {
        let Some(id) = scope.id_in_name(physical_id, ID_PREFIX) else {
            return Ok(None);
        };
        let out = AwsError::none_if_not_found(
            aws.cloudfront
                .describe_function()
                .name(physical_id)
                .stage(FunctionStage::Development)
                .send()
                .await
                .or_aws("DescribeFunction"),
        )?;
        let Some(out) = out else {
            return Ok(None);
        };
        let arn = out
            .function_summary()
            .and_then(|s| s.function_metadata())
            .map(|m| m.function_arn().to_owned())
            .unwrap_or_default();
        Ok(Some(observed(aws, id, physical_id, &arn).await?))
    }
}
