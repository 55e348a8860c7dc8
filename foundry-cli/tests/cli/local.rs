//! The Quick start's main job: `--local` installs (here: reuses) moto, starts
//! it, a registry and the App Runner emulator in the background, and `up`
//! builds the reference stack's services and runs them on this machine;
//! `plan` then sees the same world.

use std::path::Path;
use std::process::{Command, Output, Stdio};

pub(crate) fn foundry(home: &Path, dir: &Path, args: &[&str]) -> Output {
    command(home, dir, args)
        .stdin(Stdio::null())
        .output()
        .expect("run foundry")
}

pub(crate) fn command(home: &Path, dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_foundry"));
    command
        .args(args)
        .current_dir(dir)
        .env("FOUNDRY_HOME", home)
        // Its own, under the test's home: deploy.rs builds packages of the
        // same names from other sources at the same time.
        .env("CARGO_TARGET_DIR", home.join("target"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .env_remove("FOUNDRY_ENV")
        .env_remove("FOUNDRY_STACK");
    command
}

/// A foundry home of its own (so no developer's stand-ins are touched),
/// sharing the already installed virtualenv instead of installing moto again.
pub(crate) fn home_sharing_moto() -> tempfile::TempDir {
    let installed = localenv::moto::ensure_installed().expect("moto installs");
    let venv = installed.parent().and_then(Path::parent).unwrap();
    let home = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(venv, home.path().join(venv.file_name().unwrap())).unwrap();
    home
}

#[test]
fn local_flag_starts_the_stand_ins_and_up_runs_the_reference_services_on_this_machine() {
    let home = home_sharing_moto();
    let dir = tempfile::tempdir().unwrap();
    // The reference stack as written, its services built from the fixture.
    let reference = include_str!("../../../stacks/reference.toml")
        .replace("source = \"../services/api\"", "source = \"api\"")
        .replace("source = \"../services/ai\"", "source = \"ai\"");
    std::fs::write(dir.path().join("foundry.toml"), reference).unwrap();
    crate::deploy::app_repository(dir.path());
    let _stop = PurgeOnDrop(home.path(), dir.path());

    let up = foundry(
        home.path(),
        dir.path(),
        &["--local", "up", "--env", "dev", "--yes", "--profile", "dev"],
    );
    let (out, err) = (
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr),
    );
    assert!(up.status.success(), "{out}\n{err}");
    assert!(
        err.contains("Using the local AWS emulator at http://127.0.0.1:"),
        "{err}"
    );
    assert!(
        out.contains("build and push the first image") && out.contains("Outputs:"),
        "{out}"
    );
    // ai reads provider keys nobody has set: locally it starts without
    // them (the ai service answers with its echo provider), and up says how
    // to set them.
    assert!(
        out.contains("Release 1 records the first images of ai, api.")
            && out.contains("ai started without anthropic_api_key, openai_api_key (no value yet)")
            && out.contains("`foundry --local secret set anthropic_api_key --env dev`"),
        "{out}"
    );
    assert!(
        err.contains("+ vpc (vpc) created vpc-"),
        "progress lines: {err}"
    );
    // Local state is kept per local world, which `local stop --purge` ends.
    let world = std::fs::read_to_string(home.path().join("local/world")).unwrap();
    assert!(
        dir.path()
            .join(".foundry/local")
            .join(world.trim())
            .join(".foundry/state/acme/dev/state.json")
            .exists()
    );

    // The services run here, reachable through their URLs.
    let outputs = foundry(
        home.path(),
        dir.path(),
        &["--local", "outputs", "--env", "dev", "--json"],
    );
    let outputs: serde_json::Value = serde_json::from_slice(&outputs.stdout).unwrap();
    for (service, version) in [("api", "api-v1\n"), ("ai", "ai-v1\n")] {
        let url = outputs["service_urls"][service].as_str().unwrap();
        let host = url.strip_prefix("https://").unwrap();
        assert_eq!(
            crate::deploy::http_get(host, "/version"),
            (200, version.to_owned())
        );
    }

    let plan = foundry(
        home.path(),
        dir.path(),
        &["--local", "plan", "--env", "dev", "--detailed-exitcode"],
    );
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&plan.stdout)
    );

    // Their output is in moto's CloudWatch Logs, where App Runner's would be.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let logs = loop {
        let logs = foundry(
            home.path(),
            dir.path(),
            &["--local", "logs", "api", "--env", "dev", "--since", "30m"],
        );
        assert!(
            logs.status.success(),
            "{}",
            String::from_utf8_lossy(&logs.stderr)
        );
        let logs = String::from_utf8_lossy(&logs.stdout).into_owned();
        if logs.contains("path=/version") || std::time::Instant::now() > deadline {
            break logs;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    assert!(logs.contains("INFO  api-v1 listening on"), "{logs}");
    assert!(
        logs.contains("INFO  request path=/version status=200"),
        "{logs}"
    );
    let health = foundry(
        home.path(),
        dir.path(),
        &["--local", "status", "--env", "dev"],
    );
    assert!(
        String::from_utf8_lossy(&health.stdout).contains("api: healthy"),
        "{}",
        String::from_utf8_lossy(&health.stdout)
    );

    let status = foundry(home.path(), dir.path(), &["local", "status", "--json"]);
    assert!(status.status.success());
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    for name in ["moto", "registry", "apprunner"] {
        assert_eq!(status[name]["running"], true, "{status}");
        assert!(
            status[name]["endpoint"]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1:"),
            "{status}"
        );
    }
    let stop = foundry(home.path(), dir.path(), &["local", "stop"]);
    let stopped = String::from_utf8_lossy(&stop.stdout);
    for what in ["AWS APIs (moto)", "image registry", "App Runner emulator"] {
        assert!(
            stopped.contains(&format!("stopped the {what}")),
            "{stopped}"
        );
    }
    let status = foundry(home.path(), dir.path(), &["local", "status"]);
    assert_eq!(status.status.code(), Some(3), "not running after stop");

    // After a purge, a new world: `up` starts from nothing again and pushes
    // the images anew (the purged registry has none of the old release's).
    foundry(home.path(), dir.path(), &["local", "stop", "--purge"]);
    let again = foundry(
        home.path(),
        dir.path(),
        &["--local", "up", "--env", "dev", "--yes", "--profile", "dev"],
    );
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.status.success() && said.contains("Release 1 records the first images"),
        "{said}\n{}",
        String::from_utf8_lossy(&again.stderr)
    );
    foundry(home.path(), dir.path(), &["local", "stop", "--purge"]);
}

