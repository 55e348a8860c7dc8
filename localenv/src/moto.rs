//! moto server, installed on first use into a private virtualenv and started on
//! a free loopback port; optionally with its state kept in a snapshot file
//! across restarts ([`persistent_server_command`], `moto_persistent.py`).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The moto release foundry is tested against. Its dependencies are pinned
/// too, in `moto-requirements.txt`: another moto (5.2.1's ListDistributions
/// omits `Comment`) or another botocore changes what the tests see.
pub const MOTO_VERSION: &str = "5.2.5";

/// `pip freeze` of a virtualenv holding exactly [`MOTO_VERSION`].
const MOTO_REQUIREMENTS: &str = include_str!("../moto-requirements.txt");

/// moto's server wrapped so that it loads a snapshot of its backends before
/// serving and writes one when SIGTERM or SIGINT stops it (see the script).
const PERSISTENT_SERVER: &str = include_str!("moto_persistent.py");

/// What moto lacks of CloudFront Functions, added before it serves.
const CLOUDFRONT_FUNCTIONS: &str = include_str!("moto_cloudfront_functions.py");

/// What moto lacks of ECS service deployments, added before it serves.
const ECS_DEPLOYMENTS: &str = include_str!("moto_ecs_deployments.py");

/// Runs `moto_server`'s own entry point with the arguments that follow.
const SERVE: &str = "import sys\nfrom moto.server import main\nsys.exit(main(sys.argv[1:]))\n";

/// How `moto_persistent.py` exits when its snapshot cannot be read.
const SNAPSHOT_UNREADABLE_EXIT: i32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error(
        "could not run `{python}` to create the private virtualenv for moto ({source}); install Python 3 with the venv module (Debian: apt-get install python3 python3-venv) or set FOUNDRY_PYTHON to a Python 3 interpreter"
    )]
    PythonMissing { python: String, source: io::Error },
    #[error(
        "{step} failed while installing moto into {venv}; see {log} for pip's output, then run the command again"
    )]
    InstallFailed {
        step: &'static str,
        venv: PathBuf,
        log: PathBuf,
    },
    #[error(
        "moto server did not start on 127.0.0.1:{port} within {waited:?}; its output is in {log}"
    )]
    StartTimeout {
        port: u16,
        waited: Duration,
        log: PathBuf,
    },
    #[error("{message}; moto's output is in {log}")]
    SnapshotUnreadable { message: String, log: PathBuf },
    #[error(
        "moto server did not stop within {waited:?} after SIGTERM, so its snapshot may be missing; its output is in {log}"
    )]
    StopTimeout { waited: Duration, log: PathBuf },
    #[error("moto server exited at start ({status}); its output is in {log}")]
    Exited {
        status: std::process::ExitStatus,
        log: PathBuf,
    },
    #[error("I/O error on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> MotoError + '_ {
    move |source| MotoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The private virtualenv that holds moto; one per pinned version, so that
/// upgrading the pin installs afresh instead of reusing an older moto.
pub fn venv_dir() -> PathBuf {
    crate::foundry_home().join(format!("moto-venv-{MOTO_VERSION}"))
}

