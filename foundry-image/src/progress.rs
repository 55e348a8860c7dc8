//! Progress reports for the caller to render (the CLI prints a line each).

use crate::Digest;

/// What happened to one blob during a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobOutcome {
    /// The registry already had it in the target repository: nothing sent.
    Present,
    /// Mounted from another repository of the same registry: nothing sent.
    Mounted,
    /// Uploaded; its size counts towards the bytes uploaded.
    Uploaded,
}

/// Receives progress from [`crate::build()`] and [`crate::push()`]. Every
/// method has a do-nothing default, so implement only what you show.
pub trait Progress: Sync {
    /// A line cargo printed on its standard error (`Compiling …`, warnings).
    fn cargo_line(&self, _line: &str) {}
    /// A blob is done; `size` is its length in bytes.
    fn blob(&self, _digest: &Digest, _size: u64, _outcome: BlobOutcome) {}
    /// The manifest is stored under `reference` (`registry/repository:tag`).
    fn manifest_pushed(&self, _reference: &str, _digest: &Digest) {}
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}
