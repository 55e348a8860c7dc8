//! A real OCI registry on loopback: Debian's `docker-registry` (the CNCF
//! distribution registry), serving plain HTTP with its storage in a
//! directory of its own. Tests start one per test; `foundry --local` keeps
//! one running beside moto as the stand-in for ECR's registry.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::moto::free_port;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "`docker-registry` is not installed; install Debian's package (apt-get install docker-registry; see .ci/run)"
    )]
    NotInstalled,
    #[error("cannot prepare the registry's directory {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no free loopback port for the registry: {0}")]
    Port(String),
    #[error("docker-registry did not answer on {host} within {seconds} s; its log:\n{log}")]
    NotAnswering {
        host: String,
        seconds: u64,
        log: String,
    },
}

/// How long a fresh registry may take to answer `/v2/`.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// The registry's configuration file for `dir` (storage in `dir/data`),
/// listening on `127.0.0.1:port`, with HTTP basic auth when `htpasswd`
/// holds a `user:bcrypt-hash` line.
pub fn write_config(
    dir: &Path,
    port: u16,
    htpasswd: Option<&str>,
) -> Result<PathBuf, RegistryError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| RegistryError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io(dir))?;
    let auth = match htpasswd {
        Some(line) => {
            let file = dir.join("htpasswd");
            fs::write(&file, format!("{}\n", line.trim_end())).map_err(io(&file))?;
            format!(
                "auth:\n  htpasswd:\n    realm: foundry-local\n    path: {}\n",
                file.display()
            )
        }
        None => String::new(),
    };
    let config = format!(
        "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: 127.0.0.1:{port}\n  secret: foundry-local-registry\n{auth}",
        dir.join("data").display()
    );
    let path = dir.join("config.yml");
    fs::write(&path, config).map_err(io(&path))?;
    Ok(path)
}

/// `docker-registry serve CONFIG`, or [`RegistryError::NotInstalled`].
pub fn serve_command(config: &Path) -> Result<Command, RegistryError> {
    let installed = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.join("docker-registry").is_file())
    });
    if !installed {
        return Err(RegistryError::NotInstalled);
    }
    let mut command = Command::new("docker-registry");
    command.arg("serve").arg(config).stdin(Stdio::null());
    Ok(command)
}

/// True once `host` answers the distribution API's base endpoint (200, or
/// 401 when it asks for credentials).
pub fn answers(host: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(host) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if write!(
        stream,
        "GET /v2/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok()
        && (head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.1 401"))
}

/// A registry owned by this value, in a temporary directory: stopped and
/// deleted on drop.
pub struct RegistryServer {
    child: Child,
    dir: PathBuf,
    host: String,
}

impl RegistryServer {
    /// Anyone may pull and push.
    pub fn start() -> Result<Self, RegistryError> {
        Self::start_with(None)
    }

    /// Only `user` with the password `bcrypt_hash` was made from, as ECR
    /// asks for (user `AWS`, the authorization token's password).
    pub fn start_with_basic_auth(user: &str, bcrypt_hash: &str) -> Result<Self, RegistryError> {
        Self::start_with(Some(&format!("{user}:{bcrypt_hash}")))
    }

    fn start_with(htpasswd: Option<&str>) -> Result<Self, RegistryError> {
        let dir = std::env::temp_dir().join(format!(
            "foundry-registry-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let port = free_port().map_err(|e| RegistryError::Port(e.to_string()))?;
        let config = write_config(&dir, port, htpasswd)?;
        let log_path = dir.join("registry.log");
        let io = |source| RegistryError::Io {
            path: log_path.clone(),
            source,
        };
        let log = File::create(&log_path).map_err(io)?;
        let child = serve_command(&config)?
            .stdout(log.try_clone().map_err(io)?)
            .stderr(log)
            .spawn()
            .map_err(io)?;
        let server = RegistryServer {
            child,
            dir,
            host: format!("127.0.0.1:{port}"),
        };
        server.wait_until_answering()?;
        Ok(server)
    }

    fn wait_until_answering(&self) -> Result<(), RegistryError> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if answers(&self.host) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(RegistryError::NotAnswering {
            host: self.host.clone(),
            seconds: START_TIMEOUT.as_secs(),
            log: fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default(),
        })
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.host)
    }
}

impl Drop for RegistryServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