/// Path of `moto_server` inside the private virtualenv, installing it first if
/// needed. Safe to call from many processes at once: installs are serialised by
/// a file lock and published by an atomic rename.
pub fn ensure_installed() -> Result<PathBuf, MotoError> {
    let venv = venv_dir();
    let server = venv.join("bin").join("moto_server");
    if server.exists() {
        return Ok(server);
    }
    let home = crate::foundry_home();
    fs::create_dir_all(&home).map_err(io_err(&home))?;
    let lock_path = home.join("moto-venv.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_err(&lock_path))?;
    lock.lock().map_err(io_err(&lock_path))?;
    if server.exists() {
        return Ok(server);
    }
    let staging = home.join(format!("moto-venv.partial-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    let log = home.join("moto-install.log");
    let log_file = File::create(&log).map_err(io_err(&log))?;
    let python = std::env::var("FOUNDRY_PYTHON").unwrap_or_else(|_| "python3".into());
    eprintln!(
        "foundry: installing moto into {} (first use only)…",
        venv.display()
    );
    let status = Command::new(&python)
        .args(["-m", "venv"])
        .arg(&staging)
        .stdout(log_file.try_clone().map_err(io_err(&log))?)
        .stderr(log_file.try_clone().map_err(io_err(&log))?)
        .status()
        .map_err(|source| MotoError::PythonMissing {
            python: python.clone(),
            source,
        })?;
    if !status.success() {
        return Err(MotoError::InstallFailed {
            step: "python3 -m venv",
            venv,
            log,
        });
    }
    let requirements = staging.join("requirements.txt");
    fs::write(&requirements, MOTO_REQUIREMENTS).map_err(io_err(&requirements))?;
    let status = Command::new(staging.join("bin").join("pip"))
        .args(["install", "--disable-pip-version-check", "--quiet", "-r"])
        .arg(&requirements)
        .stdout(log_file.try_clone().map_err(io_err(&log))?)
        .stderr(log_file)
        .status()
        .map_err(io_err(&staging))?;
    if !status.success() {
        return Err(MotoError::InstallFailed {
            step: "pip install -r moto-requirements.txt",
            venv,
            log,
        });
    }
    // A virtualenv's scripts name its own path in their shebang lines, so it
    // cannot be renamed after the fact: rewrite them to the final location.
    rewrite_shebangs(&staging, &venv)?;
    fs::rename(&staging, &venv).map_err(io_err(&venv))?;
    Ok(server)
}

fn rewrite_shebangs(staging: &Path, venv: &Path) -> Result<(), MotoError> {
    let bin = staging.join("bin");
    let (from, to) = (
        staging.to_string_lossy().into_owned(),
        venv.to_string_lossy().into_owned(),
    );
    for entry in fs::read_dir(&bin).map_err(io_err(&bin))? {
        let path = entry.map_err(io_err(&bin))?.path();
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        if text.contains(&from) {
            fs::write(&path, text.replace(&from, &to)).map_err(io_err(&path))?;
        }
    }
    let cfg = staging.join("pyvenv.cfg");
    if let Ok(text) = fs::read_to_string(&cfg) {
        fs::write(&cfg, text.replace(&from, &to)).map_err(io_err(&cfg))?;
    }
    Ok(())
}

/// The command line that serves moto on `port`, with the settings foundry
/// needs; it forgets everything when it stops (what tests want).
pub fn server_command(moto_server: &Path, port: u16) -> Command {
    // The virtualenv's interpreter, isolated as below.
    let mut cmd = Command::new(moto_server.with_file_name("python"));
    cmd.arg("-I")
        .arg("-c")
        .arg(format!(
            "{CLOUDFRONT_FUNCTIONS}\n{ECS_DEPLOYMENTS}\n{SERVE}"
        ))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    with_settings(&mut cmd);
    cmd
}

/// The command line that serves moto on `port` as [`server_command`] does,
/// with its state kept in `snapshot`: loaded before it serves (if the file
/// exists), written atomically when SIGTERM or SIGINT stops it, after which
/// it exits 0. A snapshot that cannot be read makes it exit at once (status
/// 3, the reason naming the file on stderr) rather than serve empty; one that
/// cannot be written leaves the previous file unchanged (status 4). Send
/// SIGTERM, never SIGKILL, and wait for the exit: that is when it saves.
pub fn persistent_server_command(moto_server: &Path, port: u16, snapshot: &Path) -> Command {
    // The virtualenv's interpreter, beside `moto_server`; isolated (`-I`), so
    // neither the working directory nor PYTHONPATH can shadow moto.
    let mut cmd = Command::new(moto_server.with_file_name("python"));
    cmd.arg("-I")
        .arg("-c")
        .arg(format!(
            "{CLOUDFRONT_FUNCTIONS}\n{ECS_DEPLOYMENTS}\n{PERSISTENT_SERVER}"
        ))
        .arg(snapshot)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    with_settings(&mut cmd);
    cmd
}

fn with_settings(cmd: &mut Command) {
    // Without this, AWS-managed IAM policies cannot be attached.
    cmd.env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true");
}

/// The reason `moto_persistent.py` gave for refusing its snapshot, from its log.
fn snapshot_failure(log: &Path) -> Option<String> {
    let text = fs::read_to_string(log).ok()?;
    text.lines()
        .rev()
        .find_map(|line| line.strip_prefix("moto: cannot restore "))
        .map(|reason| format!("moto cannot restore {reason}"))
}

/// A free loopback port, as the OS hands it out.
pub fn free_port() -> Result<u16, MotoError> {
    let addr = Path::new("127.0.0.1:0");
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io_err(addr))?;
    Ok(listener.local_addr().map_err(io_err(addr))?.port())
}

/// A free port reserved for this process until the returned file is dropped.
/// Between asking the OS for a free port and the server binding it, another
/// process could be handed the same port; the per-port lock file closes that
/// window among everything that starts servers through this crate.
pub fn reserve_port() -> Result<(u16, File), MotoError> {
    let dir = crate::foundry_home().join("ports");
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    loop {
        let port = free_port()?;
        let path = dir.join(format!("{port}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        if file.try_lock().is_ok() {
            return Ok((port, file));
        }
    }
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
pub fn wait_until_listening(port: u16, timeout: Duration) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    while start.elapsed() < timeout {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A moto server owned by this process; killed when dropped (a persistent
/// one saves only through [`MotoServer::stop`]).
pub struct MotoServer {
    child: Child,
    port: u16,
    log: PathBuf,
    _reservation: File,
}

impl MotoServer {
    /// Installs moto if needed and starts it on a free port, with its output in
    /// a log file under the foundry home.
    pub fn start() -> Result<Self, MotoError> {
        Self::start_with(server_command)
    }

    /// As [`MotoServer::start`], with its state loaded from and saved to
    /// `snapshot` ([`persistent_server_command`]); a snapshot that cannot be
    /// read is [`MotoError::SnapshotUnreadable`].
    pub fn start_persistent(snapshot: &Path) -> Result<Self, MotoError> {
        Self::start_with(|moto_server, port| persistent_server_command(moto_server, port, snapshot))
    }

    fn start_with(command: impl FnOnce(&Path, u16) -> Command) -> Result<Self, MotoError> {
        let moto_server = ensure_installed()?;
        let (port, reservation) = reserve_port()?;
        let logs = crate::foundry_home().join("logs");
        fs::create_dir_all(&logs).map_err(io_err(&logs))?;
        let log = logs.join(format!("moto-{port}.log"));
        let out = File::create(&log).map_err(io_err(&log))?;
        let err = out.try_clone().map_err(io_err(&log))?;
        let exited = |status: std::process::ExitStatus, log: PathBuf| match snapshot_failure(&log) {
            Some(message) if status.code() == Some(SNAPSHOT_UNREADABLE_EXIT) => {
                MotoError::SnapshotUnreadable { message, log }
            }
            _ => MotoError::Exited { status, log },
        };
        let mut child = command(&moto_server, port)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(io_err(&moto_server))?;
        let waited = Duration::from_secs(60);
        let start = Instant::now();
        while start.elapsed() < waited {
            if let Some(status) = child.try_wait().map_err(io_err(&moto_server))? {
                return Err(exited(status, log));
            }
            if wait_until_listening(port, Duration::from_millis(100)) {
                // Whoever listens must be our child: one that lost the port
                // to another process exits at once.
                std::thread::sleep(Duration::from_millis(200));
                if let Some(status) = child.try_wait().map_err(io_err(&moto_server))? {
                    return Err(exited(status, log));
                }
                return Ok(Self {
                    child,
                    port,
                    log,
                    _reservation: reservation,
                });
            }
        }
        let _ = child.kill();
        Err(MotoError::StartTimeout { port, waited, log })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, the value for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Stops the server with SIGTERM and waits for it to exit (a persistent
    /// one writes its snapshot first); its exit status.
    pub fn stop(mut self) -> Result<std::process::ExitStatus, MotoError> {
        // SAFETY: plain kill(2) of our own child, which has not been reaped.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let waited = Duration::from_secs(60);
        let start = Instant::now();
        while start.elapsed() < waited {
            if let Some(status) = self.child.try_wait().map_err(io_err(&self.log))? {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(MotoError::StopTimeout {
            waited,
            log: self.log.clone(),
        })
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
