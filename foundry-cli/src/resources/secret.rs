//! Secrets Manager secret, named `<stack>/<env>/<name>`. foundry manages the
//! secret and its description, never its value: a value is generated at
//! creation when asked for, or put by `foundry secret set`, and is never read
//! back, printed or stored.

use async_trait::async_trait;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};

use crate::vocab::{PropSpec, Schema, Ty};
use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_str};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{Props, Value};

pub struct Secret;

/// Logical id of a named secret.
pub fn logical_id(name: &str) -> String {
    format!("secret-{name}")
}

/// Days a deleted secret can still be restored (with its value); `destroy`
/// names them, and the next `up` restores rather than recreates them.
pub const RECOVERY_WINDOW_DAYS: i64 = 7;

/// Secrets Manager's idempotency token, 32 to 64 characters, from the
/// journaled create token: a create retried after a lost response (by the
/// SDK or by a rerun) is then the same request, not a second secret version.
fn client_request_token(token: &str) -> String {
    let mut t: String = token.chars().take(64).collect();
    while t.len() < 32 {
        t.push('0');
    }
    t
}

/// A random value: 48 characters from a 62-letter alphabet (about 285 bits).
fn generate_value() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 48)
}

/// A secret of this name deleted by an earlier destroy and still in its
/// recovery window is brought back (with its value) rather than failing the
/// create. `None` when the name is taken by a secret that was not deleted.
async fn restore(aws: &Aws, name: &str, props: &Props) -> Result<Option<String>, AwsError> {
    let existing = aws
        .secrets
        .describe_secret()
        .secret_id(name)
        .send()
        .await
        .or_aws("DescribeSecret")?;
    if existing.deleted_date().is_none() {
        return Ok(None);
    }
    let restored = aws
        .secrets
        .restore_secret()
        .secret_id(name)
        .send()
        .await
        .or_aws("RestoreSecret")?;
    aws.secrets
        .update_secret()
        .secret_id(name)
        .description(prop_str(props, "description")?)
        .send()
        .await
        .or_aws("UpdateSecret")?;
    Ok(Some(restored.arn().unwrap_or_default().to_string()))
}

#[async_trait]
impl ResourceType for Secret {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("description", Ty::Str),
            PropSpec::required("create:generate_value", Ty::Bool),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let prefix = format!("{}/{}/", scope.stack, scope.env);
        let pages: Vec<_> = aws
            .secrets
            .list_secrets()
            .filters(
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values(&prefix)
                    .build(),
            )
            .into_paginator()
            .send()
            .try_collect()
            .await
            .or_aws("ListSecrets")?;
        let secrets: Vec<_> = pages.iter().flat_map(|p| p.secret_list()).collect();
        Ok(secrets
            .iter()
            .filter(|s| s.deleted_date().is_none())
            .filter_map(|s| {
                let tags = s.tags().iter().filter_map(|t| Some((t.key()?, t.value()?)));
                let id = scope.logical_id(tags)?;
                let name = s.name()?;
                // The ARN, not the name, is the id: IAM policies grant by ARN.
                let mut o = Observed::new(id, Kind::Secret, s.arn()?);
                o.props.insert("name".into(), Value::str(name));
                o.props.insert(
                    "description".into(),
                    Value::str(s.description().unwrap_or_default()),
                );
                Some(o)
            })
            .collect())
    }

    async fn create(
        &self,
        aws: &Aws,
        scope: &Scope,
        id: &str,
        props: &Props,
        token: &str,
    ) -> Result<String, AwsError> {
        let name = prop_str(props, "name")?;
        let mut call = aws
            .secrets
            .create_secret()
            .name(name)
            .description(prop_str(props, "description")?)
            .client_request_token(client_request_token(token));
        for (key, value) in scope.tags(id) {
            call = call.tags(Tag::builder().key(key).value(value).build());
        }
        if props
            .get(crate::vocab::CREATE_ONLY_GENERATE)
            .and_then(Value::as_bool)
            == Some(true)
        {
            call = call.secret_string(generate_value());
        }
        match call.send().await {
            Ok(out) => Ok(out.arn().unwrap_or_default().to_string()),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_invalid_request_exception() || s.is_resource_exists_exception()
                }) =>
            {
                restore(aws, name, props)
                    .await?
                    .ok_or_else(|| AwsError::from_sdk("CreateSecret", e))
            }
            Err(e) => Err(AwsError::from_sdk("CreateSecret", e)),
        }
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        aws.secrets
            .update_secret()
            .secret_id(&current.physical_id)
            .description(prop_str(desired, "description")?)
            .send()
            .await
            .or_aws("UpdateSecret")?;
        Ok(())
    }

    /// Scheduled for deletion with AWS's 7-day recovery window, never
    /// deleted outright: a destroyed environment's keys can be restored.
    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        let deleted = aws
            .secrets
            .delete_secret()
            .secret_id(&current.physical_id)
            .recovery_window_in_days(RECOVERY_WINDOW_DAYS)
            .send()
            .await;
        match deleted {
            // A retry of a delete whose answer was lost: already scheduled.
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_invalid_request_exception()
                        && s.message().is_some_and(|m| {
                            m.contains("marked for deletion") || m.contains("marked deleted")
                        })
                }) =>
            {
                Ok(())
            }
            other => gone_ok(other.map(drop).or_aws("DeleteSecret")),
        }
    }
}

/// Stores a new value (`foundry secret set`); returns the new version id.
/// The value goes to AWS and nowhere else.
/// Stores a new generated value for the generated secret `name` (its full
/// name); returns the new version id. The value is never returned.
pub async fn rotate_generated(aws: &Aws, name: &str) -> Result<String, AwsError> {
    put_value(aws, name, generate_value()).await
}

pub async fn put_value(aws: &Aws, name: &str, value: String) -> Result<String, AwsError> {
    let out = aws
        .secrets
        .put_secret_value()
        .secret_id(name)
        .secret_string(value)
        .send()
        .await;
    match out {
        Ok(o) => Ok(o.version_id().unwrap_or_default().to_string()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Err(AwsError::Api {
                operation: "PutSecretValue",
                code: Some("ResourceNotFoundException".into()),
                message: format!(
                    "secret {name} does not exist yet; run `foundry up` for this environment first"
                ),
            })
        }
        Err(e) => Err(AwsError::from_sdk("PutSecretValue", e)),
    }
}
