//! `--local`: the stand-ins foundry starts itself and that outlive the
//! command, so that `up`, `deploy`, `plan` and `destroy` see one world:
//! - `moto`, for every AWS API moto implements;
//! - `registry`, Debian's `docker-registry`, where ECR's images go;
//! - `apprunner`, the App Runner emulator (this same binary, hidden command
//!   `foundry local serve-apprunner`), which pulls from the registry, reads
//!   runtime secrets from moto and runs the services as local processes,
//!   each RDS endpoint in their environment led to a real PostgreSQL
//!   ([`database`]);
//! - `issuer`, the token issuer the local stack's `${auth.*}` name
//!   ([`issuer`], `foundry local token`).
//!
//! Each records its pid and port under the foundry home
//! (`local/<name>.json`); logs and data sit beside the record. A stand-in
//! listens on the same port every time it starts (`local/ports.json`), so
//! URLs recorded in the stack's services stay true. The registry, the App
//! Runner emulator and the issuer start only for stacks with services.
//!
//! `foundry local stop` stops them all and keeps their data: moto's
//! resources, the images, the services and the databases are there again
//! after `foundry local start`. `--purge` deletes it all.

pub mod database;
pub mod issuer;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use localenv::moto::{self, MotoError};
use localenv::registry::{self, RegistryError};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    Moto(#[from] MotoError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the local token issuer's key {path} cannot be read; delete it and run the command again (tokens it signed stop working)"
    )]
    BadIssuerKey { path: PathBuf },
    #[error(
        "port {port}, where the local {name} listened before, is taken by another process; stop that process, or run `foundry local stop --purge` to start afresh on new ports (everything local is lost)"
    )]
    PortTaken { name: &'static str, port: u16 },
    #[error(
        "the local {name} did not listen on port {port} (it exited, or not within {seconds} s); its log says why: {log}"
    )]
    NotListening {
        name: &'static str,
        port: u16,
        seconds: u64,
        log: PathBuf,
    },
}

/// The stand-ins, in start order.
pub const MOTO: &str = "moto";
pub const REGISTRY: &str = "registry";
pub const APPRUNNER: &str = "apprunner";
pub const ISSUER: &str = "issuer";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Running {
    pub pid: u32,
    pub port: u16,
}

impl Running {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:port`, as registries are named.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// Everything `--local` uses; registry and emulator only for stacks with services.
#[derive(Debug, Clone)]
pub struct Local {
    pub moto: Running,
    pub compute: Option<LocalCompute>,
}

#[derive(Debug, Clone)]
pub struct LocalCompute {
    pub registry: Running,
    pub apprunner: Running,
    pub issuer: Running,
}

impl Local {
    /// Makes a stack resolved for `--local` name local stand-ins where it
    /// names things only AWS has: its token issuer becomes the local one.
    pub fn localize(&self, stack: &mut crate::stack::Stack) {
        if let (Some(auth), Some(compute)) = (stack.auth.as_mut(), &self.compute) {
            *auth = crate::stack::Auth::at(&issuer::issuer_url(compute.issuer.port));
        }
    }
}

fn dir() -> PathBuf {
    localenv::foundry_home().join("local")
}

/// The id of this machine's local world (moto's resources, the registry's
/// images, the databases): made on first use, and new after `local stop
/// --purge`, which deletes it with everything else. Local engine state and
/// release history are kept per world, so a release whose images the purge
/// deleted is never taken as pushed.
pub fn world_id() -> Result<String, LocalError> {
    let dir = dir();
    let path = dir.join("world");
    if let Ok(id) = fs::read_to_string(&path)
        && !id.trim().is_empty()
    {
        return Ok(id.trim().to_owned());
    }
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let id = format!("world-{:x}", nanos ^ u128::from(std::process::id()));
    fs::write(&path, &id).map_err(io(&path))?;
    Ok(id)
}

fn record_path(name: &str) -> PathBuf {
    dir().join(format!("{name}.json"))
}

fn alive(pid: u32) -> bool {
    // A zombie (ended, not yet reaped by the process that started it) is gone.
    let zombie = fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(") ")
                .map(|(_, rest)| rest.starts_with('Z'))
        })
        .unwrap_or(false);
    // SAFETY: signal 0 only checks that the process exists.
    !zombie && unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

