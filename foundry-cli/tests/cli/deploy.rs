//! Services on App Runner, end to end: `up` creates them from the stack file
//! with a first image it builds, `deploy` rolls new images out as one
//! health-gated release, a failing image is refused while the previous one
//! keeps serving, `rollback` restores image and configuration without a
//! build, a killed deploy resumes its record, and a second deploy meets the
//! lock. Real pieces throughout: moto (EC2, IAM, ECR's login, Secrets
//! Manager, CloudFront), the App Runner emulator running the images as
//! processes, a `docker-registry` holding them, and a small service crate.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::Duration;

use apprunner_emulator::{Config, Emulator};
use aws_sdk_apprunner::types::Service;
use localenv::registry::RegistryServer;
use serde_json::Value;

use crate::support::{Run, TestEnv, git, sdk_config};

pub(crate) const STACK: &str = r#"
name = "shop"
region = "us-east-1"

[network]
cidr = "10.0.0.0/16"
azs = 2

[env.dev]

[services.api]
source = "api"
port = 8080
ingress = "public"
secrets = ["internal_api_key"]
connect = ["ai"]
buckets = { uploads = "uploads/" }
env = { AI_SERVICE_URL = "${services.ai.url}", GREETING = "hello", UPLOADS = "${buckets.uploads.name}" }

[services.ai]
source = "ai"
port = 8081
ingress = "private"

[buckets.uploads]

[buckets.web]

[cdn]
web_bucket = "web"
api_service = "api"

[secrets.internal_api_key]
description = "Key the api presents to the ai service"
generate = true
"#;

/// moto, a registry and the emulator, and an app repository holding the
/// stack file and two copies of the fixture service.
pub(crate) struct ComputeEnv {
    pub(crate) env: TestEnv,
    registry: RegistryServer,
    pub(crate) emulator: Emulator,
    pub(crate) apprunner: aws_sdk_apprunner::Client,
    _emulator_state: tempfile::TempDir,
    /// The fixture crates' own target directory: tests running at once
    /// build packages of the same names from different sources, and a
    /// shared directory would hand one test the other's binary.
    target: tempfile::TempDir,
}

impl ComputeEnv {
    pub(crate) async fn start(operation_delay: Duration) -> Self {
        Self::start_with(operation_delay, STACK).await
    }

    /// As [`ComputeEnv::start`], with another stack file.
    pub(crate) async fn start_with(operation_delay: Duration, stack: &str) -> Self {
        let env = TestEnv::start().await;
        let registry = RegistryServer::start().unwrap_or_else(|e| panic!("{e}"));
        let state = tempfile::tempdir().unwrap();
        let mut config = Config::new(state.path());
        config.operation_delay = operation_delay;
        config.health_check_second = Duration::from_millis(20);
        config
            .registry_map
            .insert("*".into(), registry.host().to_owned());
        config.secrets_endpoint = Some(env.moto.endpoint());
        config.logs_endpoint = Some(env.moto.endpoint());
        let emulator = Emulator::start(config).expect("the emulator starts");
        let apprunner = aws_sdk_apprunner::Client::from_conf(
            aws_sdk_apprunner::config::Builder::from(&sdk_config(&emulator.endpoint()).await)
                .build(),
        );
        env.write("foundry.toml", stack);
        app_repository(env.path());
        ComputeEnv {
            env,
            registry,
            emulator,
            apprunner,
            _emulator_state: state,
            target: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = self.env.command(args);
        command
            .env("AWS_ENDPOINT_URL_APPRUNNER", self.emulator.endpoint())
            .env("FOUNDRY_ECR_REGISTRY_ENDPOINT", self.registry.endpoint())
            .env("CARGO_TARGET_DIR", self.target.path())
            .env("FOUNDRY_HEALTH_TIMEOUT_SECS", "20")
            .env_remove("FOUNDRY_REGISTRY")
            .env_remove("SOURCE_DATE_EPOCH");
        command
    }

    pub(crate) fn foundry(&self, args: &[&str]) -> Run {
        Run {
            output: self.command(args).output().expect("run foundry"),
        }
    }

    /// The App Runner service of `name`, described by an independent client.
    pub(crate) async fn service(&self, name: &str) -> Service {
        let services = self
            .apprunner
            .list_services()
            .send()
            .await
            .unwrap()
            .service_summary_list;
        let arn = services
            .iter()
            .find(|s| {
                s.service_name()
                    .is_some_and(|n| n.ends_with(&format!("svc-{name}")))
            })
            .and_then(|s| s.service_arn())
            .unwrap_or_else(|| panic!("no App Runner service for {name}: {services:?}"))
            .to_owned();
        self.apprunner
            .describe_service()
            .service_arn(arn)
            .send()
            .await
            .unwrap()
            .service
            .unwrap()
    }

    /// GET `path` through the service's URL.
    pub(crate) async fn get(&self, name: &str, path: &str) -> (u16, String) {
        let service = self.service(name).await;
        http_get(service.service_url().expect("a service URL"), path)
    }

    pub(crate) fn releases(&self) -> Vec<Value> {
        let run = self
            .foundry(&["releases", "--env", "dev", "--json"])
            .success();
        serde_json::from_str::<Value>(&run.stdout())
            .expect("--json prints JSON")
            .as_array()
            .cloned()
            .unwrap()
    }

    pub(crate) fn edit(&self, service: &str, from: &str, to: &str) {
        let path = self.env.path().join(service).join("src/main.rs");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from:?} not in {}", path.display());
        std::fs::write(&path, text.replace(from, to)).unwrap();
    }

