//! RDS DB subnet group: the subnets a database may be placed in (the private
//! data tier). Named `<stack>-<env>-<id>`, which is how it is found again:
//! DescribeDBSubnetGroups returns no tags.

use async_trait::async_trait;

use crate::vocab::{PropSpec, Schema, Ty};
use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_str, prop_strs};
use crate::aws::{Aws, AwsError, SdkResultExt, rds};
use crate::vocab::{Props, Value};

pub struct DbSubnetGroup;

#[async_trait]
impl ResourceType for DbSubnetGroup {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("description", Ty::Str),
            PropSpec::required("subnet_ids", Ty::StrSet),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let groups: Vec<_> = aws
            .rds
            .describe_db_subnet_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_aws("DescribeDBSubnetGroups")?;
        Ok(groups
            .iter()
            .filter_map(|g| {
                let name = g.db_subnet_group_name()?;
                let mut o = Observed::new(
                    scope.id_in_name(name, "db-subnets")?,
                    Kind::DbSubnetGroup,
                    name,
                );
                o.props.insert("name".into(), Value::str(name));
                o.props.insert(
                    "description".into(),
                    Value::str(g.db_subnet_group_description().unwrap_or_default()),
                );
                o.props.insert(
                    "subnet_ids".into(),
                    Value::set(
                        g.subnets()
                            .iter()
                            .filter_map(|s| s.subnet_identifier())
                            .map(Value::str),
                    ),
                );
                if let Some(vpc) = g.vpc_id() {
                    o.attrs.insert("vpc_id".into(), vpc.to_string());
                }
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
        _token: &str,
    ) -> Result<String, AwsError> {
        let name = prop_str(props, "name")?;
        aws.rds
            .create_db_subnet_group()
            .db_subnet_group_name(name)
            .db_subnet_group_description(prop_str(props, "description")?)
            .set_subnet_ids(Some(prop_strs(props, "subnet_ids")?))
            .set_tags(Some(rds::tags(scope, id, &[])))
            .send()
            .await
            .or_aws("CreateDBSubnetGroup")?;
        Ok(name.to_string())
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        aws.rds
            .modify_db_subnet_group()
            .db_subnet_group_name(&current.physical_id)
            .db_subnet_group_description(prop_str(desired, "description")?)
            .set_subnet_ids(Some(prop_strs(desired, "subnet_ids")?))
            .send()
            .await
            .or_aws("ModifyDBSubnetGroup")?;
        Ok(())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        gone_ok(
            aws.rds
                .delete_db_subnet_group()
                .db_subnet_group_name(&current.physical_id)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteDBSubnetGroup"),
        )
    }
}
