//! `foundry status`: what runs in an environment and whether it is well —
//! per service the release it runs, what the compute target says of it, a
//! health probe through its URL and its scaling; for the environment, the
//! alarms that are firing. One report, for people and for scripts; whether
//! it is healthy decides the command's exit code.
//!
//! Everything here only reads: no lock, no change, safe during a deploy.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::StateValue;
use serde::Serialize;

use crate::aws::{AwsError, SdkResultExt};
use crate::compute::{PlatformState, ScalingState};
use crate::engine::Session;
use crate::release::health::{self, Probe};
use crate::release::{self, ReleaseError};

/// The exit code of `status` when something is not healthy (errors exit 1,
/// bad arguments 2).
pub const EXIT_UNHEALTHY: u8 = 3;

#[derive(Debug, Clone, Default)]
pub struct StatusOptions {
    /// Services to report; empty means all of them.
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub stack: String,
    pub env: String,
    /// The compute target's name ("App Runner").
    pub target: &'static str,
    /// The release that runs now (the newest that succeeded).
    pub release: Option<ReleaseSummary>,
    /// A release still under way or interrupted, newer than `release`.
    pub pending: Option<ReleaseSummary>,
    pub services: Vec<ServiceStatus>,
    /// The stack's CloudWatch alarms in ALARM state.
    pub alarms: Vec<Alarm>,
    /// One sentence per thing that is not well; empty when healthy.
    pub problems: Vec<String>,
    pub healthy: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReleaseSummary {
    pub number: u32,
    /// `deploy`, `rollback to N`, …
    pub kind: String,
    pub outcome: String,
    pub by: String,
    /// RFC 3339.
    pub at: String,
    pub age_seconds: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    pub name: String,
    pub url: Option<String>,
    /// What the current release says it runs.
    pub image: Option<String>,
    pub digest: Option<String>,
    pub git_sha: Option<String>,
    /// What the platform runs, when it is not the release's image.
    pub running_other_image: Option<String>,
    /// `None` when the service does not exist on the target.
    pub platform: Option<PlatformState>,
    pub health: Health,
    pub scaling: Option<ScalingState>,
    pub healthy: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Health {
    /// Asked through its URL, now.
    Probed(Probe),
    /// Not asked from here, and why (a private service answers only inside
    /// the VPC, where the platform's own health check watches it).
    NotProbed { reason: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct Alarm {
    pub name: String,
    pub reason: Option<String>,
    /// RFC 3339: when it went into ALARM.
    pub since: Option<String>,
}

/// Reads everything `status` shows; never changes anything.
pub async fn status(
    session: &Session,
    options: &StatusOptions,
) -> Result<StatusReport, ReleaseError> {
    if !options.services.is_empty() {
        crate::images::select(&session.stack, &options.services)?;
    }
    let history = release::load(&session.state).await?;
    let current = history.current();
    let newest = history.releases.last();
    let pending = newest
        .filter(|n| current.is_none_or(|c| n.number > c.number))
        .map(summary);
    let compute = release::compute_of(session)?;
    let mut services = Vec::new();
    for spec in &session.stack.services {
        if !options.services.is_empty() && !options.services.contains(&spec.name) {
            continue;
        }
        let released = current.and_then(|r| r.services.get(&spec.name));
        let running = compute.running(&spec.name).await?;
        let platform = compute.state(&spec.name).await?;
        let url = running.as_ref().and_then(|r| r.url.clone());
        let health = match health::reachable_health_url(spec, url.as_deref()) {
            Some(probe_url) => {
                Health::Probed(health::probe(&probe_url, health::PROBE_TIMEOUT).await)
            }
            None if running.is_none() => Health::NotProbed {
                reason: "the service does not exist".into(),
            },
            None => Health::NotProbed {
                reason: format!(
                    "private: it answers only inside the VPC, where {}'s health check watches it",
                    compute.name()
                ),
            },
        };
        let running_other_image = match (&running, released) {
            (Some(r), Some(s)) if r.spec.image != s.image => Some(r.spec.image.clone()),
            _ => None,
        };
        let scaling = platform.as_ref().and_then(|p| p.scaling.clone());
        let mut status = ServiceStatus {
            name: spec.name.clone(),
            url,
            image: released.map(|s| s.image.clone()),
            digest: released.and_then(|s| s.image.rsplit_once('@').map(|(_, d)| d.to_owned())),
            git_sha: released.and_then(|s| s.git_sha.clone()),
            running_other_image,
            platform,
            health,
            scaling,
            healthy: false,
        };
        status.healthy = service_problems(&status, compute.name()).is_empty();
        services.push(status);
    }
    let alarms = firing_alarms(session).await?;
    let mut problems: Vec<String> = services
        .iter()
        .flat_map(|s| service_problems(s, compute.name()))
        .collect();
    problems.extend(alarms.iter().map(|a| {
        format!(
            "alarm {} is in ALARM{}",
            a.name,
            a.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )
    }));
    Ok(StatusReport {
        stack: session.stack.name.clone(),
        env: session.stack.env.clone(),
        target: compute.name(),
        release: current.map(summary),
        pending,
        services,
        alarms,
        healthy: problems.is_empty(),
        problems,
    })
}

/// What is wrong with one service, one sentence each.
fn service_problems(status: &ServiceStatus, target: &str) -> Vec<String> {
    let name = &status.name;
    let mut problems = Vec::new();
    match &status.platform {
        None => problems.push(format!(
            "{name} does not exist on {target}: run `foundry up` for this environment"
        )),
        Some(p) if !p.settled => problems.push(format!(
            "{name} is {} on {target}{}",
            p.status,
            p.last_operation
                .as_ref()
                .map(|o| format!(" (last operation {} {})", o.kind, o.status))
                .unwrap_or_default()
        )),
        Some(_) => {}
    }
    if let Health::Probed(probe) = &status.health
        && let Some(error) = &probe.error
    {
        problems.push(format!(
            "{name} is not healthy: GET {} → {error}",
            probe.url
        ));
    }
    if let Some(other) = &status.running_other_image {
        problems.push(format!(
            "{name} runs {other}, not the current release's image: a deploy or rollback did not finish; run `foundry releases` to see which"
        ));
    }
    problems
}

fn summary(release: &release::Release) -> ReleaseSummary {
    let kind = match &release.kind {
        release::ReleaseKind::Deploy => "deploy".to_owned(),
        release::ReleaseKind::Rollback { to } => format!("rollback to {to}"),
    };
    let outcome = match &release.outcome {
        release::Outcome::InProgress => "in progress".to_owned(),
        release::Outcome::Succeeded => "succeeded".to_owned(),
        release::Outcome::Failed { .. } => "failed, rolled back".to_owned(),
        release::Outcome::FailedKept { .. } => "failed, kept".to_owned(),
        release::Outcome::Interrupted => "interrupted".to_owned(),
    };
    let at = release
        .finished_at
        .clone()
        .unwrap_or_else(|| release.started_at.clone());
    let age_seconds = humantime::parse_rfc3339(&at)
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .map(|d| d.as_secs());
    ReleaseSummary {
        number: release.number,
        kind,
        outcome,
        by: release.by.clone(),
        at,
        age_seconds,
    }
}

/// The stack's alarms (named with its prefix) that are in ALARM now.
async fn firing_alarms(session: &Session) -> Result<Vec<Alarm>, AwsError> {
    let prefix = session.scope.name("");
    let mut alarms = Vec::new();
    let mut pages = session
        .aws
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(&prefix)
        .state_value(StateValue::Alarm)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.or_aws("DescribeAlarms")?;
        // Filtered here too: moto applies only one of the request's filters.
        let firing = page
            .metric_alarms()
            .iter()
            .filter(|a| a.state_value() == Some(&StateValue::Alarm));
        for alarm in firing {
            alarms.push(Alarm {
                name: alarm.alarm_name().unwrap_or_default().to_owned(),
                reason: alarm.state_reason().map(str::to_owned),
                since: alarm
                    .state_updated_timestamp()
                    .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
            });
        }
    }
    Ok(alarms)
}

/// A duration as people read it in a status line: `42s`, `5m`, `3h`, `2d`.
pub fn age(seconds: u64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// How long `--watch` waits between reports by default.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_people_say_them() {
        let check = |s, expect: &str| assert_eq!(age(s), expect, "{s}");
        check(0, "0s");
        check(119, "119s");
        check(120, "2m");
        check(7199, "119m");
        check(7200, "2h");
        check(172_799, "47h");
        check(172_800, "2d");
    }
}
