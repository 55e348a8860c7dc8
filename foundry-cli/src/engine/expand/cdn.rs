//! `[cdn]` → origin access control and CloudFront distribution, and the
//! statement that opens the web bucket to that distribution alone.
//!
//! Seed 002 §5: the web app is served from the private web bucket at `/`
//! (cached), the api at `/graphql` and `/api/*` (never cached, viewer headers
//! forwarded except Host, so the api sees its own host name). The behaviours
//! are properties, not constants of the resource type, so that a change made
//! in the console shows as drift and the next `up` puts it back.

use crate::engine::graph::Resource;
use crate::resources::distribution::{
    self, ALL_VIEWER_EXCEPT_HOST_HEADER, API_ORIGIN, CACHING_DISABLED, CACHING_OPTIMIZED,
    DEFAULT_BEHAVIOR, WEB_ORIGIN,
};
use crate::resources::{Kind, Scope, bucket};
use crate::stack::{ApiOrigin, ComputeTarget, Stack};
use crate::vocab::Value;

use super::{Facts, ids};

/// Paths the api origin serves; everything else is the web app.
const API_PATHS: [&str; 2] = ["/graphql", "/api/*"];

const ALL_METHODS: [&str; 7] = ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"];

/// The distribution's api origin and its protocol: the domain given, or
/// the api service's App Runner URL, or on ECS its load balancer's DNS
/// name (HTTP when the load balancer has no certificate). `None` while that
/// service is not expanded (it has no image yet): then no distribution is
/// emitted until it is, since its origin would be unknown and CloudFront
/// needs one.
fn api_origin(stack: &Stack, facts: &Facts) -> Option<(Value, &'static str)> {
    match &stack.cdn.as_ref()?.api_origin {
        ApiOrigin::Domain(d) => Some((Value::str(d), HTTPS_ONLY)),
        ApiOrigin::Service(name) => {
            if !super::compute::expanded_services(stack, facts).contains(name) {
                return None;
            }
            let service = stack.services.iter().find(|s| &s.name == name)?;
            Some(match stack.compute {
                ComputeTarget::Apprunner => (Value::attr(ids::service(name), "url"), HTTPS_ONLY),
                ComputeTarget::Ecs => (
                    Value::attr(ids::load_balancer(name), "dns_name"),
                    if super::ecs::https(stack, service) {
                        HTTPS_ONLY
                    } else {
                        "http-only"
                    },
                ),
            })
        }
    }
}

const HTTPS_ONLY: &str = "https-only";

/// Whether the distribution is part of the graph (see [`api_origin`]).
pub fn has_distribution(stack: &Stack, facts: &Facts) -> bool {
    api_origin(stack, facts).is_some()
}

