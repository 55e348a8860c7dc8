//! ECR repository of one service: scan on push, immutable tags, encryption,
//! and a lifecycle policy keeping the newest N images. Repositories are named
//! `<stack>/<env>/<service>`, which is how they are found again: ECR's
//! describe call has no tag filter.

use async_trait::async_trait;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability, Tag,
};

use crate::vocab::{PropSpec, Schema, Ty};
use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_str};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{Props, Value};

pub struct EcrRepository;

/// Logical id of a service's repository.
pub fn logical_id(service: &str) -> String {
    format!("ecr-{service}")
}

fn name_prefix(scope: &Scope) -> String {
    format!("{}/{}/", scope.stack, scope.env)
}

fn lifecycle_policy(keep: i64) -> String {
    serde_json::json!({
        "rules": [{
            "rulePriority": 1,
            "description": format!("keep the newest {keep} images"),
            "selection": { "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep },
            "action": { "type": "expire" }
        }]
    })
    .to_string()
}

fn kept(policy: &str) -> Option<i64> {
    let v: serde_json::Value = serde_json::from_str(policy).ok()?;
    v["rules"]
        .as_array()?
        .iter()
        .find_map(|r| r["selection"]["countNumber"].as_i64())
}

async fn put_lifecycle(aws: &Aws, name: &str, keep: i64) -> Result<(), AwsError> {
    aws.ecr
        .put_lifecycle_policy()
        .repository_name(name)
        .lifecycle_policy_text(lifecycle_policy(keep))
        .send()
        .await
        .or_aws("PutLifecyclePolicy")?;
    Ok(())
}

fn keep_images(props: &Props) -> i64 {
    match props.get("keep_images") {
        Some(Value::Int(n)) => *n,
        _ => 30,
    }
}

#[async_trait]
impl ResourceType for EcrRepository {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("scan_on_push", Ty::Bool),
            PropSpec::required("image_tag_mutability", Ty::Str),
            PropSpec::required("encryption", Ty::Str).force_new(),
            PropSpec::required("keep_images", Ty::Int),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let repos: Vec<_> = aws
            .ecr
            .describe_repositories()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_aws("DescribeRepositories")?;
        let prefix = name_prefix(scope);
        let mut out = Vec::new();
        for r in repos {
            let Some(name) = r.repository_name() else {
                continue;
            };
            let Some(service) = name.strip_prefix(&prefix).filter(|s| !s.contains('/')) else {
                continue;
            };
            let mut o = Observed::new(logical_id(service), Kind::EcrRepository, name);
            o.props.insert("name".into(), Value::str(name));
            o.props.insert(
                "scan_on_push".into(),
                Value::Bool(
                    r.image_scanning_configuration()
                        .is_some_and(|c| c.scan_on_push()),
                ),
            );
            o.props.insert(
                "image_tag_mutability".into(),
                Value::str(r.image_tag_mutability().map_or("MUTABLE", |m| m.as_str())),
            );
            o.props.insert(
                "encryption".into(),
                Value::str(
                    r.encryption_configuration()
                        .map_or("AES256", |e| e.encryption_type().as_str()),
                ),
            );
            // One call per repository: ECR has no batched lifecycle read.
            let policy = aws
                .ecr
                .get_lifecycle_policy()
                .repository_name(name)
                .send()
                .await;
            match policy {
                Ok(p) => {
                    if let Some(n) = p.lifecycle_policy_text().and_then(kept) {
                        o.props.insert("keep_images".into(), Value::Int(n));
                    }
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_lifecycle_policy_not_found_exception()) => {}
                Err(e) => return Err(AwsError::from_sdk("GetLifecyclePolicy", e)),
            }
            if let Some(uri) = r.repository_uri() {
                o.attrs.insert("uri".into(), uri.to_string());
            }
            out.push(o);
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
        let name = prop_str(props, "name")?;
        let mut call = aws
            .ecr
            .create_repository()
            .repository_name(name)
            .image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(
                        props
                            .get("scan_on_push")
                            .and_then(Value::as_bool)
                            .unwrap_or(true),
                    )
                    .build(),
            )
            .image_tag_mutability(ImageTagMutability::from(prop_str(
                props,
                "image_tag_mutability",
            )?))
            .encryption_configuration(
                EncryptionConfiguration::builder()
                    .encryption_type(EncryptionType::from(prop_str(props, "encryption")?))
                    .build()
                    .expect("encryption type is set"),
            );
        for (key, value) in scope.tags(id) {
            call = call.tags(
                Tag::builder()
                    .key(key)
                    .value(value)
                    .build()
                    .expect("key and value are set"),
            );
        }
        call.send().await.or_aws("CreateRepository")?;
        put_lifecycle(aws, name, keep_images(props)).await?;
        Ok(name.to_string())
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        let name = &current.physical_id;
        let changed = |key: &str| current.props.get(key) != desired.get(key);
        if changed("scan_on_push") {
            aws.ecr
                .put_image_scanning_configuration()
                .repository_name(name)
                .image_scanning_configuration(
                    ImageScanningConfiguration::builder()
                        .scan_on_push(
                            desired
                                .get("scan_on_push")
                                .and_then(Value::as_bool)
                                .unwrap_or(true),
                        )
                        .build(),
                )
                .send()
                .await
                .or_aws("PutImageScanningConfiguration")?;
        }
        if changed("image_tag_mutability") {
            aws.ecr
                .put_image_tag_mutability()
                .repository_name(name)
                .image_tag_mutability(ImageTagMutability::from(prop_str(
                    desired,
                    "image_tag_mutability",
                )?))
                .send()
                .await
                .or_aws("PutImageTagMutability")?;
        }
        if changed("keep_images") {
            put_lifecycle(aws, name, keep_images(desired)).await?;
        }
        Ok(())
    }

    /// Refuses (as ECR does) while the repository holds images: images are
    /// releases, and foundry deletes nothing holding data silently.
    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        let result = aws
            .ecr
            .delete_repository()
            .repository_name(&current.physical_id)
            .send()
            .await;
        match result {
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_repository_not_empty_exception()) =>
            {
                Err(AwsError::Api {
                    operation: "DeleteRepository",
                    code: Some("RepositoryNotEmptyException".into()),
                    message: format!(
                        "repository {} still holds images; delete them (aws ecr batch-delete-image) if they are no longer needed, then run again",
                        current.physical_id
                    ),
                })
            }
            other => gone_ok(other.map(drop).or_aws("DeleteRepository")),
        }
    }
}
