//! `--local`: the stand-ins foundry starts itself and that outlive the
//! command, so that `up`, `deploy`, `plan` and `destroy` see one world:
//! - `moto`, for every AWS API moto implements;
//! - `registry`, Debian's `docker-registry`, where ECR's images go;
//! - `apprunner`, the App Runner emulator (this same binary, hidden command
//!   `foundry local serve-apprunner`), which pulls from the registry, reads
//!   runtime secrets from moto and runs the services as local processes.
//!
//! Each records its pid and port under the foundry home
//! (`local/<name>.json`); logs and data sit beside the record. The registry
//! and the App Runner emulator start only for stacks with services.

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
    #[error("the local {name} did not listen on port {port} within {seconds} s; its log: {log}")]
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
}

fn dir() -> PathBuf {
    localenv::foundry_home().join("local")
}

fn record_path(name: &str) -> PathBuf {
    dir().join(format!("{name}.json"))
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
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
    [MOTO, REGISTRY, APPRUNNER]
        .into_iter()
        .map(|name| (name, status_of(name)))
        .collect()
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
    let child = command
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
    if !moto::wait_until_listening(port, wait) {
        return Err(LocalError::NotListening {
            name,
            port,
            seconds: wait.as_secs(),
            log,
        });
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
    let (port, _reservation) = moto::reserve_port()?;
    spawn(MOTO, moto::server_command(&server, port), port)
}

/// Returns every stand-in, starting those not running; the registry and the
/// App Runner emulator only `with_compute`.
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
            let port = moto::free_port()?;
            let config = registry::write_config(&dir().join("registry"), port, None)?;
            spawn(REGISTRY, registry::serve_command(&config)?, port)?
        }
    };
    let apprunner = match status_of(APPRUNNER) {
        Some(running) => running,
        None => {
            let port = moto::free_port()?;
            let exe = std::env::current_exe().map_err(io(Path::new("foundry")))?;
            let mut command = Command::new(exe);
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
        }),
    })
}

/// How the App Runner emulator of `--local` is set up: every image pulled
/// from the local registry, runtime secrets read from moto, and the
/// services' own AWS calls sent to moto.
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
    for (key, value) in [
        ("AWS_ENDPOINT_URL", moto),
        ("AWS_ACCESS_KEY_ID", "foundry-local"),
        ("AWS_SECRET_ACCESS_KEY", "foundry-local"),
        ("AWS_REGION", "us-east-1"),
    ] {
        config.instance_env.insert(key.into(), value.into());
    }
    config
}

/// Stops every stand-in, the emulator's services first; everything created
/// locally is gone. Returns those that were running.
pub fn stop() -> Vec<(&'static str, Running)> {
    let mut stopped = Vec::new();
    for name in [APPRUNNER, REGISTRY, MOTO] {
        if let Some(running) = status_of(name) {
            // SAFETY: plain kill(2) of a process we started.
            unsafe {
                libc::kill(running.pid as libc::pid_t, libc::SIGTERM);
            }
            stopped.push((name, running));
        }
        let _ = fs::remove_file(record_path(name));
    }
    // Moto forgets everything when it stops; so do the images and services.
    for data in ["registry", "apprunner"] {
        let _ = fs::remove_dir_all(dir().join(data));
    }
    stopped.reverse();
    stopped
}
