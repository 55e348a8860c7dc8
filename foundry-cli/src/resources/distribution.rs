//! CloudFront distribution: the private web bucket at `/` (signed by the
//! origin access control) and the api's HTTPS origin behind the paths that
//! `behaviors` names. Its physical id is the ARN, because that is what the web
//! bucket's policy names in `AWS:SourceArn`; the API calls take the id inside.
//!
//! Listing cannot filter by tag, so the comment carries `foundry <stack>/<env>
//! <id>`: only listed distributions with our comment have their tags read,
//! and the tags decide. A create is tagged in the call itself
//! (CreateDistributionWithTags) and idempotent through its CallerReference
//! (the journaled token). Updates replace the whole config, so they read it
//! with its ETag, change only the fields foundry manages and write it back;
//! every change is waited on until `Deployed`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudfront::error::{BuildError, ProvideErrorMetadata};
use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CacheBehavior, CacheBehaviors, CachedMethods, CustomOriginConfig,
    DefaultCacheBehavior, DistributionConfig, DistributionConfigWithTags, DistributionSummary,
    EventType, FunctionAssociation, FunctionAssociations, Method, MinimumProtocolVersion, Origin, OriginProtocolPolicy, OriginSslProtocols, Origins,
    PriceClass, S3OriginConfig, SslProtocol, SslSupportMethod, ViewerCertificate,
    ViewerProtocolPolicy,
};

use super::origin_access_control::OriginAccessControl;
use crate::vocab::{PropError, PropSpec, Schema, Ty};
use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_str, prop_strs};
use crate::aws::cloudfront::{
    distribution_config, distribution_id, owner, tags, tags_of, update_distribution, wait_deployed,
};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{Props, Value};

pub struct Distribution;

/// Origin ids inside the distribution.
pub const WEB_ORIGIN: &str = "web";
pub const API_ORIGIN: &str = "api";

/// The key of the default behaviour in the `behaviors` property; the other
/// keys are path patterns.
pub const DEFAULT_BEHAVIOR: &str = "*";

/// AWS-managed cache and origin request policies.
pub const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
pub const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
pub const ALL_VIEWER_EXCEPT_HOST_HEADER: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

/// `foundry <stack>/<env> <id>`: the comment that marks a distribution as a
/// candidate of this scope (the tags then decide).
pub fn comment(scope: &Scope, id: &str) -> String {
    format!("{}{id}", comment_prefix(scope))
}

fn comment_prefix(scope: &Scope) -> String {
    format!("foundry {}/{} ", scope.stack, scope.env)
}

/// One cache behaviour as a property value, in the shape observe reads back.
pub fn behavior(
    origin: &str,
    methods: &[&str],
    cached_methods: &[&str],
    cache_policy: &str,
    origin_request_policy: Option<&str>,
) -> Value {
    Value::map([
        ("origin", Value::str(origin)),
        ("viewer_protocol_policy", Value::str("redirect-to-https")),
        (
            "methods",
            Value::set(methods.iter().map(|m| Value::str(*m))),
        ),
        (
            "cached_methods",
            Value::set(cached_methods.iter().map(|m| Value::str(*m))),
        ),
        ("cache_policy", Value::str(cache_policy)),
        (
            "origin_request_policy",
            Value::str(origin_request_policy.unwrap_or_default()),
        ),
        ("compress", Value::Bool(true)),
    ])
}

/// What observe reads of one behaviour, whichever of the two API types it is.
struct Seen<'a> {
    origin: &'a str,
    viewer_protocol_policy: &'a str,
    allowed: Option<&'a AllowedMethods>,
    cache_policy: Option<&'a str>,
    origin_request_policy: Option<&'a str>,
    compress: Option<bool>,
}

impl Seen<'_> {
    fn value(&self) -> Value {
        let methods = |m: &[Method]| Value::set(m.iter().map(|m| Value::str(m.as_str())));
        let cached = self.allowed.and_then(|a| a.cached_methods());
        Value::map([
            ("origin", Value::str(self.origin)),
            (
                "viewer_protocol_policy",
                Value::str(self.viewer_protocol_policy),
            ),
            (
                "methods",
                methods(self.allowed.map(|a| a.items()).unwrap_or_default()),
            ),
            (
                "cached_methods",
                methods(cached.map(|c| c.items()).unwrap_or_default()),
            ),
            (
                "cache_policy",
                Value::str(self.cache_policy.unwrap_or_default()),
            ),
            (
                "origin_request_policy",
                Value::str(self.origin_request_policy.unwrap_or_default()),
            ),
            ("compress", Value::Bool(self.compress.unwrap_or_default())),
        ])
    }
}

