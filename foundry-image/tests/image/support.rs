//! What the tests share: the fixture crate, a registry per test, a proxy that
//! counts the bytes sent to it, and a way to run an image's entrypoint.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use foundry_image::{Assembled, BuildRequest, Built, ImageSpec, NoProgress, OciLayout};
use localenv::registry::{RegistryError, RegistryServer};
use tempfile::TempDir;

/// Timestamp of every test image (2023-11-14T22:13:20Z).
pub const CREATED: u64 = 1_700_000_000;
pub const REVISION: &str = "0123456789abcdef0123456789abcdef01234567";
pub const SOURCE: &str = "https://example.com/acme/shop";

pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hello-http")
}

/// Beside the workspace's builds, never inside them: the fixture is its own
/// workspace and must not disturb the shared target directory's lock.
pub fn fixture_target_dir() -> PathBuf {
    localenv::fixtures_target_dir("foundry-image-fixtures")
}

/// The fixture built in the dev profile (cargo's lock serializes tests).
pub fn build_fixture() -> Built {
    let mut request = BuildRequest::new(fixture_dir(), "dev");
    request.target_dir = Some(fixture_target_dir());
    foundry_image::build(&request, &NoProgress).expect("the fixture builds")
}

/// A copy of the fixture a test may change.
pub fn fixture_copy() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("src")).unwrap();
    for file in ["Cargo.toml", "src/main.rs"] {
        fs::copy(fixture_dir().join(file), dir.path().join(file)).unwrap();
    }
    dir
}

pub fn spec_for(binary: &Path) -> ImageSpec {
    let mut spec = ImageSpec::new(binary, REVISION, REVISION, CREATED);
    spec.source = Some(SOURCE.into());
    spec.port = Some(8080);
    spec
}

/// Assembles the fixture's image into a fresh layout.
pub fn assemble_fixture(binary: &Path) -> (TempDir, OciLayout, Assembled) {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::open_or_create(dir.path().join("layout")).unwrap();
    let assembled =
        foundry_image::assemble(&spec_for(binary), &layout).expect("the image assembles");
    (dir, layout, assembled)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn require_tool(name: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()));
    assert!(
        found,
        "`{name}` is not installed: apt-get install {package} (see .ci/run)"
    );
}

/// A registry for one test (`localenv`'s launcher; see `.ci/run` for the package).
pub struct TestRegistry {
    _server: RegistryServer,
    pub host: String,
}

impl TestRegistry {
    pub fn start() -> TestRegistry {
        Self::from(RegistryServer::start())
    }

    /// With HTTP basic authentication, as ECR asks for, for one user.
    pub fn start_with_basic_auth(user: &str, bcrypt_hash: &str) -> TestRegistry {
        Self::from(RegistryServer::start_with_basic_auth(user, bcrypt_hash))
    }

    fn from(started: Result<RegistryServer, RegistryError>) -> TestRegistry {
        let server = started.unwrap_or_else(|e| panic!("{e}"));
        TestRegistry {
            host: server.host().to_owned(),
            _server: server,
        }
    }
}

/// One GET over a fresh connection; the whole response as text.
pub fn http_get(host: &str, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    // One write: `write!` would send the request in pieces.
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

/// A TCP proxy in front of a registry counting every byte clients send
/// through it: what a push costs, measured outside the code under test.
pub struct CountingProxy {
    pub host: String,
    sent: Arc<AtomicU64>,
}

impl CountingProxy {
    pub fn start(upstream: &str) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let sent = Arc::new(AtomicU64::new(0));
        let counter = sent.clone();
        let upstream = upstream.to_owned();
        // Lives as long as the test process: nothing to stop.
        thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let counter = counter.clone();
                let (client_read, server_write) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                thread::spawn(move || pipe(client_read, server_write, Some(&counter)));
                thread::spawn(move || pipe(server, client, None));
            }
        });
        CountingProxy { host, sent }
    }

    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, counter: Option<&AtomicU64>) {
    let mut buffer = [0u8; 64 * 1024];
    while let Ok(n) = from.read(&mut buffer) {
        if n == 0 || to.write_all(&buffer[..n]).is_err() {
            break;
        }
        if let Some(counter) = counter {
            counter.fetch_add(n as u64, Ordering::SeqCst);
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// `skopeo` with the given arguments against the plain-HTTP loopback
/// registry; its standard output as JSON.
pub fn skopeo_json(args: &[&str]) -> serde_json::Value {
    require_tool("skopeo", "skopeo");
    let output = Command::new("skopeo")
        .args(args)
        .output()
        .expect("run skopeo");
    assert!(
        output.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("skopeo prints JSON")
}

/// The image's config, as stored in the layout.
pub fn image_config(layout: &OciLayout, assembled: &Assembled) -> serde_json::Value {
    let bytes = fs::read(layout.blob_path(&assembled.config_digest)).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Unpacks every layer, base first, into `root` with the owners and modes
/// the archives give.
pub fn unpack(layout: &OciLayout, assembled: &Assembled, root: &Path) {
    for digest in &assembled.layer_digests {
        let file = File::open(layout.blob_path(digest)).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        archive.set_preserve_permissions(true);
        archive.set_preserve_ownerships(true);
        archive.set_preserve_mtime(true);
        archive.unpack(root).unwrap();
    }
    // The directory itself is the image's `/`: traversable by its user.
    let mut permissions = fs::metadata(root).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    fs::set_permissions(root, permissions).unwrap();
}

/// The image's entrypoint running under `chroot --userspec` (so only the
/// image's files exist for it), with the image's environment and `extra_env`.
pub struct RunningImage {
    child: Child,
    pub port: u16,
}

impl RunningImage {
    pub fn start(
        config: &serde_json::Value,
        root: &Path,
        port: u16,
        extra_env: &[(&str, &str)],
    ) -> RunningImage {
        assert_eq!(current_uid(), 0, "running an image under chroot needs root");
        let run = &config["config"];
        let user = run["User"].as_str().expect("User").to_owned();
        let entrypoint: Vec<String> = serde_json::from_value(run["Entrypoint"].clone()).unwrap();
        let env: BTreeMap<String, String> = run["Env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let (k, v) = e.as_str().unwrap().split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect();
        let child = Command::new("chroot")
            .arg(format!("--userspec={user}"))
            .arg(root)
            .args(&entrypoint)
            .env_clear()
            .envs(&env)
            .envs(extra_env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run chroot");
        RunningImage { child, port }
    }

    /// Waits until `path` answers 200 and returns the body.
    pub fn get_ok(&mut self, path: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(response) = http_get(&format!("127.0.0.1:{}", self.port), path)
                && response.starts_with("HTTP/1.1 200")
            {
                return response
                    .split_once("\r\n\r\n")
                    .map(|(_, body)| body.to_owned())
                    .unwrap_or_default();
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut stderr = String::new();
                self.child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut stderr)
                    .unwrap();
                panic!("the image's entrypoint exited with {status}:\n{stderr}");
            }
            assert!(
                Instant::now() < deadline,
                "no 200 from {path} within {within:?}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RunningImage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The uid this test runs as (std has no getuid: ask the kernel via a file).
fn current_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    let file = tempfile::NamedTempFile::new().unwrap();
    file.as_file().metadata().unwrap().uid()
}
