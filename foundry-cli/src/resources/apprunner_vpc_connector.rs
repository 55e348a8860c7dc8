//! App Runner VPC connector: the service's outbound path into the VPC
//! (private-app subnets, the service's security group), for services that
//! reach the database or a private service. Connectors are immutable: every
//! key forces a new one. Found by the name foundry gives, owned by its tags.

use async_trait::async_trait;
use aws_sdk_apprunner::types::{VpcConnector, VpcConnectorStatus};

use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_str, prop_strs};
use crate::aws::apprunner::{self, NAME_MAX};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{PropSpec, Props, Schema, Ty, Value};

pub struct ApprunnerVpcConnector;

fn observed(id: String, c: &VpcConnector) -> Option<Observed> {
    let mut o = Observed::new(id, Kind::ApprunnerVpcConnector, c.vpc_connector_arn()?);
    o.props = Props::from([
        (
            "name".to_string(),
            Value::str(c.vpc_connector_name().unwrap_or_default()),
        ),
        (
            "subnet_ids".to_string(),
            Value::set(c.subnets().iter().map(Value::str)),
        ),
        (
            "security_group_ids".to_string(),
            Value::set(c.security_groups().iter().map(Value::str)),
        ),
    ]);
    o.attrs.insert("arn".into(), o.physical_id.clone());
    Some(o)
}

/// Active connectors whose name may be this scope's, as its resources.
async fn list(aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .apprunner
            .list_vpc_connectors()
            .set_next_token(token)
            .send()
            .await
            .or_aws("ListVpcConnectors")?;
        for c in page.vpc_connectors().iter().filter(|c| {
            c.status() == Some(&VpcConnectorStatus::Active)
                && c.vpc_connector_name()
                    .is_some_and(|n| apprunner::may_be_ours(scope, n, NAME_MAX))
        }) {
            let Some(arn) = c.vpc_connector_arn() else {
                continue;
            };
            if let Some(id) = apprunner::logical_id(aws, scope, arn).await? {
                out.extend(observed(id, c));
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

#[async_trait]
impl ResourceType for ApprunnerVpcConnector {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("subnet_ids", Ty::StrSet).force_new(),
            PropSpec::required("security_group_ids", Ty::StrSet).force_new(),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        list(aws, scope).await
    }

    async fn create(
        &self,
        aws: &Aws,
        scope: &Scope,
        id: &str,
        props: &Props,
        _token: &str,
    ) -> Result<String, AwsError> {
        // A connector left by a run that stopped after this call is reused.
        if let Some(existing) = list(aws, scope).await?.into_iter().find(|o| o.id == id) {
            return Ok(existing.physical_id);
        }
        let out = aws
            .apprunner
            .create_vpc_connector()
            .vpc_connector_name(prop_str(props, "name")?)
            .set_subnets(Some(prop_strs(props, "subnet_ids")?))
            .set_security_groups(Some(prop_strs(props, "security_group_ids")?))
            .set_tags(Some(apprunner::tags(scope, id)))
            .send()
            .await
            .or_aws("CreateVpcConnector")?;
        Ok(out
            .vpc_connector()
            .and_then(|c| c.vpc_connector_arn())
            .unwrap_or_default()
            .to_string())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        gone_ok(
            aws.apprunner
                .delete_vpc_connector()
                .vpc_connector_arn(&current.physical_id)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteVpcConnector"),
        )
    }

    async fn find(
        &self,
        aws: &Aws,
        scope: &Scope,
        physical_id: &str,
    ) -> Result<Option<Observed>, AwsError> {
        let Some(id) = apprunner::logical_id(aws, scope, physical_id).await? else {
            return Ok(None);
        };
        let out = AwsError::none_if_not_found(
            aws.apprunner
                .describe_vpc_connector()
                .vpc_connector_arn(physical_id)
                .send()
                .await
                .or_aws("DescribeVpcConnector"),
        )?;
        Ok(out
            .and_then(|o| o.vpc_connector)
            .filter(|c| c.status() == Some(&VpcConnectorStatus::Active))
            .and_then(|c| observed(id, &c)))
    }
}
