//! `[cdn]` resolution: the web bucket must be declared, aliases need a
//! certificate, and the price class is one CloudFront knows.

use super::file::{CdnSpec, Ingress};
use super::layered::{Layered, span};
use super::{Diagnostic, Locator, did_you_mean};

pub const PRICE_CLASSES: &[&str] = &["PriceClass_100", "PriceClass_200", "PriceClass_All"];

/// The resolved distribution of one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cdn {
    /// Name under `[buckets]` of the bucket served at `/`.
    pub web_bucket: String,
    /// HTTPS origin for `/graphql` and `/api/*`.
    pub api_origin: ApiOrigin,
    pub aliases: Vec<String>,
    pub certificate_arn: Option<String>,
    pub web_acl_arn: Option<String>,
    pub price_class: String,
}

/// Where CloudFront sends the api's paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiOrigin {
    /// A public service of the stack, by name: its App Runner URL.
    Service(String),
    /// A domain given by hand (`api_domain`).
    Domain(String),
}

/// The default `api_service` when neither it nor `api_domain` is given.
pub const DEFAULT_API_SERVICE: &str = "api";

#[allow(clippy::too_many_arguments)]
pub fn resolve(
    base: &CdnSpec,
    over: &CdnSpec,
    env: &str,
    buckets: &[&str],
    services: &[(&str, Ingress)],
    locator: &Locator,
    diags: &mut Vec<Diagnostic>,
) -> Cdn {
    let l = Layered {
        base,
        over,
        env,
        section: "cdn",
    };
    let mut problem = |path: Vec<String>, message: String, help: String| {
        diags.push(Diagnostic::new(message).at(span(locator, &path)).help(help));
    };
    let at_cdn = || vec!["cdn".to_string()];
    let web_bucket = match l.pick(|c| c.web_bucket.as_deref(), &["web_bucket"]) {
        None => {
            problem(
                at_cdn(),
                "[cdn] needs web_bucket".into(),
                "name the bucket under [buckets] that holds the web app, e.g. web_bucket = \"web\""
                    .into(),
            );
            String::new()
        }
        Some((b, path)) => {
            if !buckets.contains(&b) {
                let help = did_you_mean(b, buckets.iter().copied(), || {
                    format!("declare it with a [buckets.{b}] table")
                });
                problem(path, format!("cdn.web_bucket `{b}` is not declared"), help);
            }
            b.to_string()
        }
    };
    let api_service = l.pick(|c| c.api_service.as_deref(), &["api_service"]);
    let api_domain = l.pick(|c| c.api_domain.as_deref(), &["api_domain"]);
    let api_origin = match (api_service, api_domain) {
        (Some(_), Some((_, path))) => {
            problem(
                path,
                "[cdn] names the api origin twice, with api_service and api_domain".into(),
                "keep api_service (the api runs in this stack) or api_domain (a domain of your own), not both".into(),
            );
            ApiOrigin::Domain(String::new())
        }
        (None, Some((d, path))) => {
            let valid = d.contains('.')
                && d.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            if !valid {
                problem(
                    path,
                    format!("`{d}` is not a domain name"),
                    "write the bare host name, without https:// or a path, e.g. api.acme.example"
                        .into(),
                );
            }
            ApiOrigin::Domain(d.to_string())
        }
        (service, None) => {
            let (name, path) = service.map_or((DEFAULT_API_SERVICE, None), |(n, p)| (n, Some(p)));
            match services.iter().find(|(s, _)| *s == name) {
                Some((_, Ingress::Public)) => {}
                Some((_, Ingress::Private)) => problem(
                    path.unwrap_or_else(at_cdn),
                    format!("cdn.api_service `{name}` is private; CloudFront cannot reach it"),
                    format!(
                        "set ingress = \"public\" in [services.{name}], or name a public service"
                    ),
                ),
                None => {
                    let names = services.iter().map(|(s, _)| *s);
                    let help = match &path {
                        Some(_) => did_you_mean(name, names, || {
                            format!("declare it with a [services.{name}] table")
                        }),
                        None => "name the public service that serves the api, e.g. api_service = \"api\", or give api_domain = \"api.acme.example\"".into(),
                    };
                    let message = match &path {
                        Some(_) => format!("cdn.api_service `{name}` is not declared"),
                        None => {
                            format!("[cdn] needs its api origin, and no service is named `{name}`")
                        }
                    };
                    problem(path.unwrap_or_else(at_cdn), message, help);
                }
            }
            ApiOrigin::Service(name.to_string())
        }
    };
    let aliases = l
        .pick(|c| c.aliases.as_ref(), &["aliases"])
        .map(|(a, _)| a.clone())
        .unwrap_or_default();
    let certificate_arn = l
        .pick(|c| c.certificate_arn.as_deref(), &["certificate_arn"])
        .map(|(c, path)| {
            if !c.starts_with("arn:aws:acm:us-east-1:") {
                problem(
                    path,
                    format!("`{c}` is not an ACM certificate ARN in us-east-1"),
                    "CloudFront uses certificates from ACM in us-east-1 only".into(),
                );
            }
            c.to_string()
        });
    if !aliases.is_empty() && certificate_arn.is_none() {
        let path = l
            .pick(|c| c.aliases.as_ref(), &["aliases"])
            .map_or_else(at_cdn, |(_, p)| p);
        problem(
            path,
            "cdn.aliases need a TLS certificate".into(),
            "add certificate_arn = \"arn:aws:acm:us-east-1:...\" covering every alias".into(),
        );
    }
    let web_acl_arn = l
        .pick(|c| c.web_acl_arn.as_deref(), &["web_acl_arn"])
        .map(|(w, _)| w.to_string());
    let price_class = match l.pick(|c| c.price_class.as_deref(), &["price_class"]) {
        None => "PriceClass_100".to_string(),
        Some((p, path)) => {
            if !PRICE_CLASSES.contains(&p) {
                let help = did_you_mean(p, PRICE_CLASSES.iter().copied(), || {
                    format!("use one of {}", PRICE_CLASSES.join(", "))
                });
                problem(path, format!("unknown price class `{p}`"), help);
            }
            p.to_string()
        }
    };
    Cdn {
        web_bucket,
        api_origin,
        aliases,
        certificate_arn,
        web_acl_arn,
        price_class,
    }
}
