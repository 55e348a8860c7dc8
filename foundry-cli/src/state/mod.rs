//! Local state under `.foundry/state/<stack>/<env>/` beside the stack file:
//! a lock, a journal and a cache. AWS stays the truth (resources are found by
//! their tags); the journal keeps create intents so that a retried create can
//! reuse its idempotency token, and the cache keeps what was last applied so
//! that plans can tell drift from config changes.

mod local;
mod lock;
mod s3;
pub use s3::base_key as s3_base_key;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use local::StateDir;
pub use lock::{Lock, LockError, LockHolder};
pub use s3::{S3Lock, S3State};

use crate::resources::Kind;
use crate::vocab::Props;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Locked(#[from] LockError),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the state file {path} is not valid JSON ({source}); move it aside and run again: foundry rebuilds it from AWS"
    )]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("state bucket {bucket}: {message}")]
    S3 { bucket: String, message: String },
    #[error("{0}")]
    NothingToUnlock(String),
}

pub(crate) fn io<'p>(
    action: &'static str,
    path: &'p Path,
) -> impl FnOnce(std::io::Error) -> StateError + 'p {
    move |source| StateError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// What foundry last applied for one resource.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Applied {
    pub kind: Kind,
    pub physical_id: String,
    pub props: Props,
}

/// The cache file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    pub resources: BTreeMap<String, Applied>,
    pub outputs: BTreeMap<String, serde_json::Value>,
}

/// One journal line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JournalEntry {
    /// Written before a create call: the token that makes a retry idempotent.
    Intent {
        id: String,
        kind: Kind,
        token: String,
    },
    Created {
        id: String,
        physical_id: String,
    },
    Updated {
        id: String,
    },
    Deleted {
        id: String,
        physical_id: String,
    },
}

/// Tokens of creates that started but never finished, replayed from journal
/// lines. A torn last line (crash mid-write) is ignored.
pub(crate) fn pending_from_lines<'a>(
    lines: impl Iterator<Item = &'a str>,
) -> BTreeMap<String, String> {
    let mut pending = BTreeMap::new();
    for line in lines {
        match serde_json::from_str::<JournalEntry>(line) {
            Ok(JournalEntry::Intent { id, token, .. }) => {
                pending.insert(id, token);
            }
            Ok(JournalEntry::Created { id, .. }) => {
                pending.remove(&id);
            }
            _ => {}
        }
    }
    pending
}

/// State of one stack and environment, wherever the stack file says it lives.
pub enum Store {
    Local(StateDir),
    S3(S3State),
}

/// A held lock; released when dropped.
pub enum Held {
    Local(Lock),
    S3(S3Lock),
}

impl Store {
    pub fn describe(&self) -> String {
        match self {
            Store::Local(d) => d.path().display().to_string(),
            Store::S3(s) => s.describe(),
        }
    }

    /// Takes the lock, or fails at once naming who holds it.
    pub async fn lock(&self, command: &str) -> Result<Held, StateError> {
        match self {
            Store::Local(d) => d.lock(command).map(Held::Local),
            Store::S3(s) => s.lock(command).await.map(Held::S3),
        }
    }

    pub async fn load(&self) -> Result<Snapshot, StateError> {
        match self {
            Store::Local(d) => d.load(),
            Store::S3(s) => s.load().await,
        }
    }

    pub async fn save(&self, snapshot: &Snapshot) -> Result<(), StateError> {
        match self {
            Store::Local(d) => d.save(snapshot),
            Store::S3(s) => s.save(snapshot).await,
        }
    }

    /// A named document beside the state (`releases.json`), if written yet.
    pub async fn read_document(&self, name: &str) -> Result<Option<Vec<u8>>, StateError> {
        match self {
            Store::Local(d) => d.read_document(name),
            Store::S3(s) => s.read_document(name).await,
        }
    }

    /// Replaces a named document whole; callers hold the stack lock.
    pub async fn write_document(&self, name: &str, bytes: Vec<u8>) -> Result<(), StateError> {
        match self {
            Store::Local(d) => d.write_document(name, &bytes),
            Store::S3(s) => s.write_document(name, bytes).await,
        }
    }

    /// Appends one entry durably before returning.
    pub async fn journal(&self, entry: &JournalEntry) -> Result<(), StateError> {
        match self {
            Store::Local(d) => d.journal(entry),
            Store::S3(s) => s.journal(entry).await,
        }
    }

    pub async fn pending_intents(&self) -> Result<BTreeMap<String, String>, StateError> {
        match self {
            Store::Local(d) => d.pending_intents(),
            Store::S3(s) => s.pending_intents().await,
        }
    }

    pub async fn clear_journal(&self) -> Result<(), StateError> {
        match self {
            Store::Local(d) => d.clear_journal(),
            Store::S3(s) => s.clear_journal().await,
        }
    }

    /// Removes a stale remote lock, returning who held it.
    pub async fn unlock(&self) -> Result<LockHolder, StateError> {
        match self {
            Store::Local(d) => Err(StateError::NothingToUnlock(format!(
                "state in {} is local: its lock is an OS file lock that is released the moment its holder exits, so there is nothing to unlock",
                d.path().display()
            ))),
            Store::S3(s) => s.unlock().await,
        }
    }
}
