//! Turns a service crate into a reproducible OCI image and ships it, with no
//! Docker and no base image pulled from anywhere.
//!
//! Three steps, each usable alone (the CLI's `foundry build` chains them):
//!
//! 1. [`build()`] runs cargo for a crate and finds the binary it produced.
//! 2. [`assemble()`] writes an image into a local OCI image layout: a base
//!    layer foundry makes itself (CA certificates, `/etc/passwd` and
//!    `/etc/group` with a non-root user, `/tmp`, and the shared libraries and
//!    dynamic loader the binary needs, read from its ELF headers) and an
//!    application layer (the binary and declared runtime files). The same
//!    inputs give the same manifest digest, byte for byte.
//! 3. [`push()`] sends an image from the layout to a registry through the OCI
//!    distribution API, uploading only the blobs the registry lacks.
//!
//! [`git::Revision`] supplies the tag (`<sha>` or `<sha>-dirty`), the
//! revision label and the fixed timestamp.

mod assemble;
mod build;
mod digest;
mod elf;
mod error;
pub mod git;
mod layer;
mod layout;
mod progress;
mod push;

pub use assemble::{ImageSpec, ImageUser, RuntimeFile, assemble};
pub use build::{BuildRequest, Built, build};
pub use digest::Digest;
pub use error::{AssembleError, BuildError, GitError, PushError};
pub use layout::{Assembled, LayoutImage, OciLayout};
pub use progress::{BlobOutcome, NoProgress, Progress};
pub use push::{Credentials, PushReport, PushTarget, Registry, push};
