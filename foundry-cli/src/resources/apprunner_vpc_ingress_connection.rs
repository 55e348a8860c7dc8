//! App Runner VPC ingress connection: makes a private service (`ingress =
//! "private"`) reachable through the VPC's `apprunner.requests` interface
//! endpoint. Every key forces a new connection: App Runner can move one to
//! another VPC endpoint (`UpdateVpcIngressConnection`), but the emulator the
//! tests run against has no such call, and an untested update path is worse
//! than a replacement. Found by the name foundry gives, owned by its tags;
//! creates and deletes wait until the connection settles.

use async_trait::async_trait;
use aws_sdk_apprunner::types::{IngressVpcConfiguration, VpcIngressConnection};

use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_str};
use crate::aws::apprunner::{self, NAME_MAX, SETTLE_TIMEOUT};
use crate::aws::{Aws, AwsError, SdkResultExt, wait};
use crate::vocab::{PropSpec, Props, Schema, Ty, Value};

pub struct ApprunnerVpcIngressConnection;

fn observed(id: String, c: &VpcIngressConnection) -> Option<Observed> {
    let mut o = Observed::new(
        id,
        Kind::ApprunnerVpcIngressConnection,
        c.vpc_ingress_connection_arn()?,
    );
    let config = c.ingress_vpc_configuration();
    o.props = Props::from([
        (
            "name".to_string(),
            Value::str(c.vpc_ingress_connection_name().unwrap_or_default()),
        ),
        (
            "service_arn".to_string(),
            Value::str(c.service_arn().unwrap_or_default()),
        ),
        (
            "vpc_id".to_string(),
            Value::str(config.and_then(|v| v.vpc_id()).unwrap_or_default()),
        ),
        (
            "vpc_endpoint_id".to_string(),
            Value::str(config.and_then(|v| v.vpc_endpoint_id()).unwrap_or_default()),
        ),
    ]);
    o.attrs.insert("arn".into(), o.physical_id.clone());
    if let Some(status) = c.status() {
        o.attrs.insert("status".into(), status.as_str().to_string());
    }
    // The host name the private service answers on inside the VPC.
    if let Some(domain) = c.domain_name() {
        o.attrs.insert("domain".into(), domain.to_string());
    }
    Some(o)
}

async fn describe(aws: &Aws, arn: &str) -> Result<Option<VpcIngressConnection>, AwsError> {
    let out = AwsError::none_if_not_found(
        aws.apprunner
            .describe_vpc_ingress_connection()
            .vpc_ingress_connection_arn(arn)
            .send()
            .await
            .or_aws("DescribeVpcIngressConnection"),
    )?;
    Ok(out
        .and_then(|o| o.vpc_ingress_connection)
        .filter(|c| c.status().is_none_or(|s| s.as_str() != "DELETED")))
}

async fn find_ours(aws: &Aws, scope: &Scope, arn: &str) -> Result<Option<Observed>, AwsError> {
    let Some(connection) = describe(aws, arn).await? else {
        return Ok(None);
    };
    if !connection
        .vpc_ingress_connection_name()
        .is_some_and(|n| apprunner::may_be_ours(scope, n, NAME_MAX))
    {
        return Ok(None);
    }
    let Some(id) = apprunner::logical_id(aws, scope, arn).await? else {
        return Ok(None);
    };
    Ok(observed(id, &connection))
}

/// Waits until the connection is no longer pending: `AVAILABLE`.
async fn until_available(aws: &Aws, arn: &str) -> Result<(), AwsError> {
    wait::until(
        &format!("VPC ingress connection {arn}"),
        &["AVAILABLE"],
        &["FAILED_CREATION", "FAILED_DELETION", "gone"],
        SETTLE_TIMEOUT,
        || async { Ok(describe(aws, arn).await?.map(|c| status(&c))) },
    )
    .await
}

fn status(c: &VpcIngressConnection) -> (String, String) {
    (
        c.status().map(|s| s.as_str()).unwrap_or("gone").to_string(),
        String::new(),
    )
}

fn config(props: &Props) -> Result<IngressVpcConfiguration, AwsError> {
    Ok(IngressVpcConfiguration::builder()
        .vpc_id(prop_str(props, "vpc_id")?)
        .vpc_endpoint_id(prop_str(props, "vpc_endpoint_id")?)
        .build())
}

#[async_trait]
impl ResourceType for ApprunnerVpcIngressConnection {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("service_arn", Ty::Str).force_new(),
            PropSpec::required("vpc_id", Ty::Str).force_new(),
            PropSpec::required("vpc_endpoint_id", Ty::Str).force_new(),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let mut arns = Vec::new();
        let mut token = None;
        loop {
            let page = aws
                .apprunner
                .list_vpc_ingress_connections()
                .set_next_token(token)
                .send()
                .await
                .or_aws("ListVpcIngressConnections")?;
            arns.extend(
                page.vpc_ingress_connection_summary_list()
                    .iter()
                    .filter_map(|c| c.vpc_ingress_connection_arn().map(str::to_string)),
            );
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let mut out = Vec::new();
        for arn in arns {
            out.extend(find_ours(aws, scope, &arn).await?);
        }
        Ok(out)
    }

    async fn create(
        &self,
        aws: &Aws,
        scope: &Scope,
        id: &str,
        props: &Props,
        _token: &str,
    ) -> Result<String, AwsError> {
        // A connection left by a run that stopped after this call is reused.
        let arn = match self
            .observe(aws, scope)
            .await?
            .into_iter()
            .find(|o| o.id == id)
        {
            Some(existing) => existing.physical_id,
            None => aws
                .apprunner
                .create_vpc_ingress_connection()
                .vpc_ingress_connection_name(prop_str(props, "name")?)
                .service_arn(prop_str(props, "service_arn")?)
                .ingress_vpc_configuration(config(props)?)
                .set_tags(Some(apprunner::tags(scope, id)))
                .send()
                .await
                .or_aws("CreateVpcIngressConnection")?
                .vpc_ingress_connection()
                .and_then(|c| c.vpc_ingress_connection_arn())
                .unwrap_or_default()
                .to_string(),
        };
        until_available(aws, &arn).await?;
        Ok(arn)
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        let arn = &current.physical_id;
        // A connection still being created or updated refuses deletion.
        wait::until(
            &format!("VPC ingress connection {arn}"),
            &["AVAILABLE", "FAILED_CREATION", "FAILED_UPDATE", "FAILED_DELETION", "PENDING_DELETION", "gone"],
            &[],
            SETTLE_TIMEOUT,
            || async { Ok(describe(aws, arn).await?.map(|c| status(&c))) },
        )
        .await?;
        gone_ok(
            aws.apprunner
                .delete_vpc_ingress_connection()
                .vpc_ingress_connection_arn(arn)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteVpcIngressConnection"),
        )
        .or_else(|e| {
            // Already on its way out (a repeat of a delete whose answer was lost).
            if e.code() == Some("InvalidStateException") { Ok(()) } else { Err(e) }
        })?;
        wait::until_deleted(
            &format!("VPC ingress connection {arn}"),
            SETTLE_TIMEOUT,
            || async {
                Ok(describe(aws, arn).await?.map(|c| match status(&c) {
                    (s, why) if s == "FAILED_DELETION" => ("failed".to_string(), why),
                    other => other,
                }))
            },
        )
        .await
    }

    async fn find(
        &self,
        aws: &Aws,
        scope: &Scope,
        physical_id: &str,
    ) -> Result<Option<Observed>, AwsError> {
        find_ours(aws, scope, physical_id).await
    }
}