/// The stand-in `name`, if its recorded process is alive and listening.
pub fn status_of(name: &str) -> Option<Running> {
    let text = fs::read_to_string(record_path(name)).ok()?;
    let running: Running = serde_json::from_str(&text).ok()?;
    (alive(running.pid) && moto::wait_until_listening(running.port, Duration::from_millis(500)))
        .then_some(running)
}

/// Every stand-in and whether it runs, in start order.
pub fn status() -> Vec<(&'static str, Option<Running>)> {
    [MOTO, REGISTRY, APPRUNNER, ISSUER]
        .into_iter()
        .map(|name| (name, status_of(name)))
        .collect()
}

/// The port stand-in `name` listens on: the one it had before, or a free
/// one recorded for next time.
fn stable_port(name: &'static str) -> Result<u16, LocalError> {
    let path = dir().join("ports.json");
    let mut ports: std::collections::BTreeMap<String, u16> = fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    if let Some(&port) = ports.get(name) {
        return match std::net::TcpListener::bind(("127.0.0.1", port)) {
            Ok(_) => Ok(port),
            Err(_) => Err(LocalError::PortTaken { name, port }),
        };
    }
    let port = moto::free_port()?;
    ports.insert(name.to_owned(), port);
    fs::create_dir_all(dir()).map_err(io(&dir()))?;
    fs::write(
        &path,
        serde_json::to_string_pretty(&ports).expect("serialises"),
    )
    .map_err(io(&path))?;
    Ok(port)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LocalError + use<> {
    let path = path.to_owned();
    move |source| LocalError::Io { path, source }
}

/// Starts `command` in its own process group (a Ctrl-C in this terminal
/// must not take it down) with its output in `<name>.log`, waits for `port`
/// and records it.
fn spawn(name: &'static str, mut command: Command, port: u16) -> Result<Running, LocalError> {
    let dir = dir();
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let log = dir.join(format!("{name}.log"));
    let out = fs::File::create(&log).map_err(io(&log))?;
    let err = out.try_clone().map_err(io(&log))?;
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(io(&log))?;
    let running = Running {
        pid: child.id(),
        port,
    };
    let wait = Duration::from_secs(60);
    let deadline = std::time::Instant::now() + wait;
    while !moto::wait_until_listening(port, Duration::from_millis(200)) {
        // One that exits at start (a snapshot it cannot read, a port taken)
        // says why in its log: no need to wait the whole minute.
        let exited = child.try_wait().ok().flatten().is_some();
        if exited || std::time::Instant::now() > deadline {
            return Err(LocalError::NotListening {
                name,
                port,
                seconds: wait.as_secs(),
                log,
            });
        }
    }
    let record = record_path(name);
    fs::write(
        &record,
        serde_json::to_string(&running).expect("serialises"),
    )
    .map_err(io(&record))?;
    Ok(running)
}

/// Returns moto, starting it (installing it on first use) if needed.
pub fn ensure_moto() -> Result<Running, LocalError> {
    if let Some(running) = status_of(MOTO) {
        return Ok(running);
    }
    let server = moto::ensure_installed()?;
    let port = stable_port(MOTO)?;
    // Restored from, and written back to, its snapshot: `local stop` keeps
    // every resource with its id.
    let snapshot = dir().join("moto.snapshot");
    spawn(
        MOTO,
        moto::persistent_server_command(&server, port, &snapshot),
        port,
    )
}

/// Returns every stand-in, starting those not running; the registry, the
/// App Runner emulator and the issuer only `with_compute`.
pub fn ensure_running(with_compute: bool) -> Result<Local, LocalError> {
    let moto = ensure_moto()?;
    if !with_compute {
        return Ok(Local {
            moto,
            compute: None,
        });
    }
    let registry = match status_of(REGISTRY) {
        Some(running) => running,
        None => {
            let port = stable_port(REGISTRY)?;
            let config = registry::write_config(&dir().join("registry"), port, None)?;
            spawn(REGISTRY, registry::serve_command(&config)?, port)?
        }
    };
    let exe = || std::env::current_exe().map_err(io(Path::new("foundry")));
    let issuer = match status_of(ISSUER) {
        Some(running) => running,
        None => {
            // The key exists before the stand-in serves it.
            issuer::Issuer::load_or_create()?;
            let port = stable_port(ISSUER)?;
            let mut command = Command::new(exe()?);
            command
                .args(["local", "serve-issuer", "--port"])
                .arg(port.to_string());
            spawn(ISSUER, command, port)?
        }
    };
    let apprunner = match status_of(APPRUNNER) {
        Some(running) => running,
        None => {
            let port = stable_port(APPRUNNER)?;
            let mut command = Command::new(exe()?);
            command
                .args(["local", "serve-apprunner", "--port"])
                .arg(port.to_string())
                .arg("--state-dir")
                .arg(dir().join("apprunner"))
                .arg("--registry")
                .arg(registry.host())
                .arg("--moto")
                .arg(moto.endpoint());
            spawn(APPRUNNER, command, port)?
        }
    };
    Ok(Local {
        moto,
        compute: Some(LocalCompute {
            registry,
            apprunner,
            issuer,
        }),
    })
}

/// How the App Runner emulator of `--local` is set up: every image pulled
/// from the local registry, runtime secrets read from moto, the services'
/// own AWS calls sent to moto, `FOUNDRY_LOCAL=true` in their environment
/// (the ai service answers with its echo provider when no key is set), and
/// each RDS endpoint in it led to a local PostgreSQL ([`database`]).
pub fn apprunner_config(
    port: u16,
    state_dir: &Path,
    registry: &str,
    moto: &str,
) -> apprunner_emulator::Config {
    let mut config = apprunner_emulator::Config::new(state_dir);
    config.port = port;
    config.registry_map.insert("*".into(), registry.to_owned());
    config.secrets_endpoint = Some(moto.to_owned());
    config.logs_endpoint = Some(moto.to_owned());
    // A provider key nobody has set leaves its variable unset (the ai
    // service then answers with its echo provider) instead of failing.
    config.unset_secrets_without_value = true;
    for (key, value) in [
        ("AWS_ENDPOINT_URL", moto),
        ("AWS_ACCESS_KEY_ID", "foundry-local"),
        ("AWS_SECRET_ACCESS_KEY", "foundry-local"),
        ("AWS_REGION", "us-east-1"),
        ("FOUNDRY_LOCAL", "true"),
    ] {
        config.instance_env.insert(key.into(), value.into());
    }
    let moto = moto.to_owned();
    config.instance_env_hook = Some(apprunner_emulator::InstanceEnvHook(std::sync::Arc::new(
        move |env| Box::pin(localize_env(env, moto.clone())),
    )));
    config
}

/// An instance's environment as App Runner would give it, led to what
/// answers locally: the local App Runner serves each service's URL as plain
/// HTTP on loopback (App Runner terminates TLS in front of its services),
/// and each RDS endpoint is a local PostgreSQL.
async fn localize_env(
    mut env: std::collections::BTreeMap<String, String>,
    moto: String,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    for value in env.values_mut() {
        if value.contains("https://127.0.0.1:") {
            *value = value.replace("https://127.0.0.1:", "http://127.0.0.1:");
        }
    }
    database::map_endpoints(env, moto).await
}

/// What `stop` stopped: a stand-in with its pid, or a local database.
#[derive(Debug, Clone)]
pub enum Stopped {
    StandIn(&'static str, Running),
    Database(database::LocalDatabase),
}

/// Stops every stand-in, the emulator's services first, and the local
/// databases; everything they hold is kept for the next start. Returns
/// what was running.
pub fn stop() -> Vec<Stopped> {
    let mut stopped = Vec::new();
    for name in [APPRUNNER, ISSUER, REGISTRY, MOTO] {
        if let Some(running) = status_of(name) {
            // moto writes its snapshot on SIGTERM, the emulator frees its
            // services' ports: each is waited for.
            localenv::terminate_and_wait(running.pid, Duration::from_secs(60));
            stopped.push(Stopped::StandIn(name, running));
        }
        let _ = fs::remove_file(record_path(name));
    }
    stopped.extend(database::stop_all().into_iter().map(Stopped::Database));
    stopped
}

/// [`stop`], then deletes everything local: moto's resources, the images,
/// the services, the databases, the issuer's key and the ports.
pub fn stop_and_purge() -> Vec<Stopped> {
    let stopped = stop();
    database::purge_all();
    let _ = fs::remove_dir_all(dir());
    stopped
}
