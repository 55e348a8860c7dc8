//! CloudFront origin access control: how the distribution signs its requests
//! to the web bucket (SigV4, always), so the bucket can stay private. The API
//! has no tags, so an OAC is known by its deterministic name
//! `<stack>-<env>-<id>`, the way alarms are; names are unique in the account,
//! which also makes a create retried after a crash find the first one. Every
//! change names the ETag just read.

use async_trait::async_trait;
use aws_sdk_cloudfront::error::ProvideErrorMetadata;
use aws_sdk_cloudfront::types::{
    OriginAccessControlConfig, OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols, OriginAccessControlSummary,
};

use crate::vocab::{PropSpec, Schema, Ty};
use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_str};
use crate::aws::cloudfront::origin_access_control;
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{Props, Value};

pub struct OriginAccessControl;

/// Logical ids of origin access controls start with this, which tells ours
/// from another environment's whose name extends this one (`dev`, `dev-2`).
const ID_PREFIX: &str = "oac-";

fn props_of(o: &OriginAccessControlSummary) -> Props {
    Props::from([
        ("name".to_string(), Value::str(o.name())),
        ("description".to_string(), Value::str(o.description())),
        (
            "origin_type".to_string(),
            Value::str(o.origin_access_control_origin_type().as_str()),
        ),
        (
            "signing_behavior".to_string(),
            Value::str(o.signing_behavior().as_str()),
        ),
        (
            "signing_protocol".to_string(),
            Value::str(o.signing_protocol().as_str()),
        ),
    ])
}

fn config(props: &Props, operation: &'static str) -> Result<OriginAccessControlConfig, AwsError> {
    OriginAccessControlConfig::builder()
        .name(prop_str(props, "name")?)
        .description(prop_str(props, "description")?)
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::from(prop_str(
            props,
            "origin_type",
        )?))
        .signing_behavior(OriginAccessControlSigningBehaviors::from(prop_str(
            props,
            "signing_behavior",
        )?))
        .signing_protocol(OriginAccessControlSigningProtocols::from(prop_str(
            props,
            "signing_protocol",
        )?))
        .build()
        .map_err(|e| AwsError::Api {
            operation,
            code: None,
            message: format!("incomplete origin access control: {e}"),
        })
}

/// Every OAC in the account (the listing has no filter).
async fn list(aws: &Aws) -> Result<Vec<OriginAccessControlSummary>, AwsError> {
    aws.cloudfront
        .list_origin_access_controls()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_aws("ListOriginAccessControls")
}

#[async_trait]
impl ResourceType for OriginAccessControl {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str),
            PropSpec::required("description", Ty::Str),
            PropSpec::required("origin_type", Ty::Str),
            PropSpec::required("signing_behavior", Ty::Str),
            PropSpec::required("signing_protocol", Ty::Str),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        Ok(list(aws)
            .await?
            .iter()
            .filter_map(|o| {
                let id = scope.id_in_name(o.name(), ID_PREFIX)?;
                let mut found = Observed::new(id, Kind::OriginAccessControl, o.id());
                found.props = props_of(o);
                Some(found)
            })
            .collect())
    }

    async fn create(
        &self,
        aws: &Aws,
        _scope: &Scope,
        _id: &str,
        props: &Props,
        _token: &str,
    ) -> Result<String, AwsError> {
        let out = aws
            .cloudfront
            .create_origin_access_control()
            .origin_access_control_config(config(props, "CreateOriginAccessControl")?)
            // One attempt: a repeat after a lost response must meet the name
            // taken (AWS) or be found by name first (emulators, which allow
            // a second one); the engine looks before it tries again.
            .customize()
            .config_override(
                aws_sdk_cloudfront::config::Builder::default()
                    .retry_config(aws_config::retry::RetryConfig::disabled()),
            )
            .send()
            .await;
        match out {
            Ok(out) => Ok(out
                .origin_access_control()
                .map(|o| o.id().to_string())
                .unwrap_or_default()),
            // No idempotency token; the unique name stands in for one. The
            // next plan repairs any property that differs.
            Err(e) if e.code() == Some("OriginAccessControlAlreadyExists") => {
                let name = prop_str(props, "name")?;
                list(aws)
                    .await?
                    .iter()
                    .find(|o| o.name() == name)
                    .map(|o| o.id().to_string())
                    .ok_or_else(|| AwsError::from_sdk("CreateOriginAccessControl", e))
            }
            Err(e) => Err(AwsError::from_sdk("CreateOriginAccessControl", e)),
        }
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        let id = &current.physical_id;
        let Some((_, etag)) = origin_access_control(aws, id).await? else {
            return Err(AwsError::Api {
                operation: "UpdateOriginAccessControl",
                code: Some("NoSuchOriginAccessControl".into()),
                message: format!("origin access control {id} no longer exists"),
            });
        };
        aws.cloudfront
            .update_origin_access_control()
            .id(id)
            .if_match(etag)
            .origin_access_control_config(config(desired, "UpdateOriginAccessControl")?)
            .send()
            .await
            .or_aws("UpdateOriginAccessControl")?;
        Ok(())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        let id = &current.physical_id;
        let Some((_, etag)) = origin_access_control(aws, id).await? else {
            return Ok(());
        };
        gone_ok(
            aws.cloudfront
                .delete_origin_access_control()
                .id(id)
                .if_match(etag)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteOriginAccessControl"),
        )
    }
}