fn behaviors_of(d: &DistributionConfig) -> Value {
    let mut out = BTreeMap::new();
    if let Some(b) = d.default_cache_behavior() {
        let seen = Seen {
            origin: b.target_origin_id(),
            viewer_protocol_policy: b.viewer_protocol_policy().as_str(),
            allowed: b.allowed_methods(),
            cache_policy: b.cache_policy_id(),
            origin_request_policy: b.origin_request_policy_id(),
            compress: b.compress(),
        };
        out.insert(DEFAULT_BEHAVIOR.to_string(), seen.value());
    }
    for b in d.cache_behaviors().map(|c| c.items()).unwrap_or_default() {
        let seen = Seen {
            origin: b.target_origin_id(),
            viewer_protocol_policy: b.viewer_protocol_policy().as_str(),
            allowed: b.allowed_methods(),
            cache_policy: b.cache_policy_id(),
            origin_request_policy: b.origin_request_policy_id(),
            compress: b.compress(),
        };
        out.insert(b.path_pattern().to_string(), seen.value());
    }
    Value::Map(out)
}

/// The properties a distribution's config holds: the inverse of
/// [`config_from`] for every field foundry manages.
fn props_of(d: &DistributionConfig) -> Props {
    let origin = |id: &str| {
        d.origins()
            .and_then(|o| o.items().iter().find(|o| o.id() == id))
    };
    let web = origin(WEB_ORIGIN);
    let certificate = d
        .viewer_certificate()
        .and_then(|c| c.acm_certificate_arn())
        .unwrap_or_default();
    let mut p = Props::new();
    let mut put = |k: &str, v: Value| {
        p.insert(k.to_string(), v);
    };
    put("comment", Value::str(d.comment()));
    put("enabled", Value::Bool(d.enabled()));
    put(
        "price_class",
        Value::str(d.price_class().map(|p| p.as_str()).unwrap_or_default()),
    );
    put(
        "aliases",
        Value::set(
            d.aliases()
                .map(|a| a.items())
                .unwrap_or_default()
                .iter()
                .map(Value::str),
        ),
    );
    put("certificate_arn", Value::str(certificate));
    put("web_acl_arn", Value::str(d.web_acl_id().unwrap_or_default()));
    put(
        "default_root_object",
        Value::str(d.default_root_object().unwrap_or_default()),
    );
    put(
        "web_origin_domain",
        Value::str(web.map(|o| o.domain_name()).unwrap_or_default()),
    );
    // Left out when the web origin exists but does not report it; `observe`
    // fills it in.
    match web.map(|o| o.origin_access_control_id()) {
        Some(Some(oac)) => put("web_origin_access_control", Value::str(oac)),
        None => put("web_origin_access_control", Value::str("")),
        Some(None) => {}
    }
    put(
        "api_origin_domain",
        Value::str(
            origin(API_ORIGIN)
                .map(|o| o.domain_name())
                .unwrap_or_default(),
        ),
    );
    put(
        "api_origin_protocol",
        Value::str(
            origin(API_ORIGIN)
                .and_then(|o| o.custom_origin_config())
                .map(|c| c.origin_protocol_policy().as_str())
                .unwrap_or_default(),
        ),
    );
    put("behaviors", behaviors_of(d));
    put(
        "web_viewer_request_function",
        Value::str(
            d.default_cache_behavior()
                .and_then(|b| b.function_associations())
                .map(|f| f.items())
                .unwrap_or_default()
                .iter()
                .find(|f| f.event_type() == &EventType::ViewerRequest)
                .map(|f| f.function_arn())
                .unwrap_or_default(),
        ),
    );
    p
}

/// The default behaviour's function associations: the web's viewer-request
/// function when there is one ("" is none).
fn web_functions(props: &Props) -> Result<FunctionAssociations, ConfigError> {
    let arn = prop_str(props, "web_viewer_request_function")?;
    let mut associations = FunctionAssociations::builder().quantity(0);
    if !arn.is_empty() {
        associations = associations.quantity(1).items(
            FunctionAssociation::builder()
                .function_arn(arn)
                .event_type(EventType::ViewerRequest)
                .build()?,
        );
    }
    Ok(associations.build()?)
}

