//! RDS DB parameter group of one engine family, with the parameters foundry
//! sets (timeouts, slow-statement logging, TLS only). Named
//! `<stack>-<env>-db-params-<family>` and found by that name: the describe
//! call returns no tags. A new family (major upgrade, other engine) is a new
//! group with its own logical id, so the instance switches over before the
//! old group is deleted.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_rds::types::{ApplyMethod, Parameter};

use crate::vocab::{PropSpec, Schema, Ty};
use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_str};
use crate::aws::{Aws, AwsError, SdkResultExt, rds};
use crate::vocab::{Props, Value};

pub struct DbParameterGroup;

fn parameters(props: &Props) -> BTreeMap<String, String> {
    props
        .get("parameters")
        .and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Parameters the user (anyone, not the engine defaults) set on `name`.
async fn user_parameters(aws: &Aws, name: &str) -> Result<BTreeMap<String, String>, AwsError> {
    let params: Vec<Parameter> = aws
        .rds
        .describe_db_parameters()
        .db_parameter_group_name(name)
        .source("user")
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_aws("DescribeDBParameters")?;
    Ok(params
        .iter()
        .filter_map(|p| {
            Some((
                p.parameter_name()?.to_string(),
                p.parameter_value()?.to_string(),
            ))
        })
        .collect())
}

/// Sets `values` on the group; every parameter foundry sets is dynamic.
async fn set(aws: &Aws, name: &str, values: &BTreeMap<String, String>) -> Result<(), AwsError> {
    if values.is_empty() {
        return Ok(());
    }
    let params = values
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_name(k)
                .parameter_value(v)
                .apply_method(ApplyMethod::Immediate)
                .build()
        })
        .collect();
    aws.rds
        .modify_db_parameter_group()
        .db_parameter_group_name(name)
        .set_parameters(Some(params))
        .send()
        .await
        .or_aws("ModifyDBParameterGroup")?;
    Ok(())
}

#[async_trait]
impl ResourceType for DbParameterGroup {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("family", Ty::Str).force_new(),
            PropSpec::required("description", Ty::Str).force_new(),
            PropSpec::required("parameters", Ty::Map),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let groups: Vec<_> = aws
            .rds
            .describe_db_parameter_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_aws("DescribeDBParameterGroups")?;
        let ours: Vec<(String, &aws_sdk_rds::types::DbParameterGroup)> = groups
            .iter()
            .filter_map(|g| {
                Some((
                    scope.id_in_name(g.db_parameter_group_name()?, "db-params-")?,
                    g,
                ))
            })
            .collect();
        let values =
            futures::future::try_join_all(ours.iter().map(|(_, g)| {
                user_parameters(aws, g.db_parameter_group_name().unwrap_or_default())
            }))
            .await?;
        Ok(ours
            .into_iter()
            .zip(values)
            .map(|((id, g), values)| {
                let name = g.db_parameter_group_name().unwrap_or_default();
                let mut o = Observed::new(id, Kind::DbParameterGroup, name);
                o.props.insert("name".into(), Value::str(name));
                o.props.insert(
                    "family".into(),
                    Value::str(g.db_parameter_group_family().unwrap_or_default()),
                );
                o.props.insert(
                    "description".into(),
                    Value::str(g.description().unwrap_or_default()),
                );
                o.props.insert(
                    "parameters".into(),
                    Value::map(values.into_iter().map(|(k, v)| (k, Value::Str(v)))),
                );
                o
            })
            .collect())
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
        let created = aws
            .rds
            .create_db_parameter_group()
            .db_parameter_group_name(name)
            .db_parameter_group_family(prop_str(props, "family")?)
            .description(prop_str(props, "description")?)
            .set_tags(Some(rds::tags(scope, id, &[])))
            .send()
            .await
            .or_aws("CreateDBParameterGroup");
        match created {
            Ok(_) => {}
            // Ours, from a run that stopped before setting its parameters.
            Err(e) if e.code() == Some("DBParameterGroupAlreadyExists") => {}
            Err(e) => return Err(e),
        }
        set(aws, name, &parameters(props)).await?;
        Ok(name.to_string())
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        let (have, want) = (parameters(&current.props), parameters(desired));
        let changed: BTreeMap<String, String> = want
            .iter()
            .filter(|(k, v)| have.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        set(aws, &current.physical_id, &changed).await?;
        // Set outside foundry: back to the engine default.
        let extra: Vec<Parameter> = have
            .keys()
            .filter(|k| !want.contains_key(*k))
            .map(|k| {
                Parameter::builder()
                    .parameter_name(k)
                    .apply_method(ApplyMethod::Immediate)
                    .build()
            })
            .collect();
        if !extra.is_empty() {
            aws.rds
                .reset_db_parameter_group()
                .db_parameter_group_name(&current.physical_id)
                .set_parameters(Some(extra))
                .send()
                .await
                .or_aws("ResetDBParameterGroup")?;
        }
        Ok(())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        gone_ok(
            aws.rds
                .delete_db_parameter_group()
                .db_parameter_group_name(&current.physical_id)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteDBParameterGroup"),
        )
    }
}
