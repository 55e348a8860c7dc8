//! S3 bucket: private (all four public-access blocks), encrypted, TLS-only by
//! policy, versioned, with lifecycle transitions and optional CORS. Buckets
//! are named `<stack>-<env>-<name>-<account>`; S3 cannot tag at creation, so
//! the name identifies them until the tags, put right after, do. S3 has no
//! batched read of bucket settings: observing costs a few calls per bucket.

use async_trait::async_trait;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketVersioningStatus, CorsConfiguration, CorsRule, Delete,
    ExpirationStatus, LifecycleRule, LifecycleRuleFilter, ObjectIdentifier,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging, Transition,
    TransitionStorageClass, VersioningConfiguration,
};

use super::iam_role::from_json;
use crate::vocab::{PropSpec, Schema, Ty};
use super::{Blocker, Kind, Observed, ResourceType, Scope, gone_ok, prop_str, prop_strs};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{Props, Value};

pub struct Bucket;

pub fn logical_id(name: &str) -> String {
    format!("bucket-{name}")
}

/// `<stack>-<env>-<name>-<account>`: deterministic and globally unique.
pub fn bucket_name(scope: &Scope, name: &str, account: &str) -> String {
    format!("{}-{}-{name}-{account}", scope.stack, scope.env)
}

pub fn arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// The policy every bucket carries: no access over plain HTTP.
pub fn tls_only_statement(bucket: &str) -> Value {
    Value::map([
        ("Sid", Value::str("DenyInsecureTransport")),
        ("Effect", Value::str("Deny")),
        ("Principal", Value::str("*")),
        ("Action", Value::str("s3:*")),
        (
            "Resource",
            Value::set([
                Value::str(arn(bucket)),
                Value::str(format!("{}/*", arn(bucket))),
            ]),
        ),
        (
            "Condition",
            Value::map([(
                "Bool",
                Value::map([("aws:SecureTransport", Value::str("false"))]),
            )]),
        ),
    ])
}

/// S3 answers "not configured" with an error; those read as empty.
fn absent(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "NoSuchLifecycleConfiguration"
                | "NoSuchBucketPolicy"
                | "NoSuchCORSConfiguration"
                | "NoSuchPublicAccessBlockConfiguration"
                | "ServerSideEncryptionConfigurationNotFoundError"
                | "NoSuchTagSet"
                | "NoSuchTagSetError"
        )
    )
}