/// A behaviour property value, read for building the API types.
struct Wanted {
    origin: String,
    viewer_protocol_policy: ViewerProtocolPolicy,
    allowed: AllowedMethods,
    cache_policy: String,
    origin_request_policy: Option<String>,
    compress: bool,
}

impl Wanted {
    fn parse(v: &Value) -> Result<Self, BuildError> {
        let m = v.as_map().cloned().unwrap_or_default();
        let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default();
        let methods = |k: &str| -> Vec<Method> {
            m.get(k)
                .map(Value::as_list)
                .unwrap_or_default()
                .iter()
                .filter_map(Value::as_str)
                .map(Method::from)
                .collect()
        };
        let cached = methods("cached_methods");
        let allowed = methods("methods");
        let cached = CachedMethods::builder()
            .quantity(cached.len() as i32)
            .set_items(Some(cached))
            .build()?;
        Ok(Self {
            origin: text("origin").to_string(),
            viewer_protocol_policy: ViewerProtocolPolicy::from(text("viewer_protocol_policy")),
            allowed: AllowedMethods::builder()
                .quantity(allowed.len() as i32)
                .set_items(Some(allowed))
                .cached_methods(cached)
                .build()?,
            cache_policy: text("cache_policy").to_string(),
            origin_request_policy: Some(text("origin_request_policy"))
                .filter(|p| !p.is_empty())
                .map(str::to_string),
            compress: m.get("compress").and_then(Value::as_bool).unwrap_or(true),
        })
    }
}

fn origins(props: &Props) -> Result<Origins, ConfigError> {
    let web = Origin::builder()
        .id(WEB_ORIGIN)
        .domain_name(prop_str(props, "web_origin_domain")?)
        // OAC, not the legacy origin access identity, which must be empty.
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .origin_access_control_id(prop_str(props, "web_origin_access_control")?)
        .build()?;
    let tls = OriginSslProtocols::builder()
        .quantity(1)
        .items(SslProtocol::TlSv12)
        .build()?;
    let api = Origin::builder()
        .id(API_ORIGIN)
        .domain_name(prop_str(props, "api_origin_domain")?)
        .custom_origin_config(
            CustomOriginConfig::builder()
                .http_port(80)
                .https_port(443)
                .origin_protocol_policy(OriginProtocolPolicy::from(prop_str(
                    props,
                    "api_origin_protocol",
                )?))
                .origin_ssl_protocols(tls)
                .build()?,
        )
        .build()?;
    Ok(Origins::builder().quantity(2).items(web).items(api).build()?)
}

fn viewer_certificate(props: &Props) -> Result<ViewerCertificate, PropError> {
    Ok(match prop_str(props, "certificate_arn")? {
        "" => ViewerCertificate::builder()
            .cloud_front_default_certificate(true)
            .build(),
        arn => ViewerCertificate::builder()
            .cloud_front_default_certificate(false)
            .acm_certificate_arn(arn)
            .ssl_support_method(SslSupportMethod::SniOnly)
            .minimum_protocol_version(MinimumProtocolVersion::TlSv122021)
            .build(),
    })
}

