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
