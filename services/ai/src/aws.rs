//! AWS SDK configuration from [`AwsEnv`]: explicit region, endpoint and
//! credentials when the environment gives them, the SDK's default chain
//! otherwise. SDK retries are off: the gateway owns retry policy.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_bedrockruntime::config::Credentials;

use crate::config::{AwsEnv, ConfigError, Secret, validate_internal_key};

pub async fn sdk_config(aws: &AwsEnv) -> SdkConfig {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).retry_config(RetryConfig::disabled());
    if let Some(region) = &aws.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &aws.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(creds) = &aws.credentials {
        loader = loader.credentials_provider(Credentials::new(
            creds.access_key_id.clone(),
            creds.secret_access_key.expose(),
            creds
                .session_token
                .as_ref()
                .map(Secret::expose)
                .map(str::to_owned),
            None,
            "ai-gateway-environment",
        ));
    }
    loader.load().await
}

/// A Secrets Manager client. Unlike provider calls, a secret read is not
/// the gateway's to retry (start-up, or a password refused mid-request): a
/// transient failure deserves the SDK's own retries.
pub async fn secrets_manager(aws: &AwsEnv) -> aws_sdk_secretsmanager::Client {
    let mut config = sdk_config(aws).await.into_builder();
    config.set_retry_config(Some(RetryConfig::standard().with_max_attempts(3)));
    aws_sdk_secretsmanager::Client::new(&config.build())
}

/// Reads the internal API key from Secrets Manager (SecretString, trimmed).
pub async fn internal_key_from_secrets_manager(
    secret_id: &str,
    aws: &AwsEnv,
) -> Result<Secret, ConfigError> {
    const VAR: &str = "AI_INTERNAL_API_KEY_SECRET_ID";
    let client = secrets_manager(aws).await;
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|err| {
            let detail = aws_sdk_secretsmanager::error::DisplayErrorContext(&err).to_string();
            ConfigError::Invalid {
                name: VAR.into(),
                reason: format!("cannot read secret `{secret_id}`: {detail}"),
            }
        })?;
    let value = output.secret_string().ok_or_else(|| ConfigError::Invalid {
        name: VAR.into(),
        reason: format!("secret `{secret_id}` has no SecretString"),
    })?;
    validate_internal_key(VAR, value.to_string())
}
