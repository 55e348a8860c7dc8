//! The control plane's state on disk, so that an emulator stopped and
//! started again on the same state directory loses nothing: `state.json`
//! holds every service (its model, the configuration that served before an
//! operation under way, its operations, the image its instance runs), every
//! configuration, connector and connection, and every tag. It is written
//! after every change (a request that changes something, an operation's
//! step, a connection settling), whole, to a temporary file that is synced
//! and then renamed over the old one, so a reader only ever sees a complete
//! state.
//!
//! Restoring ([`restore`]) reopens each service's URL on the port its
//! `ServiceUrl` names, settles what was under way when the emulator stopped
//! (see [`settle_interrupted`]), and leaves to [`restart_instances`] the
//! running services' instances: each starts again from the image it ran,
//! unpacked from `blobs/` without asking the registry, with the service's
//! configuration and this emulator's `Config` (its endpoints, its
//! `instance_env`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::configs::Configs;
use crate::image::PulledImage;
use crate::model::{OperationSummary, Service, now};
use crate::proxy::Proxy;
use crate::runner::{self, events};
use crate::services::{CREATE_FAILED, DELETED, PAUSED, RUNNING, ServiceEntry};
use crate::tags::Tags;
use crate::{Shared, StartError, State, new_resource_id};

/// The file under the state directory.
pub(crate) const STATE_FILE: &str = "state.json";
/// Changes when the file's layout does; another one is refused.
const FORMAT: &str = "apprunner-emulator-state/1";

#[derive(Serialize)]
struct SavedRef<'a> {
    format: &'static str,
    services: Vec<SavedServiceRef<'a>>,
    configs: &'a Configs,
    tags: &'a Tags,
}

#[derive(Serialize)]
struct SavedServiceRef<'a> {
    service: &'a Service,
    last_good: &'a Option<Service>,
    operations: &'a [OperationSummary],
    deployed: &'a Option<PulledImage>,
}

#[derive(Deserialize)]
pub(crate) struct Saved {
    format: String,
    services: Vec<SavedService>,
    configs: Configs,
    tags: Tags,
}

#[derive(Deserialize)]
struct SavedService {
    service: Service,
    last_good: Option<Service>,
    operations: Vec<OperationSummary>,
    deployed: Option<PulledImage>,
}

pub(crate) fn state_path(state_dir: &Path) -> PathBuf {
    state_dir.join(STATE_FILE)
}

/// Writes `state` atomically: a complete file or the previous one.
pub(crate) fn write(state_dir: &Path, state: &State) -> std::io::Result<()> {
    let saved = SavedRef {
        format: FORMAT,
        services: state
            .services
            .iter()
            .map(|entry| SavedServiceRef {
                service: &entry.service,
                last_good: &entry.last_good,
                operations: &entry.operations,
                deployed: &entry.deployed,
            })
            .collect(),
        configs: &state.configs,
        tags: &state.tags,
    };
    let bytes = serde_json::to_vec_pretty(&saved).map_err(std::io::Error::other)?;
    let path = state_path(state_dir);
    let partial = state_dir.join(format!("{STATE_FILE}.partial"));
    let mut file = fs::File::create(&partial)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&partial, &path)?;
    // The rename itself reaches the disk with the directory.
    fs::File::open(state_dir)?.sync_all()
}