/// Sets the fields foundry manages; the rest of `config` (logging, geo
/// restrictions, HTTP version, …) stays as CloudFront holds it.
fn apply(config: &mut DistributionConfig, props: &Props) -> Result<(), ConfigError> {
    let aliases = prop_strs(props, "aliases")?;
    config.comment = prop_str(props, "comment")?.to_string();
    config.enabled = props
        .get("enabled")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    config.price_class = Some(PriceClass::from(prop_str(props, "price_class")?));
    config.aliases = Some(
        Aliases::builder()
            .quantity(aliases.len() as i32)
            .set_items((!aliases.is_empty()).then_some(aliases))
            .build()?,
    );
    config.default_root_object = Some(prop_str(props, "default_root_object")?.to_string());
    config.origins = Some(origins(props)?);
    config.viewer_certificate = Some(viewer_certificate(props)?);
    config.web_acl_id = Some(prop_str(props, "web_acl_arn")?.to_string());

    let behaviors = props
        .get("behaviors")
        .and_then(Value::as_map)
        .cloned()
        .unwrap_or_default();
    let default = Wanted::parse(behaviors.get(DEFAULT_BEHAVIOR).unwrap_or(&Value::Unknown))?;
    config.default_cache_behavior = Some(
        DefaultCacheBehavior::builder()
            .target_origin_id(default.origin)
            .viewer_protocol_policy(default.viewer_protocol_policy)
            .allowed_methods(default.allowed)
            .cache_policy_id(default.cache_policy)
            .set_origin_request_policy_id(default.origin_request_policy)
            .compress(default.compress)
            .function_associations(web_functions(props)?)
            .build()?,
    );
    // Map order is precedence order; foundry's path patterns never overlap.
    let mut ordered = Vec::new();
    for (path, value) in behaviors.iter().filter(|(k, _)| *k != DEFAULT_BEHAVIOR) {
        let b = Wanted::parse(value)?;
        ordered.push(
            CacheBehavior::builder()
                .path_pattern(path)
                .target_origin_id(b.origin)
                .viewer_protocol_policy(b.viewer_protocol_policy)
                .allowed_methods(b.allowed)
                .cache_policy_id(b.cache_policy)
                .set_origin_request_policy_id(b.origin_request_policy)
                .compress(b.compress)
                .build()?,
        );
    }
    config.cache_behaviors = Some(
        CacheBehaviors::builder()
            .quantity(ordered.len() as i32)
            .set_items((!ordered.is_empty()).then_some(ordered))
            .build()?,
    );
    Ok(())
}

/// Why a distribution config could not be built from the properties.
#[derive(Debug, thiserror::Error)]
enum ConfigError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Property(#[from] PropError),
}

fn invalid(operation: &'static str, e: ConfigError) -> AwsError {
    let e = match e {
        ConfigError::Property(e) => return AwsError::Property(e),
        ConfigError::Build(e) => e,
    };
    AwsError::Api {
        operation,
        code: None,
        message: format!("invalid distribution config: {e}"),
    }
}

fn disappeared(operation: &'static str, id: &str) -> AwsError {
    AwsError::Api {
        operation,
        code: Some("NoSuchDistribution".into()),
        message: format!("CloudFront distribution {id} no longer exists"),
    }
}

/// Waits for `Deployed`; a distribution that vanished meanwhile is an error.
async fn deployed(aws: &Aws, operation: &'static str, id: &str) -> Result<String, AwsError> {
    wait_deployed(aws, id)
        .await?
        .ok_or_else(|| disappeared(operation, id))
}

/// A listed candidate, if its tags say it is ours: tags and config (for the
/// default root object) read together.
async fn observe_one(
    aws: &Aws,
    scope: &Scope,
    d: &DistributionSummary,
) -> Result<Option<Observed>, AwsError> {
    let (tags, config) = tokio::try_join!(
        async { AwsError::none_if_not_found(tags_of(aws, d.arn()).await) },
        distribution_config(aws, d.id()),
    )?;
    let (Some(tags), Some((config, _))) = (tags, config) else {
        return Ok(None);
    };
    let Some(id) = owner(scope, &tags) else {
        return Ok(None);
    };
    let mut o = Observed::new(id, Kind::Distribution, d.arn());
    o.props = props_of(&config);
    o.attrs.insert("id".into(), d.id().to_string());
    o.attrs
        .insert("domain_name".into(), d.domain_name().to_string());
    o.attrs.insert("status".into(), d.status().to_string());
    Ok(Some(o))
}

/// CloudFront always answers an origin's OriginAccessControlId (empty when
/// unset); moto 5.2 drops the element. Where it is missing the attachment
/// cannot be observed, so it reads as this scope's origin access control when
/// there is exactly one: otherwise every plan against the emulator (tests,
/// `--local`) would show an update.
async fn fill_unreported_oac(
    aws: &Aws,
    scope: &Scope,
    found: &mut [Observed],
) -> Result<(), AwsError> {
    let unreported = |o: &Observed| !o.props.contains_key("web_origin_access_control");
    if found.iter().any(unreported) {
        let oacs = OriginAccessControl.observe(aws, scope).await?;
        let only = match oacs.as_slice() {
            [one] => one.physical_id.as_str(),
            _ => "",
        };
        for o in found.iter_mut().filter(|o| unreported(o)) {
            o.props
                .insert("web_origin_access_control".into(), Value::str(only));
        }
    }
    Ok(())
}

