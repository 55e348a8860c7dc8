//! S3 objects of a bucket foundry fills itself (a static service's files):
//! one listing with ETags, uploads with their headers, server-side copies,
//! batch deletes. Buckets themselves are `resources::bucket`'s.

use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, MetadataDirective, ObjectIdentifier};

use super::{Aws, AwsError, SdkResultExt};

/// Every key under `prefix` with its ETag (quotes removed).
pub async fn list(
    aws: &Aws,
    bucket: &str,
    prefix: &str,
) -> Result<BTreeMap<String, String>, AwsError> {
    let pages: Vec<_> = aws
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .or_aws("ListObjectsV2")?;
    Ok(pages
        .iter()
        .flat_map(|p| p.contents())
        .filter_map(|o| {
            let key = o.key()?.to_string();
            let etag = o.e_tag().unwrap_or_default().trim_matches('"').to_string();
            Some((key, etag))
        })
        .collect())
}

/// An object with the headers a browser and CloudFront read.
pub async fn put(
    aws: &Aws,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
    cache_control: &str,
) -> Result<(), AwsError> {
    aws.s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .cache_control(cache_control)
        .body(ByteStream::from(body))
        .send()
        .await
        .or_aws("PutObject")?;
    Ok(())
}

/// Copies `from` to `to` inside `bucket`, headers included.
pub async fn copy(aws: &Aws, bucket: &str, from: &str, to: &str) -> Result<(), AwsError> {
    let source = format!(
        "{bucket}/{}",
        percent_encoding::utf8_percent_encode(from, KEY)
    );
    aws.s3
        .copy_object()
        .bucket(bucket)
        .key(to)
        .copy_source(source)
        .metadata_directive(MetadataDirective::Copy)
        .send()
        .await
        .or_aws("CopyObject")?;
    Ok(())
}

/// Characters escaped in a copy source (`/` kept: it separates the key's parts).
const KEY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// An object's bytes; `None` when there is no such key.
pub async fn get(aws: &Aws, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, AwsError> {
    let out = match aws.s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
        Err(e) => return Err(AwsError::from_sdk("GetObject", e)),
    };
    let bytes = out.body.collect().await.map_err(|e| AwsError::Api {
        operation: "GetObject",
        code: None,
        message: format!("reading s3://{bucket}/{key}: {e}"),
    })?;
    Ok(Some(bytes.into_bytes().to_vec()))
}

/// Deletes `keys` (already gone counts as deleted), 1000 per request.
pub async fn delete(aws: &Aws, bucket: &str, keys: &[String]) -> Result<(), AwsError> {
    for chunk in keys.chunks(1000) {
        let objects = chunk
            .iter()
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AwsError::Api {
                operation: "DeleteObjects",
                code: None,
                message: e.to_string(),
            })?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| AwsError::Api {
                operation: "DeleteObjects",
                code: None,
                message: e.to_string(),
            })?;
        let out = aws
            .s3
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .or_aws("DeleteObjects")?;
        if let Some(e) = out.errors().first() {
            return Err(AwsError::Api {
                operation: "DeleteObjects",
                code: e.code().map(str::to_string),
                message: format!(
                    "s3://{bucket}/{}: {}",
                    e.key().unwrap_or_default(),
                    e.message().unwrap_or_default()
                ),
            });
        }
    }
    Ok(())
}
