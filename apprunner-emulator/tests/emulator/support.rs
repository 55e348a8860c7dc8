//! What the tests share: the probe fixture built into images with
//! foundry-image, a real registry (`docker-registry`), real moto for
//! Secrets Manager, and `spawn_app()` that starts the emulator the way
//! foundry's local mode does and hands back a real `aws-sdk-apprunner` client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use apprunner_emulator::{Config, Emulator, StartError};
use aws_sdk_apprunner::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_apprunner::types::{
    AuthenticationConfiguration, HealthCheckConfiguration, HealthCheckProtocol, ImageConfiguration,
    ImageRepository, ImageRepositoryType, OperationStatus, OperationSummary, SourceConfiguration,
};
use foundry_image::{BuildRequest, ImageSpec, NoProgress, OciLayout, PushTarget, Registry};
use localenv::registry::RegistryServer;
use tempfile::TempDir;

pub const ECR_HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
pub const ACCESS_ROLE: &str = "arn:aws:iam::123456789012:role/apprunner-ecr-access";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/probe-http")
}

/// The probe, built once per test process (dev profile, std only).
pub fn probe_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let mut request = BuildRequest::new(fixture_dir(), "dev");
            request.target_dir = Some(localenv::fixtures_target_dir("apprunner-emulator-fixtures"));
            foundry_image::build(&request, &NoProgress)
                .expect("the probe fixture builds")
                .binary
        })
        .clone()
}

/// A real registry for one test (`localenv`'s launcher, stopped when dropped).
pub struct TestRegistry {
    _server: RegistryServer,
    pub host: String,
}

impl TestRegistry {
    pub fn start() -> TestRegistry {
        let server = RegistryServer::start().unwrap_or_else(|e| panic!("{e}"));
        TestRegistry {
            host: server.host().to_owned(),
            _server: server,
        }
    }

    /// Builds an image of the probe with `env` baked in, pushes it as
    /// `repository:tag`, and returns its ECR-style identifier by digest.
    pub async fn push_probe(&self, repository: &str, tag: &str, env: &[(&str, &str)]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::open_or_create(dir.path().join("layout")).unwrap();
        let mut spec = ImageSpec::new(probe_binary(), tag, "0123456789abcdef", 1_700_000_000);
        spec.port = Some(8080);
        spec.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let image = foundry_image::assemble(&spec, &layout).expect("the probe image assembles");
        let registry = Registry {
            host: self.host.clone(),
            insecure_http: true,
            credentials: foundry_image::Credentials::Anonymous,
        };
        let target = PushTarget {
            repository: repository.into(),
            tag: tag.into(),
            mount_from: vec![],
        };
        let report = foundry_image::push(&layout, &image.tag, &registry, &target, &NoProgress)
            .await
            .expect("the probe image pushes");
        format!("{ECR_HOST}/{repository}@{}", report.manifest_digest)
    }
}

/// One GET over a fresh connection; the whole response as text.
pub fn http_get(host: &str, path: &str) -> std::io::Result<String> {
    http_get_waiting(host, path, Duration::from_secs(5))
}

/// [`http_get`], waiting up to `wait` for the answer.
pub fn http_get_waiting(host: &str, path: &str, wait: Duration) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(wait))?;
    // One write: `write!` would send the request in pieces.
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    if response.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "closed without an answer",
        ));
    }
    Ok(response)
}

/// The body of a 200 answer to `GET path` from the service URL (which App
/// Runner gives without a scheme), or the failure.
pub fn get_body(service_url: &str, path: &str) -> Result<String, String> {
    let response = http_get(service_url, path).map_err(|e| e.to_string())?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    if head.starts_with("HTTP/1.1 200") {
        Ok(body.to_owned())
    } else {
        Err(head.lines().next().unwrap_or_default().to_owned())
    }
}

pub fn process_exists(pid: u32) -> bool {
    // A zombie is gone for our purposes only once reaped: /proc shows both.
    Path::new(&format!("/proc/{pid}")).exists()
}

pub struct TestApp {
    pub emulator: Emulator,
    pub client: aws_sdk_apprunner::Client,
    pub registry: TestRegistry,
    pub moto: Option<localenv::moto::MotoServer>,
    /// What the emulator was started with (its state directory included).
    pub config: Config,
    _state: TempDir,
}

/// An app whose emulator stopped; its state directory, registry and moto
/// stay for the next start.
pub struct StoppedApp {
    pub config: Config,
    pub registry: TestRegistry,
    pub moto: Option<localenv::moto::MotoServer>,
    state: TempDir,
}

impl StoppedApp {
    /// A new emulator on the same state directory, with `config`.
    pub fn start(self) -> Result<TestApp, StartError> {
        let emulator = Emulator::start(self.config.clone())?;
        Ok(TestApp {
            client: apprunner_client(&emulator.endpoint()),
            emulator,
            registry: self.registry,
            moto: self.moto,
            config: self.config,
            _state: self.state,
        })
    }
}

pub struct AppOptions {
    pub delay: Duration,
    pub with_moto: bool,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            delay: Duration::from_millis(20),
            with_moto: false,
        }
    }
}

