//! Throwaway PostgreSQL clusters for tests, from the `initdb`, `pg_ctl` and
//! `postgres` binaries on PATH (PostgreSQL 15 on the team's machines).
//!
//! Two flavours:
//! - [`shared`]: one cluster per machine that every test process reuses, so a
//!   test pays for `CREATE DATABASE`, not for `initdb` (nextest runs each test
//!   in its own process). It is started on first use, serialised by a file
//!   lock, and left running for the next run. `DATABASE_URL`, when set, wins.
//! - [`PostgresServer::start`]: a private cluster in a temporary directory that
//!   a test may stop and start again (to see the database go away); it is
//!   stopped and deleted on drop.
//!
//! `initdb` and `pg_ctl` refuse to run as root, so when we are root they run as
//! the `postgres` system user (`runuser -u postgres --`) and the data directory
//! is handed to that user.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Settings for test clusters: TCP on loopback only, no durability (tests
/// throw the data away), room for many small pools, and a log line prefix that
/// names the database so a test can count the statements its database ran.
const TEST_SETTINGS: &str = "
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
shared_buffers = 64MB
log_line_prefix = '%m [%p] db=%d '
log_timezone = 'UTC'
timezone = 'UTC'
";

const START_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    #[error(
        "could not run `{program}` ({source}); install PostgreSQL 15 server binaries (initdb, pg_ctl, postgres) on PATH, or set DATABASE_URL to an existing server"
    )]
    BinaryMissing { program: String, source: io::Error },
    #[error("`{command}` failed ({status}): {stderr}")]
    CommandFailed {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error(
        "running as root but there is no `postgres` system user to run initdb as (add one: useradd --system postgres)"
    )]
    NoPostgresUser,
    #[error(
        "PostgreSQL did not accept connections on 127.0.0.1:{port} within {waited:?}; its log is {log}"
    )]
    StartTimeout {
        port: u16,
        waited: Duration,
        log: PathBuf,
    },
    #[error("I/O error on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PostgresError + '_ {
    move |source| PostgresError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Connection details of a server that tests may create databases on.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// `postgres://…/postgres`: a superuser URL to the maintenance database.
    pub admin_url: String,
    /// The server log, when this process knows where it is (not for `DATABASE_URL`).
    pub log: Option<PathBuf>,
}

impl ServerInfo {
    /// The URL of database `name` on the same server, with the same credentials.
    pub fn database_url(&self, name: &str) -> String {
        with_database(&self.admin_url, name)
    }
}

