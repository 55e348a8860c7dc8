//! IAM OpenID Connect identity provider (GitHub Actions' token issuer).
//!
//! An account has at most one provider per issuer URL, and every stack with
//! `[ci] github` needs the same one, so it is shared: each stack
//! environment that uses it carries a usage tag on it
//! (`foundry:uses:<stack>/<env>`). Creating adopts a provider that already
//! exists by adding the tag; deleting removes the tag, and deletes the
//! provider only when no usage tag is left and foundry created it (a
//! provider someone made by hand is never deleted). IAM has no conditional
//! writes: two stacks destroyed and created at the same instant could race
//! here, which `foundry destroy`'s lock per stack does not prevent.

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;

use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_str, prop_strs, seen_strs};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{PropSpec, Props, Schema, Ty, Value};

pub struct IamOidcProvider;

/// GitHub Actions' token issuer.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The audience `aws-actions/configure-aws-credentials` asks tokens for.
pub const STS_AUDIENCE: &str = "sts.amazonaws.com";
/// Marks a provider foundry created (and so may delete once unused).
const CREATED_TAG: &str = "foundry:created";
const USES_PREFIX: &str = "foundry:uses:";

/// The tag that says `scope` uses the provider.
pub fn usage_tag(scope: &Scope) -> String {
    format!("{USES_PREFIX}{}/{}", scope.stack, scope.env)
}

/// The provider's ARN for `url` in `account`: IAM names it after the URL's host.
fn arn(account: &str, url: &str) -> String {
    format!(
        "arn:aws:iam::{account}:oidc-provider/{}",
        url.trim_start_matches("https://")
    )
}

/// The stack environments a provider's tags say use it.
fn users(tags: &[Tag]) -> Vec<&str> {
    tags.iter()
        .filter_map(|t| t.key().strip_prefix(USES_PREFIX))
        .collect()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder()
        .key(key)
        .value(value)
        .build()
        .expect("key and value are set")
}

/// The provider at `arn`, or None when IAM has none there.
async fn get(
    aws: &Aws,
    arn: &str,
) -> Result<Option<aws_sdk_iam::operation::get_open_id_connect_provider::GetOpenIdConnectProviderOutput>, AwsError> {
    match aws
        .iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(arn)
        .send()
        .await
        .or_aws("GetOpenIDConnectProvider")
    {
        Ok(found) => Ok(Some(found)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl ResourceType for IamOidcProvider {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("url", Ty::Str).force_new(),
            PropSpec::required("client_ids", Ty::StrSet),
        ];
        SCHEMA
    }

    /// The providers carrying this scope's usage tag: one listing, and one
    /// read of each provider whose issuer foundry uses.
    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let listed = aws
            .iam
            .list_open_id_connect_providers()
            .send()
            .await
            .or_aws("ListOpenIDConnectProviders")?;
        let host = GITHUB_ISSUER.trim_start_matches("https://");
        let usage = usage_tag(scope);
        let mut out = Vec::new();
        for arn in listed
            .open_id_connect_provider_list()
            .iter()
            .filter_map(|p| p.arn())
            .filter(|arn| arn.ends_with(&format!("oidc-provider/{host}")))
        {
            let Some(provider) = get(aws, arn).await? else {
                continue;
            };
            let Some(id) = provider
                .tags()
                .iter()
                .find(|t| t.key() == usage)
                .map(|t| t.value().to_string())
            else {
                continue;
            };
            let mut o = Observed::new(id, Kind::IamOidcProvider, arn);
            o.props.insert("url".into(), Value::str(GITHUB_ISSUER));
            // Only the audience foundry asks for: another user's extra
            // audiences are theirs, not drift.
            o.props.insert(
                "client_ids".into(),
                Value::set(
                    provider
                        .client_id_list()
                        .iter()
                        .filter(|c| *c == STS_AUDIENCE)
                        .map(Value::str),
                ),
            );
            o.attrs.insert("arn".into(), arn.to_string());
            o.attrs.insert("usage".into(), usage.clone());
            o.attrs
                .insert("users".into(), users(provider.tags()).join(","));
            out.push(o);
        }
        Ok(out)
    }

    async fn find(
        &self,
        aws: &Aws,
        scope: &Scope,
        physical_id: &str,
    ) -> Result<Option<Observed>, AwsError> {
        Ok(self
            .observe(aws, scope)
            .await?
            .into_iter()
            .find(|o| o.physical_id == physical_id))
    }

    /// Creates the provider with this scope's usage tag, or adopts the one
    /// the account already has by tagging it.
    async fn create(
        &self,
        aws: &Aws,
        scope: &Scope,
        id: &str,
        props: &Props,
        _token: &str,
    ) -> Result<String, AwsError> {
        let url = prop_str(props, "url")?;
        let client_ids = prop_strs(props, "client_ids")?;
        let created = aws
            .iam
            .create_open_id_connect_provider()
            .url(url)
            .set_client_id_list(Some(client_ids.clone()))
            .tags(tag(&usage_tag(scope), id))
            .tags(tag(CREATED_TAG, &format!("{}/{}", scope.stack, scope.env)))
            .send()
            .await
            .or_aws("CreateOpenIDConnectProvider");
        match created {
            Ok(out) => Ok(out
                .open_id_connect_provider_arn()
                .unwrap_or_default()
                .to_string()),
            Err(e) if e.is_already_exists() => {
                let arn = arn(&crate::aws::account_id(aws).await?, url);
                aws.iam
                    .tag_open_id_connect_provider()
                    .open_id_connect_provider_arn(&arn)
                    .tags(tag(&usage_tag(scope), id))
                    .send()
                    .await
                    .or_aws("TagOpenIDConnectProvider")?;
                let current = get(aws, &arn).await?;
                let have: Vec<String> = current
                    .iter()
                    .flat_map(|p| p.client_id_list().iter().cloned())
                    .collect();
                add_client_ids(aws, &arn, &client_ids, &have).await?;
                Ok(arn)
            }
            Err(e) => Err(e),
        }
    }

    /// Adds the audiences foundry needs; never removes another user's.
    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        add_client_ids(
            aws,
            &current.physical_id,
            &prop_strs(desired, "client_ids")?,
            &seen_strs(&current.props, "client_ids"),
        )
        .await
    }

    /// Removes this scope's usage tag; deletes the provider once nobody
    /// uses it, if foundry created it.
    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        let arn = &current.physical_id;
        let Some(provider) = get(aws, arn).await? else {
            return Ok(());
        };
        let usage = current.attrs.get("usage").cloned().unwrap_or_default();
        let tags = provider.tags();
        if tags.iter().any(|t| t.key() == usage) {
            aws.iam
                .untag_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .tag_keys(&usage)
                .send()
                .await
                .or_aws("UntagOpenIDConnectProvider")?;
        }
        let others = tags
            .iter()
            .filter(|t| t.key().starts_with(USES_PREFIX) && t.key() != usage)
            .count();
        let created_by_foundry = tags.iter().any(|t| t.key() == CREATED_TAG);
        if others > 0 || !created_by_foundry {
            return Ok(());
        }
        gone_ok(
            aws.iam
                .delete_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteOpenIDConnectProvider"),
        )
    }
}

async fn add_client_ids(
    aws: &Aws,
    arn: &str,
    want: &[String],
    have: &[String],
) -> Result<(), AwsError> {
    for client_id in super::missing(want, have) {
        aws.iam
            .add_client_id_to_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .client_id(client_id)
            .send()
            .await
            .or_aws("AddClientIDToOpenIDConnectProvider")?;
    }
    Ok(())
}
