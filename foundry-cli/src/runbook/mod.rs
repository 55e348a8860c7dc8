//! `foundry runbook`: the seeds' runbooks as executable diagnostics against
//! the live stack. A runbook is data (`runbooks/<name>.toml`, embedded): an
//! ordered list of checks, each a primitive of `checks.rs` with parameters.
//! A run reads the stack (never changes it), prices what costs money with
//! `runbooks/prices.toml`, and proposes fixes; `--fix` applies the
//! stack-file ones through `fix.rs`, and the command then runs `up`.

mod auth;
pub mod checks;
mod database;
pub mod file;
pub mod fix;
pub mod network;
mod secrets;
mod traffic;
mod uploads;

use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;

use crate::aws::AwsError;
use crate::engine::Session;
use crate::stack::StackFileError;
pub use checks::{Fix, Outcome, StackEdit, Status};
pub use file::Runbook;

/// The exit code of a run with findings (warn or fail); 0 is healthy, 1 an error.
pub const EXIT_FINDINGS: u8 = 3;

#[derive(Debug, thiserror::Error)]
pub enum RunbookError {
    #[error("there is no runbook `{name}`; {hint}")]
    Unknown { name: String, hint: String },
    #[error(transparent)]
    File(#[from] Box<StackFileError>),
    #[error(transparent)]
    Prices(#[from] crate::pricing::PriceError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Check(#[from] checks::CheckError),
    #[error(
        "--days must be between 1 and 455 (CloudWatch keeps daily figures for 455 days), not {0}"
    )]
    Days(u32),
}

/// Every runbook shipped, parsed.
pub fn list() -> Result<Vec<Runbook>, RunbookError> {
    file::EMBEDDED.iter().map(|(name, _)| load(name)).collect()
}

pub fn load(name: &str) -> Result<Runbook, RunbookError> {
    let Some((name, text)) = file::EMBEDDED.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = file::EMBEDDED.iter().map(|(n, _)| *n).collect();
        return Err(RunbookError::Unknown {
            name: name.to_owned(),
            hint: crate::stack::did_you_mean(name, names.iter().copied(), || {
                format!("`foundry runbook list` shows them ({})", names.join(", "))
            }),
        });
    };
    let path = format!("runbooks/{name}.toml");
    file::parse(name, Path::new(&path), text).map_err(|e| RunbookError::File(Box::new(e)))
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The metric window, in days.
    pub days: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub runbook: String,
    pub title: String,
    pub stack: String,
    pub env: String,
    pub days: u32,
    pub prices_as_of: String,
    pub checks: Vec<CheckReport>,
    /// The sum of the fixes' monthly savings.
    pub monthly_saving: f64,
    pub healthy: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub id: String,
    pub uses: &'static str,
    pub explain: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl Report {
    /// The stack-file edits of every finding, in check order.
    pub fn stack_edits(&self) -> Vec<StackEdit> {
        self.checks
            .iter()
            .filter(|c| c.outcome.status != Status::Pass)
            .filter_map(|c| match &c.outcome.fix {
                Some(Fix::Stack { edits, .. }) => Some(edits.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// The release a finding's fix rolls back to, if one does.
    pub fn rollback_to(&self) -> Option<u32> {
        self.checks
            .iter()
            .filter(|c| c.outcome.status != Status::Pass)
            .find_map(|c| match c.outcome.fix {
                Some(Fix::Rollback { to, .. }) => Some(to),
                _ => None,
            })
    }

    /// The generated secret a finding's fix rotates, if one does.
    pub fn rotation(&self) -> Option<String> {
        self.findings().find_map(|c| match &c.outcome.fix {
            Some(Fix::Rotate { secret, .. }) => Some(secret.clone()),
            _ => None,
        })
    }

    /// The services findings' fixes restart, in name order.
    pub fn restarts(&self) -> Vec<String> {
        let mut services: Vec<String> = self
            .findings()
            .filter_map(|c| match &c.outcome.fix {
                Some(Fix::Restart { services, .. }) => Some(services.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        services.sort();
        services.dedup();
        services
    }

    fn findings(&self) -> impl Iterator<Item = &CheckReport> {
        self.checks
            .iter()
            .filter(|c| c.outcome.status != Status::Pass)
    }

    /// Whether some finding's fix is applying the stack (file or drift).
    pub fn needs_apply(&self) -> bool {
        self.checks.iter().any(|c| {
            c.outcome.status != Status::Pass
                && matches!(c.outcome.fix, Some(Fix::Stack { .. } | Fix::Apply { .. }))
        })
    }
}

/// Runs every check of `runbook` against the session's live stack.
pub async fn run(
    session: &Session,
    runbook: &Runbook,
    options: &RunOptions,
) -> Result<Report, RunbookError> {
    if !(1..=455).contains(&options.days) {
        return Err(RunbookError::Days(options.days));
    }
    let prices = crate::pricing::for_region(&session.stack.region)?;
    let cx = checks::Context {
        session,
        aws: &session.aws,
        stack: &session.stack,
        network: network::observe(&session.aws, &session.scope).await?,
        prices: prices.clone(),
        days: options.days,
        now: SystemTime::now(),
    };
    let mut reports = Vec::new();
    for check in &runbook.checks {
        let outcome = checks::run(check.primitive, &check.params, &cx).await?;
        reports.push(CheckReport {
            id: check.id.clone(),
            uses: check.primitive.name,
            explain: check.explain.clone(),
            outcome,
        });
    }
    let healthy = reports.iter().all(|c| c.outcome.status == Status::Pass);
    let monthly_saving = reports
        .iter()
        .filter(|c| c.outcome.status != Status::Pass)
        .filter_map(|c| c.outcome.monthly_saving)
        .sum();
    Ok(Report {
        runbook: runbook.name.clone(),
        title: runbook.title.clone(),
        stack: session.stack.name.clone(),
        env: session.stack.env.clone(),
        days: options.days,
        prices_as_of: prices.as_of,
        checks: reports,
        monthly_saving,
        healthy,
    })
}
