//! IAM role: trust policy for one AWS service principal (`trust_service`)
//! or a whole trust document (`trust_policy`: the CI deploy roles, which
//! trust GitHub's OIDC provider), an inline policy derived from the stack's
//! declared connections, and attached managed policies. Roles live under the path `/foundry/<stack>/<env>/`; one
//! GetAccountAuthorizationDetails call reads them all with their policies.

use std::borrow::Cow;

use async_trait::async_trait;
use aws_sdk_iam::types::{EntityType, Tag};

use crate::vocab::{PropSpec, Schema, Ty};
use super::{seen_strs, Kind, Observed, ResourceType, Scope, gone_ok, missing, prop_str, prop_strs};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{Props, Value};

pub struct IamRole;

/// The name of foundry's inline policy on every role.
const POLICY_NAME: &str = "foundry";

pub fn path(scope: &Scope) -> String {
    format!("/foundry/{}/{}/", scope.stack, scope.env)
}

/// IAM answers policy documents URL-encoded; emulators sometimes do not.
fn decode(document: &str) -> Cow<'_, str> {
    if document.trim_start().starts_with('{') {
        Cow::Borrowed(document)
    } else {
        percent_encoding::percent_decode_str(document).decode_utf8_lossy()
    }
}

/// JSON → `Value`, arrays as sets (statement and resource order carry no meaning).
pub fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Int(n.as_i64().unwrap_or_default()),
        serde_json::Value::String(s) => Value::str(s),
        serde_json::Value::Array(items) => Value::set(items.iter().map(from_json)),
        serde_json::Value::Object(m) => {
            Value::Map(m.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
        serde_json::Value::Null => Value::str(""),
    }
}

fn service_trust(service: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": { "Service": service }, "Action": "sts:AssumeRole" }]
    })
    .to_string()
}

/// The trust document `props` declare: a whole `trust_policy`, or one
/// service principal's.
fn trust_document(props: &Props) -> Result<String, AwsError> {
    match props.get("trust_policy") {
        Some(policy) => Ok(serde_json::to_string(policy).expect("policy serialises")),
        None => Ok(service_trust(prop_str(props, "trust_service")?)),
    }
}

/// How a role's trust document reads as properties: the service principal
/// of a service role; the whole document of any other.
fn observed_trust(document: &str) -> (&'static str, Value) {
    let service = trusted_service(document);
    if service.is_empty() {
        let v: serde_json::Value = serde_json::from_str(&decode(document)).unwrap_or_default();
        ("trust_policy", from_json(&v))
    } else {
        ("trust_service", Value::str(service))
    }
}

/// The service principal a trust document admits.
fn trusted_service(document: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&decode(document)).unwrap_or_default();
    let statements = match &v["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    statements
        .iter()
        .find_map(|s| match &s["Principal"]["Service"] {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Array(a) => a.first().and_then(|s| s.as_str()).map(str::to_string),
            _ => None,
        })
        .unwrap_or_default()
}

fn has_statements(policy: Option<&Value>) -> bool {
    policy
        .and_then(Value::as_map)
        .and_then(|m| m.get("Statement"))
        .is_some_and(|s| !s.as_list().is_empty())
}

async fn put_policy(aws: &Aws, role: &str, policy: Option<&Value>) -> Result<(), AwsError> {
    if has_statements(policy) {
        let document = serde_json::to_string(policy.expect("checked")).expect("policy serialises");
        aws.iam
            .put_role_policy()
            .role_name(role)
            .policy_name(POLICY_NAME)
            .policy_document(document)
            .send()
            .await
            .or_aws("PutRolePolicy")?;
        Ok(())
    } else {
        gone_ok(
            aws.iam
                .delete_role_policy()
                .role_name(role)
                .policy_name(POLICY_NAME)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteRolePolicy"),
        )
    }
}

