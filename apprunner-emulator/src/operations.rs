//! Operations: what App Runner does in the background after a request, and
//! reports through `ListOperations`. Each runs as one task: wait the
//! configured delay, do the work (start an instance, stop one), then settle
//! the service's status and the operation's outcome in one locked step.
//!
//! Invariants: a service has at most one operation in progress (handlers
//! refuse others with `InvalidStateException`); traffic moves to a new
//! instance only after it passed its health check; a failed deployment
//! leaves the previous instance serving and its configuration described.

use std::sync::Arc;

use crate::Shared;
use crate::model::{OperationSummary, now};
use crate::runner::{self, Instance, events};
use crate::services::{CREATE_FAILED, DELETED, PAUSED, RUNNING, ServiceEntry};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OperationType {
    CreateService,
    UpdateService,
    StartDeployment,
    PauseService,
    ResumeService,
    DeleteService,
}

impl OperationType {
    fn as_str(self) -> &'static str {
        match self {
            OperationType::CreateService => "CREATE_SERVICE",
            OperationType::UpdateService => "UPDATE_SERVICE",
            OperationType::StartDeployment => "START_DEPLOYMENT",
            OperationType::PauseService => "PAUSE_SERVICE",
            OperationType::ResumeService => "RESUME_SERVICE",
            OperationType::DeleteService => "DELETE_SERVICE",
        }
    }

    fn starts_an_instance(self) -> bool {
        matches!(
            self,
            OperationType::CreateService
                | OperationType::UpdateService
                | OperationType::StartDeployment
                | OperationType::ResumeService
        )
    }
}

/// Records a new operation (`IN_PROGRESS`) on `entry` and starts it.
pub(crate) fn begin(shared: &Arc<Shared>, entry: &mut ServiceEntry, kind: OperationType) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let started_at = now();
    entry.operations.insert(
        0,
        OperationSummary {
            id: id.clone(),
            kind: kind.as_str().into(),
            status: "IN_PROGRESS".into(),
            target_arn: entry.service.service_arn.clone(),
            started_at,
            ended_at: None,
            updated_at: started_at,
        },
    );
    events(
        &entry.dir,
        &format!("{} started (operation {id}).", kind.as_str()),
    );
    let task = Operation {
        shared: shared.clone(),
        service_arn: entry.service.service_arn.clone(),
        id: id.clone(),
        kind,
    };
    tokio::spawn(task.run());
    id
}

enum AfterDeployment {
    Done,
    Retire(Box<Instance>),
    RollBack,
}

struct Operation {
    shared: Arc<Shared>,
    service_arn: String,
    id: String,
    kind: OperationType,
}

impl Operation {
    async fn run(self) {
        tokio::time::sleep(self.shared.config.operation_delay).await;
        if self.kind.starts_an_instance() {
            self.deploy().await;
        } else {
            self.stop();
        }
    }

    /// Sets this operation's status (and end time for a final one).
    fn settle(&self, entry: &mut ServiceEntry, status: &str) {
        if let Some(op) = entry.operations.iter_mut().find(|o| o.id == self.id) {
            let at = now();
            op.status = status.into();
            op.updated_at = at;
            if !status.ends_with("IN_PROGRESS") {
                op.ended_at = Some(at);
            }
        }
        events(
            &entry.dir,
            &format!("{} {status} (operation {}).", self.kind.as_str(), self.id),
        );
    }

    async fn deploy(self) {
        let (service, dir) = {
            let mut state = self.shared.lock();
            let Ok(entry) = state.service_mut(&self.service_arn) else {
                return;
            };
            (
                entry.service.clone(),
                entry.dir.join("instances").join(&self.id),
            )
        };
        let launched = match std::fs::create_dir_all(&dir) {
            Ok(()) => runner::launch(&self.shared, &service, &dir).await,
            Err(e) => Err(format!("cannot create {}: {e}", dir.display())),
        };
        let next = self.settle_deployment(launched);
        self.shared.save_now();
        match next {
            AfterDeployment::Done => {}
            AfterDeployment::Retire(old) => {
                // Connections already open drain for a moment, as App Runner's do.
                tokio::time::sleep(self.shared.config.operation_delay).await;
                drop(old);
            }
            AfterDeployment::RollBack => self.roll_back().await,
        }
    }

    /// Moves traffic to a healthy instance, or records the failure.
    fn settle_deployment(&self, launched: Result<Instance, String>) -> AfterDeployment {
        let mut state = self.shared.lock();
        let stopping = state.stopping;
        let Ok(entry) = state.service_mut(&self.service_arn) else {
            return AfterDeployment::Done;
        };
        let instance = match launched {
            // The emulator stops: the instance is dropped, so killed.
            Ok(_) if stopping => return AfterDeployment::Done,
            Ok(instance) => instance,
            Err(reason) => {
                events(&entry.dir, &reason);
                if entry.instance.is_none() || self.kind == OperationType::ResumeService {
                    entry.service.status = match self.kind {
                        OperationType::ResumeService => PAUSED.into(),
                        _ => CREATE_FAILED.into(),
                    };
                    entry.last_good = None;
                    self.settle(entry, "FAILED");
                    return AfterDeployment::Done;
                }
                // App Runner rolls a failed deployment back; the previous
                // instance kept serving all along.
                self.settle(entry, "ROLLBACK_IN_PROGRESS");
                return AfterDeployment::RollBack;
            }
        };
        if let Some(proxy) = &entry.proxy {
            proxy.route_to(Some(instance.port));
        }
        let current = entry.dir.join("current");
        let _ = std::fs::remove_file(&current);
        let _ = std::os::unix::fs::symlink(format!("instances/{}", self.id), &current);
        entry.deployed = Some(instance.image.clone());
        let retired = entry.instance.replace(instance);
        entry.service.status = RUNNING.into();
        entry.service.updated_at = now();
        entry.last_good = None;
        self.settle(entry, "SUCCEEDED");
        retired.map_or(AfterDeployment::Done, |old| {
            AfterDeployment::Retire(Box::new(old))
        })
    }

    /// The configuration that served before is described again.
    async fn roll_back(&self) {
        tokio::time::sleep(self.shared.config.operation_delay).await;
        let mut state = self.shared.lock();
        let Ok(entry) = state.service_mut(&self.service_arn) else {
            return;
        };
        if let Some(previous) = entry.last_good.take() {
            entry.service = previous;
        }
        entry.service.status = RUNNING.into();
        entry.service.updated_at = now();
        self.settle(entry, "ROLLBACK_SUCCEEDED");
        self.shared.save(&state);
    }

    /// Pause and delete: the instance stops; a deleted service's URL closes.
    fn stop(self) {
        let stopped = {
            let mut state = self.shared.lock();
            let Ok(entry) = state.service_mut(&self.service_arn) else {
                return;
            };
            let instance = entry.instance.take();
            let at = now();
            if self.kind == OperationType::DeleteService {
                entry.proxy = None;
                entry.service.status = DELETED.into();
                entry.service.deleted_at = Some(at);
            } else {
                if let Some(proxy) = &entry.proxy {
                    proxy.route_to(None);
                }
                entry.service.status = PAUSED.into();
            }
            entry.service.updated_at = at;
            let _ = std::fs::remove_file(entry.dir.join("current"));
            self.settle(entry, "SUCCEEDED");
            self.shared.save(&state);
            instance
        };
        drop(stopped);
    }
}
