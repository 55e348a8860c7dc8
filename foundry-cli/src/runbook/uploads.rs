//! s3-upload-failures: the browser PUTs a file to a URL the api pre-signed.
//! It fails when the signing clock is off (SigV4 refuses requests more than
//! 5 minutes off AWS's time), when the bucket's CORS does not admit the web
//! origin (the browser blocks the PUT before S3 sees it), when the bucket
//! or the service's role does not allow the write, or when the URL expires
//! before the upload ends (or outlives the credentials that signed it).

use std::time::SystemTime;

use aws_smithy_types::date_time::{DateTime, Format};

use super::checks::{CheckError, Context, Fix, Outcome, Status, number, text};
use crate::aws::{self, AwsError};
use crate::engine::expand::ids;
use crate::resources::{Kind, bucket};
use crate::stack::{EnvValue, Part, Template};
use crate::vocab::Value;

/// SigV4's limit: a request signed further than this from AWS's clock is
/// refused (`RequestTimeTooSkewed`).
const SIGV4_SKEW_SECONDS: f64 = 300.0;

/// What the api uses when `UPLOAD_URL_TTL_SECS` is not set.
const DEFAULT_UPLOAD_URL_TTL_SECS: u64 = 300;

fn s3_endpoint(cx: &Context<'_>) -> String {
    cx.aws
        .endpoint_url
        .clone()
        .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", cx.stack.region))
}

/// This machine's clock against the `Date` S3 answers with.
pub async fn clock_skew(warn_seconds: f64, cx: &Context<'_>) -> Outcome {
    let endpoint = s3_endpoint(cx);
    let client = match crate::http::client(crate::release::health::PROBE_TIMEOUT) {
        Ok(client) => client,
        Err(e) => {
            return Outcome::pass("no HTTP client to ask S3 with")
                .evidence(vec![e])
                .with(
                    Status::Warn,
                    Fix::Manual {
                        description: "fix SSL_CERT_FILE (or unset it) and run the runbook again"
                            .into(),
                    },
                );
        }
    };
    let sent = SystemTime::now();
    let answer = client.head(&endpoint).send().await;
    let received = SystemTime::now();
    let date = answer
        .as_ref()
        .ok()
        .and_then(|r| r.headers().get(reqwest::header::DATE))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(date) = date else {
        return Outcome::pass(format!("{endpoint} gave no Date to compare with"))
            .evidence(vec![match answer {
                Err(e) => format!("HEAD {endpoint}: {}", aws::root_cause(&e)),
                Ok(r) => format!("HEAD {endpoint}: HTTP {} without a Date header", r.status()),
            }])
            .with(
                Status::Warn,
                Fix::Manual {
                    description:
                        "check that this machine reaches S3 (proxy, DNS) and run the runbook again"
                            .into(),
                },
            );
    };
    let Ok(theirs) = DateTime::from_str(&date, Format::HttpDate) else {
        return Outcome::pass(format!(
            "{endpoint} sent a Date that is not an HTTP date: {date}"
        ));
    };
    // The middle of the round trip stands for "now" on this side; Date has
    // one-second resolution, so half a second either way is noise.
    let ours = sent + received.duration_since(sent).unwrap_or_default() / 2;
    let ours = DateTime::from(ours);
    let skew = ours.as_secs_f64() - theirs.as_secs_f64();
    let evidence = vec![format!(
        "this machine's clock is {skew:+.1} s from {endpoint}'s Date ({date}); SigV4 refuses beyond ±{SIGV4_SKEW_SECONDS:.0} s"
    )];
    let status = if skew.abs() > SIGV4_SKEW_SECONDS {
        Status::Fail
    } else if skew.abs() > warn_seconds {
        Status::Warn
    } else {
        return Outcome::pass(format!("the clock is within {warn_seconds:.0} s of AWS's"))
            .evidence(evidence);
    };
    Outcome::pass(format!(
        "the clock is {:.0} s off AWS's: requests and pre-signed URLs signed here are refused or expire early",
        skew.abs()
    ))
    .evidence(evidence)
    .with(
        status,
        Fix::Manual {
            description: "synchronise the clock (systemd-timesyncd, chrony; on EC2 the Amazon Time Sync Service at 169.254.169.123); services on App Runner or ECS use AWS's clock".into(),
        },
    )
}

