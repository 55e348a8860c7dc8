//! RDS database instance: encrypted, private, in the data subnets, with its
//! master password managed by RDS in Secrets Manager (foundry never sees it).
//! Found by the tags DescribeDBInstances returns inline. Whether deleting it
//! takes a final snapshot is a tag too (`foundry:final-snapshot`), so that a
//! destroy, which has no stack to read, still does what the stack said.

use async_trait::async_trait;
use aws_sdk_rds::types::{DbInstance as RdsInstance, Tag};

use crate::vocab::{PropError, PropSpec, Schema, Ty};
use super::{seen_bool, 
    Blocker, Kind, Observed, ResourceType, Scope, prop_bool, prop_int, prop_str, prop_strs,
};
use crate::aws::{Aws, AwsError, SdkResultExt, rds};
use crate::vocab::{Props, Value};

pub struct DbInstance;

pub const FINAL_SNAPSHOT_TAG: &str = "foundry:final-snapshot";

/// RDS takes its numbers as `i32`.
fn int(props: &Props, key: &str) -> Result<i32, PropError> {
    Ok(prop_int(props, key)? as i32)
}

/// The major version of a full engine version: `16.4` → `16` for Postgres,
/// `8.0.35` → `8.0` for MySQL (the form the stack file uses).
fn major_version(engine: &str, full: &str) -> String {
    let parts = if engine == "mysql" { 2 } else { 1 };
    full.split('.').take(parts).collect::<Vec<_>>().join(".")
}

fn props_of(i: &RdsInstance) -> Props {
    let engine = i.engine().unwrap_or_default();
    let allocated = i.allocated_storage().unwrap_or_default();
    let tag = |key: &str| {
        i.tag_list()
            .iter()
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value())
    };
    let mut p = Props::new();
    let mut put = |k: &str, v: Value| {
        p.insert(k.to_string(), v);
    };
    put(
        "identifier",
        Value::str(i.db_instance_identifier().unwrap_or_default()),
    );
    put("engine", Value::str(engine));
    put(
        "engine_version",
        Value::str(major_version(
            engine,
            i.engine_version().unwrap_or_default(),
        )),
    );
    put(
        "instance_class",
        Value::str(i.db_instance_class().unwrap_or_default()),
    );
    put("allocated_storage", Value::Int(allocated.into()));
    // RDS omits the ceiling when storage autoscaling is off.
    put(
        "max_allocated_storage",
        Value::Int(i.max_allocated_storage().unwrap_or(allocated).into()),
    );
    put("multi_az", Value::Bool(i.multi_az().unwrap_or(false)));
    put(
        "backup_retention_days",
        Value::Int(i.backup_retention_period().unwrap_or_default().into()),
    );
    put(
        "deletion_protection",
        Value::Bool(i.deletion_protection().unwrap_or(false)),
    );
    put(
        "final_snapshot",
        Value::Bool(tag(FINAL_SNAPSHOT_TAG) != Some("false")),
    );
    put(
        "storage_encrypted",
        Value::Bool(i.storage_encrypted().unwrap_or(false)),
    );
    put(
        "publicly_accessible",
        Value::Bool(i.publicly_accessible().unwrap_or(false)),
    );
    put(
        "manage_master_password",
        Value::Bool(i.master_user_secret().is_some()),
    );
    put("db_name", Value::str(i.db_name().unwrap_or_default()));
    put(
        "username",
        Value::str(i.master_username().unwrap_or_default()),
    );
    let port = i
        .endpoint()
        .and_then(|e| e.port())
        .or(i.db_instance_port().filter(|p| *p != 0))
        .unwrap_or_default();
    put("port", Value::Int(port.into()));
    put(
        "subnet_group",
        Value::str(
            i.db_subnet_group()
                .and_then(|g| g.db_subnet_group_name())
                .unwrap_or_default(),
        ),
    );
    put(
        "parameter_group",
        Value::str(
            i.db_parameter_groups()
                .first()
                .and_then(|g| g.db_parameter_group_name())
                .unwrap_or_default(),
        ),
    );
    put(
        "security_group_ids",
        Value::set(
            i.vpc_security_groups()
                .iter()
                .filter_map(|g| g.vpc_security_group_id())
                .map(Value::str),
        ),
    );
    if let Some(key) = i.kms_key_id() {
        put("kms_key_id", Value::str(key));
    }
    p
}

fn observed(scope: &Scope, i: &RdsInstance) -> Option<Observed> {
    let id = scope.logical_id(
        i.tag_list()
            .iter()
            .filter_map(|t| Some((t.key()?, t.value()?))),
    )?;
    let mut o = Observed::new(id, Kind::DbInstance, i.db_instance_identifier()?);
    o.props = props_of(i);
    let attrs = [
        ("arn", i.db_instance_arn()),
        ("status", i.db_instance_status()),
        ("address", i.endpoint().and_then(|e| e.address())),
        (
            "secret_arn",
            i.master_user_secret().and_then(|s| s.secret_arn()),
        ),
    ];
    for (k, v) in attrs {
        if let Some(v) = v {
            o.attrs.insert(k.into(), v.to_string());
        }
    }
    // What a service's `${database.endpoint|port|name}` reads
    // (`Value::attr(ids::DB, …)`); `secret_arn` above is `${database.secret_arn}`.
    if let Some(address) = i.endpoint().and_then(|e| e.address()) {
        o.attrs.insert("endpoint".into(), address.to_string());
    }
    if let Some(Value::Int(port)) = o.props.get("port") {
        o.attrs.insert("port".into(), port.to_string());
    }
    if let Some(name) = i.db_name() {
        o.attrs.insert("name".into(), name.to_string());
    }
    Some(o)
}

