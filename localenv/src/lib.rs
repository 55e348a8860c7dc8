//! Local stand-ins for the cloud, shared by `foundry --local` and the test suites.
//!
//! Only real components live here (moto server, and other launchers the tests
//! share); nothing in this crate imitates an API by itself. The fault proxy
//! only ever forwards to moto or answers with AWS's own error shapes.

pub mod fault_proxy;
pub mod moto;
pub mod postgres;
pub mod registry;

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Where foundry keeps machine-wide caches such as the private moto virtualenv:
/// `$FOUNDRY_HOME`, else `$XDG_CACHE_HOME/foundry`, else `~/.cache/foundry`.
pub fn foundry_home() -> PathBuf {
    if let Some(dir) = std::env::var_os("FOUNDRY_HOME") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("foundry");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".cache").join("foundry")
}

/// Where a test suite builds its fixture crates: beside the workspace's own
/// builds (`$CARGO_TARGET_DIR`, else the workspace's `target/`), never inside
/// them, so that the suite's build never waits on a fixture's cargo lock nor
/// a fixture on it. `suite` names the subdirectory (`foundry-cli-fixtures`).
pub fn fixtures_target_dir(suite: &str) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join(suite)
}

/// Sends SIGTERM to `pid` and waits until it has exited (or is a zombie
/// waiting for its parent), at most `timeout`; whether it exited. For
/// stand-ins that save on SIGTERM — moto with a snapshot
/// ([`moto::persistent_server_command`]) — whose next start must wait for the
/// save, and for servers whose ports the next start binds again (the App
/// Runner emulator's service URLs). A process already gone counts as exited.
pub fn terminate_and_wait(pid: u32, timeout: Duration) -> bool {
    let pid = pid as libc::pid_t;
    // SAFETY: plain kill(2); no memory is involved.
    if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        return true;
    }
    let start = Instant::now();
    loop {
        // SAFETY: signal 0 only checks that the process exists.
        let exists = unsafe { libc::kill(pid, 0) } == 0;
        if !exists || is_zombie(pid) {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn is_zombie(pid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // `pid (comm) S ...`: the state follows the last parenthesis.
            let after = &stat[stat.rfind(')')? + 1..];
            after.split_whitespace().next().map(|state| state == "Z")
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminate_and_wait_returns_once_the_process_has_exited() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep runs");
        let start = Instant::now();
        assert!(terminate_and_wait(child.id(), Duration::from_secs(10)));
        assert!(start.elapsed() < Duration::from_secs(5));
        let status = child.wait().expect("reaped");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGTERM)
        );
    }

    #[test]
    fn terminate_and_wait_gives_up_on_a_process_that_ignores_sigterm() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "trap '' TERM; exec sleep 30"])
            .spawn()
            .expect("sh runs");
        std::thread::sleep(Duration::from_millis(200));
        assert!(!terminate_and_wait(child.id(), Duration::from_millis(300)));
        let _ = child.kill();
        let _ = child.wait();
    }
}
