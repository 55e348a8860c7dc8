//! secrets-rotation: how old each secret's value is, and whether the
//! services run with the value that is current now. A service reads its
//! secrets when an instance starts, so after `foundry secret set` or a
//! rotation it keeps the old value until it restarts; the release records
//! which version each service read.

use std::collections::BTreeSet;
use std::time::SystemTime;

use super::checks::{CheckError, Context, Fix, Outcome, Status};
use crate::aws::{self, AwsError, SdkResultExt};
use crate::engine::expand::secret_name;
use crate::release::{self, ReleaseError};

const SECONDS_PER_DAY: f64 = 86_400.0;

pub async fn age(max_age_days: f64, cx: &Context<'_>) -> Result<Outcome, AwsError> {
    if cx.stack.secrets.is_empty() {
        return Ok(Outcome::pass("the stack has no secrets"));
    }
    let mut evidence = Vec::new();
    let mut old = Vec::new();
    let mut unset = Vec::new();
    for secret in &cx.stack.secrets {
        let name = secret_name(cx.stack, &secret.name);
        let out = AwsError::none_if_not_found(
            cx.aws
                .secrets
                .describe_secret()
                .secret_id(&name)
                .send()
                .await
                .or_aws("DescribeSecret"),
        )?;
        let Some(out) = out else {
            evidence.push(format!("{name} does not exist"));
            unset.push(secret.name.clone());
            continue;
        };
        let current = out.version_ids_to_stages().is_some_and(|v| {
            v.values()
                .any(|stages| stages.iter().any(|s| s == "AWSCURRENT"))
        });
        if !current {
            evidence.push(format!("{name} has no value yet"));
            unset.push(secret.name.clone());
            continue;
        }
        let changed = out
            .last_changed_date()
            .or(out.created_date())
            .and_then(|d| SystemTime::try_from(*d).ok());
        let days = changed
            .and_then(|t| cx.now.duration_since(t).ok())
            .map_or(0.0, |d| d.as_secs_f64() / SECONDS_PER_DAY);
        evidence.push(format!(
            "{name}: value {days:.0} day(s) old ({}){}",
            if secret.generate {
                "generated"
            } else {
                "set by hand"
            },
            out.last_rotated_date()
                .map(|d| format!(", last rotated {d}"))
                .unwrap_or_default()
        ));
        if days > max_age_days {
            old.push(secret);
        }
    }
    if old.is_empty() && unset.is_empty() {
        return Ok(Outcome::pass(format!(
            "every secret's value is younger than {max_age_days:.0} days"
        ))
        .evidence(evidence));
    }
    if let Some(name) = unset.first() {
        return Ok(Outcome::pass(format!(
            "{} secret(s) without a value: the services that read them cannot start",
            unset.len()
        ))
        .evidence(evidence)
        .with(
            Status::Fail,
            Fix::Manual {
                description: format!(
                    "`foundry secret set {name} --env {}` (the value is read from stdin), then `foundry up`",
                    cx.stack.env
                ),
            },
        ));
    }
    let outcome = Outcome::pass(format!(
        "{} secret(s) older than {max_age_days:.0} days",
        old.len()
    ))
    .evidence(evidence);
    // One fix per run: the first generated one foundry can rotate itself.
    Ok(match old.iter().find(|s| s.generate) {
        Some(secret) => outcome.with(
            Status::Warn,
            Fix::Rotate {
                description: format!(
                    "`foundry secret rotate {} --env {}` stores a new generated value; then its readers restart on it, health-gated",
                    secret.name, cx.stack.env
                ),
                secret: secret.name.clone(),
            },
        ),
        None => outcome.with(
            Status::Warn,
            Fix::Manual {
                description: format!(
                    "issue a new key where it comes from (the provider's console), `foundry secret set {} --env {}`, then `foundry runbook secrets-rotation --env {} --fix` restarts its readers; revoke the old key last",
                    old[0].name, cx.stack.env, cx.stack.env
                ),
            },
        ),
    })
}

/// The services of the current release whose recorded secret versions are
/// no longer the current ones.
pub async fn readers_current(cx: &Context<'_>) -> Result<Outcome, CheckError> {
    let history = release::load(&cx.session.state)
        .await
        .map_err(ReleaseError::from)?;
    let Some(current) = history.current() else {
        return Ok(Outcome::pass("no release yet: no service reads a secret"));
    };
    let mut evidence = Vec::new();
    let mut stale = BTreeSet::new();
    for (service, released) in &current.services {
        for (variable, secret) in &released.secrets {
            let now = aws::secret_current_version(cx.aws, &secret.arn).await?;
            let short = secret.arn.rsplit(':').next().unwrap_or(&secret.arn);
            let read = secret.version_id.as_deref().unwrap_or("none");
            let now_text = now.as_deref().unwrap_or("none");
            if secret.version_id == now {
                evidence.push(format!(
                    "{service} reads {short} as {variable}: version {read}, current"
                ));
            } else {
                evidence.push(format!(
                    "{service} read {short} as {variable} at release {}: version {read}; AWSCURRENT is {now_text}",
                    current.number
                ));
                stale.insert(service.clone());
            }
        }
    }
    if stale.is_empty() {
        return Ok(Outcome::pass(if evidence.is_empty() {
            "no service reads a secret".to_owned()
        } else {
            "every service runs with its secrets' current values".to_owned()
        })
        .evidence(evidence));
    }
    let services: Vec<String> = stale.into_iter().collect();
    Ok(Outcome::pass(format!(
        "{} run(s) with a secret value that is no longer current",
        services.join(", ")
    ))
    .evidence(evidence)
    .with(
        Status::Fail,
        Fix::Restart {
            description: format!(
                "restart {} on its current image so that it reads the current values, as a health-gated release",
                services.join(", ")
            ),
            services,
        },
    ))
}
