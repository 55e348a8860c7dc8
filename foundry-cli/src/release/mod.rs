//! Releases: what runs on the compute target, recorded so that `deploy`,
//! `rollback` and `releases` share one history. Written once, above the
//! compute targets (design §7).

pub mod history;

pub use history::{Change, History, Outcome, Release, ReleaseKind, SecretRef, ServiceRelease};

use crate::state::{StateError, Store};

/// The stack's history, empty before the first release.
pub async fn load(store: &Store) -> Result<History, StateError> {
    match store.read_document(history::DOCUMENT).await? {
        None => Ok(History::default()),
        Some(bytes) => History::from_json(&bytes).map_err(|source| StateError::Corrupt {
            path: format!("{}/{}", store.describe(), history::DOCUMENT).into(),
            source,
        }),
    }
}

/// Replaces the stored history; the caller holds the stack lock.
pub async fn save(store: &Store, history: &History) -> Result<(), StateError> {
    store
        .write_document(history::DOCUMENT, history.to_json())
        .await
}
