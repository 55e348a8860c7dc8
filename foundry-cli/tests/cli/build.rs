//! `foundry build`: a small service crate compiled, assembled and pushed to
//! its "ECR" repository. The login is ECR's own (moto's
//! GetAuthorizationToken, counted by a proxy in front of moto); moto's ECR
//! takes no layer uploads, so the blobs go to a real registry
//! (`docker-registry`) behind `FOUNDRY_ECR_REGISTRY_ENDPOINT` that accepts
//! only the password inside that token.

use std::path::{Path, PathBuf};
use std::process::Command;

use localenv::fault_proxy::{FaultPlan, FaultProxy};
use localenv::registry::RegistryServer;
use serde_json::Value;

use crate::support::{Run, TestEnv, git};

/// bcrypt (cost 4) of `123456789012-auth-token`: the password inside every
/// authorization token moto 5.2's ECR hands out for the default account.
const MOTO_ECR_PASSWORD_HASH: &str = "$2b$04$4/l1H9GrWACQtlAcGV./g.jVsGiP3FfT7U0HHUPdsjoa5X1aF8TyW";
const MOTO_ECR_CREDENTIALS: &str = "AWS:123456789012-auth-token";

const STACK: &str = r#"
name = "shop"
region = "us-east-1"

[network]
cidr = "10.0.0.0/16"

[env.dev]

[services.hello]
source = "hello"
port = 8080
"#;

/// The std-only HTTP fixture of foundry-image's tests: builds in seconds.
fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../foundry-image/tests/fixtures/hello-http")
}

/// A git repository holding the stack file and the `hello` crate, committed.
fn app_repository(dir: &Path) {
    std::fs::create_dir_all(dir.join("hello/src")).unwrap();
    for file in ["Cargo.toml", "Cargo.lock", "src/main.rs"] {
        std::fs::copy(fixture().join(file), dir.join("hello").join(file)).unwrap();
    }
    std::fs::write(dir.join("foundry.toml"), STACK).unwrap();
    std::fs::write(dir.join(".gitignore"), ".foundry/\n").unwrap();
    git(dir, &["init", "--quiet"]);
    git(dir, &["add", "."]);
    git(dir, &["commit", "--quiet", "-m", "hello"]);
}

fn fixture_target_dir() -> PathBuf {
    localenv::fixtures_target_dir("foundry-cli-fixtures")
}

fn build(env: &TestEnv, extra: &[(&str, &str)], args: &[&str]) -> Run {
    let mut all = vec!["build", "--env", "dev", "--profile", "dev", "--json"];
    all.extend_from_slice(args);
    let mut command = env.command(&all);
    command
        .env("CARGO_TARGET_DIR", fixture_target_dir())
        .env_remove("FOUNDRY_REGISTRY")
        .env_remove("SOURCE_DATE_EPOCH");
    for (k, v) in extra {
        command.env(k, v);
    }
    Run {
        output: command.output().expect("run foundry"),
    }
    .success()
}

fn only_image(run: &Run) -> Value {
    let images: Value = serde_json::from_str(&run.stdout()).expect("--json prints JSON");
    assert_eq!(images.as_array().map(Vec::len), Some(1), "{images}");
    images[0].clone()
}

fn skopeo(args: &[&str]) -> std::process::Output {
    Command::new("skopeo")
        .args(args)
        .output()
        .expect("skopeo is installed (apt-get install skopeo; see .ci/run)")
}