#[async_trait]
impl ResourceType for Distribution {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("comment", Ty::Str),
            PropSpec::required("enabled", Ty::Bool),
            PropSpec::required("price_class", Ty::Str),
            PropSpec::required("aliases", Ty::StrSet),
            PropSpec::required("certificate_arn", Ty::Str),
            PropSpec::required("web_acl_arn", Ty::Str),
            PropSpec::required("default_root_object", Ty::Str),
            PropSpec::required("web_origin_domain", Ty::Str),
            PropSpec::required("web_origin_access_control", Ty::Str),
            PropSpec::required("api_origin_domain", Ty::Str),
            // `https-only`, or `http-only` for a load balancer without a
            // certificate (the ECS target without `[compute] certificate_arn`).
            PropSpec::required("api_origin_protocol", Ty::Str),
            PropSpec::required("behaviors", Ty::Map),
            // The CloudFront Function the web behaviour runs on each viewer
            // request (its ARN; "" for none).
            PropSpec::required("web_viewer_request_function", Ty::Str),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let listed: Vec<DistributionSummary> = aws
            .cloudfront
            .list_distributions()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_aws("ListDistributions")?;
        let prefix = comment_prefix(scope);
        let candidates = listed.iter().filter(|d| d.comment().starts_with(&prefix));
        let found =
            futures::future::try_join_all(candidates.map(|d| observe_one(aws, scope, d))).await?;
        let mut found: Vec<Observed> = found.into_iter().flatten().collect();
        fill_unreported_oac(aws, scope, &mut found).await?;
        Ok(found)
    }

    async fn create(
        &self,
        aws: &Aws,
        scope: &Scope,
        id: &str,
        props: &Props,
        token: &str,
    ) -> Result<String, AwsError> {
        const OP: &str = "CreateDistributionWithTags";
        let mut config = DistributionConfig::builder()
            .caller_reference(token)
            .comment("")
            .enabled(true)
            .build()
            .expect("required fields are set");
        apply(&mut config, props).map_err(|e| invalid(OP, e))?;
        let with_tags = DistributionConfigWithTags::builder()
            .distribution_config(config)
            .tags(tags(scope, id))
            .build();
        let out = aws
            .cloudfront
            .create_distribution_with_tags()
            .distribution_config_with_tags(with_tags)
            .send()
            .await;
        let (arn, distribution) = match out {
            Ok(out) => {
                let d = out.distribution().ok_or_else(|| AwsError::Api {
                    operation: OP,
                    code: None,
                    message: "CloudFront answered without the distribution".into(),
                })?;
                (d.arn().to_string(), d.id().to_string())
            }
            // The same token was sent before (a retried create): ours exists,
            // tagged from birth, so finish waiting for it.
            Err(e) if e.code() == Some("DistributionAlreadyExists") => {
                let ours = self
                    .observe(aws, scope)
                    .await?
                    .into_iter()
                    .find(|o| o.id == id)
                    .ok_or_else(|| AwsError::from_sdk(OP, e))?;
                let distribution = distribution_id(&ours.physical_id).to_string();
                (ours.physical_id, distribution)
            }
            Err(e) => return Err(AwsError::from_sdk(OP, e)),
        };
        deployed(aws, OP, &distribution).await?;
        Ok(arn)
    }

    /// By ARN, when the listing did not show it (moto 5.2.1's
    /// ListDistributions omits the comment foundry narrows the listing by).
    async fn find(
        &self,
        aws: &Aws,
        scope: &Scope,
        physical_id: &str,
    ) -> Result<Option<Observed>, AwsError> {
        let got = aws
            .cloudfront
            .get_distribution()
            .id(distribution_id(physical_id))
            .send()
            .await
            .or_aws("GetDistribution");
        let Some(got) = AwsError::none_if_not_found(got)? else {
            return Ok(None);
        };
        let Some(d) = got.distribution() else {
            return Ok(None);
        };
        let Some(tags) = AwsError::none_if_not_found(tags_of(aws, d.arn()).await)? else {
            return Ok(None);
        };
        let (Some(id), Some(config)) = (owner(scope, &tags), d.distribution_config()) else {
            return Ok(None);
        };
        let mut o = Observed::new(id, Kind::Distribution, d.arn());
        o.props = props_of(config);
        o.attrs.insert("id".into(), d.id().to_string());
        o.attrs.insert("domain_name".into(), d.domain_name().to_string());
        o.attrs.insert("status".into(), d.status().to_string());
        let mut found = [o];
        fill_unreported_oac(aws, scope, &mut found).await?;
        let [o] = found;
        Ok(Some(o))
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        const OP: &str = "UpdateDistribution";
        let id = distribution_id(&current.physical_id);
        let (mut config, etag) = distribution_config(aws, id)
            .await?
            .ok_or_else(|| disappeared(OP, id))?;
        apply(&mut config, desired).map_err(|e| invalid(OP, e))?;
        update_distribution(aws, id, config, &etag).await?;
        deployed(aws, OP, id).await?;
        Ok(())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        let id = distribution_id(&current.physical_id);
        let Some((mut config, etag)) = distribution_config(aws, id).await? else {
            return Ok(());
        };
        // Only a disabled, deployed distribution can be deleted. A disabled
        // one may still be deploying (a destroy that was interrupted), so the
        // wait comes either way.
        if config.enabled {
            config.enabled = false;
            let disabled = update_distribution(aws, id, config, &etag).await;
            if AwsError::none_if_not_found(disabled)?.is_none() {
                return Ok(());
            }
        }
        let Some(etag) = wait_deployed(aws, id).await? else {
            return Ok(());
        };
        gone_ok(
            aws.cloudfront
                .delete_distribution()
                .id(id)
                .if_match(etag)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteDistribution"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(certificate: &str, aliases: &[&str], function: &str) -> Props {
        let mut behaviors = BTreeMap::new();
        behaviors.insert(
            DEFAULT_BEHAVIOR.to_string(),
            behavior(WEB_ORIGIN, &["GET", "HEAD"], &["GET", "HEAD"], CACHING_OPTIMIZED, None),
        );
        behaviors.insert(
            "/graphql".to_string(),
            behavior(
                API_ORIGIN,
                &["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"],
                &["GET", "HEAD"],
                CACHING_DISABLED,
                Some(ALL_VIEWER_EXCEPT_HOST_HEADER),
            ),
        );
        [
            ("comment", Value::str("foundry acme/prod cdn")),
            ("enabled", Value::Bool(true)),
            ("price_class", Value::str("PriceClass_100")),
            ("aliases", Value::set(aliases.iter().map(|a| Value::str(*a)))),
            ("certificate_arn", Value::str(certificate)),
            ("web_acl_arn", Value::str("")),
            ("default_root_object", Value::str("index.html")),
            ("web_origin_domain", Value::str("web.s3.us-east-1.amazonaws.com")),
            ("web_origin_access_control", Value::str("E2OAC")),
            ("api_origin_domain", Value::str("api.acme.example")),
            ("api_origin_protocol", Value::str("https-only")),
            ("behaviors", Value::Map(behaviors)),
            ("web_viewer_request_function", Value::str(function)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// What `create` and `update` write is what `observe` and `find` read
    /// back, field for field: otherwise every plan would show an update.
    #[test]
    fn props_round_trip_through_the_distribution_config() {
        for desired in [
            props("", &[], ""),
            props(
                "arn:aws:acm:us-east-1:123456789012:certificate/abc",
                &["acme.example", "www.acme.example"],
                "arn:aws:cloudfront::123456789012:function/acme-prod-fn-spa",
            ),
        ] {
            let mut config = DistributionConfig::builder()
                .caller_reference("token")
                .comment("")
                .enabled(false)
                .build()
                .unwrap();
            apply(&mut config, &desired).unwrap();
            assert_eq!(props_of(&config), desired);
        }
    }

    #[test]
    fn a_missing_property_is_an_error_not_a_default() {
        let mut desired = props("", &[], "");
        desired.remove("api_origin_domain");
        let mut config = DistributionConfig::builder()
            .caller_reference("token")
            .comment("")
            .enabled(true)
            .build()
            .unwrap();
        let err = apply(&mut config, &desired).unwrap_err();
        assert!(err.to_string().contains("`api_origin_domain` is missing"), "{err}");
    }
}
