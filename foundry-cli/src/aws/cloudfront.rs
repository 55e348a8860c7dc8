//! CloudFront helpers shared by the origin access control and distribution
//! types: tags at creation, ownership, configs read with their ETag, and the
//! wait for `Deployed`. CloudFront is global and optimistic:
//! every change names the ETag it read (`IfMatch`), and a change is visible at
//! once but spreads to the edge for minutes, hence the long wait.

use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_cloudfront::types::{
    DistributionConfig, InvalidationBatch, OriginAccessControlConfig, Paths, Tag, Tags,
};

use super::wait;
use super::{Aws, AwsError, SdkResultExt};
use crate::vocab::Scope;

/// A distribution deploys to every edge location; 15-30 minutes is common.
pub const DEPLOY_WAIT: Duration = Duration::from_secs(45 * 60);

/// The tags every distribution carries from the moment it exists.
pub fn tags(scope: &Scope, id: &str) -> Tags {
    let items = scope
        .tags(id)
        .into_iter()
        .map(|(key, value)| {
            Tag::builder()
                .key(key)
                .value(value)
                .build()
                .expect("key is set")
        })
        .collect();
    Tags::builder().set_items(Some(items)).build()
}

/// The logical id of a resource with these tags, if it belongs to `scope`.
pub fn owner(scope: &Scope, tags: &Tags) -> Option<String> {
    scope.logical_id(
        tags.items()
            .iter()
            .map(|t| (t.key(), t.value().unwrap_or_default())),
    )
}

/// `E2ABC…` from `arn:aws:cloudfront::<account>:distribution/E2ABC…`: the
/// API takes the id, the rest of foundry names distributions by ARN.
pub fn distribution_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The tags of the resource `arn`.
pub async fn tags_of(aws: &Aws, arn: &str) -> Result<Tags, AwsError> {
    let out = aws
        .cloudfront
        .list_tags_for_resource()
        .resource(arn)
        .send()
        .await
        .or_aws("ListTagsForResource")?;
    Ok(out
        .tags()
        .cloned()
        .unwrap_or_else(|| Tags::builder().build()))
}

/// A distribution's config and the ETag an update must name; `None` when gone.
pub async fn distribution_config(
    aws: &Aws,
    id: &str,
) -> Result<Option<(DistributionConfig, String)>, AwsError> {
    let out = AwsError::none_if_not_found(
        aws.cloudfront
            .get_distribution_config()
            .id(id)
            .send()
            .await
            .or_aws("GetDistributionConfig"),
    )?;
    Ok(out.and_then(|o| {
        let etag = o.e_tag().unwrap_or_default().to_string();
        Some((o.distribution_config()?.clone(), etag))
    }))
}

/// Replaces a distribution's config (read with `etag`); returns the new ETag.
pub async fn update_distribution(
    aws: &Aws,
    id: &str,
    config: DistributionConfig,
    etag: &str,
) -> Result<String, AwsError> {
    let out = aws
        .cloudfront
        .update_distribution()
        .id(id)
        .if_match(etag)
        .distribution_config(config)
        .send()
        .await
        .or_aws("UpdateDistribution")?;
    Ok(out.e_tag().unwrap_or(etag).to_string())
}

/// Waits until distribution `id` is `Deployed`; returns its ETag as last
/// read, which a following update or delete must name, or `None` when the
/// distribution is gone.
pub async fn wait_deployed(aws: &Aws, id: &str) -> Result<Option<String>, AwsError> {
    let etag = Mutex::new(None);
    let last = &etag;
    wait::until(
        &format!("CloudFront distribution {id} to deploy"),
        &["Deployed", "gone"],
        &[],
        DEPLOY_WAIT,
        move || async move {
            let out = AwsError::none_if_not_found(
                aws.cloudfront
                    .get_distribution()
                    .id(id)
                    .send()
                    .await
                    .or_aws("GetDistribution"),
            )?;
            if let Ok(mut slot) = last.lock() {
                *slot = out
                    .as_ref()
                    .map(|o| o.e_tag().unwrap_or_default().to_string());
            }
            Ok(out.and_then(|o| {
                o.distribution()
                    .map(|d| (d.status().to_string(), String::new()))
            }))
        },
    )
    .await?;
    Ok(etag.into_inner().unwrap_or_default())
}

/// An origin access control's config and its ETag; `None` when gone.
pub async fn origin_access_control(
    aws: &Aws,
    id: &str,
) -> Result<Option<(OriginAccessControlConfig, String)>, AwsError> {
    let out = AwsError::none_if_not_found(
        aws.cloudfront
            .get_origin_access_control()
            .id(id)
            .send()
            .await
            .or_aws("GetOriginAccessControl"),
    )?;
    Ok(out.and_then(|o| {
        let config = o.origin_access_control()?.origin_access_control_config()?;
        Some((config.clone(), o.e_tag().unwrap_or_default().to_string()))
    }))
}

/// Invalidates `paths` of distribution `id`; returns the invalidation's id.
/// `caller_reference` must be the same for the same intent: CloudFront
/// then answers a repeated request with the first invalidation instead of
/// making a second.
pub async fn invalidate(
    aws: &Aws,
    id: &str,
    caller_reference: &str,
    paths: &[String],
) -> Result<String, AwsError> {
    let paths = Paths::builder()
        .quantity(paths.len() as i32)
        .set_items(Some(paths.to_vec()))
        .build()
        .map_err(|e| invalid_batch(e.to_string()))?;
    let batch = InvalidationBatch::builder()
        .paths(paths)
        .caller_reference(caller_reference)
        .build()
        .map_err(|e| invalid_batch(e.to_string()))?;
    let out = aws
        .cloudfront
        .create_invalidation()
        .distribution_id(id)
        .invalidation_batch(batch)
        .send()
        .await
        .or_aws("CreateInvalidation")?;
    Ok(out
        .invalidation()
        .map(|i| i.id().to_string())
        .unwrap_or_default())
}

fn invalid_batch(message: String) -> AwsError {
    AwsError::Api {
        operation: "CreateInvalidation",
        code: None,
        message,
    }
}