/// The saved state, if the state directory has one.
pub(crate) fn load(state_dir: &Path) -> Result<Option<Saved>, StartError> {
    let path = state_path(state_dir);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StartError::SavedState {
                path,
                reason: e.to_string(),
            });
        }
    };
    let saved: Saved = serde_json::from_str(&text).map_err(|e| StartError::SavedState {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if saved.format != FORMAT {
        return Err(StartError::SavedState {
            path,
            reason: format!(
                "its format is {:?}, this emulator reads {FORMAT:?}",
                saved.format
            ),
        });
    }
    Ok(Some(saved))
}

/// A service to start again once the emulator serves, with what it ran.
pub(crate) struct ToRestart {
    service_arn: String,
    image: PulledImage,
}

/// Puts `saved` into `state`: every service that is not deleted gets its
/// URL's port back (an error if something else holds it), and operations
/// the stop interrupted are settled. Needs a tokio runtime entered (the
/// proxies accept on it). Returns the services whose instances must start.
pub(crate) fn restore(
    shared: &Shared,
    state: &mut State,
    saved: Saved,
) -> Result<Vec<ToRestart>, StartError> {
    state.configs = saved.configs;
    state.configs.settle_pending_ingress_connections();
    state.tags = saved.tags;
    let mut to_restart = Vec::new();
    for saved_service in saved.services {
        let dir = shared
            .config
            .state_dir
            .join("services")
            .join(&saved_service.service.service_id);
        let mut entry = ServiceEntry {
            service: saved_service.service,
            last_good: saved_service.last_good,
            operations: saved_service.operations,
            proxy: None,
            instance: None,
            dir,
            deployed: saved_service.deployed,
        };
        settle_interrupted(&mut entry);
        if entry.service.status != DELETED {
            let port = url_port(&entry.service).ok_or_else(|| StartError::SavedState {
                path: state_path(&shared.config.state_dir),
                reason: format!(
                    "service {} has no ServiceUrl of the form 127.0.0.1:PORT",
                    entry.service.service_arn
                ),
            })?;
            let proxy = Proxy::bind_on(port).map_err(|source| StartError::ServicePort {
                service: entry.service.service_arn.clone(),
                port,
                source,
            })?;
            entry.proxy = Some(proxy);
        }
        if entry.service.status == RUNNING
            && let Some(image) = &entry.deployed
        {
            // The URL holds its connections until the instance serves again.
            if let Some(proxy) = &entry.proxy {
                proxy.hold();
            }
            to_restart.push(ToRestart {
                service_arn: entry.service.service_arn.clone(),
                image: image.clone(),
            });
        }
        state.services.push(entry);
    }
    Ok(to_restart)
}

fn url_port(service: &Service) -> Option<u16> {
    service
        .service_url
        .as_deref()?
        .strip_prefix("127.0.0.1:")?
        .parse()
        .ok()
}

/// An operation the emulator's stop interrupted ends as App Runner's would
/// have if its work could not finish: what stops things (pause, delete) has
/// done its work, since the stop stopped the instance, and succeeds; what
/// starts an instance fails as a failed deployment of its kind does — an
/// update or deployment rolls back to the configuration that served before
/// (`ROLLBACK_SUCCEEDED`, `RUNNING`, that image started again), a create (or
/// an update of a service that never ran) is `FAILED` with the service
/// `CREATE_FAILED`, a resume is `FAILED` with the service `PAUSED`. The
/// service is never left `OPERATION_IN_PROGRESS` with nothing under way, and
/// a caller can retry the operation.
pub(crate) fn settle_interrupted(entry: &mut ServiceEntry) {
    let Some(operation) = entry
        .operations
        .iter_mut()
        .find(|o| o.status.ends_with("IN_PROGRESS"))
    else {
        return;
    };
    let at = now();
    let (outcome, status) = match operation.kind.as_str() {
        "PAUSE_SERVICE" => ("SUCCEEDED", PAUSED),
        "DELETE_SERVICE" => ("SUCCEEDED", DELETED),
        "RESUME_SERVICE" => ("FAILED", PAUSED),
        "UPDATE_SERVICE" | "START_DEPLOYMENT" if entry.last_good.is_some() => {
            ("ROLLBACK_SUCCEEDED", RUNNING)
        }
        _ => ("FAILED", CREATE_FAILED),
    };
    operation.status = outcome.into();
    operation.updated_at = at;
    operation.ended_at = Some(at);
    let message = format!(
        "{} {outcome} (operation {}): the emulator stopped before it finished.",
        operation.kind, operation.id
    );
    if outcome == "ROLLBACK_SUCCEEDED"
        && let Some(previous) = entry.last_good.take()
    {
        entry.service = previous;
    }
    entry.last_good = None;
    entry.service.status = status.into();
    entry.service.updated_at = at;
    if status == DELETED {
        entry.service.deleted_at = Some(at);
        entry.deployed = None;
    }
    let _ = fs::remove_file(entry.dir.join("current"));
    events(&entry.dir, &message);
}

/// Starts each restored running service's instance again, in the
/// background; the URL answers once the instance passed its health check.
/// A service that an operation changed meanwhile keeps what that gave it.
pub(crate) fn restart_instances(shared: &Arc<Shared>, services: Vec<ToRestart>) {
    for ToRestart { service_arn, image } in services {
        let shared = shared.clone();
        tokio::spawn(async move {
            let instance_id = new_resource_id();
            let (service, dir, latest_operation) = {
                let mut state = shared.lock();
                let Ok(entry) = state.service_mut(&service_arn) else {
                    return;
                };
                events(
                    &entry.dir,
                    &format!(
                        "The emulator restarted: starting the instance again from {} ({}).",
                        image.identifier, image.digest
                    ),
                );
                (
                    entry.service.clone(),
                    entry.dir.join("instances").join(&instance_id),
                    entry.operations.first().map(|o| o.id.clone()),
                )
            };
            let launched = match fs::create_dir_all(&dir) {
                Ok(()) => runner::relaunch(&shared, &service, &image, &dir).await,
                Err(e) => Err(format!("cannot create {}: {e}", dir.display())),
            };
            let mut state = shared.lock();
            let stopping = state.stopping;
            let Ok(entry) = state.service_mut(&service_arn) else {
                return;
            };
            let instance = match launched {
                Err(reason) => {
                    events(&entry.dir, &reason);
                    // Held connections close, unless an operation gave the
                    // service an instance meanwhile.
                    if entry.instance.is_none()
                        && let Some(proxy) = &entry.proxy
                    {
                        proxy.route_to(None);
                    }
                    return;
                }
                Ok(instance) => instance,
            };
            let unchanged = entry.service.status == RUNNING
                && entry.instance.is_none()
                && entry.operations.first().map(|o| &o.id) == latest_operation.as_ref();
            if stopping || !unchanged {
                if entry.instance.is_none()
                    && let Some(proxy) = &entry.proxy
                {
                    proxy.route_to(None);
                }
                drop(state);
                drop(instance);
                return;
            }
            if let Some(proxy) = &entry.proxy {
                proxy.route_to(Some(instance.port));
            }
            let current = entry.dir.join("current");
            let _ = fs::remove_file(&current);
            let _ = std::os::unix::fs::symlink(format!("instances/{instance_id}"), &current);
            entry.instance = Some(instance);
        });
    }
}
