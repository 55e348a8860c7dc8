//! One instance of a service: its image pulled and unpacked, its entrypoint
//! started as a local child process with the service's environment, secrets
//! and a free `PORT`, and health-checked as App Runner checks it.
//!
//! No root, no namespaces: the process is started through the image's own
//! dynamic loader with `--library-path` into the unpacked root (or directly
//! when static), so it runs the image's binary with the image's libraries,
//! in the image's working directory, as the emulator's user.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Shared;
use crate::image::{self, PulledImage, RunConfig};
use crate::logs::Tail;
use crate::model::{HealthCheckConfiguration, ImageRepository, Service};

/// App Runner's defaults for `HealthCheckConfiguration`.
pub(crate) fn default_health_check() -> HealthCheckConfiguration {
    HealthCheckConfiguration {
        protocol: Some("TCP".into()),
        path: Some("/".into()),
        interval: Some(5),
        timeout: Some(2),
        healthy_threshold: Some(1),
        unhealthy_threshold: Some(5),
    }
}

/// A running instance; dropping it kills its process group and removes its
/// unpacked image (its logs stay).
pub(crate) struct Instance {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
    /// What it runs, kept so that the emulator can run it again after a restart.
    pub image: PulledImage,
    /// Ships its output to CloudWatch Logs until the instance is dropped.
    _logs: Option<Tail>,
}

impl Instance {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child's process group; no memory involved.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(self.dir.join("rootfs"));
    }
}

/// Pulls, starts and health-checks `service`'s image in `dir`. The error is
/// the one paragraph the event log gets; a failed instance leaves its logs
/// but not its unpacked image.
pub(crate) async fn launch(
    shared: &Shared,
    service: &Service,
    dir: &Path,
) -> Result<Instance, String> {
    let launched = pull_and_start(shared, service, dir).await;
    if launched.is_err() {
        let _ = fs::remove_dir_all(dir.join("rootfs"));
    }
    launched
}

/// Starts and health-checks `image`, pulled before, again from the layers
/// under the state directory (no registry involved): a service's instance
/// after the emulator restarted runs the very image it ran before.
pub(crate) async fn relaunch(
    shared: &Shared,
    service: &Service,
    image: &PulledImage,
    dir: &Path,
) -> Result<Instance, String> {
    let root = dir.join("rootfs");
    let blobs = shared.config.state_dir.join("blobs");
    let launched = match image::unpack_pulled(image, &blobs, &root).await {
        Ok(()) => start_healthy(shared, service, image.clone(), dir).await,
        Err(e) => Err(e),
    };
    if launched.is_err() {
        let _ = fs::remove_dir_all(&root);
    }
    launched
}

async fn pull_and_start(
    shared: &Shared,
    service: &Service,
    dir: &Path,
) -> Result<Instance, String> {
    let repository = service
        .source_configuration
        .image_repository
        .as_ref()
        .ok_or(
            "the service has no ImageRepository (code repositories are not built by this emulator)",
        )?;
    let root = dir.join("rootfs");
    let blobs = shared.config.state_dir.join("blobs");
    let pulled = image::pull_and_unpack(
        &repository.image_identifier,
        &shared.config.registry_map,
        &blobs,
        &root,
    )
    .await?;
    events(
        dir,
        &format!(
            "Pulled image {} ({}).",
            repository.image_identifier, pulled.digest
        ),
    );
    start_healthy(shared, service, pulled, dir).await
}

/// Starts the unpacked image in `dir/rootfs` with the service's settings
/// and waits for its health check.
async fn start_healthy(
    shared: &Shared,
    service: &Service,
    pulled: PulledImage,
    dir: &Path,
) -> Result<Instance, String> {
    let repository = service
        .source_configuration
        .image_repository
        .as_ref()
        .ok_or("the service has no ImageRepository")?;
    let root = dir.join("rootfs");
    let run = pulled.run.clone();
    let image_config = repository.image_configuration.clone().unwrap_or_default();
    let secrets = shared
        .secrets
        .resolve(
            &image_config
                .runtime_environment_secrets
                .clone()
                .unwrap_or_default(),
        )
        .await?;
    let port = free_port().map_err(|e| format!("no free local port: {e}"))?;
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for entry in run.env.iter().flatten() {
        if let Some((key, value)) = entry.split_once('=') {
            env.insert(key.into(), value.into());
        }
    }
    env.extend(shared.config.instance_env.clone());
    env.extend(
        image_config
            .runtime_environment_variables
            .clone()
            .unwrap_or_default(),
    );
    env.extend(secrets);
    env.insert("PORT".into(), port.to_string());
    if let Some(hook) = &shared.config.instance_env_hook {
        env = (hook.0)(env).await?;
    }

    let mut command = command_for(&root, &run, repository, &env)?;
    let stdout = File::create(dir.join("stdout.log")).map_err(|e| e.to_string())?;
    let stderr = File::create(dir.join("stderr.log")).map_err(|e| e.to_string())?;
    command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .env_clear()
        .envs(&env)
        .process_group(0);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            // The instance dies with the emulator, however the emulator ends.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command
        .spawn()
        .map_err(|e| format!("cannot start the image's entrypoint: {e}"))?;
    let mut instance = Instance {
        child,
        port,
        dir: dir.to_owned(),
        image: pulled,
        _logs: shared.logs.tail(service, dir),
    };
    events(
        dir,
        &format!("Instance started (pid {}, port {port}).", instance.pid()),
    );

    let check = service
        .health_check_configuration
        .clone()
        .unwrap_or_else(default_health_check);
    wait_healthy(&mut instance, &check, shared.config.health_check_second).await?;
    Ok(instance)
}

