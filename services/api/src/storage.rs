//! Uploads go straight to S3 with a pre-signed PUT; the API only signs, then
//! checks what arrived (HEAD) before recording it.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::presigning::PresigningConfig;

pub struct Storage {
    client: Client,
    bucket: String,
}

pub struct PresignedPut {
    pub url: String,
    /// Headers the PUT must carry exactly as given (they are signed).
    pub headers: Vec<(String, String)>,
}

pub struct ObjectInfo {
    pub size: i64,
    pub content_type: Option<String>,
}

impl Storage {
    pub fn new(client: Client, bucket: String) -> Self {
        Self { client, bucket }
    }

    pub async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: i64,
        ttl: Duration,
    ) -> Result<PresignedPut, String> {
        let config = PresigningConfig::expires_in(ttl).map_err(|e| e.to_string())?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(content_length)
            .presigned(config)
            .await
            .map_err(|e| e.to_string())?;
        let headers = request
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Ok(PresignedPut {
            url: request.uri().to_string(),
            headers,
        })
    }

    /// `Ok(None)` when there is no such object.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, String> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(ObjectInfo {
                size: out.content_length().unwrap_or(0),
                content_type: out.content_type().map(str::to_owned),
            })),
            Err(SdkError::ServiceError(e)) if e.err().is_not_found() => Ok(None),
            Err(e) => Err(aws_sdk_s3::error::DisplayErrorContext(e).to_string()),
        }
    }
}