/// Replaces the database path of a `postgres://` URL, keeping its query string.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_end..].find('/') {
        Some(i) => &base[..authority_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// The machine-wide test cluster (or `DATABASE_URL` when set), started if it
/// is not running. Safe to call from many processes at once.
pub fn shared() -> Result<ServerInfo, PostgresError> {
    if let Ok(url) = std::env::var("DATABASE_URL")
        && !url.is_empty()
    {
        return Ok(ServerInfo {
            admin_url: url,
            log: None,
        });
    }
    let root = shared_root();
    fs::create_dir_all(&root).map_err(io_err(&root))?;
    fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).map_err(io_err(&root))?;
    let lock_path = root.join("lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_err(&lock_path))?;
    lock.lock().map_err(io_err(&lock_path))?;

    let cluster = Cluster {
        data: root.join("data"),
        log: root.join("postgres.log"),
    };
    let port_file = root.join("port");
    if let Some(port) = fs::read_to_string(&port_file)
        .ok()
        .and_then(|s| s.trim().parse::<u16>().ok())
        && cluster.data.join("PG_VERSION").exists()
        && cluster.is_running()
        && listening(port)
    {
        return Ok(cluster.info(port));
    }
    if !cluster.data.join("PG_VERSION").exists() {
        let _ = fs::remove_dir_all(&cluster.data);
        cluster.init()?;
    }
    if cluster.is_running() {
        // A server from an earlier run that lost its port file: stop it cleanly.
        cluster.stop()?;
    }
    let port = free_port()?;
    cluster.start(port)?;
    fs::write(&port_file, port.to_string()).map_err(io_err(&port_file))?;
    Ok(cluster.info(port))
}

/// Where the machine-wide cluster lives: under the temp directory, because the
/// `postgres` user must be able to reach it (root's home is private).
fn shared_root() -> PathBuf {
    let uid = fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
    std::env::temp_dir().join(format!("foundry-postgres-{uid}"))
}

/// A private cluster owned by this value: stopped and deleted on drop.
pub struct PostgresServer {
    cluster: Cluster,
    root: PathBuf,
    port: u16,
}

impl PostgresServer {
    /// `initdb` into a fresh temporary directory and start on a free port.
    pub fn start() -> Result<Self, PostgresError> {
        let root = std::env::temp_dir().join(format!(
            "foundry-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        fs::create_dir_all(&root).map_err(io_err(&root))?;
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).map_err(io_err(&root))?;
        let cluster = Cluster {
            data: root.join("data"),
            log: root.join("postgres.log"),
        };
        let started = cluster.init().and_then(|()| {
            let port = free_port()?;
            cluster.start(port)?;
            Ok(port)
        });
        match started {
            Ok(port) => Ok(Self {
                cluster,
                root,
                port,
            }),
            Err(e) => {
                let _ = fs::remove_dir_all(&root);
                Err(e)
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn info(&self) -> ServerInfo {
        self.cluster.info(self.port)
    }

    /// Stops the server (fast shutdown: open connections are cut).
    pub fn stop(&self) -> Result<(), PostgresError> {
        self.cluster.stop()
    }

    /// Starts the server again on the same port after [`stop`](Self::stop).
    pub fn restart(&self) -> Result<(), PostgresError> {
        self.cluster.start(self.port)
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = self.cluster.stop();
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// A cluster that outlives this process and keeps its data until deleted:
/// `foundry --local`'s stand-in for an RDS database. Unlike the test
/// clusters it is durable (fsync on), authenticates with a password
/// (SCRAM), and listens where RDS's endpoint is mapped to.
pub struct DurableCluster {
    cluster: Cluster,
}

/// Who a [`DurableCluster`] is for: its superuser (RDS's master user) with
/// its password, the database RDS creates, and where it listens.
pub struct DurableSettings<'a> {
    pub superuser: &'a str,
    pub password: &'a str,
    pub database: &'a str,
    pub listen: std::net::IpAddr,
    pub port: u16,
}

impl DurableCluster {
    /// The cluster whose files are under `root` (`data/`, `postgres.log`).
    pub fn at(root: &Path) -> DurableCluster {
        DurableCluster {
            cluster: Cluster {
                data: root.join("data"),
                log: root.join("postgres.log"),
            },
        }
    }

    /// Whether `initdb` has run here.
    pub fn exists(&self) -> bool {
        self.cluster.data.join("PG_VERSION").exists()
    }

    pub fn is_running(&self) -> bool {
        self.cluster.is_running()
    }

    pub fn log(&self) -> &Path {
        &self.cluster.log
    }

    /// `initdb` with the superuser and password, the settings, and the
    /// database (created in single-user mode, before any connection).
    pub fn create(&self, settings: &DurableSettings<'_>) -> Result<(), PostgresError> {
        let root = self.cluster.data.parent().expect("data has a parent");
        fs::create_dir_all(root).map_err(io_err(root))?;
        fs::set_permissions(root, fs::Permissions::from_mode(0o755)).map_err(io_err(root))?;
        let password_file = root.join(".initdb-password");
        fs::write(&password_file, settings.password).map_err(io_err(&password_file))?;
        fs::set_permissions(&password_file, fs::Permissions::from_mode(0o600))
            .map_err(io_err(&password_file))?;
        let conf = format!(
            "
listen_addresses = '{}'
port = {}
unix_socket_directories = ''
password_encryption = 'scram-sha-256'
max_connections = 100
log_timezone = 'UTC'
timezone = 'UTC'
",
            settings.listen, settings.port
        );
        let created = self.cluster.init_with(
            &[
                "-U",
                settings.superuser,
                "--auth=scram-sha-256",
                &format!("--pwfile={}", password_file.display()),
            ],
            &[&password_file],
            &conf,
        );
        let _ = fs::remove_file(&password_file);
        created?;
        let data = self.cluster.data.to_string_lossy().into_owned();
        let statement = format!(
            "CREATE DATABASE \"{}\" OWNER \"{}\";\n",
            settings.database.replace('"', "\"\""),
            settings.superuser.replace('"', "\"\"")
        );
        run_with_stdin(
            pg_command("postgres").args(["--single", "-D", &data, "-j", "postgres"]),
            &statement,
        )
    }

    /// Starts it where [`create`](Self::create) said it listens.
    pub fn start(&self, listen: std::net::IpAddr, port: u16) -> Result<(), PostgresError> {
        self.cluster.start_at(listen, port)
    }

    /// Stops it (fast shutdown); its data stays.
    pub fn stop(&self) -> Result<(), PostgresError> {
        self.cluster.stop()
    }
}

struct Cluster {
    data: PathBuf,
    log: PathBuf,
}

impl Cluster {
    fn info(&self, port: u16) -> ServerInfo {
        ServerInfo {
            admin_url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            log: Some(self.log.clone()),
        }
    }

    fn init(&self) -> Result<(), PostgresError> {
        self.init_with(
            &["-U", "postgres", "--auth=trust", "--no-sync"],
            &[],
            TEST_SETTINGS,
        )
    }

    /// `initdb` with `args`, the files in `readable` handed to the server's
    /// user, and `settings` appended to postgresql.conf.
    fn init_with(
        &self,
        args: &[&str],
        readable: &[&Path],
        settings: &str,
    ) -> Result<(), PostgresError> {
        fs::create_dir_all(&self.data).map_err(io_err(&self.data))?;
        fs::set_permissions(&self.data, fs::Permissions::from_mode(0o700))
            .map_err(io_err(&self.data))?;
        // The log file is created by us and handed over, so the server can append to it.
        File::create(&self.log).map_err(io_err(&self.log))?;
        if running_as_root() {
            let (uid, gid) = postgres_user()?;
            for path in [self.data.as_path(), self.log.as_path()]
                .into_iter()
                .chain(readable.iter().copied())
            {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(io_err(path))?;
            }
        }
        let data = self.data.to_string_lossy().into_owned();
        run(pg_command("initdb")
            .args(["-D", &data])
            .args(args)
            .args(["--encoding=UTF8", "--locale=C.UTF-8"]))?;
        let conf = self.data.join("postgresql.conf");
        let mut file = OpenOptions::new()
            .append(true)
            .open(&conf)
            .map_err(io_err(&conf))?;
        file.write_all(settings.as_bytes()).map_err(io_err(&conf))?;
        Ok(())
    }

    fn start(&self, port: u16) -> Result<(), PostgresError> {
        self.start_at(std::net::IpAddr::from([127, 0, 0, 1]), port)
    }

    fn start_at(&self, listen: std::net::IpAddr, port: u16) -> Result<(), PostgresError> {
        let data = self.data.to_string_lossy().into_owned();
        let log = self.log.to_string_lossy().into_owned();
        let options = format!("-p {port} -c listen_addresses={listen}");
        // pg_ctl waits for the server itself (-w); we then check the port too.
        run(pg_command("pg_ctl").args([
            "start", "-w", "-t", "60", "-D", &data, "-l", &log, "-o", &options,
        ]))?;
        let start = Instant::now();
        while start.elapsed() < START_TIMEOUT {
            if listening_at(SocketAddr::new(listen, port)) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(PostgresError::StartTimeout {
            port,
            waited: START_TIMEOUT,
            log: self.log.clone(),
        })
    }

    fn stop(&self) -> Result<(), PostgresError> {
        let data = self.data.to_string_lossy().into_owned();
        run(pg_command("pg_ctl").args(["stop", "-w", "-m", "fast", "-D", &data]))
    }

    fn is_running(&self) -> bool {
        let data = self.data.to_string_lossy().into_owned();
        pg_command("pg_ctl")
            .args(["status", "-D", &data])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }
}

fn free_port() -> Result<u16, PostgresError> {
    let addr = Path::new("127.0.0.1:0");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(io_err(addr))?;
    Ok(listener.local_addr().map_err(io_err(addr))?.port())
}

fn listening(port: u16) -> bool {
    listening_at(SocketAddr::from(([127, 0, 0, 1], port)))
}

fn listening_at(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

fn running_as_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// uid and gid of the `postgres` system user, from /etc/passwd.
fn postgres_user() -> Result<(u32, u32), PostgresError> {
    let passwd = fs::read_to_string("/etc/passwd").map_err(io_err(Path::new("/etc/passwd")))?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() > 3 && fields[0] == "postgres")
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })
        .ok_or(PostgresError::NoPostgresUser)
}

/// `program`, run as the `postgres` user when we are root.
fn pg_command(program: &str) -> Command {
    if running_as_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--", program]);
        cmd
    } else {
        Command::new(program)
    }
}

fn run_with_stdin(cmd: &mut Command, input: &str) -> Result<(), PostgresError> {
    let command = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| PostgresError::BinaryMissing {
            program: command.clone(),
            source,
        })?;
    let written = child
        .stdin
        .take()
        .expect("piped")
        .write_all(input.as_bytes());
    let Output { status, stderr, .. } =
        child
            .wait_with_output()
            .map_err(|source| PostgresError::BinaryMissing {
                program: command.clone(),
                source,
            })?;
    let stderr = String::from_utf8_lossy(&stderr);
    // Single-user mode exits 0 even when the statement fails; it says so.
    if status.success() && written.is_ok() && !stderr.contains("ERROR:") {
        Ok(())
    } else {
        Err(PostgresError::CommandFailed {
            command,
            status,
            stderr: stderr.trim().to_string(),
        })
    }
}

fn run(cmd: &mut Command) -> Result<(), PostgresError> {
    let command = format!("{cmd:?}");
    let Output { status, stderr, .. } = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|source| PostgresError::BinaryMissing {
            program: command.clone(),
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(PostgresError::CommandFailed {
            command,
            status,
            stderr: String::from_utf8_lossy(&stderr).trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_only_the_path() {
        assert_eq!(
            with_database("postgres://u:p@h:5/postgres", "t1"),
            "postgres://u:p@h:5/t1"
        );
        assert_eq!(
            with_database("postgres://u@h:5/db?sslmode=disable", "t1"),
            "postgres://u@h:5/t1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u@h:5", "t1"),
            "postgres://u@h:5/t1"
        );
    }

    #[test]
    fn private_server_starts_stops_and_restarts_on_the_same_port() {
        let server = PostgresServer::start().expect("start");
        let port = server.port();
        assert!(listening(port));
        server.stop().expect("stop");
        assert!(!listening(port));
        server.restart().expect("restart");
        assert!(listening(port));
    }
}
