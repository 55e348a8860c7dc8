//! The registry, secrets and buckets: one ECR repository per service, the
//! declared secrets, and private, encrypted, TLS-only buckets.

use super::{Facts, cdn, policy};
use crate::engine::graph::Resource;
use crate::resources::{Kind, Scope, bucket, ecr_repository, secret};
use crate::stack::Stack;
use crate::vocab::{CREATE_ONLY_GENERATE, Value};

/// One repository per service: immutable tags, scanned on push.
pub(super) fn repositories(stack: &Stack) -> Vec<Resource> {
    let mut out = Vec::new();
    for service in &stack.services {
        out.push(
            Resource::new(
                ecr_repository::logical_id(&service.name),
                Kind::EcrRepository,
            )
            .prop(
                "name",
                Value::str(format!("{}/{}/{}", stack.name, stack.env, service.name)),
            )
            .prop("scan_on_push", Value::Bool(true))
            .prop("image_tag_mutability", Value::str("IMMUTABLE"))
            .prop("encryption", Value::str("AES256"))
            .prop("keep_images", Value::Int(stack.keep_images.into())),
        );
    }
    out
}

/// The declared secrets (their values never pass through foundry).
pub(super) fn secrets(stack: &Stack) -> Vec<Resource> {
    let mut out = Vec::new();
    for secret in &stack.secrets {
        out.push(
            Resource::new(secret::logical_id(&secret.name), Kind::Secret)
                .prop("name", Value::str(secret_name(stack, &secret.name)))
                .prop("description", Value::str(&secret.description))
                .prop(CREATE_ONLY_GENERATE, Value::Bool(secret.generate)),
        );
    }
    out
}

/// `<stack>/<env>/<name>`, the secret's name in Secrets Manager.
pub fn secret_name(stack: &Stack, name: &str) -> String {
    format!("{}/{}/{name}", stack.name, stack.env)
}

/// The buckets; the CDN's web bucket also admits the distribution.
pub(super) fn buckets(stack: &Stack, facts: &Facts) -> Vec<Resource> {
    let mut out = Vec::new();
    let scope = Scope::new(&stack.name, &stack.env);
    for b in &stack.buckets {
        let name = bucket::bucket_name(&scope, &b.name, &facts.account);
        let mut statements = vec![bucket::tls_only_statement(&name)];
        if stack.cdn.as_ref().is_some_and(|c| c.web_bucket == b.name)
            && cdn::has_distribution(stack, facts)
        {
            statements.extend(cdn::web_bucket_statement(&name));
        }
        let mut lifecycle = Vec::new();
        if let Some(d) = b.ia_after_days {
            lifecycle.push(("ia_after_days", Value::Int(d.into())));
        }
        if let Some(d) = b.glacier_after_days {
            lifecycle.push(("glacier_after_days", Value::Int(d.into())));
        }
        out.push(
            Resource::new(bucket::logical_id(&b.name), Kind::Bucket)
                .prop("name", Value::str(&name))
                .prop("block_public_access", Value::Bool(true))
                .prop("encryption", Value::str("AES256"))
                .prop("versioning", Value::Bool(b.versioning))
                .prop("lifecycle", Value::map(lifecycle))
                .prop("policy", policy(statements))
                .prop(
                    "cors_origins",
                    Value::set(b.cors_origins.iter().map(Value::str)),
                ),
        );
    }
    out
}