fn final_snapshot_tag(props: &Props) -> Result<(&'static str, String), PropError> {
    Ok((
        FINAL_SNAPSHOT_TAG,
        prop_bool(props, "final_snapshot")?.to_string(),
    ))
}

async fn create_instance(
    aws: &Aws,
    scope: &Scope,
    id: &str,
    props: &Props,
) -> Result<(), AwsError> {
    aws.rds
        .create_db_instance()
        .db_instance_identifier(prop_str(props, "identifier")?)
        .engine(prop_str(props, "engine")?)
        .engine_version(prop_str(props, "engine_version")?)
        .db_instance_class(prop_str(props, "instance_class")?)
        .allocated_storage(int(props, "allocated_storage")?)
        .max_allocated_storage(int(props, "max_allocated_storage")?)
        .storage_type("gp3")
        .multi_az(prop_bool(props, "multi_az")?)
        .backup_retention_period(int(props, "backup_retention_days")?)
        .deletion_protection(prop_bool(props, "deletion_protection")?)
        .storage_encrypted(prop_bool(props, "storage_encrypted")?)
        .set_kms_key_id(
            props
                .get("kms_key_id")
                .and_then(Value::as_str)
                .map(str::to_string),
        )
        .publicly_accessible(prop_bool(props, "publicly_accessible")?)
        .manage_master_user_password(prop_bool(props, "manage_master_password")?)
        .master_username(prop_str(props, "username")?)
        .db_name(prop_str(props, "db_name")?)
        .port(int(props, "port")?)
        .db_subnet_group_name(prop_str(props, "subnet_group")?)
        .db_parameter_group_name(prop_str(props, "parameter_group")?)
        .set_vpc_security_group_ids(Some(prop_strs(props, "security_group_ids")?))
        .copy_tags_to_snapshot(true)
        .auto_minor_version_upgrade(true)
        .set_tags(Some(rds::tags(scope, id, &[final_snapshot_tag(props)?])))
        .send()
        .await
        .or_aws("CreateDBInstance")?;
    Ok(())
}

