//! The files `build.rs` embeds: the bundled crates and web client, and the
//! per-app templates of `templates/`.

/// One embedded file, its path relative to its root (`/`-separated).
pub struct Embedded {
    pub path: &'static str,
    pub bytes: &'static [u8],
    pub executable: bool,
}

mod generated {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

pub use generated::{BUNDLED, TEMPLATES};

/// foundry's own workspace manifest and lock file: the app's are made from them.
pub const WORKSPACE_MANIFEST: &str = include_str!("../../../Cargo.toml");
pub const WORKSPACE_LOCK: &str = include_str!("../../../Cargo.lock");
/// The reference stack the app's `foundry.toml` is made from.
pub const REFERENCE_STACK: &str = include_str!("../../../stacks/reference.toml");