/// The stack's buckets as the engine observes them, with their names.
async fn observed_buckets(
    cx: &Context<'_>,
) -> Result<Vec<(crate::stack::Bucket, Option<crate::resources::Observed>)>, AwsError> {
    let found = Kind::Bucket
        .handler()
        .observe(cx.aws, &cx.session.scope)
        .await?;
    Ok(cx
        .stack
        .buckets
        .iter()
        .map(|b| {
            let o = found
                .iter()
                .find(|o| o.id == bucket::logical_id(&b.name))
                .cloned();
            (b.clone(), o)
        })
        .collect())
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .map(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Every origin the stack file lists under a bucket's `cors_origins` may PUT.
pub async fn cors(cx: &Context<'_>) -> Result<Outcome, AwsError> {
    let mut evidence = Vec::new();
    let mut broken = Vec::new();
    for (declared, observed) in observed_buckets(cx).await? {
        if declared.cors_origins.is_empty() {
            continue;
        }
        let Some(observed) = observed else {
            broken.push(format!("bucket {} does not exist", declared.name));
            continue;
        };
        let live = strings(observed.props.get("cors_origins"));
        evidence.push(format!(
            "{}: CORS admits PUT from {}",
            observed.physical_id,
            if live.is_empty() {
                "no origin".to_owned()
            } else {
                live.join(", ")
            }
        ));
        for origin in &declared.cors_origins {
            if !live.iter().any(|l| l == origin || l == "*") {
                broken.push(format!(
                    "{} does not admit PUT from {origin}: browsers there block the upload before it starts",
                    observed.physical_id
                ));
            }
        }
    }
    if evidence.is_empty() && broken.is_empty() {
        return Ok(Outcome::pass("no bucket takes uploads from browsers"));
    }
    if broken.is_empty() {
        return Ok(
            Outcome::pass("every bucket admits the origins the stack lists").evidence(evidence),
        );
    }
    let summary = broken[0].clone();
    evidence.extend(broken);
    Ok(Outcome::pass(summary).evidence(evidence).with(
        Status::Fail,
        Fix::restored_by_up("each bucket's cors_origins"),
    ))
}

/// Each bucket keeps its TLS-only policy and blocks public access, and each
/// service's role may write under the prefix the stack gives it.
pub async fn policy_and_grants(cx: &Context<'_>) -> Result<Outcome, AwsError> {
    let buckets = observed_buckets(cx).await?;
    let roles = Kind::IamRole
        .handler()
        .observe(cx.aws, &cx.session.scope)
        .await?;
    let mut evidence = Vec::new();
    let mut broken = Vec::new();
    for (declared, observed) in &buckets {
        let Some(observed) = observed else {
            broken.push(format!("bucket {} does not exist", declared.name));
            continue;
        };
        let policy = observed
            .props
            .get("policy")
            .map(|p| serde_json::to_string(p).unwrap_or_default())
            .unwrap_or_default();
        if policy.contains("aws:SecureTransport") {
            evidence.push(format!(
                "{}: TLS-only policy in place",
                observed.physical_id
            ));
        } else {
            broken.push(format!(
                "{}'s policy lost its TLS-only statement",
                observed.physical_id
            ));
        }
        if observed.props.get("block_public_access") != Some(&Value::Bool(true)) {
            broken.push(format!(
                "{} does not block public access",
                observed.physical_id
            ));
        }
        for service in cx
            .stack
            .services
            .iter()
            .filter(|s| s.buckets.iter().any(|(b, _)| b == &declared.name))
        {
            let prefix = service
                .buckets
                .iter()
                .find(|(b, _)| b == &declared.name)
                .map_or("", |(_, p)| p.as_str());
            let object = format!("{}/{prefix}*", bucket::arn(&observed.physical_id));
            let role = roles
                .iter()
                .find(|r| r.id == ids::service_role(&service.name));
            let grants = role.is_some_and(|r| {
                let text = r
                    .props
                    .get("policy")
                    .map(|p| serde_json::to_string(p).unwrap_or_default())
                    .unwrap_or_default();
                text.contains("s3:PutObject") && text.contains(&object)
            });
            if grants {
                evidence.push(format!(
                    "{}'s role may s3:PutObject on {object}",
                    service.name
                ));
            } else {
                broken.push(format!(
                    "{}'s role {} may not s3:PutObject on {object}: the pre-signed URL it makes is refused with 403",
                    service.name,
                    role.map_or("(missing)", |r| r.physical_id.as_str())
                ));
            }
        }
    }
    if broken.is_empty() {
        return Ok(
            Outcome::pass("bucket policies and the services' grants are in place")
                .evidence(evidence),
        );
    }
    let summary = broken[0].clone();
    evidence.extend(broken);
    Ok(Outcome::pass(summary).evidence(evidence).with(
        Status::Fail,
        Fix::restored_by_up("the buckets' policies and the services' grants"),
    ))
}

/// The lifetime of the api's pre-signed upload URLs: long enough for a slow
/// upload, and not longer than the role credentials that sign it live.
pub async fn url_ttl(params: &toml::Table, cx: &Context<'_>) -> Result<Outcome, CheckError> {
    let name = text(params, "service");
    let (min, max) = (number(params, "min_seconds"), number(params, "max_seconds"));
    let Some(service) = cx.stack.services.iter().find(|s| s.name == name) else {
        return Ok(Outcome::pass(format!("the stack has no service {name}")));
    };
    if service.buckets.is_empty() {
        return Ok(Outcome::pass(format!("{name} uses no bucket")));
    }
    let declared = service.env.iter().find(|v| v.name == "UPLOAD_URL_TTL_SECS");
    let from_file = declared.and_then(|v| match &v.value {
        EnvValue::Text(Template(parts)) => match parts.as_slice() {
            [Part::Text(t)] => Some(t.clone()),
            _ => None,
        },
        EnvValue::Secret(_) => None,
    });
    let history = crate::release::load(&cx.session.state)
        .await
        .map_err(crate::release::ReleaseError::from)?;
    let live = match history.current().and_then(|r| r.services.get(name)) {
        Some(released) => released.env.get("UPLOAD_URL_TTL_SECS").cloned(),
        None => from_file.clone(),
    };
    let (seconds, source) = match &live {
        Some(text) => match text.parse::<u64>() {
            Ok(s) => (s, format!("UPLOAD_URL_TTL_SECS={text}")),
            Err(_) => {
                return Ok(Outcome::pass(format!(
                    "{name}'s UPLOAD_URL_TTL_SECS={text} is not a number of seconds: the service refuses to start"
                ))
                .with(
                    Status::Fail,
                    Fix::Manual {
                        description: format!(
                            "set services.{name}.env.UPLOAD_URL_TTL_SECS to a number of seconds, e.g. \"{DEFAULT_UPLOAD_URL_TTL_SECS}\", and `foundry deploy {name}`"
                        ),
                    },
                ));
            }
        },
        None => (
            DEFAULT_UPLOAD_URL_TTL_SECS,
            format!("UPLOAD_URL_TTL_SECS unset (the api's default, {DEFAULT_UPLOAD_URL_TTL_SECS})"),
        ),
    };
    let evidence = vec![format!(
        "{name} pre-signs upload URLs for {seconds} s ({source}); the runbook expects {min:.0}–{max:.0} s"
    )];
    let seconds = seconds as f64;
    if (min..=max).contains(&seconds) {
        return Ok(Outcome::pass(format!("upload URLs live {seconds:.0} s")).evidence(evidence));
    }
    let why = if seconds < min {
        "a large upload on a slow connection outlasts the URL and S3 answers 403 Request has expired"
    } else {
        "a URL signed with the service role's temporary credentials stops working when they expire, whatever its own expiry says"
    };
    Ok(Outcome::pass(format!("upload URLs live {seconds:.0} s: {why}"))
        .evidence(evidence)
        .with(
            Status::Warn,
            Fix::Manual {
                description: format!(
                    "set services.{name}.env.UPLOAD_URL_TTL_SECS between {min:.0} and {max:.0} and `foundry deploy {name}`"
                ),
            },
        ))
}