/// The emulator as foundry's local mode starts it: the registry map points
/// ECR at the local registry, runtime secrets come from moto.
pub fn spawn_app(options: AppOptions) -> TestApp {
    let registry = TestRegistry::start();
    let moto = options
        .with_moto
        .then(|| localenv::moto::MotoServer::start().expect("moto starts"));
    let state = tempfile::tempdir().unwrap();
    let mut config = Config::new(state.path());
    config.operation_delay = options.delay;
    config.health_check_second = Duration::from_millis(20);
    config
        .registry_map
        .insert(ECR_HOST.into(), registry.host.clone());
    config.secrets_endpoint = moto.as_ref().map(|m| m.endpoint());
    config.logs_endpoint = moto.as_ref().map(|m| m.endpoint());
    let emulator = Emulator::start(config.clone()).expect("the emulator starts");
    let client = apprunner_client(&emulator.endpoint());
    TestApp {
        emulator,
        client,
        registry,
        moto,
        config,
        _state: state,
    }
}

pub fn apprunner_client(endpoint: &str) -> aws_sdk_apprunner::Client {
    let config = aws_sdk_apprunner::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .build();
    aws_sdk_apprunner::Client::from_conf(config)
}

impl TestApp {
    /// Stops the emulator (as dropping it does), keeping everything else.
    pub fn stop(self) -> StoppedApp {
        self.emulator.stop();
        StoppedApp {
            config: self.config,
            registry: self.registry,
            moto: self.moto,
            state: self._state,
        }
    }

    /// Stops the emulator and starts a new one on the same state directory.
    pub fn restart(self) -> TestApp {
        self.stop().start().expect("the emulator starts again")
    }

    pub fn secrets_client(&self) -> aws_sdk_secretsmanager::Client {
        let moto = self.moto.as_ref().expect("spawn_app(with_moto: true)");
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
            .endpoint_url(moto.endpoint())
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .build();
        aws_sdk_secretsmanager::Client::from_conf(config)
    }

    /// Every event of a log group in moto's CloudWatch Logs, as (stream,
    /// message), in time order; empty while the group does not exist.
    pub async fn log_events(&self, group: &str) -> Vec<(String, String)> {
        let moto = self.moto.as_ref().expect("spawn_app(with_moto: true)");
        let config = aws_sdk_cloudwatchlogs::Config::builder()
            .behavior_version(aws_sdk_cloudwatchlogs::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudwatchlogs::config::Region::new("us-east-1"))
            .endpoint_url(moto.endpoint())
            .credentials_provider(aws_sdk_cloudwatchlogs::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .build();
        let client = aws_sdk_cloudwatchlogs::Client::from_conf(config);
        let Ok(out) = client
            .filter_log_events()
            .log_group_name(group)
            .send()
            .await
        else {
            return Vec::new();
        };
        out.events()
            .iter()
            .map(|e| {
                (
                    e.log_stream_name().unwrap_or_default().to_owned(),
                    e.message().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// Polls `ListOperations` until the operation is no longer under way.
    pub async fn settled(&self, service_arn: &str, operation_id: &str) -> OperationSummary {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let listed = self
                .client
                .list_operations()
                .service_arn(service_arn)
                .send()
                .await
                .unwrap();
            let operation = listed
                .operation_summary_list()
                .iter()
                .find(|o| o.id() == Some(operation_id))
                .expect("the operation is listed")
                .clone();
            let under_way = matches!(
                operation.status(),
                Some(
                    OperationStatus::Pending
                        | OperationStatus::InProgress
                        | OperationStatus::RollbackInProgress
                )
            );
            if !under_way {
                return operation;
            }
            assert!(
                Instant::now() < deadline,
                "operation {operation_id} still {:?}",
                operation.status()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// An image source with env and secrets, as foundry sends it.
pub fn image_source(
    identifier: &str,
    env: &[(&str, &str)],
    secrets: &[(&str, &str)],
) -> SourceConfiguration {
    let mut image = ImageConfiguration::builder().port("8080");
    for (k, v) in env {
        image = image.runtime_environment_variables(*k, *v);
    }
    for (k, v) in secrets {
        image = image.runtime_environment_secrets(*k, *v);
    }
    SourceConfiguration::builder()
        .image_repository(
            ImageRepository::builder()
                .image_identifier(identifier)
                .image_repository_type(ImageRepositoryType::Ecr)
                .image_configuration(image.build())
                .build()
                .unwrap(),
        )
        .auto_deployments_enabled(false)
        .authentication_configuration(
            AuthenticationConfiguration::builder()
                .access_role_arn(ACCESS_ROLE)
                .build(),
        )
        .build()
}

/// An HTTP check of /healthz, fast enough for tests.
pub fn healthz_check() -> HealthCheckConfiguration {
    HealthCheckConfiguration::builder()
        .protocol(HealthCheckProtocol::Http)
        .path("/healthz")
        .interval(1)
        .timeout(5)
        .healthy_threshold(1)
        .unhealthy_threshold(3)
        .build()
}