#[async_trait]
impl ResourceType for IamRole {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("path", Ty::Str).force_new(),
            PropSpec::optional("trust_service", Ty::Str),
            PropSpec::optional("trust_policy", Ty::Map),
            PropSpec::required("policy", Ty::Map),
            PropSpec::required("managed_policy_arns", Ty::StrSet),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let pages: Vec<_> = aws
            .iam
            .get_account_authorization_details()
            .filter(EntityType::Role)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .or_aws("GetAccountAuthorizationDetails")?;
        let path = path(scope);
        let mut out = Vec::new();
        for role in pages.iter().flat_map(|p| p.role_detail_list()) {
            if role.path() != Some(path.as_str()) {
                continue;
            }
            let tags = role.tags().iter().map(|t| (t.key(), t.value()));
            let (Some(id), Some(name)) = (scope.logical_id(tags), role.role_name()) else {
                continue;
            };
            let mut o = Observed::new(id, Kind::IamRole, name);
            o.props.insert("name".into(), Value::str(name));
            o.props.insert("path".into(), Value::str(&path));
            let (key, trust) =
                observed_trust(role.assume_role_policy_document().unwrap_or_default());
            o.props.insert(key.into(), trust);
            let inline = role
                .role_policy_list()
                .iter()
                .find(|p| p.policy_name() == Some(POLICY_NAME))
                .and_then(|p| p.policy_document())
                .and_then(|d| serde_json::from_str::<serde_json::Value>(&decode(d)).ok());
            o.props.insert(
                "policy".into(),
                inline
                    .as_ref()
                    .map_or_else(|| Value::map([("Statement", Value::set([]))]), from_json),
            );
            o.props.insert(
                "managed_policy_arns".into(),
                Value::set(
                    role.attached_managed_policies()
                        .iter()
                        .filter_map(|p| p.policy_arn())
                        .map(Value::str),
                ),
            );
            if let Some(arn) = role.arn() {
                o.attrs.insert("arn".into(), arn.to_string());
            }
            out.push(o);
        }
        Ok(out)
    }

    /// The role named `physical_id`, with its `arn` attribute (what an App
    /// Runner service references, right after the role is created).
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

    async fn create(
        &self,
        aws: &Aws,
        scope: &Scope,
        id: &str,
        props: &Props,
        _token: &str,
    ) -> Result<String, AwsError> {
        let name = prop_str(props, "name")?;
        let mut call = aws
            .iam
            .create_role()
            .role_name(name)
            .path(prop_str(props, "path")?)
            .assume_role_policy_document(trust_document(props)?);
        for (key, value) in scope.tags(id) {
            call = call.tags(
                Tag::builder()
                    .key(key)
                    .value(value)
                    .build()
                    .expect("key and value are set"),
            );
        }
        call.send().await.or_aws("CreateRole")?;
        put_policy(aws, name, props.get("policy")).await?;
        for arn in prop_strs(props, "managed_policy_arns")? {
            aws.iam
                .attach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .or_aws("AttachRolePolicy")?;
        }
        Ok(name.to_string())
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        let name = &current.physical_id;
        let changed = |key: &str| current.props.get(key) != desired.get(key);
        if changed("trust_service") || changed("trust_policy") {
            aws.iam
                .update_assume_role_policy()
                .role_name(name)
                .policy_document(trust_document(desired)?)
                .send()
                .await
                .or_aws("UpdateAssumeRolePolicy")?;
        }
        if changed("policy") {
            put_policy(aws, name, desired.get("policy")).await?;
        }
        let (have, want) = (
            seen_strs(&current.props, "managed_policy_arns"),
            prop_strs(desired, "managed_policy_arns")?,
        );
        for arn in missing(&want, &have) {
            aws.iam
                .attach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .or_aws("AttachRolePolicy")?;
        }
        for arn in missing(&have, &want) {
            aws.iam
                .detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .or_aws("DetachRolePolicy")?;
        }
        Ok(())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        let name = &current.physical_id;
        for arn in seen_strs(&current.props, "managed_policy_arns") {
            gone_ok(
                aws.iam
                    .detach_role_policy()
                    .role_name(name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map(drop)
                    .or_aws("DetachRolePolicy"),
            )?;
        }
        put_policy(aws, name, None).await?;
        gone_ok(
            aws.iam
                .delete_role()
                .role_name(name)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteRole"),
        )
    }
}