/// A GraphQL request to `api` (an `http://host:port` address) as `token`.
fn graphql(api: &str, token: &str, query: &str) -> serde_json::Value {
    let bearer = format!("Bearer {token}");
    let (_, text) = http(
        reqwest::Method::POST,
        &format!("{api}/graphql"),
        &[
            ("authorization", &bearer),
            ("content-type", "application/json"),
        ],
        &serde_json::json!({ "query": query }).to_string(),
    );
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

pub(crate) fn http(
    method: reqwest::Method,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut request = reqwest::Client::new().request(method, url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request
            .body(body.to_owned())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        (response.status().as_u16(), response.text().await.unwrap())
    })
}

fn stdout_of(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Issue 13's path: the reference stack exactly as written, its real api
/// and ai services built (dev profile) and run by the local App Runner,
/// the database a real PostgreSQL behind the RDS endpoint, a token from the
/// local issuer — then everything stopped, started again, and nothing lost.
#[test]
fn up_local_serves_the_reference_app_and_keeps_its_data_across_a_restart() {
    let home = home_sharing_moto();
    let dir = tempfile::tempdir().unwrap();
    let services = Path::new(env!("CARGO_MANIFEST_DIR")).join("../services");
    let reference = include_str!("../../../stacks/reference.toml")
        .replace("../services/", &format!("{}/", services.display()));
    std::fs::write(dir.path().join("foundry.toml"), reference).unwrap();
    let _stop = PurgeOnDrop(home.path(), dir.path());
    // The services build in the workspace's own target directory, where
    // the test build has already compiled their dependencies.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let run = |args: &[&str]| {
        command(home.path(), dir.path(), args)
            .env("CARGO_TARGET_DIR", &target)
            .stdin(Stdio::null())
            .output()
            .expect("run foundry")
    };

    let up = stdout_of(&run(&[
        "--local",
        "up",
        "--env",
        "dev",
        "--yes",
        "--profile",
        "dev",
    ]));
    assert!(
        up.contains("Release 1 records the first images of ai, api."),
        "{up}"
    );
    assert!(
        up.contains("ai started without anthropic_api_key, openai_api_key (no value yet)"),
        "{up}"
    );
    assert!(
        up.contains("Try it: the api answers on http://127.0.0.1:"),
        "{up}"
    );
    let outputs: serde_json::Value = serde_json::from_str(&stdout_of(&run(&[
        "--local", "outputs", "--env", "dev", "--json",
    ])))
    .unwrap();
    let api = outputs["service_urls"]["api"]
        .as_str()
        .unwrap()
        .replace("https://", "http://");

    // Ready means the database answers and the schema is migrated.
    assert_eq!(
        http(reqwest::Method::GET, &format!("{api}/readyz"), &[], ""),
        (200, r#"{"status":"ready"}"#.to_owned())
    );
    let token = stdout_of(&run(&[
        "local", "token", "--org", "org_acme", "--user", "user_ada",
    ]));
    let token = token.trim();
    let created = graphql(
        &api,
        token,
        r#"mutation { createDocument(title: "Kept across restarts") { document { id title } } }"#,
    );
    let id = created["data"]["createDocument"]["document"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    let listed = graphql(
        &api,
        token,
        "{ documents(first: 10) { edges { node { id title } } } }",
    );
    assert_eq!(
        listed["data"]["documents"]["edges"][0]["node"]["id"],
        id.as_str(),
        "{listed}"
    );

    // An upload URL from the api takes the file into the local S3.
    let upload = graphql(
        &api,
        token,
        r#"mutation { requestUpload(input: { filename: "notes.txt", contentType: "text/plain", sizeBytes: 5 }) { uploadUrl uploadHeaders { name value } } }"#,
    );
    let ticket = &upload["data"]["requestUpload"];
    let url = ticket["uploadUrl"]
        .as_str()
        .unwrap_or_else(|| panic!("{upload}"));
    let headers: Vec<(String, String)> = ticket["uploadHeaders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["name"] != "content-length")
        .map(|h| {
            (
                h["name"].as_str().unwrap().into(),
                h["value"].as_str().unwrap().into(),
            )
        })
        .collect();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let (status, body) = http(reqwest::Method::PUT, url, &headers, "hello");
    assert_eq!(status, 200, "PUT to the pre-signed URL: {body}");

    // The api reaches the private ai service, which answers with its echo
    // provider: no provider key is set.
    let generated = graphql(
        &api,
        token,
        r#"mutation { generate(input: { prompt: "echo these words" }) { text } }"#,
    );
    assert_eq!(
        generated["data"]["generate"]["text"], "echo these words",
        "{generated}"
    );

    // The local token is the local issuer's: an api that trusts another
    // issuer refuses it, even with the same keys in reach.
    let jwks = outputs_jwks(&run);
    assert_refused_by_another_issuer(&target, &jwks, token);

    // Stop everything, start again: the same world, the same data.
    let stopped = stdout_of(&run(&["local", "stop"]));
    assert!(
        stopped.contains("stopped the database acme-dev-db"),
        "{stopped}"
    );
    assert!(
        stopped.contains("kept for `foundry local start`"),
        "{stopped}"
    );
    stdout_of(&run(&["local", "start"]));
    let again = stdout_of(&run(&[
        "--local",
        "up",
        "--env",
        "dev",
        "--yes",
        "--profile",
        "dev",
    ]));
    assert!(again.contains("No changes"), "{again}");
    let plan = run(&["--local", "plan", "--env", "dev", "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&plan.stdout)
    );
    let token = stdout_of(&run(&[
        "local", "token", "--org", "org_acme", "--user", "user_ada",
    ]));
    let listed = graphql(
        &api,
        token.trim(),
        "{ documents(first: 10) { edges { node { id title } } } }",
    );
    assert_eq!(
        listed["data"]["documents"]["edges"][0]["node"]["id"],
        id.as_str(),
        "{listed}"
    );
}

/// The local issuer's JWKS URL, as the local stack's api is configured.
fn outputs_jwks(run: &dyn Fn(&[&str]) -> Output) -> String {
    let token: serde_json::Value =
        serde_json::from_str(&stdout_of(&run(&["local", "token", "--json"]))).unwrap();
    format!(
        "{}/.well-known/jwks.json",
        token["issuer"].as_str().unwrap()
    )
}

/// Runs the api binary the image was built from, configured for the
/// issuer `https://clerk.other.example` but the local issuer's keys: a
/// local token must still be refused (its `iss` is not that issuer).
fn assert_refused_by_another_issuer(target: &Path, jwks: &str, token: &str) {
    let server = localenv::postgres::shared().expect("test postgres");
    let db = format!("local_issuer_{}", std::process::id());
    let admin = server.admin_url.clone();
    let pg_port = admin
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap();
    let created = Command::new("createdb")
        .args(["-h", "127.0.0.1", "-p", pg_port, "-U", "postgres", &db])
        .status()
        .expect("createdb (Debian's postgresql-client) runs");
    assert!(created.success(), "createdb {db}");
    let port = localenv::moto::free_port().unwrap();
    let mut api = Command::new(target.join("debug/api"))
        .env_clear()
        .envs([
            ("HOST", "127.0.0.1"),
            ("PORT", &port.to_string()),
            (
                "DATABASE_URL",
                &localenv::postgres::with_database(&admin, &db),
            ),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "x"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
            ("S3_BUCKET_UPLOADS", "unused"),
            ("CLERK_ISSUER", "https://clerk.other.example"),
            ("CLERK_JWKS_URL", jwks),
            ("AI_SERVICE_URL", "http://127.0.0.1:9"),
            ("AI_INTERNAL_API_KEY", "k-0123456789abcdef0123456789abcdef"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run the api binary");
    assert!(
        localenv::moto::wait_until_listening(port, std::time::Duration::from_secs(30)),
        "the api did not start"
    );
    let answer = graphql(
        &format!("http://127.0.0.1:{port}"),
        token,
        "{ documents(first: 1) { edges { node { id } } } }",
    );
    let _ = api.kill();
    let _ = api.wait();
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{answer}"
    );
}

/// Stops and deletes everything local even when an assertion fails.
pub(crate) struct PurgeOnDrop<'a>(pub &'a Path, pub &'a Path);

impl Drop for PurgeOnDrop<'_> {
    fn drop(&mut self) {
        foundry(self.0, self.1, &["local", "stop", "--purge"]);
    }
}
