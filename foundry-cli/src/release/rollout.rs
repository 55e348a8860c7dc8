//! Moving services to a release and checking them: the part `deploy` and
//! `rollback` share. Each changed service is settled (a rollout a crashed run
//! left going is waited for), compared with what runs (a service already on
//! its target is not rolled out again), rolled out, followed and gated.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::future::join_all;

use super::history::ServiceRelease;
use super::{ReleaseProgress, health};
use crate::compute::{Compute, ComputeError, Rollout, RunSpec};
use crate::stack::Stack;

/// How one service's rollout ended.
#[derive(Debug, Clone)]
pub enum Step {
    /// Running the release and healthy; the handle of its rollout, if one
    /// was needed.
    Healthy { handle: Option<String> },
    /// The platform refused it and kept the previous version.
    Refused { handle: String, reason: String },
    /// The platform took it, but foundry's health gate failed: it is serving.
    Unhealthy {
        handle: Option<String>,
        reason: String,
    },
}

impl Step {
    pub fn failure(&self) -> Option<&str> {
        match self {
            Step::Healthy { .. } => None,
            Step::Refused { reason, .. } | Step::Unhealthy { reason, .. } => Some(reason),
        }
    }

    pub fn handle(&self) -> Option<&str> {
        match self {
            Step::Healthy { handle } | Step::Unhealthy { handle, .. } => handle.as_deref(),
            Step::Refused { handle, .. } => Some(handle),
        }
    }

    /// Whether the new version is what serves now.
    pub fn serving(&self) -> bool {
        !matches!(self, Step::Refused { .. })
    }
}

pub fn run_spec(release: &ServiceRelease) -> RunSpec {
    RunSpec {
        image: release.image.clone(),
        env: release.env.clone(),
        secrets: release
            .secrets
            .iter()
            .map(|(k, v)| (k.clone(), v.arn.clone()))
            .collect(),
    }
}

/// How long the slowest service took in each phase.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    /// From the platform's first call to the rollout's end.
    pub rollout: Duration,
    /// foundry's own health check through the service URL.
    pub health_gate: Duration,
}

/// Rolls every service of `targets` out to its release, all at once, and
/// gates each.
pub async fn roll_out(
    compute: &dyn Compute,
    stack: &Stack,
    targets: &BTreeMap<String, ServiceRelease>,
    progress: &dyn ReleaseProgress,
) -> Result<(BTreeMap<String, Step>, Timing), ComputeError> {
    let start = Instant::now();
    let mut started = BTreeMap::new();
    for (service, release) in targets {
        let spec = run_spec(release);
        compute.settle(service).await?;
        let running = compute.running(service).await?;
        if running.as_ref().is_some_and(|r| r.spec == spec) {
            progress.already_running(service);
            started.insert(service.clone(), None);
            continue;
        }
        let handle = compute.start(service, &spec).await?;
        progress.rollout_started(service, &handle);
        started.insert(service.clone(), Some(handle));
    }
    let steps = join_all(started.into_iter().map(|(service, handle)| async move {
        let step = follow_and_gate(compute, stack, &service, handle, progress).await;
        (service, step)
    }))
    .await;
    let mut out = BTreeMap::new();
    let mut timing = Timing::default();
    for (service, step) in steps {
        let (step, rolled_out, gated) = step?;
        progress.finished(&service, &step);
        out.insert(service, step);
        timing.rollout = timing.rollout.max(rolled_out.duration_since(start));
        timing.health_gate = timing.health_gate.max(gated.duration_since(rolled_out));
    }
    Ok((out, timing))
}

/// Follows one service's rollout, then gates it; returns the step, when
/// the rollout ended and when the gate did.
async fn follow_and_gate(
    compute: &dyn Compute,
    stack: &Stack,
    service: &str,
    handle: Option<String>,
    progress: &dyn ReleaseProgress,
) -> Result<(Step, Instant, Instant), ComputeError> {
    if let Some(handle) = &handle {
        let tick = |status: &str| progress.rollout_status(service, status);
        if let Rollout::Failed { reason } = compute.follow(service, handle, &tick).await? {
            let now = Instant::now();
            let step = Step::Refused {
                handle: handle.clone(),
                reason,
            };
            return Ok((step, now, now));
        }
    }
    let rolled_out = Instant::now();
    let step = gate(compute, stack, service, handle, progress).await?;
    Ok((step, rolled_out, Instant::now()))
}

async fn gate(
    compute: &dyn Compute,
    stack: &Stack,
    service: &str,
    handle: Option<String>,
    progress: &dyn ReleaseProgress,
) -> Result<Step, ComputeError> {
    let Some(spec) = stack.services.iter().find(|s| s.name == service) else {
        return Ok(Step::Healthy { handle });
    };
    let url = compute.running(service).await?.and_then(|r| r.url);
    let Some(url) = health::reachable_health_url(spec, url.as_deref()) else {
        return Ok(Step::Healthy { handle });
    };
    progress.gating(service, &url);
    match health::wait_healthy(&url, health::timeout()).await {
        Ok(()) => Ok(Step::Healthy { handle }),
        Err(reason) => Ok(Step::Unhealthy {
            handle,
            reason: format!("foundry's health check failed: {reason}"),
        }),
    }
}
