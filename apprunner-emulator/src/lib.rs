//! A local AWS App Runner: the control plane, built to the official API model
//! (botocore's `apprunner/2020-05-15`), that the unmodified
//! `aws-sdk-apprunner` client talks to, and a data plane that really runs
//! each service's image as a local process behind a stable URL.
//!
//! # Use from Rust
//!
//! ```no_run
//! let mut config = apprunner_emulator::Config::new("/tmp/apprunner-state");
//! config.registry_map.insert("*".into(), "127.0.0.1:5000".into());
//! config.secrets_endpoint = Some("http://127.0.0.1:5001".into());
//! let emulator = apprunner_emulator::Emulator::start(config)?;
//! // AWS_ENDPOINT_URL_APPRUNNER=<this> for the SDK or the AWS CLI.
//! println!("{}", emulator.endpoint());
//! # Ok::<(), apprunner_emulator::StartError>(())
//! ```
//!
//! Dropping the [`Emulator`] stops every service process it started. What the
//! control plane holds is saved under the state directory on every change;
//! an emulator started again on the same directory has every service (same
//! ARN, id, `ServiceUrl` and port, configuration, operations), every
//! configuration and tag, and starts the running services' instances again
//! (see "Restarting" below).
//!
//! # The binary
//!
//! ```text
//! apprunner-emulator --port 4577 --state-dir DIR \
//!     --registry-map '*=127.0.0.1:5000' \
//!     --secrets-endpoint http://127.0.0.1:5001 \
//!     --logs-endpoint http://127.0.0.1:5001 \
//!     [--region us-east-1] [--account-id 123456789012] \
//!     [--delay-ms 200] [--health-second-ms 100] [--instance-env KEY=VALUE]...
//! ```
//!
//! It prints `apprunner-emulator listening on http://127.0.0.1:PORT` once it
//! serves, and on SIGTERM or SIGINT stops every service process, then exits.
//!
//! # Restarting
//!
//! [`Emulator::start`] on a state directory with a `state.json` reloads it
//! before it serves: each service not deleted gets its URL's port back (the
//! start fails with [`StartError::ServicePort`] if something else holds it),
//! and each running one starts its instance again in the background from
//! the image it ran (the manifest digest and layers recorded at its
//! deployment, unpacked from `blobs/`, so a moved tag or a stopped registry
//! changes nothing), with its configuration and the new `Config`'s
//! endpoints and `instance_env`; its URL answers once the instance passed its
//! health check. An operation under way when the emulator stopped is settled
//! as a failure of its work would settle it: a pause or delete succeeds (the
//! stop did its work), an update or deployment rolls back
//! (`ROLLBACK_SUCCEEDED`, the previous configuration and image run again), a
//! create fails (`CREATE_FAILED`), a resume fails (`PAUSED`). Pending VPC
//! ingress connections reach `AVAILABLE` (or `DELETED`). A `state.json` that
//! cannot be read fails the start ([`StartError::SavedState`]), never starts
//! empty in its place.
//!
//! # Files under the state directory
//!
//! ```text
//! state.json                             the control plane: services (model,
//!                                        operations, deployed image), configs,
//!                                        connectors, connections, tags; rewritten
//!                                        atomically after every change
//! blobs/<sha256 hex>                     layers pulled, shared by all services
//! services/<ServiceId>/events.log        the service's event log (what App Runner
//!                                        sends to CloudWatch's service log group)
//! services/<ServiceId>/current           symlink to the serving instance's directory
//! services/<ServiceId>/instances/<InstanceId>/stdout.log, stderr.log
//!                                        (also shipped to CloudWatch Logs with
//!                                        --logs-endpoint, as App Runner ships them);
//!                                        <InstanceId> is the deploying operation's
//!                                        id, or a new id for an instance started
//!                                        again after a restart
//! services/<ServiceId>/instances/<InstanceId>/rootfs/   (removed when it stops)
//! ```

mod configs;
mod image;
mod logs;
mod model;
mod operations;
mod persist;
mod protocol;
mod proxy;
mod runner;
mod secrets;
mod services;
mod tags;
mod validate;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use crate::protocol::{ApiError, ApiResult};

