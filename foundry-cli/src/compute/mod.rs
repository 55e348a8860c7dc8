//! The compute targets' one interface (design §7): point a service at an
//! image digest with a release's environment and secrets, follow the rollout,
//! say where it answers. Everything above it — `deploy`, `rollback`,
//! `releases`, the health gate, the release record — is written once, in
//! `release`, for every target; each target knows only its own API.
//!
//! A target never decides what to run or what to go back to: it is told.

pub mod apprunner;
pub mod ecs;

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::aws::{Aws, AwsError};
use crate::stack::ComputeTarget as TargetKind;

#[derive(Debug, thiserror::Error)]
pub enum ComputeError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(
        "service `{service}` does not exist on {target} yet: run `foundry up` for this environment first"
    )]
    Missing {
        service: String,
        target: &'static str,
    },
}

/// What one service is to run: the whole of it, so that running it again
/// (a rollback) needs nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec {
    /// `registry/repository@sha256:…`.
    pub image: String,
    pub env: BTreeMap<String, String>,
    /// Variable → secret ARN, injected by the platform (never a value).
    pub secrets: BTreeMap<String, String>,
}

/// A service as the target reports it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// The target's id for it (App Runner: the service ARN).
    pub id: String,
    /// Host (and port) it answers on, without a scheme.
    pub url: Option<String>,
    /// What it runs now.
    pub spec: RunSpec,
}

/// What the platform says of a service beyond what it runs: for `status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlatformState {
    /// The platform's own word for the service (App Runner: `RUNNING`,
    /// `OPERATION_IN_PROGRESS`, `CREATE_FAILED`, …).
    pub status: String,
    /// Whether `status` is one a serving, settled service is in.
    pub settled: bool,
    /// The newest operation or deployment on it.
    pub last_operation: Option<Operation>,
    pub scaling: Option<ScalingState>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Operation {
    pub id: String,
    /// App Runner: `CREATE_SERVICE`, `UPDATE_SERVICE`, …
    pub kind: String,
    /// App Runner: `SUCCEEDED`, `ROLLBACK_SUCCEEDED`, `IN_PROGRESS`, …
    pub status: String,
    /// RFC 3339.
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScalingState {
    pub min: i32,
    pub max: i32,
    /// Instances now, where the platform's API says (App Runner's does not).
    pub current: Option<i32>,
}

/// How a rollout ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollout {
    Succeeded,
    /// The target refused the new version and went back to the one before
    /// (App Runner does this itself when a health check fails).
    Failed {
        reason: String,
    },
}

/// One compute platform. `service` is always the stack's service name.
#[async_trait]
pub trait Compute: Sync + Send {
    /// The platform's name in messages ("App Runner").
    fn name(&self) -> &'static str;

    /// Waits while a rollout of `service` is in progress (one a crashed run
    /// left going), so that what `running` reports is what stays.
    async fn settle(&self, service: &str) -> Result<(), ComputeError>;

    /// The service as it runs now, `None` when it does not exist.
    async fn running(&self, service: &str) -> Result<Option<Running>, ComputeError>;

    /// Starts rolling `service` out to `spec`; returns the rollout's handle
    /// (App Runner: the operation id).
    async fn start(&self, service: &str, spec: &RunSpec) -> Result<String, ComputeError>;

    /// Waits until the rollout `handle` of `service` ends; `tick` is called
    /// with the platform's status while it runs.
    async fn follow(
        &self,
        service: &str,
        handle: &str,
        tick: &(dyn for<'s> Fn(&'s str) + Sync),
    ) -> Result<Rollout, ComputeError>;

    /// The platform's view of `service`, `None` when it does not exist.
    async fn state(&self, service: &str) -> Result<Option<PlatformState>, ComputeError>;

    /// The CloudWatch Logs group the platform writes `service`'s output to,
    /// `None` when the service does not exist.
    async fn log_group(&self, service: &str) -> Result<Option<String>, ComputeError>;

    /// Where CloudWatch keeps the platform's request metrics of `service`
    /// (requests, 5xx answers, latency), `None` when it does not exist.
    async fn request_metrics(&self, service: &str) -> Result<Option<RequestMetrics>, ComputeError>;
}

/// A platform's request metrics of one service: the namespace, the
/// dimensions naming the service, and its metric names.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestMetrics {
    pub namespace: &'static str,
    pub dimensions: Vec<(&'static str, String)>,
    pub requests: &'static str,
    pub errors_5xx: &'static str,
    pub latency: &'static str,
    /// What turns a `latency` figure into milliseconds (App Runner reports
    /// milliseconds, a load balancer seconds).
    pub latency_to_ms: f64,
}

/// The stack environment's target. `place` says where its services are.
pub fn for_target(kind: TargetKind, aws: &Aws, place: Placement) -> Box<dyn Compute> {
    match kind {
        TargetKind::Apprunner => Box::new(apprunner::AppRunner::new(aws.clone(), place.names)),
        TargetKind::Ecs => Box::new(ecs::Ecs::new(aws.clone(), place.ecs_cluster, place.names)),
    }
}

/// How the stack's service names map to the platform's: given by the layer
/// that expands the stack, so targets never compute names themselves.
pub type ServiceNames = BTreeMap<String, String>;

/// Where an environment's services are, as the expanding layer names them.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    /// Stack service name → the platform's name for it.
    pub names: ServiceNames,
    /// The ECS cluster (ECS only).
    pub ecs_cluster: String,
}
