//! Compiling a service crate with cargo and finding the executable it made.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::{BuildError, Progress};

/// Lines of cargo's own output kept for an error when rustc reported none
/// (a broken manifest, a dependency that cannot be resolved).
const STDERR_TAIL_LINES: usize = 40;

/// What to compile.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The crate's directory (holding its Cargo.toml), inside a workspace or not.
    pub crate_dir: PathBuf,
    /// A cargo profile: `release` for images users deploy, `dev` in tests.
    pub profile: String,
    /// Which binary, when the crate has several.
    pub binary: Option<String>,
    /// cargo's target directory; `None` leaves it to cargo
    /// (`CARGO_TARGET_DIR` or the workspace's `target/`).
    pub target_dir: Option<PathBuf>,
    /// Leave cargo's incremental compilation as the profile has it (on for
    /// `dev`): reuses what `cargo test` just built, but rebuilds may then
    /// differ byte for byte. Off by default, for reproducible images.
    pub incremental: bool,
}

impl BuildRequest {
    pub fn new(crate_dir: impl Into<PathBuf>, profile: impl Into<String>) -> Self {
        BuildRequest {
            crate_dir: crate_dir.into(),
            profile: profile.into(),
            binary: None,
            target_dir: None,
            incremental: false,
        }
    }
}

/// The executable cargo produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub binary: PathBuf,
    /// The binary target's name.
    pub name: String,
    /// True when cargo had nothing to recompile.
    pub fresh: bool,
}

#[derive(Deserialize)]
struct CargoMessage {
    reason: String,
    #[serde(default)]
    target: Option<CargoTarget>,
    #[serde(default)]
    executable: Option<PathBuf>,
    #[serde(default)]
    fresh: bool,
    #[serde(default)]
    message: Option<RustcMessage>,
}

#[derive(Deserialize)]
struct CargoTarget {
    name: String,
    kind: Vec<String>,
}

#[derive(Deserialize)]
struct RustcMessage {
    level: String,
    rendered: Option<String>,
}

/// Runs `cargo build` for the crate and returns its binary. cargo's standard
/// error goes line by line to `progress`; when the build fails, the error
/// carries rustc's rendered errors (or cargo's last lines).
pub fn build(request: &BuildRequest, progress: &dyn Progress) -> Result<Built, BuildError> {
    let crate_dir = &request.crate_dir;
    let manifest = crate_dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::NotACrate {
            crate_dir: crate_dir.clone(),
        });
    }
    // cargo runs in the crate's directory, where a relative path would
    // point elsewhere.
    let manifest =
        std::path::absolute(&manifest).map_err(|source| BuildError::CargoNotRunnable {
            program: "cargo".into(),
            source,
        })?;
    let program = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(&program);
    command
        // cargo reads `.cargo/config.toml` from the directory it runs in and
        // its parents: the crate's, not the caller's.
        .current_dir(crate_dir)
        .args([
            "build",
            "--message-format=json",
            "--profile",
            &request.profile,
            "--manifest-path",
        ])
        .arg(&manifest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !request.incremental {
        // Incremental compilation may split code differently from one build
        // to the next; images must come out byte for byte the same.
        command.env("CARGO_INCREMENTAL", "0");
    }
    if let Some(binary) = &request.binary {
        command.args(["--bin", binary]);
    }
    if let Some(dir) = &request.target_dir {
        command.arg("--target-dir").arg(dir);
    }
    let mut child = command
        .spawn()
        .map_err(|source| BuildError::CargoNotRunnable {
            program: program.clone(),
            source,
        })?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");

    let (messages, stderr_tail) = std::thread::scope(|scope| {
        let stderr_reader = scope.spawn(|| {
            let mut tail: Vec<String> = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                progress.cargo_line(&line);
                if tail.len() == STDERR_TAIL_LINES {
                    tail.remove(0);
                }
                tail.push(line);
            }
            tail
        });
        let messages: Vec<String> = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect();
        (messages, stderr_reader.join().unwrap_or_default())
    });
    let status = child
        .wait()
        .map_err(|source| BuildError::CargoNotRunnable {
            program: program.clone(),
            source,
        })?;

    let mut binaries: Vec<Built> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    for line in messages.iter().filter(|l| l.starts_with('{')) {
        let message: CargoMessage =
            serde_json::from_str(line).map_err(|e| BuildError::CargoOutput {
                detail: e.to_string(),
            })?;
        match message.reason.as_str() {
            "compiler-artifact" => {
                if let (Some(target), Some(executable)) = (message.target, message.executable)
                    && target.kind.iter().any(|k| k == "bin")
                {
                    binaries.push(Built {
                        binary: executable,
                        name: target.name,
                        fresh: message.fresh,
                    });
                }
            }
            "compiler-message" => {
                if let Some(rustc) = message.message
                    && rustc.level.starts_with("error")
                    && let Some(rendered) = rustc.rendered
                {
                    errors.push(rendered.trim_end().to_owned());
                }
            }
            _ => {}
        }
    }

    if !status.success() {
        let message = if errors.is_empty() {
            stderr_tail.join("\n")
        } else {
            errors.join("\n\n")
        };
        return Err(BuildError::CargoFailed {
            crate_dir: crate_dir.clone(),
            message,
        });
    }
    let names = || {
        binaries
            .iter()
            .map(|b| b.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &request.binary {
        Some(wanted) => {
            let index = binaries
                .iter()
                .position(|b| &b.name == wanted)
                .ok_or_else(|| BuildError::BinaryNotFound {
                    crate_dir: crate_dir.clone(),
                    wanted: wanted.clone(),
                    names: names(),
                })?;
            Ok(binaries.swap_remove(index))
        }
        None => match binaries.len() {
            0 => Err(BuildError::NoBinary {
                crate_dir: crate_dir.clone(),
            }),
            1 => Ok(binaries.remove(0)),
            _ => Err(BuildError::SeveralBinaries {
                crate_dir: crate_dir.clone(),
                names: names(),
            }),
        },
    }
}