/// How the emulator behaves. [`Config::new`] gives App Runner's defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// Pulled layers, unpacked images, instance logs (see the crate docs).
    pub state_dir: PathBuf,
    /// The API's port on 127.0.0.1; 0 takes a free one.
    pub port: u16,
    pub region: String,
    pub account_id: String,
    /// How long each operation waits before it does its work (App Runner's
    /// take minutes); also how long a replaced instance keeps draining.
    pub operation_delay: Duration,
    /// What one second of a `HealthCheckConfiguration` (interval, timeout)
    /// lasts here, so a default check (5 s interval) does not take minutes.
    pub health_check_second: Duration,
    /// Registry host in image identifiers (an ECR host, or `*` for any) →
    /// `host:port` of a local registry, spoken to over plain HTTP. Hosts
    /// not mapped are pulled from over HTTPS, anonymously.
    pub registry_map: BTreeMap<String, String>,
    /// Secrets Manager's endpoint (moto) for `RuntimeEnvironmentSecrets`.
    pub secrets_endpoint: Option<String>,
    /// CloudWatch Logs' endpoint (moto) that instances' output is shipped
    /// to, as App Runner ships it; none ships nothing (the files stay).
    pub logs_endpoint: Option<String>,
    /// Added to every instance's environment (e.g. `AWS_ENDPOINT_URL` in
    /// local mode), below the service's own variables.
    pub instance_env: BTreeMap<String, String>,
    /// Sees each instance's whole environment just before it starts and may
    /// rewrite it (local mode leads addresses that exist only on AWS, such
    /// as an RDS endpoint, to local stand-ins); an error fails the start.
    pub instance_env_hook: Option<InstanceEnvHook>,
    /// Start an instance without the variable of a runtime secret that has
    /// no value yet (local mode: an API key nobody has set) instead of
    /// failing as App Runner does. A secret that does not exist still fails.
    pub unset_secrets_without_value: bool,
}

/// The future an [`InstanceEnvHook`] returns.
pub type HookFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<BTreeMap<String, String>, String>> + Send>,
>;

/// See [`Config::instance_env_hook`].
#[derive(Clone)]
pub struct InstanceEnvHook(pub Arc<dyn Fn(BTreeMap<String, String>) -> HookFuture + Send + Sync>);

impl std::fmt::Debug for InstanceEnvHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InstanceEnvHook")
    }
}

impl Config {
    pub fn new(state_dir: impl Into<PathBuf>) -> Config {
        Config {
            state_dir: state_dir.into(),
            port: 0,
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            operation_delay: Duration::from_millis(200),
            health_check_second: Duration::from_millis(100),
            registry_map: BTreeMap::new(),
            secrets_endpoint: None,
            logs_endpoint: None,
            instance_env: BTreeMap::new(),
            instance_env_hook: None,
            unset_secrets_without_value: false,
        }
    }
}

/// Runs an emulator until the process receives SIGTERM or SIGINT, then stops
/// every service process it started. `ready` hears the API's endpoint once
/// it serves. For a process whose only job is the emulator (the binary,
/// `foundry local`'s stand-in).
pub fn serve_until_signal(config: Config, ready: impl FnOnce(&str)) -> Result<(), StartError> {
    // Block SIGTERM and SIGINT before any thread starts (the threads the
    // emulator starts inherit the mask), then wait for one.
    let mut signals = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigset manipulation on a local set, then masking this thread.
    let signals = unsafe {
        libc::sigemptyset(signals.as_mut_ptr());
        libc::sigaddset(signals.as_mut_ptr(), libc::SIGTERM);
        libc::sigaddset(signals.as_mut_ptr(), libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, signals.as_ptr(), std::ptr::null_mut());
        signals.assume_init()
    };
    let emulator = Emulator::start(config)?;
    ready(&emulator.endpoint());
    let mut received = 0;
    // SAFETY: waits for one of the blocked signals.
    unsafe { libc::sigwait(&signals, &mut received) };
    emulator.stop();
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Listen { port: u16, source: std::io::Error },
    #[error("cannot create the state directory {path}: {source}")]
    StateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the emulator's runtime: {0}")]
    Runtime(std::io::Error),
    #[error(
        "cannot read the emulator's saved state {path}: {reason}; the emulator does not start without the services it holds (move the file away to start with none)"
    )]
    SavedState { path: PathBuf, reason: String },
    #[error(
        "cannot listen again on 127.0.0.1:{port}, the ServiceUrl of {service}: {source}; stop whatever holds that port and start the emulator again"
    )]
    ServicePort {
        service: String,
        port: u16,
        source: std::io::Error,
    },
}