/// The image's `Entrypoint` + `Cmd` (`StartCommand` replaces `Cmd`), run
/// through the image's loader when the program is dynamically linked.
fn command_for(
    root: &Path,
    run: &RunConfig,
    repository: &ImageRepository,
    env: &BTreeMap<String, String>,
) -> Result<Command, String> {
    let start_command = repository
        .image_configuration
        .as_ref()
        .and_then(|c| c.start_command.as_ref());
    let cmd: Vec<String> = match start_command {
        Some(command) => command.split_whitespace().map(str::to_owned).collect(),
        None => run.cmd.clone().unwrap_or_default(),
    };
    let mut argv: Vec<String> = run.entrypoint.clone().unwrap_or_default();
    argv.extend(cmd);
    let program = argv
        .first()
        .ok_or("the image has neither Entrypoint nor Cmd")?
        .clone();
    let program_path = if program.starts_with('/') {
        image::host_path(root, &program)
    } else {
        // Found through the image's PATH, as a container runtime does.
        env.get("PATH")
            .map(String::as_str)
            .unwrap_or("/usr/local/bin:/usr/bin:/bin")
            .split(':')
            .filter_map(|dir| image::host_path(root, &format!("{dir}/{program}")))
            .find(|p| p.is_file())
    }
    .filter(|p| p.is_file())
    .ok_or_else(|| format!("the image's entrypoint {program} does not exist in the image"))?;

    let working_dir = run
        .working_dir
        .as_deref()
        .filter(|d| !d.is_empty())
        .unwrap_or("/");
    let cwd = image::host_path(root, working_dir).unwrap_or_else(|| root.to_owned());
    let mut command = match interpreter(&program_path).map_err(|e| format!("{program}: {e}"))? {
        None => Command::new(&program_path),
        Some(loader) => {
            let loader_path = image::host_path(root, &loader)
                .filter(|p| p.is_file())
                .ok_or_else(|| format!("the image lacks {program}'s dynamic loader {loader}"))?;
            let mut dirs: Vec<String> = env
                .get("LD_LIBRARY_PATH")
                .map(|p| p.split(':').map(str::to_owned).collect())
                .unwrap_or_default();
            dirs.extend(
                ["/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib"]
                    .iter()
                    .chain(&[
                        "/lib/x86_64-linux-gnu",
                        "/usr/lib/x86_64-linux-gnu",
                        "/lib/aarch64-linux-gnu",
                        "/usr/lib/aarch64-linux-gnu",
                    ])
                    .map(|d| d.to_string()),
            );
            let library_path: Vec<String> = dirs
                .iter()
                .filter_map(|d| image::host_path(root, d))
                .filter(|p| p.is_dir())
                .map(|p| p.display().to_string())
                .collect();
            let mut command = Command::new(loader_path);
            if loader.contains("ld-linux") {
                // glibc's loader: never the host's ld.so.cache.
                command.arg("--inhibit-cache");
            }
            command
                .arg("--library-path")
                .arg(library_path.join(":"))
                .arg(&program_path);
            command
        }
    };
    command.args(&argv[1..]).current_dir(cwd);
    Ok(command)
}

