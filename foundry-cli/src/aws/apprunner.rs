//! App Runner helpers: the names foundry gives (App Runner names are short
//! and cannot be tagged into a listing filter), tags at creation, ownership
//! read back from the tags, listings with their pagination, and the waits
//! for a service to leave `OPERATION_IN_PROGRESS` and for a VPC ingress
//! connection to settle.

use std::time::Duration;

use aws_sdk_apprunner::types::{Service, ServiceStatus, Tag};

use super::{Aws, AwsError, SdkResultExt, wait};
use crate::vocab::Scope;

/// Longest names App Runner takes: auto scaling and observability
/// configurations 32, services, VPC connectors and ingress connections 40.
pub const CONFIG_NAME_MAX: usize = 32;
pub const NAME_MAX: usize = 40;

/// How long a service operation may take (App Runner's take minutes).
pub const SERVICE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How long a VPC ingress connection or a deletion may take.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The App Runner name of logical id `id` ([`Scope::short_name`]; App
/// Runner takes `[A-Za-z0-9-_]`).
pub fn name(scope: &Scope, id: &str, max: usize) -> String {
    scope.short_name(id, max, &['_'])
}

/// Whether an App Runner name may be one this scope gave: names start with
/// `<stack>-<env>-` (or the part of it a shortened name keeps). Tags decide.
pub fn may_be_ours(scope: &Scope, name: &str, max: usize) -> bool {
    name.starts_with(&name_prefix(scope, max))
}

/// What every name [`name`] gives in `scope` starts with.
pub fn name_prefix(scope: &Scope, max: usize) -> String {
    scope.short_name_prefix(max)
}

/// `foundry:*` and `Name` tags for a create call.
pub fn tags(scope: &Scope, id: &str) -> Vec<Tag> {
    scope
        .tags(id)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The logical id the resource `arn` has in `scope`, from its tags; `None`
/// when it is another stack's, nobody's, or gone.
pub async fn logical_id(aws: &Aws, scope: &Scope, arn: &str) -> Result<Option<String>, AwsError> {
    let listed = AwsError::none_if_not_found(
        aws.apprunner
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .or_aws("ListTagsForResource"),
    )?;
    Ok(listed.and_then(|out| {
        scope.logical_id(
            out.tags()
                .iter()
                .filter_map(|t| Some((t.key()?, t.value()?))),
        )
    }))
}

/// Every service in the account and region (`ListServices`, all pages):
/// ARN and name.
pub async fn list_services(aws: &Aws) -> Result<Vec<(String, String)>, AwsError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .apprunner
            .list_services()
            .set_next_token(token)
            .send()
            .await
            .or_aws("ListServices")?;
        out.extend(
            page.service_summary_list().iter().filter_map(|s| {
                Some((s.service_arn()?.to_string(), s.service_name()?.to_string()))
            }),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// The service, or `None` when it is gone (deleted services stay
/// describable for a while with status `DELETED`: also `None`).
pub async fn describe_service(aws: &Aws, arn: &str) -> Result<Option<Service>, AwsError> {
    let out = AwsError::none_if_not_found(
        aws.apprunner
            .describe_service()
            .service_arn(arn)
            .send()
            .await
            .or_aws("DescribeService"),
    )?;
    Ok(out
        .and_then(|o| o.service)
        .filter(|s| s.status() != &ServiceStatus::Deleted))
}

/// The id of the service's latest operation, if it has one.
pub async fn latest_operation(aws: &Aws, arn: &str) -> Result<Option<String>, AwsError> {
    let out = AwsError::none_if_not_found(
        aws.apprunner
            .list_operations()
            .service_arn(arn)
            .max_results(1)
            .send()
            .await
            .or_aws("ListOperations"),
    )?;
    Ok(out.and_then(|o| {
        o.operation_summary_list()
            .first()
            .and_then(|op| op.id().map(str::to_string))
    }))
}

/// Waits until the service's operation is over: `RUNNING` (or `PAUSED`).
/// `CREATE_FAILED` ends the wait with an error naming the state; App Runner
/// keeps an update that failed health checks off the traffic and goes back
/// to `RUNNING` (the operation, not the service, says it failed).
pub async fn wait_service_settled(aws: &Aws, arn: &str) -> Result<(), AwsError> {
    wait::until(
        &format!("App Runner service {arn}"),
        &["RUNNING", "PAUSED"],
        &["CREATE_FAILED", "DELETE_FAILED", "gone"],
        SERVICE_TIMEOUT,
        || async {
            Ok(describe_service(aws, arn)
                .await?
                .map(|s| (s.status().as_str().to_string(), String::new())))
        },
    )
    .await
}

/// Waits until the service is deleted.
pub async fn wait_service_deleted(aws: &Aws, arn: &str) -> Result<(), AwsError> {
    wait::until_deleted(
        &format!("App Runner service {arn}"),
        SERVICE_TIMEOUT,
        || async {
            Ok(describe_service(aws, arn).await?.map(|s| {
                let state = s.status().as_str();
                let state = if state == "DELETE_FAILED" {
                    "failed"
                } else {
                    state
                };
                (state.to_string(), String::new())
            }))
        },
    )
    .await
}