/// Where a service's logs are (see the crate docs for the whole layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLogs {
    /// The service's event log: operations, pulls, health checks, failures.
    pub events: PathBuf,
    /// The serving instance's output, if one serves.
    pub stdout: Option<PathBuf>,
    pub stderr: Option<PathBuf>,
}

/// A running emulator. Dropping it stops the API and every service process.
pub struct Emulator {
    address: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Listens at once (the endpoint answers when this returns) and serves
    /// from a runtime of its own, so callers may be sync or async. With a
    /// saved state in the state directory, every service is back (see the
    /// crate docs, "Restarting") when this returns; running services' URLs
    /// answer once their instances are healthy again.
    pub fn start(config: Config) -> Result<Emulator, StartError> {
        std::fs::create_dir_all(&config.state_dir).map_err(|source| StartError::StateDir {
            path: config.state_dir.clone(),
            source,
        })?;
        let saved = persist::load(&config.state_dir)?;
        let listener = TcpListener::bind(("127.0.0.1", config.port))
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|source| StartError::Listen {
                port: config.port,
                source,
            })?;
        let address = listener.local_addr().map_err(StartError::Runtime)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("apprunner-emulator")
            .enable_all()
            .build()
            .map_err(StartError::Runtime)?;
        let shared = Arc::new(Shared::new(config));
        let restored = {
            let mut state = shared.lock();
            let restored = match saved {
                Some(saved) => {
                    // The services' URLs accept on this runtime.
                    let _entered = runtime.enter();
                    persist::restore(&shared, &mut state, saved)
                }
                None => {
                    configs::create_default_auto_scaling(&shared, &mut state);
                    Ok(Vec::new())
                }
            };
            if restored.is_ok() {
                shared.save(&state);
            }
            restored
        };
        let to_restart = match restored {
            Ok(to_restart) => to_restart,
            Err(e) => {
                // The caller may be async: a runtime must not block there.
                drop(shared);
                runtime.shutdown_background();
                return Err(e);
            }
        };
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = axum::Router::new()
            .fallback(protocol::handle)
            .with_state(shared.clone());
        let serving = shared.clone();
        let thread = std::thread::Builder::new()
            .name("apprunner-emulator".into())
            .spawn(move || {
                let setup = serving.clone();
                runtime.block_on(async move {
                    persist::restart_instances(&setup, to_restart);
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(_) => return,
                    };
                    let _ = axum::serve(listener, router)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await;
                });
                // Stop every instance while the runtime still exists, then
                // drop the runtime (and any operation still under way).
                serving.stop_everything();
                runtime.shutdown_timeout(Duration::from_secs(5));
            })
            .map_err(StartError::Runtime)?;
        Ok(Emulator {
            address,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`: the value for `AWS_ENDPOINT_URL_APPRUNNER`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn state_dir(&self) -> &Path {
        &self.shared.config.state_dir
    }

    /// The logs of a service by ARN; `None` for a service never created here.
    pub fn service_logs(&self, service_arn: &str) -> Option<ServiceLogs> {
        self.shared.lock().service_logs(service_arn)
    }

    /// The process id of the instance serving a service now, if one does.
    pub fn instance_pid(&self, service_arn: &str) -> Option<u32> {
        self.shared.lock().instance_pid(service_arn)
    }

    /// Blocks until the API and every service process have stopped.
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// What every handler and background operation shares.
pub(crate) struct Shared {
    pub config: Config,
    state: Mutex<State>,
    pub secrets: secrets::SecretsClient,
    pub logs: logs::LogsClient,
}

impl Shared {
    fn new(config: Config) -> Shared {
        Shared {
            secrets: secrets::SecretsClient::new(&config),
            logs: logs::LogsClient::new(&config),
            config,
            state: Mutex::new(State::default()),
        }
    }

    /// The state; a panic elsewhere never makes it unusable.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn arn(&self, resource: &str) -> String {
        format!(
            "arn:aws:apprunner:{}:{}:{resource}",
            self.config.region, self.config.account_id
        )
    }

    /// Writes the state to `state.json` (the caller holds the lock, so
    /// writes land in the order of the changes). A failure is reported on
    /// stderr and does not fail the request: the service still runs.
    pub fn save(&self, state: &State) {
        if let Err(e) = persist::write(&self.config.state_dir, state) {
            eprintln!(
                "apprunner-emulator: cannot save the state to {}: {e}",
                persist::state_path(&self.config.state_dir).display()
            );
        }
    }

    /// [`Shared::save`] of the state as it is now.
    pub fn save_now(&self) {
        let state = self.lock();
        self.save(&state);
    }

    fn stop_everything(&self) {
        let instances = self.lock().take_all_instances();
        // Instances stop when dropped (outside the lock: they wait for exit).
        drop(instances);
    }
}

/// Every resource the emulator holds.
#[derive(Default)]
pub(crate) struct State {
    pub services: Vec<services::ServiceEntry>,
    pub configs: configs::Configs,
    pub tags: tags::Tags,
    pub stopping: bool,
}

/// A fresh 32-hex-digit id, the form App Runner's resource ids take.
pub(crate) fn new_resource_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Answers `operation`; once one that changes something succeeded, the
/// state is saved before the answer leaves.
fn route(shared: &Arc<Shared>, operation: &str, input: Value) -> ApiResult {
    let answered = dispatch(shared, operation, input);
    let reads_only = operation.starts_with("Describe") || operation.starts_with("List");
    if answered.is_ok() && !reads_only {
        shared.save_now();
    }
    answered
}

fn dispatch(shared: &Arc<Shared>, operation: &str, input: Value) -> ApiResult {
    match operation {
        "CreateService" => services::create(shared, input),
        "DescribeService" => services::describe(shared, input),
        "UpdateService" => services::update(shared, input),
        "DeleteService" => services::delete(shared, input),
        "ListServices" => services::list(shared, input),
        "StartDeployment" => services::start_deployment(shared, input),
        "PauseService" => services::pause(shared, input),
        "ResumeService" => services::resume(shared, input),
        "ListOperations" => services::list_operations(shared, input),
        "CreateAutoScalingConfiguration" => configs::create_auto_scaling(shared, input),
        "DescribeAutoScalingConfiguration" => configs::describe_auto_scaling(shared, input),
        "DeleteAutoScalingConfiguration" => configs::delete_auto_scaling(shared, input),
        "ListAutoScalingConfigurations" => configs::list_auto_scaling(shared, input),
        "CreateObservabilityConfiguration" => configs::create_observability(shared, input),
        "DescribeObservabilityConfiguration" => configs::describe_observability(shared, input),
        "DeleteObservabilityConfiguration" => configs::delete_observability(shared, input),
        "ListObservabilityConfigurations" => configs::list_observability(shared, input),
        "CreateVpcConnector" => configs::create_vpc_connector(shared, input),
        "DescribeVpcConnector" => configs::describe_vpc_connector(shared, input),
        "DeleteVpcConnector" => configs::delete_vpc_connector(shared, input),
        "ListVpcConnectors" => configs::list_vpc_connectors(shared, input),
        "CreateVpcIngressConnection" => configs::create_ingress_connection(shared, input),
        "DescribeVpcIngressConnection" => configs::describe_ingress_connection(shared, input),
        "DeleteVpcIngressConnection" => configs::delete_ingress_connection(shared, input),
        "ListVpcIngressConnections" => configs::list_ingress_connections(shared, input),
        "TagResource" => tags::tag(shared, input),
        "UntagResource" => tags::untag(shared, input),
        "ListTagsForResource" => tags::list(shared, input),
        other => Err(ApiError::invalid_request(format!(
            "{other} is in App Runner's API but not in this emulator"
        ))),
    }
}

/// One page of `items` from `NextToken` (an offset this emulator handed out).
pub(crate) fn paginate<T: Clone>(
    items: &[T],
    max_results: Option<usize>,
    next_token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = match next_token {
        None => 0,
        Some(token) => token
            .parse::<usize>()
            .ok()
            .filter(|&n| n <= items.len())
            .ok_or_else(|| ApiError::invalid_request("the NextToken is not valid"))?,
    };
    let end = max_results.map_or(items.len(), |max| (start + max).min(items.len()));
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items[start..end].to_vec(), next))
}
