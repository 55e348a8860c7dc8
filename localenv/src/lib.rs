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