/// The ELF program interpreter (`PT_INTERP`) of a 64-bit little-endian ELF
/// file, or `None` for a static binary.
fn interpreter(path: &Path) -> Result<Option<String>, String> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(|e| e.to_string())?;
    if data.get(..4) != Some(b"\x7fELF") {
        return Err("not an ELF executable (scripts need a shell the image does not have)".into());
    }
    if data.get(4) != Some(&2) || data.get(5) != Some(&1) {
        return Err("only 64-bit little-endian ELF executables are run".into());
    }
    let u16_at = |o: usize| {
        data.get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u64_at = |o: usize| {
        data.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()) as usize)
    };
    let truncated = || "truncated ELF header".to_string();
    let (phoff, phentsize, phnum) = (
        u64_at(0x20).ok_or_else(truncated)?,
        u16_at(0x36).ok_or_else(truncated)?,
        u16_at(0x38).ok_or_else(truncated)?,
    );
    for i in 0..phnum {
        let header = phoff + i * phentsize;
        let kind = data
            .get(header..header + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        if kind == Some(3) {
            let offset = u64_at(header + 8).ok_or_else(truncated)?;
            let size = u64_at(header + 32).ok_or_else(truncated)?;
            let bytes = data.get(offset..offset + size).ok_or_else(truncated)?;
            let text = String::from_utf8_lossy(bytes)
                .trim_end_matches('\0')
                .to_owned();
            return Ok(Some(text));
        }
    }
    Ok(None)
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// App Runner's check: every interval, a TCP connect or an HTTP GET of the
/// path within the timeout; `HealthyThreshold` successes in a row pass,
/// `UnhealthyThreshold` failures in a row (or the process exiting) fail.
/// The first probe comes one interval after the start, as App Runner's does.
async fn wait_healthy(
    instance: &mut Instance,
    check: &HealthCheckConfiguration,
    second: Duration,
) -> Result<(), String> {
    let defaults = default_health_check();
    let protocol = check
        .protocol
        .clone()
        .or(defaults.protocol)
        .unwrap_or_default();
    let path = check
        .path
        .clone()
        .or(defaults.path)
        .unwrap_or_else(|| "/".into());
    let interval = second * check.interval.or(defaults.interval).unwrap_or(5);
    let timeout =
        (second * check.timeout.or(defaults.timeout).unwrap_or(2)).max(Duration::from_millis(50));
    let healthy_needed = check
        .healthy_threshold
        .or(defaults.healthy_threshold)
        .unwrap_or(1);
    let unhealthy_limit = check
        .unhealthy_threshold
        .or(defaults.unhealthy_threshold)
        .unwrap_or(5);
    let (mut healthy, mut unhealthy) = (0, 0);
    loop {
        tokio::time::sleep(interval.max(Duration::from_millis(10))).await;
        if let Ok(Some(status)) = instance.child.try_wait() {
            return Err(format!(
                "The instance exited during its health check ({status}); see its stderr.log."
            ));
        }
        let probe = probe(instance.port, &protocol, &path);
        let outcome = match tokio::time::timeout(timeout, probe).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("no answer within {timeout:?}")),
        };
        match outcome {
            Ok(()) => {
                healthy += 1;
                unhealthy = 0;
                if healthy >= healthy_needed {
                    events(
                        &instance.dir,
                        &format!("Health check passed ({protocol} {path})."),
                    );
                    return Ok(());
                }
            }
            Err(reason) => {
                healthy = 0;
                unhealthy += 1;
                if unhealthy >= unhealthy_limit {
                    let target = if protocol == "HTTP" {
                        format!("HTTP path {path}")
                    } else {
                        "TCP port".to_owned()
                    };
                    return Err(format!(
                        "Health check failed on {target} after {unhealthy} attempts: {reason}. Check your configured port number and the instance's logs."
                    ));
                }
            }
        }
    }
}

async fn probe(port: u16, protocol: &str, path: &str) -> Result<(), String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    if protocol != "HTTP" {
        return Ok(());
    }
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: apprunner-emulator-health\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < 12 {
        let n = stream
            .read(&mut head[read..])
            .await
            .map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        read += n;
    }
    let status_line = String::from_utf8_lossy(&head[..read]).into_owned();
    let code = status_line.split(' ').nth(1).unwrap_or_default();
    if code.starts_with('2') {
        Ok(())
    } else {
        Err(format!(
            "HTTP status {}",
            if code.is_empty() { "missing" } else { code }
        ))
    }
}

/// Appends a line to the service's event log (`services/<id>/events.log`,
/// the parent of every instance directory or the service directory itself).
pub(crate) fn events(dir: &Path, message: &str) {
    let service_dir = if dir.parent().and_then(|p| p.file_name()) == Some("instances".as_ref()) {
        dir.parent().and_then(Path::parent).unwrap_or(dir)
    } else {
        dir
    };
    let line = format!("{} {message}\n", rfc3339_now());
    if let Ok(mut file) = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(service_dir.join("events.log"))
    {
        let _ = file.write_all(line.as_bytes());
    }
}

fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}
