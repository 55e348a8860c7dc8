//! The Quick start's main job: `--local` installs (here: reuses) moto, starts
//! it in the background, and `up` then `plan` see the same world.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::REFERENCE;

fn foundry(home: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_foundry"))
        .args(args)
        .current_dir(dir)
        .env("FOUNDRY_HOME", home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .env_remove("FOUNDRY_ENV")
        .env_remove("FOUNDRY_STACK")
        .stdin(Stdio::null())
        .output()
        .expect("run foundry")
}

/// Stops the emulator even when an assertion fails.
struct StopOnDrop<'a>(&'a Path, &'a Path);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        foundry(self.0, self.1, &["local", "stop"]);
    }
}

#[test]
fn local_flag_starts_the_emulator_and_up_then_plan_see_one_world() {
    // A home of its own (so no developer's emulator is touched), sharing the
    // already installed virtualenv instead of installing moto again.
    let installed = localenv::moto::ensure_installed().expect("moto installs");
    let venv = installed.parent().and_then(Path::parent).unwrap();
    let home = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(venv, home.path().join(venv.file_name().unwrap())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("foundry.toml"), REFERENCE).unwrap();
    let _stop = StopOnDrop(home.path(), dir.path());

    let up = foundry(
        home.path(),
        dir.path(),
        &["--local", "up", "--env", "dev", "--yes"],
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
        out.contains("Plan: 45 to create") && out.contains("Outputs:") && out.contains("vpc_id"),
        "{out}"
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

    let status = foundry(home.path(), dir.path(), &["local", "status"]);
    assert!(String::from_utf8_lossy(&status.stdout).starts_with("running at http://127.0.0.1:"));
    let stop = foundry(home.path(), dir.path(), &["local", "stop"]);
    assert!(String::from_utf8_lossy(&stop.stdout).contains("stopped the local AWS emulator"));
    let status = foundry(home.path(), dir.path(), &["local", "status"]);
    assert_eq!(status.status.code(), Some(3), "not running after stop");
}
