//! What can go wrong, each worded so the reader knows what to do next.

use std::io;
use std::path::PathBuf;

/// Compiling the service's crate.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(
        "could not run `{program}`: {source}. Install the Rust toolchain (rustup) or set CARGO to cargo's path"
    )]
    CargoNotRunnable { program: String, source: io::Error },
    #[error("the crate at {} does not build; cargo said:\n{message}", crate_dir.display())]
    CargoFailed { crate_dir: PathBuf, message: String },
    #[error("no Cargo.toml at {}: `source` must name a crate directory inside the cargo workspace", crate_dir.display())]
    NotACrate { crate_dir: PathBuf },
    #[error("the crate at {} builds no binary; a service needs a binary target (src/main.rs or [[bin]])", crate_dir.display())]
    NoBinary { crate_dir: PathBuf },
    #[error("the crate at {} builds several binaries ({names}); name the one the image runs", crate_dir.display())]
    SeveralBinaries { crate_dir: PathBuf, names: String },
    #[error("the crate at {} builds no binary named `{wanted}` (it builds: {names})", crate_dir.display())]
    BinaryNotFound {
        crate_dir: PathBuf,
        wanted: String,
        names: String,
    },
    #[error(
        "cargo printed a line foundry cannot read ({detail}); is this a supported cargo version?"
    )]
    CargoOutput { detail: String },
}

/// Writing an image into the local layout.
#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write the image layout at {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("{} is not an executable foundry can read: {reason}", binary.display())]
    NotAnExecutable { binary: PathBuf, reason: String },
    #[error("{} runs on {machine}, for which foundry knows no OCI architecture name; build for x86_64 or aarch64", binary.display())]
    UnsupportedArchitecture { binary: PathBuf, machine: String },
    #[error("{} links {library}, which foundry cannot find (looked in {searched}); install the package that provides it on this machine, or link the binary statically", binary.display())]
    MissingLibrary {
        binary: PathBuf,
        library: String,
        searched: String,
    },
    #[error("{} needs the dynamic loader {interpreter}, which this machine does not have; build on the machine type the image targets, or link statically", binary.display())]
    MissingInterpreter {
        binary: PathBuf,
        interpreter: String,
    },
    #[error("no CA certificates at {}: install the ca-certificates package (the image needs them to reach TLS endpoints)", path.display())]
    MissingCaBundle { path: PathBuf },
    #[error("runtime file {}: {reason}", source_path.display())]
    BadRuntimeFile {
        source_path: PathBuf,
        reason: String,
    },
    #[error("the image layout at {} is damaged ({reason}); delete the directory and assemble again", path.display())]
    BadLayout { path: PathBuf, reason: String },
    #[error("invalid image setting: {0}")]
    InvalidSpec(String),
}

/// Sending an image to a registry.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(
        "the registry {registry} refused the credentials for {repository} ({detail}); check them (an ECR token from GetAuthorizationToken lasts 12 hours: run again to get a fresh one)"
    )]
    Unauthorized {
        registry: String,
        repository: String,
        detail: String,
    },
    #[error("cannot reach the registry {registry} ({detail}); check the address and the network")]
    Unreachable { registry: String, detail: String },
    #[error("the registry {registry} refused {what} for {repository}: {detail}")]
    Refused {
        registry: String,
        repository: String,
        what: String,
        detail: String,
    },
    #[error("no image {wanted} in the layout at {}; assemble it first", layout.display())]
    NotInLayout { layout: PathBuf, wanted: String },
    #[error("invalid push target: {0}")]
    InvalidTarget(String),
    #[error(transparent)]
    Layout(#[from] AssembleError),
}

/// Reading the revision from git.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error(
        "could not run git: {0}. Install git; foundry tags images with the commit they were built from"
    )]
    NotRunnable(io::Error),
    #[error("{} is not inside a git repository with a commit ({detail}); commit the service first: images are tagged with the commit they come from", dir.display())]
    NoCommit { dir: PathBuf, detail: String },
    #[error("git printed output foundry cannot read: {0}")]
    Output(String),
    #[error("SOURCE_DATE_EPOCH must be whole seconds since 1970, not {0:?}")]
    BadSourceDateEpoch(String),
}