/// `Ok(None)` for S3's "not configured" answers.
fn optional<T>(result: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if absent(e.code()) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn observe_one(aws: &Aws, scope: &Scope, name: &str) -> Result<Option<Observed>, AwsError> {
    let s3 = &aws.s3;
    let tags = optional(
        s3.get_bucket_tagging()
            .bucket(name)
            .send()
            .await
            .or_aws("GetBucketTagging"),
    )?;
    let Some(tags) = tags else { return Ok(None) };
    let Some(id) = scope.logical_id(tags.tag_set().iter().map(|t| (t.key(), t.value()))) else {
        return Ok(None);
    };
    let (versioning, encryption, block, lifecycle, policy, cors) = tokio::join!(
        s3.get_bucket_versioning().bucket(name).send(),
        s3.get_bucket_encryption().bucket(name).send(),
        s3.get_public_access_block().bucket(name).send(),
        s3.get_bucket_lifecycle_configuration().bucket(name).send(),
        s3.get_bucket_policy().bucket(name).send(),
        s3.get_bucket_cors().bucket(name).send(),
    );
    let versioning_on = match versioning {
        Ok(v) => v.status() == Some(&BucketVersioningStatus::Enabled),
        // Some emulators answer with a root element the SDK rejects; the
        // status inside is all we need.
        Err(e) if e.raw_response().is_some_and(|r| r.status().is_success()) => e
            .raw_response()
            .and_then(|r| r.body().bytes())
            .is_some_and(|b| String::from_utf8_lossy(b).contains("<Status>Enabled</Status>")),
        Err(e) => return Err(AwsError::from_sdk("GetBucketVersioning", e)),
    };
    let encryption = optional(encryption.or_aws("GetBucketEncryption"))?;
    let block = optional(block.or_aws("GetPublicAccessBlock"))?;
    let lifecycle = optional(lifecycle.or_aws("GetBucketLifecycleConfiguration"))?;
    let policy = optional(policy.or_aws("GetBucketPolicy"))?;
    let cors = optional(cors.or_aws("GetBucketCors"))?;

    let mut o = Observed::new(id, Kind::Bucket, name);
    o.props.insert("name".into(), Value::str(name));
    o.props
        .insert("versioning".into(), Value::Bool(versioning_on));
    let algorithm = encryption
        .and_then(|e| e.server_side_encryption_configuration().cloned())
        .and_then(|c| {
            c.rules()
                .first()
                .and_then(|r| r.apply_server_side_encryption_by_default().cloned())
        })
        .map(|d| d.sse_algorithm().as_str().to_string())
        .unwrap_or_default();
    o.props.insert("encryption".into(), Value::str(algorithm));
    let blocked = block
        .and_then(|b| b.public_access_block_configuration().cloned())
        .is_some_and(|c| {
            c.block_public_acls() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.restrict_public_buckets() == Some(true)
        });
    o.props
        .insert("block_public_access".into(), Value::Bool(blocked));
    let mut transitions = Vec::new();
    for rule in lifecycle.iter().flat_map(|l| l.rules()) {
        for t in rule.transitions() {
            let key = match t.storage_class() {
                Some(TransitionStorageClass::StandardIa) => "ia_after_days",
                Some(TransitionStorageClass::Glacier) => "glacier_after_days",
                _ => continue,
            };
            transitions.push((key, Value::Int(t.days().unwrap_or_default().into())));
        }
    }
    o.props.insert("lifecycle".into(), Value::map(transitions));
    let policy = policy
        .and_then(|p| {
            p.policy()
                .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        })
        .map_or_else(
            || Value::map([("Statement", Value::set([]))]),
            |p| from_json(&p),
        );
    o.props.insert("policy".into(), policy);
    let origins = cors
        .iter()
        .flat_map(|c| c.cors_rules())
        .flat_map(|r| r.allowed_origins())
        .map(Value::str);
    o.props.insert("cors_origins".into(), Value::set(origins));
    Ok(Some(o))
}

async fn reconcile(
    aws: &Aws,
    name: &str,
    current: &Props,
    desired: &Props,
) -> Result<(), AwsError> {
    let s3 = &aws.s3;
    let changed = |key: &str| current.get(key) != desired.get(key);
    if changed("block_public_access") {
        let on = desired
            .get("block_public_access")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let config = PublicAccessBlockConfiguration::builder()
            .block_public_acls(on)
            .ignore_public_acls(on)
            .block_public_policy(on)
            .restrict_public_buckets(on)
            .build();
        s3.put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(config)
            .send()
            .await
            .or_aws("PutPublicAccessBlock")?;
    }
    if changed("encryption") {
        let default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::from(prop_str(desired, "encryption")?))
            .build()
            .expect("algorithm is set");
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(default)
            .bucket_key_enabled(true)
            .build();
        let config = ServerSideEncryptionConfiguration::builder()
            .rules(rule)
            .build()
            .expect("rules are set");
        s3.put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(config)
            .send()
            .await
            .or_aws("PutBucketEncryption")?;
    }
    if changed("versioning") {
        let on = desired
            .get("versioning")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let status = if on {
            BucketVersioningStatus::Enabled
        } else {
            BucketVersioningStatus::Suspended
        };
        s3.put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(VersioningConfiguration::builder().status(status).build())
            .send()
            .await
            .or_aws("PutBucketVersioning")?;
    }
    if changed("lifecycle") {
        let days = |key: &str| match desired
            .get("lifecycle")
            .and_then(Value::as_map)
            .and_then(|m| m.get(key))
        {
            Some(Value::Int(d)) => Some(*d as i32),
            _ => None,
        };
        let mut transitions = Vec::new();
        if let Some(d) = days("ia_after_days") {
            transitions.push(
                Transition::builder()
                    .days(d)
                    .storage_class(TransitionStorageClass::StandardIa)
                    .build(),
            );
        }
        if let Some(d) = days("glacier_after_days") {
            transitions.push(
                Transition::builder()
                    .days(d)
                    .storage_class(TransitionStorageClass::Glacier)
                    .build(),
            );
        }
        if transitions.is_empty() {
            s3.delete_bucket_lifecycle()
                .bucket(name)
                .send()
                .await
                .or_aws("DeleteBucketLifecycle")?;
        } else {
            let rule = LifecycleRule::builder()
                .id("foundry-transitions")
                .status(ExpirationStatus::Enabled)
                .filter(LifecycleRuleFilter::builder().prefix("").build())
                .set_transitions(Some(transitions))
                .build()
                .expect("status is set");
            let config = BucketLifecycleConfiguration::builder()
                .rules(rule)
                .build()
                .expect("rules are set");
            s3.put_bucket_lifecycle_configuration()
                .bucket(name)
                .lifecycle_configuration(config)
                .send()
                .await
                .or_aws("PutBucketLifecycleConfiguration")?;
        }
    }
    if changed("policy") {
        let document =
            serde_json::to_string(desired.get("policy").expect("buckets always have a policy"))
                .expect("serialises");
        s3.put_bucket_policy()
            .bucket(name)
            .policy(document)
            .send()
            .await
            .or_aws("PutBucketPolicy")?;
    }
    if changed("cors_origins") {
        let origins = prop_strs(desired, "cors_origins")?;
        if origins.is_empty() {
            s3.delete_bucket_cors()
                .bucket(name)
                .send()
                .await
                .or_aws("DeleteBucketCors")?;
        } else {
            // Browsers PUT to pre-signed URLs and read the ETag back.
            let rule = CorsRule::builder()
                .set_allowed_origins(Some(origins))
                .allowed_methods("PUT")
                .allowed_methods("GET")
                .allowed_headers("*")
                .expose_headers("ETag")
                .max_age_seconds(3000)
                .build()
                .expect("methods and origins are set");
            let config = CorsConfiguration::builder()
                .cors_rules(rule)
                .build()
                .expect("rules are set");
            s3.put_bucket_cors()
                .bucket(name)
                .cors_configuration(config)
                .send()
                .await
                .or_aws("PutBucketCors")?;
        }
    }
    Ok(())
}

