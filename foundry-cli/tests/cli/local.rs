//! The Quick start's main job: `--local` installs (here: reuses) moto, starts
//! it, a registry and the App Runner emulator in the background, and `up`
//! builds the reference stack's services and runs them on this machine;
//! `plan` then sees the same world.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn foundry(home: &Path, dir: &Path, args: &[&str]) -> Output {
    command(home, dir, args)
        .stdin(Stdio::null())
        .output()
        .expect("run foundry")
}

fn command(home: &Path, dir: &Path, args: &[&str]) -> Command {
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

/// Stops the emulator even when an assertion fails.
struct StopOnDrop<'a>(&'a Path, &'a Path);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        foundry(self.0, self.1, &["local", "stop"]);
    }
}

#[test]
fn local_flag_starts_the_stand_ins_and_up_runs_the_reference_services_on_this_machine() {
    // A home of its own (so no developer's stand-ins are touched), sharing
    // the already installed virtualenv instead of installing moto again.
    let installed = localenv::moto::ensure_installed().expect("moto installs");
    let venv = installed.parent().and_then(Path::parent).unwrap();
    let home = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(venv, home.path().join(venv.file_name().unwrap())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The reference stack as written, its services built from the fixture.
    let reference = include_str!("../../../stacks/reference.toml")
        .replace("source = \"../services/api\"", "source = \"api\"")
        .replace("source = \"../services/ai\"", "source = \"ai\"");
    std::fs::write(dir.path().join("foundry.toml"), reference).unwrap();
    crate::deploy::app_repository(dir.path());
    let _stop = StopOnDrop(home.path(), dir.path());

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
    // ai reads provider keys nobody has set: App Runner could not start it,
    // so up says what to do, and api (which needs ai's URL) waits with it.
    assert!(
        out.contains("Not running yet: ai, api.")
            && out.contains("`foundry secret set openai_api_key --env dev`")
            && out.contains("api needs the URL of a service above"),
        "{out}"
    );
    for secret in ["openai_api_key", "anthropic_api_key"] {
        let mut set = command(
            home.path(),
            dir.path(),
            &["--local", "secret", "set", secret, "--env", "dev"],
        );
        let mut child = set.stdin(Stdio::piped()).spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"sk-local-test\n")
            .unwrap();
        assert!(child.wait().unwrap().success(), "secret set {secret}");
    }
    let again = foundry(
        home.path(),
        dir.path(),
        &["--local", "up", "--env", "dev", "--yes", "--profile", "dev"],
    );
    let out = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.status.success() && out.contains("Release 1 records the first images of ai, api."),
        "{out}\n{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        err.contains("+ vpc (vpc) created vpc-"),
        "progress lines: {err}"
    );
    assert!(
        dir.path()
            .join(".foundry/local/.foundry/state/acme/dev/state.json")
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
}
