//! `RuntimeEnvironmentSecrets`: each value is a Secrets Manager secret ARN,
//! optionally with App Runner's (and ECS's) suffix `:json-key:stage:version`
//! that picks one key of a JSON secret. Values are fetched when an instance
//! starts and go only into its environment: never into a log or an answer.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};

use crate::Config;

pub(crate) struct SecretsClient {
    endpoint: Option<String>,
    unset_without_value: bool,
    region: String,
    client: OnceLock<aws_sdk_secretsmanager::Client>,
}

/// A parsed secret reference.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SecretRef {
    pub secret_arn: String,
    pub json_key: Option<String>,
    pub version_stage: Option<String>,
    pub version_id: Option<String>,
}

impl SecretRef {
    pub fn parse(reference: &str) -> Result<SecretRef, String> {
        let parts: Vec<&str> = reference.split(':').collect();
        if parts.len() < 7
            || parts[0] != "arn"
            || parts[2] != "secretsmanager"
            || parts[5] != "secret"
        {
            return Err(format!(
                "{reference} is not a Secrets Manager secret ARN (Parameter Store references are not emulated)"
            ));
        }
        let optional = |i: usize| {
            parts
                .get(i)
                .filter(|p| !p.is_empty())
                .map(|p| p.to_string())
        };
        Ok(SecretRef {
            secret_arn: parts[..7].join(":"),
            json_key: optional(7),
            version_stage: optional(8),
            version_id: optional(9),
        })
    }
}

impl SecretsClient {
    pub fn new(config: &Config) -> SecretsClient {
        SecretsClient {
            endpoint: config.secrets_endpoint.clone(),
            unset_without_value: config.unset_secrets_without_value,
            region: config.region.clone(),
            client: OnceLock::new(),
        }
    }

    fn client(&self, endpoint: &str) -> &aws_sdk_secretsmanager::Client {
        self.client.get_or_init(|| {
            // A local stand-in (moto) takes any signature.
            let config = aws_sdk_secretsmanager::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(self.region.clone()))
                .endpoint_url(endpoint)
                .credentials_provider(Credentials::new(
                    "emulator",
                    "emulator",
                    None,
                    None,
                    "apprunner-emulator",
                ))
                .build();
            aws_sdk_secretsmanager::Client::from_conf(config)
        })
    }

    /// Every secret's value by environment variable name; an error names the
    /// variable and the reference, never a value.
    pub async fn resolve(
        &self,
        secrets: &BTreeMap<String, String>,
    ) -> Result<Vec<(String, String)>, String> {
        if secrets.is_empty() {
            return Ok(Vec::new());
        }
        let endpoint = self.endpoint.as_deref().ok_or(
            "the service has RuntimeEnvironmentSecrets but the emulator has no Secrets Manager endpoint (--secrets-endpoint)",
        )?;
        let client = self.client(endpoint);
        let mut resolved = Vec::with_capacity(secrets.len());
        for (name, reference) in secrets {
            let secret = SecretRef::parse(reference).map_err(|e| format!("secret {name}: {e}"))?;
            let fetched = client
                .get_secret_value()
                .secret_id(&secret.secret_arn)
                .set_version_stage(secret.version_stage.clone())
                .set_version_id(secret.version_id.clone())
                .send()
                .await;
            // A secret that exists but holds no value yet.
            let no_value = fetched.as_ref().is_err_and(|e| {
                e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception())
            });
            if no_value && self.unset_without_value {
                continue;
            }
            let fetched = fetched.map_err(|e| {
                format!(
                    "secret {name}: cannot read {}: {}",
                    secret.secret_arn,
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                )
            })?;
            let text = fetched.secret_string().ok_or_else(|| {
                format!(
                    "secret {name}: {} holds binary data, not a string",
                    secret.secret_arn
                )
            })?;
            let value = match &secret.json_key {
                None => text.to_owned(),
                Some(key) => {
                    let json: serde_json::Value = serde_json::from_str(text).map_err(|_| {
                        format!("secret {name}: {} is not a JSON object", secret.secret_arn)
                    })?;
                    match json.get(key) {
                        Some(serde_json::Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                        None => {
                            return Err(format!(
                                "secret {name}: {} has no key {key:?}",
                                secret.secret_arn
                            ));
                        }
                    }
                }
            };
            resolved.push((name.clone(), value));
        }
        Ok(resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::SecretRef;

    #[test]
    fn references_parse_as_app_runner_reads_them() {
        let base = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";
        let cases = [
            (base.to_owned(), Some((None, None, None))),
            (
                format!("{base}:password::"),
                Some((Some("password"), None, None)),
            ),
            (
                format!("{base}:password:AWSPREVIOUS:"),
                Some((Some("password"), Some("AWSPREVIOUS"), None)),
            ),
            (
                format!("{base}::AWSCURRENT:"),
                Some((None, Some("AWSCURRENT"), None)),
            ),
            (
                "arn:aws:ssm:us-east-1:123456789012:parameter/x".to_owned(),
                None,
            ),
        ];
        for (reference, expected) in cases {
            let parsed = SecretRef::parse(&reference);
            match expected {
                None => assert!(parsed.is_err(), "{reference}"),
                Some((key, stage, id)) => {
                    let parsed = parsed.unwrap();
                    assert_eq!(parsed.secret_arn, base);
                    assert_eq!(parsed.json_key.as_deref(), key);
                    assert_eq!(parsed.version_stage.as_deref(), stage);
                    assert_eq!(parsed.version_id.as_deref(), id);
                }
            }
        }
    }
}
