//! Releases: what runs on the compute target, recorded so that `deploy`,
//! `rollback` and `releases` share one history. Written once, above the
//! compute targets (design §7): a target is told what to run
//! (`compute::Compute`), everything else is decided here.
//!
//! A release always names every service of the environment (those it did not
//! change carry over from the release before), so the current release alone
//! says what runs, and a rollback to it restores all of it.

mod deploy;
pub mod env;
mod first;
pub mod health;
pub mod history;
mod rollout;
pub mod web;

pub use deploy::{
    DeployOptions, Deployed, ImageChoice, Phases, RollbackOptions, attach, compute_of, deploy,
    restart, rollback, running_images,
};
pub use first::{
    FirstImages, push_first_images, record_first_release, without_image, without_source,
};
pub use history::{
    Change, History, Outcome, Release, ReleaseKind, SecretRef, ServiceRelease, SiteRelease,
};
pub use rollout::Step;

use crate::aws::AwsError;
use crate::compute::ComputeError;
use crate::engine::EngineError;
use crate::images::{BuildProgress, ImageError};
use crate::state::{StateError, Store};

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Compute(#[from] ComputeError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Web(#[from] web::WebError),
    #[error(
        "service `{0}` is not running yet: run `foundry up` for this environment first (it creates the service with its first image)"
    )]
    NotUp(String),
    #[error(
        "service `{service}`: the value of `{variable}` refers to something that does not exist yet; run `foundry up` first"
    )]
    Unresolved { service: String, variable: String },
    #[error(
        "service `{service}`: secret {arn} (variable {variable}) has no value yet, and App Runner reads every secret when it starts: set it with `foundry secret set NAME --env ENV`, then deploy again"
    )]
    NoSecretValue {
        service: String,
        variable: String,
        arn: String,
    },
    #[error("{0}")]
    BadImage(String),
    #[error("{0}")]
    NoTarget(String),
    #[error("release {number} failed: {reason}{after}")]
    Failed {
        number: u32,
        reason: String,
        /// What became of the services: rolled back, or kept on request.
        after: String,
    },
}

/// What a release reports while it runs, beside the build's own progress.
pub trait ReleaseProgress: BuildProgress + Sync {
    fn release_begun(&self, _number: u32, _resumed: bool) {}
    fn already_running(&self, _service: &str) {}
    fn rollout_started(&self, _service: &str, _handle: &str) {}
    fn rollout_status(&self, _service: &str, _status: &str) {}
    fn gating(&self, _service: &str, _url: &str) {}
    fn finished(&self, _service: &str, _step: &Step) {}
    fn reverting(&self, _services: &[String], _to: Option<u32>) {}
    /// A static service's release: one step done (build, switch,
    /// invalidation, pruning).
    fn site_step(&self, _service: &str, _line: &str) {}
    /// A file of a static service written to its bucket (`done` of `total`).
    fn uploaded(&self, _key: &str, _bytes: u64, _done: usize, _total: usize) {}
}

/// The stack's history, empty before the first release.
pub async fn load(store: &Store) -> Result<History, StateError> {
    match store.read_document(history::DOCUMENT).await? {
        None => Ok(History::default()),
        Some(bytes) => History::from_json(&bytes).map_err(|source| StateError::Corrupt {
            path: format!("{}/{}", store.describe(), history::DOCUMENT).into(),
            source,
        }),
    }
}

/// Replaces the stored history; the caller holds the stack lock.
pub async fn save(store: &Store, history: &History) -> Result<(), StateError> {
    store
        .write_document(history::DOCUMENT, history.to_json())
        .await
}