    pub(crate) fn edit_stack(&self, from: &str, to: &str) {
        let path = self.env.path().join("foundry.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from));
        std::fs::write(&path, text.replace(from, to)).unwrap();
    }
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/echo-service")
}

/// The stack file (this file's, unless one is there) and the fixture as `api` and `ai` (each its own package
/// name, so their binaries do not share a path in the shared target
/// directory, and its own VERSION, so their images differ), committed.
pub fn app_repository(dir: &Path) {
    for service in ["api", "ai"] {
        std::fs::create_dir_all(dir.join(service).join("src")).unwrap();
        for file in ["Cargo.toml", "Cargo.lock", "src/main.rs"] {
            let text = std::fs::read_to_string(fixture().join(file)).unwrap();
            let text = text
                .replace("\"v1\"", &format!("\"{service}-v1\""))
                .replace("echo-service", &format!("{service}-echo"));
            std::fs::write(dir.join(service).join(file), text).unwrap();
        }
    }
    if !dir.join("foundry.toml").exists() {
        std::fs::write(dir.join("foundry.toml"), STACK).unwrap();
    }
    std::fs::write(dir.join(".gitignore"), ".foundry/\n").unwrap();
    git(dir, &["init", "--quiet"]);
    git(dir, &["add", "."]);
    git(dir, &["commit", "--quiet", "-m", "app"]);
}

/// A plain HTTP/1.1 GET on `host` (`127.0.0.1:port`): status and body.
pub fn http_get(host: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(host).unwrap_or_else(|e| panic!("{host}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn image_of(release: &Value, service: &str) -> String {
    release["services"][service]["image"]
        .as_str()
        .unwrap_or_else(|| panic!("no {service} in {release}"))
        .to_owned()
}

fn digest(image: &str) -> &str {
    image.rsplit_once('@').map(|(_, d)| d).unwrap_or(image)
}

#[tokio::test(flavor = "multi_thread")]
async fn up_runs_the_services_then_deploy_refuse_and_rollback_keep_one_history() {
    let app = ComputeEnv::start(Duration::from_millis(200)).await;

    // up: the first images are built, pushed and run.
    let up = app
        .foundry(&["up", "--env", "dev", "--yes", "--profile", "dev"])
        .success();
    assert!(
        up.stdout().contains("build and push the first image"),
        "the plan says so:\n{}",
        up.stdout()
    );

    let api = app.service("api").await;
    let ai = app.service("ai").await;
    let network = |s: &Service| s.network_configuration().cloned().unwrap();
    assert!(
        network(&api)
            .ingress_configuration()
            .unwrap()
            .is_publicly_accessible()
    );
    assert!(
        !network(&ai)
            .ingress_configuration()
            .unwrap()
            .is_publicly_accessible(),
        "ai is private"
    );
    let egress = network(&api).egress_configuration().cloned().unwrap();
    assert_eq!(egress.egress_type().unwrap().as_str(), "VPC");
    let connector_arn = egress.vpc_connector_arn().unwrap().to_owned();
    let connector = app
        .apprunner
        .describe_vpc_connector()
        .vpc_connector_arn(&connector_arn)
        .send()
        .await
        .unwrap()
        .vpc_connector
        .unwrap();
    let app_subnets = subnet_ids_named(&app.env, "subnet-app").await;
    let mut connector_subnets = connector.subnets().to_vec();
    connector_subnets.sort();
    assert_eq!(connector_subnets, app_subnets, "the private-app subnets");

    // The secret goes by ARN; its value appears nowhere in the service.
    let secrets = aws_sdk_secretsmanager::Client::new(&app.env.sdk_config().await);
    let secret = secrets
        .get_secret_value()
        .secret_id("shop/dev/internal_api_key")
        .send()
        .await
        .unwrap();
    let config = api
        .source_configuration()
        .and_then(|s| s.image_repository())
        .and_then(|r| r.image_configuration())
        .cloned()
        .unwrap();
    let injected = config.runtime_environment_secrets().unwrap();
    assert_eq!(
        injected.values().collect::<Vec<_>>(),
        vec![secret.arn().unwrap()]
    );
    let value = secret.secret_string().unwrap();
    assert!(
        !format!("{api:?}").contains(value),
        "a secret value reached App Runner"
    );
    let env = config.runtime_environment_variables().unwrap();
    assert_eq!(
        env["AI_SERVICE_URL"],
        format!("https://{}", ai.service_url().unwrap())
    );

    // ai: a VPC ingress connection through the apprunner.requests endpoint.
    let connections = app
        .apprunner
        .list_vpc_ingress_connections()
        .send()
        .await
        .unwrap();
    let connections = connections.vpc_ingress_connection_summary_list();
    assert_eq!(connections.len(), 1, "{connections:?}");
    assert_eq!(connections[0].service_arn(), Some(ai.service_arn()));
    let endpoints = app.env.ec2.describe_vpc_endpoints().send().await.unwrap();
    assert!(
        endpoints
            .vpc_endpoints()
            .iter()
            .any(|e| e.service_name() == Some("com.amazonaws.us-east-1.apprunner.requests")),
        "{endpoints:?}"
    );

    // The CDN's api origin is the api service's domain.
    let cloudfront = aws_sdk_cloudfront::Client::new(&app.env.sdk_config().await);
    let list = cloudfront.list_distributions().send().await.unwrap();
    let distribution = &list.distribution_list().unwrap().items()[0];
    let origins: Vec<&str> = distribution
        .origins()
        .unwrap()
        .items()
        .iter()
        .map(|o| o.domain_name())
        .collect();
    assert!(origins.contains(&api.service_url().unwrap()), "{origins:?}");

    let outputs = app
        .foundry(&["outputs", "--env", "dev", "--json"])
        .success();
    let outputs: Value = serde_json::from_str(&outputs.stdout()).unwrap();
    assert_eq!(
        outputs["service_urls"]["api"],
        format!("https://{}", api.service_url().unwrap()).as_str()
    );

    // Both answer through their URLs; a second plan is a no-op.
    assert_eq!(app.get("api", "/healthz").await.0, 200);
    assert_eq!(app.get("ai", "/healthz").await.0, 200);
    let plan = app.foundry(&["plan", "--env", "dev", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(0), "{}\n{}", plan.stdout(), plan.stderr());
    assert!(
        plan.stdout()
            .contains("Running (changed only by `deploy` and `rollback`)")
            && plan.stdout().contains("shop/dev/api@sha256:"),
        "the running digest is shown as information:\n{}",
        plan.stdout()
    );

    let releases = app.releases();
    assert_eq!(releases.len(), 1, "{releases:?}");
    assert_eq!(releases[0]["outcome"]["status"], "succeeded");
    let first_api = image_of(&releases[0], "api");
    let first_ai = image_of(&releases[0], "ai");
    assert_ne!(digest(&first_api), digest(&first_ai));

    // deploy both with new code and a changed variable: one release.
    app.edit("api", "\"api-v1\"", "\"api-v2\"");
    app.edit("ai", "\"ai-v1\"", "\"ai-v2\"");
    app.edit_stack("GREETING = \"hello\"", "GREETING = \"bonjour\"");
    app.foundry(&["deploy", "--env", "dev", "--profile", "dev"])
        .success();
    assert_eq!(app.get("api", "/version").await, (200, "api-v2\n".into()));
    assert_eq!(app.get("ai", "/version").await, (200, "ai-v2\n".into()));
    assert_eq!(app.get("api", "/env/GREETING").await.1, "bonjour");
    let releases = app.releases();
    assert_eq!(releases.len(), 2);
    let second = &releases[0];
    assert_eq!(second["number"], 2);
    assert_eq!(second["outcome"]["status"], "succeeded");
    let second_api = image_of(second, "api");
    assert_ne!(digest(&second_api), digest(&first_api));
    assert_ne!(digest(&image_of(second, "ai")), digest(&first_ai));
    let changes = second["changes"]["api"].to_string();
    assert!(changes.contains("~env GREETING"), "{changes}");

    // An image that fails its health check: refused, the last one serves.
    app.edit(
        "api",
        "const HEALTHY: bool = true;",
        "const HEALTHY: bool = false;",
    );
    app.edit("api", "\"api-v2\"", "\"api-v3\"");
    let failed = app.foundry(&["deploy", "api", "--env", "dev", "--profile", "dev"]);
    assert_eq!(failed.code(), Some(1), "{}", failed.stderr());
    assert!(
        failed.stderr().contains("health check"),
        "names the failing check:\n{}",
        failed.stderr()
    );
    assert!(!failed.stderr().contains("panicked"), "{}", failed.stderr());
    assert_eq!(app.get("api", "/version").await, (200, "api-v2\n".into()));
    let releases = app.releases();
    assert_eq!(releases[0]["number"], 3);
    assert_eq!(
        releases[0]["outcome"]["status"], "failed",
        "{}",
        releases[0]
    );

    // --keep-failed: nothing is changed back, and the record says so.
    let kept = app.foundry(&[
        "deploy",
        "api",
        "--env",
        "dev",
        "--profile",
        "dev",
        "--keep-failed",
    ]);
    assert_eq!(kept.code(), Some(1), "{}", kept.stderr());
    assert!(
        kept.stderr().contains("--keep-failed") && kept.stderr().contains("App Runner refused"),
        "{}",
        kept.stderr()
    );
    let releases = app.releases();
    assert_eq!(releases[0]["number"], 4);
    assert_eq!(
        releases[0]["outcome"]["status"], "failed_kept",
        "{}",
        releases[0]
    );

    // rollback: release 1's images and variables again, and no compiler.
    let mut rollback = app.command(&["rollback", "--env", "dev", "--to", "1", "--json"]);
    rollback
        .env("PATH", "/usr/bin:/bin")
        .env("CARGO", "/bin/false");
    let rollback = Run {
        output: rollback.output().unwrap(),
    }
    .success();
    assert!(
        !rollback.stderr().contains("compiling"),
        "{}",
        rollback.stderr()
    );
    assert_eq!(app.get("api", "/version").await, (200, "api-v1\n".into()));
    assert_eq!(app.get("ai", "/version").await, (200, "ai-v1\n".into()));
    assert_eq!(app.get("api", "/env/GREETING").await.1, "hello");
    let releases = app.releases();
    assert_eq!(releases[0]["number"], 5);
    assert_eq!(releases[0]["kind"]["type"], "rollback");
    assert_eq!(releases[0]["outcome"]["status"], "succeeded");
    assert_eq!(image_of(&releases[0], "api"), first_api);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_deploy_meets_the_lock_and_a_killed_deploy_resumes_its_release() {
    // Slow operations, so that a deploy is still rolling out when we act.
    let app = ComputeEnv::start(Duration::from_secs(3)).await;
    app.foundry(&["up", "--env", "dev", "--yes", "--profile", "dev"])
        .success();
    app.edit("api", "\"api-v1\"", "\"api-v2\"");

    let (mut first, lines) =
        spawn_with_lines(app.command(&["deploy", "api", "--env", "dev", "--profile", "dev"]));
    wait_for_line(&lines, "rolling out");

    let second = app.foundry(&["deploy", "api", "--env", "dev", "--profile", "dev"]);
    assert_eq!(second.code(), Some(1));
    assert!(
        second.stderr().contains("holds the lock") && second.stderr().contains("foundry deploy"),
        "names the holder:\n{}",
        second.stderr()
    );

    // kill -9 mid-rollout, then deploy the same again.
    first.kill().unwrap();
    first.wait().unwrap();
    let again = app
        .foundry(&["deploy", "api", "--env", "dev", "--profile", "dev"])
        .success();
    assert!(
        again.stderr().contains("resuming"),
        "the interrupted record is resumed:\n{}",
        again.stderr()
    );
    assert_eq!(app.get("api", "/version").await, (200, "api-v2\n".into()));
    let releases = app.releases();
    let intended = image_of(&releases[0], "api");
    let with_it: Vec<&Value> = releases
        .iter()
        .filter(|r| image_of(r, "api") == intended)
        .collect();
    assert_eq!(with_it.len(), 1, "one release for the image: {releases:?}");
    assert_eq!(with_it[0]["outcome"]["status"], "succeeded");
    assert_eq!(releases.len(), 2, "{releases:?}");
}

/// The subnet ids of one tier, by their logical-id tag, sorted.
pub(crate) async fn subnet_ids_named(env: &TestEnv, prefix: &str) -> Vec<String> {
    let subnets = env.ec2.describe_subnets().send().await.unwrap();
    let mut ids: Vec<String> = subnets
        .subnets()
        .iter()
        .filter(|s| {
            s.tags().iter().any(|t| {
                t.key() == Some("foundry:id") && t.value().is_some_and(|v| v.starts_with(prefix))
            })
        })
        .filter_map(|s| s.subnet_id().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

fn spawn_with_lines(mut command: Command) -> (Child, mpsc::Receiver<String>) {
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn foundry");
    let stderr = child.stderr.take().unwrap();
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    (child, receive)
}

fn wait_for_line(lines: &mpsc::Receiver<String>, needle: &str) {
    let mut seen = Vec::new();
    loop {
        match lines.recv_timeout(Duration::from_secs(120)) {
            Ok(line) if line.contains(needle) => return,
            Ok(line) => seen.push(line),
            Err(_) => panic!("no line with {needle:?}; saw:\n{}", seen.join("\n")),
        }
    }
}