fn skopeo_json(args: &[&str]) -> Value {
    let out = skopeo(args);
    assert!(out.status.success(), "skopeo {args:?}: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn build_pushes_with_ecrs_login_then_uploads_nothing_and_only_code_changes_the_digest() {
    let env = TestEnv::start().await;
    app_repository(env.path());
    let sha = git(env.path(), &["rev-parse", "HEAD"]).trim().to_owned();
    let registry = RegistryServer::start_with_basic_auth("AWS", MOTO_ECR_PASSWORD_HASH)
        .unwrap_or_else(|e| panic!("{e}"));
    let proxy = FaultProxy::start(([127, 0, 0, 1], env.moto.port()).into(), FaultPlan::new(0))
        .expect("proxy starts");
    let through_ecr = [
        ("AWS_ENDPOINT_URL", proxy.endpoint()),
        ("FOUNDRY_ECR_REGISTRY_ENDPOINT", registry.endpoint()),
    ];
    let through_ecr: Vec<(&str, &str)> =
        through_ecr.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // First push: every blob goes up, after one login with ECR.
    let first = build(&env, &through_ecr, &["--push"]);
    let image = only_image(&first);
    let digest = image["digest"].as_str().unwrap().to_owned();
    assert_eq!(image["service"], "hello");
    assert_eq!(
        image["tag"],
        sha.as_str(),
        "a clean tree is tagged with its commit"
    );
    let pushed = &image["pushed"];
    assert_eq!(
        pushed["blobs_uploaded"], 3,
        "two layers and the config: {image}"
    );
    assert!(pushed["bytes_uploaded"].as_u64().unwrap() > 1000, "{image}");
    assert_eq!(
        pushed["reference"],
        format!("{}/shop/dev/hello@{digest}", registry.host()).as_str()
    );
    assert_eq!(
        proxy
            .stats()
            .operation("ecr:GetAuthorizationToken")
            .requests,
        1,
        "{:?}",
        proxy.stats()
    );
    assert!(
        first.stderr().contains("hello: pushed"),
        "{}",
        first.stderr()
    );

    // What the registry holds, read by an independent client with the token's
    // credentials (the registry refuses anyone without them).
    let reference = format!("docker://{}/shop/dev/hello@{digest}", registry.host());
    let anonymous = skopeo(&["inspect", "--tls-verify=false", &reference]);
    assert!(
        !anonymous.status.success(),
        "the registry must require ECR's login"
    );
    let creds = ["--tls-verify=false", "--creds", MOTO_ECR_CREDENTIALS];
    let inspect = skopeo_json(&[&["inspect"][..], &creds, &[&reference]].concat());
    assert_eq!(inspect["Digest"], digest.as_str());
    assert_eq!(
        inspect["Labels"]["org.opencontainers.image.revision"],
        sha.as_str()
    );
    let config = skopeo_json(&[&["inspect", "--config"][..], &creds, &[&reference]].concat());
    assert_eq!(config["config"]["User"], "10001:10001");
    assert_eq!(config["config"]["Entrypoint"][0], "/app/hello-http");
    assert!(
        config["config"]["ExposedPorts"]["8080/tcp"].is_object(),
        "{config}"
    );

    // Second push of the same tree: the same digest, not one byte sent.
    let again = only_image(&build(&env, &through_ecr, &["--push"]));
    assert_eq!(again["digest"], digest.as_str());
    assert_eq!(again["pushed"]["bytes_uploaded"], 0, "{again}");
    assert_eq!(again["pushed"]["blobs_present"], 3, "{again}");

    // A source file's mtime is not an input.
    let main_rs = env.path().join("hello/src/main.rs");
    let text = std::fs::read_to_string(&main_rs).unwrap();
    std::fs::write(&main_rs, &text).unwrap();
    let touched = only_image(&build(&env, &[], &[]));
    assert_eq!(touched["digest"], digest.as_str());
    assert!(touched["pushed"].is_null());

    // A code change is: a new digest, tagged dirty until committed.
    std::fs::write(&main_rs, text.replace("listening on", "serving on")).unwrap();
    let changed = only_image(&build(&env, &[], &[]));
    assert_ne!(changed["digest"], digest.as_str());
    assert_eq!(changed["tag"], format!("{sha}-dirty").as_str());
}

/// Mistakes a user makes, each answered before any compile or AWS call.
#[test]
fn build_refuses_what_it_cannot_build_and_says_what_to_do() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "[services.web]\n",
            &["build"],
            "service `web` has no `source`: name its crate in the stack file, e.g. source = \"services/web\"",
        ),
        (
            "[services.hello]\nsource = \"hello\"\n",
            &["build", "helo"],
            "the stack declares no service `helo`; did you mean `hello`?",
        ),
        (
            "[services.hello]\nsource = \"hello\"\n",
            &["build", "--push"],
            "pushing needs --env NAME, which picks the repository",
        ),
        (
            "[services.hello]\nsource = \"hello\"\nport = 0\n",
            &["build"],
            "service `hello` listens on port 0",
        ),
        (
            "[services.hello]\nsource = \"nowhere\"\n",
            &["build"],
            "nowhere",
        ),
    ];
    for (services, args, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let stack = STACK.split("[services.hello]").next().unwrap().to_owned() + services;
        std::fs::write(dir.path().join("foundry.toml"), stack).unwrap();
        git(dir.path(), &["init", "--quiet"]);
        let out = Command::new(env!("CARGO_BIN_EXE_foundry"))
            .args(*args)
            .current_dir(dir.path())
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env_remove("FOUNDRY_ENV")
            .env_remove("FOUNDRY_STACK")
            .env_remove("FOUNDRY_REGISTRY")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