/// Up to 1,000 object versions and delete markers of `name`.
async fn versions(aws: &Aws, name: &str) -> Result<Vec<ObjectIdentifier>, AwsError> {
    let out = aws
        .s3
        .list_object_versions()
        .bucket(name)
        .send()
        .await
        .or_aws("ListObjectVersions")?;
    let versions = out.versions().iter().map(|v| (v.key(), v.version_id()));
    let markers = out
        .delete_markers()
        .iter()
        .map(|m| (m.key(), m.version_id()));
    Ok(versions
        .chain(markers)
        .filter_map(|(key, version)| {
            ObjectIdentifier::builder()
                .key(key?)
                .set_version_id(version.map(str::to_string))
                .build()
                .ok()
        })
        .collect())
}

#[async_trait]
impl ResourceType for Bucket {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("block_public_access", Ty::Bool),
            PropSpec::required("encryption", Ty::Str),
            PropSpec::required("versioning", Ty::Bool),
            PropSpec::required("lifecycle", Ty::Map),
            PropSpec::required("policy", Ty::Map),
            PropSpec::required("cors_origins", Ty::StrSet),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let out = aws.s3.list_buckets().send().await.or_aws("ListBuckets")?;
        let prefix = format!("{}-{}-", scope.stack, scope.env);
        let names: Vec<&str> = out
            .buckets()
            .iter()
            .filter_map(|b| b.name())
            .filter(|n| n.starts_with(&prefix))
            .collect();
        let found =
            futures::future::try_join_all(names.iter().map(|n| observe_one(aws, scope, n))).await?;
        Ok(found.into_iter().flatten().collect())
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
        let mut call = aws.s3.create_bucket().bucket(name);
        if aws.region != "us-east-1" {
            call = call.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                        aws.region.as_str(),
                    ))
                    .build(),
            );
        }
        match call.send().await {
            Ok(_) => {}
            // Ours already, from a run that stopped before tagging it.
            Err(e) if e.code() == Some("BucketAlreadyOwnedByYou") => {}
            Err(e) => return Err(AwsError::from_sdk("CreateBucket", e)),
        }
        let tags: Vec<Tag> = scope
            .tags(id)
            .into_iter()
            .map(|(k, v)| {
                Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .expect("key and value are set")
            })
            .collect();
        aws.s3
            .put_bucket_tagging()
            .bucket(name)
            .tagging(
                Tagging::builder()
                    .set_tag_set(Some(tags))
                    .build()
                    .expect("tags are set"),
            )
            .send()
            .await
            .or_aws("PutBucketTagging")?;
        reconcile(aws, name, &Props::new(), props).await?;
        Ok(name.to_string())
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        reconcile(aws, &current.physical_id, &current.props, desired).await
    }

    async fn delete_blocker(
        &self,
        aws: &Aws,
        current: &Observed,
    ) -> Result<Option<Blocker>, AwsError> {
        let held = versions(aws, &current.physical_id).await?;
        Ok((!held.is_empty())
            .then(|| Blocker::NotEmpty(format!("bucket {} is not empty", current.physical_id))))
    }

    async fn empty(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        loop {
            let batch = versions(aws, &current.physical_id).await?;
            if batch.is_empty() {
                return Ok(());
            }
            let delete = Delete::builder()
                .set_objects(Some(batch))
                .quiet(true)
                .build()
                .expect("objects are set");
            let out = aws
                .s3
                .delete_objects()
                .bucket(&current.physical_id)
                .delete(delete)
                .send()
                .await
                .or_aws("DeleteObjects")?;
            // DeleteObjects answers 200 with per-object errors; one means no progress.
            if let Some(e) = out.errors().first() {
                return Err(AwsError::Api {
                    operation: "DeleteObjects",
                    code: e.code().map(str::to_string),
                    message: format!(
                        "cannot empty bucket {}: {} ({})",
                        current.physical_id,
                        e.message().unwrap_or("refused"),
                        e.key().unwrap_or_default()
                    ),
                });
            }
        }
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        gone_ok(
            aws.s3
                .delete_bucket()
                .bucket(&current.physical_id)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteBucket"),
        )
    }
}
