//! RDS helpers shared by the database resource types: tags at creation and
//! the instance waiter. Subnet and parameter groups are found by their
//! deterministic names (their describe calls return no tags); instances by
//! the tags DescribeDBInstances returns inline.

use std::time::Duration;

use aws_sdk_rds::types::{DbInstance, PendingModifiedValues, Tag};

use super::{Aws, AwsError, SdkResultExt, wait};
use crate::vocab::Scope;

/// The tags every RDS resource carries from the moment it exists, plus extras.
pub fn tags(scope: &Scope, id: &str, extra: &[(&str, String)]) -> Vec<Tag> {
    scope
        .tags(id)
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .chain(extra.iter().map(|(k, v)| (*k, v.as_str())))
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// One instance by identifier, `None` once it is gone.
pub async fn describe_instance(
    aws: &Aws,
    identifier: &str,
) -> Result<Option<DbInstance>, AwsError> {
    let out = AwsError::none_if_not_found(
        aws.rds
            .describe_db_instances()
            .db_instance_identifier(identifier)
            .send()
            .await
            .or_aws("DescribeDBInstances"),
    )?;
    Ok(out.and_then(|o| o.db_instances().first().cloned()))
}

/// Status of one instance, `None` once it is gone.
pub async fn instance_status(
    aws: &Aws,
    identifier: &str,
) -> Result<Option<(String, String)>, AwsError> {
    Ok(describe_instance(aws, identifier).await?.and_then(|i| {
        let status = i.db_instance_status()?;
        // Right after ModifyDBInstance an instance may still say `available`
        // with the change pending; it is done when nothing is pending.
        let pending = i
            .pending_modified_values()
            .is_some_and(|p| *p != PendingModifiedValues::builder().build());
        let status = if status == "available" && pending {
            "pending-modifications"
        } else {
            status
        };
        Some((status.to_string(), String::new()))
    }))
}

/// Creating, modifying and deleting instances take minutes to tens of
/// minutes on AWS (a Multi-AZ conversion the longest).
pub const INSTANCE_WAIT: Duration = Duration::from_secs(90 * 60);

pub async fn until_available(aws: &Aws, identifier: &str) -> Result<(), AwsError> {
    wait::until(
        &format!("database {identifier} to be available"),
        &["available"],
        &[
            "failed",
            "incompatible-parameters",
            "incompatible-network",
            "incompatible-restore",
            "storage-full",
            "inaccessible-encryption-credentials",
        ],
        INSTANCE_WAIT,
        || instance_status(aws, identifier),
    )
    .await
}

pub async fn until_deleted(aws: &Aws, identifier: &str) -> Result<(), AwsError> {
    wait::until_deleted(&format!("database {identifier}"), INSTANCE_WAIT, || {
        instance_status(aws, identifier)
    })
    .await
}
