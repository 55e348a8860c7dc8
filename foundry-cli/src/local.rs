//! `--local`: a moto server that foundry installs and starts itself and that
//! outlives the command, so that `up`, `plan` and `destroy` see one world.
//! Its pid and port are recorded under the foundry home.

use std::fs;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use localenv::moto::{self, MotoError};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    Moto(#[from] MotoError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Running {
    pub pid: u32,
    pub port: u16,
}

impl Running {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn record_path() -> PathBuf {
    localenv::foundry_home().join("local").join("moto.json")
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

/// The running emulator, if its recorded process is alive and listening.
pub fn status() -> Option<Running> {
    let text = fs::read_to_string(record_path()).ok()?;
    let running: Running = serde_json::from_str(&text).ok()?;
    (alive(running.pid) && moto::wait_until_listening(running.port, Duration::from_millis(500)))
        .then_some(running)
}

/// Returns the running emulator or starts one (installing moto on first use).
pub fn ensure_running() -> Result<Running, LocalError> {
    if let Some(running) = status() {
        return Ok(running);
    }
    let server = moto::ensure_installed()?;
    let (port, _reservation) = moto::reserve_port()?;
    let dir = localenv::foundry_home().join("local");
    let io = |path: &PathBuf| {
        let path = path.clone();
        move |source| LocalError::Io { path, source }
    };
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let log = dir.join("moto.log");
    let out = fs::File::create(&log).map_err(io(&log))?;
    let err = out.try_clone().map_err(io(&log))?;
    let mut cmd = moto::server_command(&server, port);
    // Its own process group: a Ctrl-C in this terminal must not take it down.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(io(&server))?;
    let running = Running {
        pid: child.id(),
        port,
    };
    if !moto::wait_until_listening(port, Duration::from_secs(60)) {
        return Err(MotoError::StartTimeout {
            port,
            waited: Duration::from_secs(60),
            log,
        }
        .into());
    }
    let record = record_path();
    fs::write(
        &record,
        serde_json::to_string(&running).expect("serialises"),
    )
    .map_err(io(&record))?;
    Ok(running)
}

/// Stops the emulator; its state (all local resources) is gone with it.
pub fn stop() -> Option<Running> {
    let running = status()?;
    // SAFETY: plain kill(2) of a process we started.
    unsafe {
        libc::kill(running.pid as libc::pid_t, libc::SIGTERM);
    }
    let _ = fs::remove_file(record_path());
    Some(running)
}