/// The origin access control and the distribution of `[cdn]`, if declared.
pub fn cdn(stack: &Stack, facts: &Facts) -> Vec<Resource> {
    let Some(cdn) = &stack.cdn else {
        return Vec::new();
    };
    let Some((api_origin_domain, api_origin_protocol)) = api_origin(stack, facts) else {
        return Vec::new();
    };
    let scope = Scope::new(&stack.name, &stack.env);
    let web_bucket = bucket::bucket_name(&scope, &cdn.web_bucket, &facts.account);
    let oac = Resource::new(ids::OAC_WEB, Kind::OriginAccessControl)
        .prop("name", Value::str(scope.name(ids::OAC_WEB)))
        .prop(
            "description",
            Value::str(format!(
                "foundry {}/{}: CloudFront reads bucket {web_bucket}",
                stack.name, stack.env
            )),
        )
        .prop("origin_type", Value::str("s3"))
        .prop("signing_behavior", Value::str("always"))
        .prop("signing_protocol", Value::str("sigv4"));

    // The web app is static: cache it, and answer CORS preflights from cache.
    let web = distribution::behavior(
        WEB_ORIGIN,
        &["GET", "HEAD", "OPTIONS"],
        &["GET", "HEAD", "OPTIONS"],
        CACHING_OPTIMIZED,
        None,
    );
    let api = distribution::behavior(
        API_ORIGIN,
        &ALL_METHODS,
        &["GET", "HEAD"],
        CACHING_DISABLED,
        Some(ALL_VIEWER_EXCEPT_HOST_HEADER),
    );
    let behaviors = Value::map(
        [(DEFAULT_BEHAVIOR, web)]
            .into_iter()
            .chain(API_PATHS.map(|p| (p, api.clone()))),
    );
    let distribution = Resource::new(ids::DISTRIBUTION, Kind::Distribution)
        .prop(
            "comment",
            Value::str(distribution::comment(&scope, ids::DISTRIBUTION)),
        )
        .prop("enabled", Value::Bool(true))
        .prop("price_class", Value::str(&cdn.price_class))
        .prop("aliases", Value::set(cdn.aliases.iter().map(Value::str)))
        // Always present, "" meaning none: the diff compares desired keys
        // only, so a key left out could never be removed again.
        .prop(
            "certificate_arn",
            Value::str(cdn.certificate_arn.as_deref().unwrap_or_default()),
        )
        .prop(
            "web_acl_arn",
            Value::str(cdn.web_acl_arn.as_deref().unwrap_or_default()),
        )
        .prop("default_root_object", Value::str("index.html"))
        .prop(
            "web_origin_domain",
            Value::str(format!("{web_bucket}.s3.{}.amazonaws.com", stack.region)),
        )
        .prop("web_origin_access_control", Value::reference(ids::OAC_WEB))
        .prop("api_origin_domain", api_origin_domain)
        .prop("api_origin_protocol", Value::str(api_origin_protocol))
        .prop("behaviors", behaviors)
        .prop(
            "web_viewer_request_function",
            Value::attr(ids::FN_SPA, "arn"),
        );
    let spa = Resource::new(ids::FN_SPA, Kind::CloudfrontFunction)
        .prop("name", Value::str(scope.name(ids::FN_SPA)))
        .prop(
            "comment",
            Value::str(format!(
                "foundry {}/{}: the web client's routes answer with index.html",
                stack.name, stack.env
            )),
        )
        .prop("runtime", Value::str("cloudfront-js-2.0"))
        .prop("code", Value::str(SPA_FALLBACK));
    vec![oac, spa, distribution]
}

/// The web behaviour's viewer-request function: a path whose last segment
/// has no extension is a route of the single-page client, answered by
/// `index.html`; files (hashed assets, `favicon.ico`) are served as they
/// are. `/graphql` and `/api/*` have behaviours of their own, so the api's
/// answers (404s included) never pass through it.
pub const SPA_FALLBACK: &str = r#"// foundry: the web client's routes are answered by index.html.
function handler(event) {
  var request = event.request;
  var last = request.uri.split('/').pop();
  if (last.indexOf('.') === -1) {
    request.uri = '/index.html';
  }
  return request;
}
"#;

/// Bucket policy statement: `s3:GetObject` on `bucket` for CloudFront, only
/// when the request comes from this stack's distribution (OAC, SourceArn).
/// Shaped as `iam_role::from_json` reads a stored policy back (single values
/// as strings, not one-element lists), so an unchanged policy diffs equal.
pub fn web_bucket_statement(bucket: &str) -> Option<Value> {
    Some(Value::map([
        ("Sid", Value::str("AllowCloudFrontOAC")),
        ("Effect", Value::str("Allow")),
        (
            "Principal",
            Value::map([("Service", Value::str("cloudfront.amazonaws.com"))]),
        ),
        ("Action", Value::str("s3:GetObject")),
        ("Resource", Value::str(format!("{}/*", bucket::arn(bucket)))),
        (
            "Condition",
            Value::map([(
                "StringEquals",
                Value::map([("AWS:SourceArn", Value::reference(ids::DISTRIBUTION))]),
            )]),
        ),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_statement_reads_back_equal_once_resolved() {
        let arn = "arn:aws:cloudfront::123456789012:distribution/E1ABC";
        let desired = web_bucket_statement("acme-prod-web-123456789012")
            .unwrap()
            .resolve(&|id| (id == ids::DISTRIBUTION).then(|| arn.to_string()));
        let stored = serde_json::to_value(&desired).unwrap();
        assert_eq!(stored["Condition"]["StringEquals"]["AWS:SourceArn"], arn);
        assert_eq!(crate::resources::iam_role::from_json(&stored), desired);
    }
}