#[async_trait]
impl ResourceType for DbInstance {
    /// What RDS cannot change in place: these need a new instance, and the
    /// data goes with the old one.
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("identifier", Ty::Str).force_new(),
            PropSpec::required("engine", Ty::Str).force_new(),
            PropSpec::required("engine_version", Ty::Str),
            PropSpec::required("instance_class", Ty::Str),
            PropSpec::required("allocated_storage", Ty::Int),
            PropSpec::required("max_allocated_storage", Ty::Int),
            PropSpec::required("multi_az", Ty::Bool),
            PropSpec::required("backup_retention_days", Ty::Int),
            PropSpec::required("deletion_protection", Ty::Bool),
            PropSpec::required("final_snapshot", Ty::Bool),
            PropSpec::required("storage_encrypted", Ty::Bool).force_new(),
            PropSpec::required("publicly_accessible", Ty::Bool),
            PropSpec::required("manage_master_password", Ty::Bool),
            PropSpec::required("db_name", Ty::Str).force_new(),
            PropSpec::required("username", Ty::Str).force_new(),
            PropSpec::required("port", Ty::Int),
            PropSpec::required("subnet_group", Ty::Str),
            PropSpec::required("parameter_group", Ty::Str),
            PropSpec::required("security_group_ids", Ty::StrSet),
            PropSpec::optional("kms_key_id", Ty::Str).force_new(),
        ];
        SCHEMA
    }

    fn holds_data(&self) -> bool {
        true
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let instances: Vec<RdsInstance> = aws
            .rds
            .describe_db_instances()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_aws("DescribeDBInstances")?;
        // An instance still `deleting` (a run stopped mid-replacement) is
        // observed too: its delete then waits for it instead of racing it.
        Ok(instances
            .iter()
            .filter_map(|i| observed(scope, i))
            .collect())
    }

    /// The instance, looked up by identifier: what a service's env reads
    /// (its endpoint, port, name and secret) right after it is created.
    async fn find(
        &self,
        aws: &Aws,
        scope: &Scope,
        physical_id: &str,
    ) -> Result<Option<Observed>, AwsError> {
        Ok(rds::describe_instance(aws, physical_id)
            .await?
            .and_then(|i| observed(scope, &i)))
    }

    async fn create(
        &self,
        aws: &Aws,
        scope: &Scope,
        id: &str,
        props: &Props,
        _token: &str,
    ) -> Result<String, AwsError> {
        let identifier = prop_str(props, "identifier")?;
        loop {
            match create_instance(aws, scope, id, props).await {
                Ok(()) => break,
                // A run that stopped after its create call: ours if tagged
                // so; one still being deleted frees the name first.
                Err(e) if e.code() == Some("DBInstanceAlreadyExists") => {
                    let existing = rds::describe_instance(aws, identifier).await?;
                    let ours = existing
                        .as_ref()
                        .and_then(|i| observed(scope, i))
                        .is_some_and(|o| o.id == id);
                    if !ours {
                        return Err(AwsError::Api {
                            operation: "CreateDBInstance",
                            code: e.code().map(str::to_string),
                            message: format!(
                                "a database named {identifier} exists and does not belong to {}/{}; rename or remove it",
                                scope.stack, scope.env
                            ),
                        });
                    }
                    if existing
                        .and_then(|i| i.db_instance_status().map(str::to_string))
                        .as_deref()
                        != Some("deleting")
                    {
                        break;
                    }
                    rds::until_deleted(aws, identifier).await?;
                }
                Err(e) => return Err(e),
            }
        }
        rds::until_available(aws, identifier).await?;
        Ok(identifier.to_string())
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        let changed = |key: &str| current.props.get(key) != desired.get(key);
        let identifier = &current.physical_id;
        if changed("final_snapshot") {
            let arn = current.attrs.get("arn").cloned().unwrap_or_default();
            let (key, value) = final_snapshot_tag(desired)?;
            aws.rds
                .add_tags_to_resource()
                .resource_name(arn)
                .tags(Tag::builder().key(key).value(value).build())
                .send()
                .await
                .or_aws("AddTagsToResource")?;
        }
        let modified = [
            "engine_version",
            "instance_class",
            "allocated_storage",
            "max_allocated_storage",
            "multi_az",
            "backup_retention_days",
            "deletion_protection",
            "publicly_accessible",
            "manage_master_password",
            "port",
            "subnet_group",
            "parameter_group",
            "security_group_ids",
        ];
        if !modified.iter().any(|k| changed(k)) {
            return Ok(());
        }
        let mut call = aws
            .rds
            .modify_db_instance()
            .db_instance_identifier(identifier)
            // `up` means now, not in the next maintenance window.
            .apply_immediately(true);
        if changed("engine_version") {
            call = call
                .engine_version(prop_str(desired, "engine_version")?)
                .allow_major_version_upgrade(true);
        }
        if changed("instance_class") {
            call = call.db_instance_class(prop_str(desired, "instance_class")?);
        }
        if changed("allocated_storage") {
            call = call.allocated_storage(int(desired, "allocated_storage")?);
        }
        if changed("max_allocated_storage") {
            call = call.max_allocated_storage(int(desired, "max_allocated_storage")?);
        }
        if changed("multi_az") {
            call = call.multi_az(prop_bool(desired, "multi_az")?);
        }
        if changed("backup_retention_days") {
            call = call.backup_retention_period(int(desired, "backup_retention_days")?);
        }
        if changed("deletion_protection") {
            call = call.deletion_protection(prop_bool(desired, "deletion_protection")?);
        }
        if changed("publicly_accessible") {
            call = call.publicly_accessible(prop_bool(desired, "publicly_accessible")?);
        }
        if changed("manage_master_password") {
            call = call.manage_master_user_password(prop_bool(desired, "manage_master_password")?);
        }
        if changed("port") {
            call = call.db_port_number(int(desired, "port")?);
        }
        if changed("subnet_group") {
            call = call.db_subnet_group_name(prop_str(desired, "subnet_group")?);
        }
        if changed("parameter_group") {
            call = call.db_parameter_group_name(prop_str(desired, "parameter_group")?);
        }
        if changed("security_group_ids") {
            call = call.set_vpc_security_group_ids(Some(prop_strs(desired, "security_group_ids")?));
        }
        call.send().await.or_aws("ModifyDBInstance")?;
        rds::until_available(aws, identifier).await
    }

    async fn delete_blocker(
        &self,
        _aws: &Aws,
        current: &Observed,
    ) -> Result<Option<Blocker>, AwsError> {
        Ok(seen_bool(&current.props, "deletion_protection").then(|| {
            Blocker::Protected(format!(
                "database {} has deletion protection on; set deletion_protection = false in [database] (or in this environment's overlay) and run `foundry up` first",
                current.physical_id
            ))
        }))
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        let identifier = &current.physical_id;
        let mut call = aws
            .rds
            .delete_db_instance()
            .db_instance_identifier(identifier)
            // As AWS and Terraform do by default: the final snapshot is what
            // keeps the data, retained automated backups would only add cost.
            .delete_automated_backups(true);
        call = if seen_bool(&current.props, "final_snapshot") {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            call.final_db_snapshot_identifier(format!("{identifier}-final-{stamp}"))
        } else {
            call.skip_final_snapshot(true)
        };
        match call.send().await.or_aws("DeleteDBInstance") {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(()),
            // Already being deleted by an earlier run: wait for it.
            Err(e) if e.code() == Some("InvalidDBInstanceState") => {}
            Err(e) => return Err(e),
        }
        rds::until_deleted(aws, identifier).await
    }
}
