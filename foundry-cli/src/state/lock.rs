//! One writer per stack and environment: an OS file lock, which the kernel
//! releases when its holder dies, so a crashed run never leaves a stale lock.
//! The file's content names the holder for the error the next run shows.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockHolder {
    pub pid: u32,
    pub user: String,
    pub host: String,
    pub command: String,
    /// Unix seconds.
    pub since: u64,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let started = std::time::UNIX_EPOCH + std::time::Duration::from_secs(self.since);
        let age = now().saturating_sub(self.since);
        write!(
            f,
            "`{}` (pid {}, {}@{}), started {} ({age}s ago)",
            self.command,
            self.pid,
            self.user,
            self.host,
            humantime::format_rfc3339_seconds(started)
        )
    }
}

impl LockHolder {
    /// This process, about to run `command`.
    pub fn current(command: &str) -> Self {
        Self {
            pid: std::process::id(),
            user: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
            host: std::fs::read_to_string("/etc/hostname")
                .map_or_else(|_| "unknown".into(), |h| h.trim().to_string()),
            command: command.to_string(),
            since: now(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another foundry run holds the lock {location}: {holder}. If that run is still going, wait for it; if it crashed, its lock stays until you run `foundry unlock --env {env}`."
    )]
    HeldRemote {
        location: String,
        holder: String,
        env: String,
    },
    #[error(
        "another foundry run holds the lock {path}: {holder}. Wait for it to finish; the lock is released the moment that process exits."
    )]
    Held { path: PathBuf, holder: String },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held until dropped.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Lock {
    pub fn acquire(path: &Path, command: &str) -> Result<Self, LockError> {
        let err = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = serde_json::from_str::<LockHolder>(&text).map_or_else(
                    |_| "a process that has not yet written its name".to_string(),
                    |h| h.to_string(),
                );
                return Err(LockError::Held {
                    path: path.to_path_buf(),
                    holder,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(err(e)),
        }
        let holder = LockHolder {
            pid: std::process::id(),
            user: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
            host: std::fs::read_to_string("/etc/hostname")
                .map_or_else(|_| "unknown".into(), |h| h.trim().to_string()),
            command: command.to_string(),
            since: now(),
        };
        file.set_len(0).map_err(err)?;
        file.seek(SeekFrom::Start(0)).map_err(err)?;
        file.write_all(
            serde_json::to_string(&holder)
                .expect("holder serialises")
                .as_bytes(),
        )
        .map_err(err)?;
        file.sync_data().map_err(err)?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_fails_naming_the_holder_and_drop_releases() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("lock");
        let first = Lock::acquire(&path, "foundry up").unwrap();
        let err = Lock::acquire(&path, "foundry plan")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`foundry up`"), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains(", started 20"), "names the start time: {err}");
        drop(first);
        Lock::acquire(&path, "foundry plan").unwrap();
    }
}
