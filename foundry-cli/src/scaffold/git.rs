//! The few git commands `new` and `upgrade` run, through the user's `git`.

use std::path::Path;
use std::process::Command;

use super::ScaffoldError;

fn git(dir: &Path, args: &[&str]) -> Result<String, ScaffoldError> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| ScaffoldError::Git {
            command: format!("git {}", args.join(" ")),
            message: format!("{e}; install git, or pass --no-git"),
        })?;
    if !output.status.success() {
        return Err(ScaffoldError::Git {
            command: format!("git {}", args.join(" ")),
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A new repository on `main` holding everything in `dir` as its first commit.
pub fn init_and_commit(dir: &Path, message: &str) -> Result<(), ScaffoldError> {
    git(dir, &["init", "--quiet", "--initial-branch=main"])?;
    git(dir, &["add", "--all"])?;
    git(dir, &["commit", "--quiet", "--no-verify", "-m", message]).map_err(|e| match e {
        ScaffoldError::Git { command, message } if message.contains("user.email") || message.contains("identity") => {
            ScaffoldError::Git {
                command,
                message: format!(
                    "{message}\nTell git who you are (git config --global user.name \"…\"; git config --global user.email …), or pass --no-git"
                ),
            }
        }
        other => other,
    })?;
    Ok(())
}

/// The repository's root, or None when `dir` is not in one.
pub fn toplevel(dir: &Path) -> Option<String> {
    git(dir, &["rev-parse", "--show-toplevel"])
        .ok()
        .map(|s| s.trim().to_string())
}

/// `git status --porcelain` lines (untracked files included), for the dirty-tree check.
pub fn uncommitted(dir: &Path) -> Result<Vec<String>, ScaffoldError> {
    Ok(
        git(dir, &["status", "--porcelain", "--untracked-files=all"])?
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

/// Three-way merge of text: `ours` changed from `base` one way, `theirs`
/// another. Returns the merged text and whether it holds conflict markers.
pub fn merge_file(
    scratch: &Path,
    ours: &[u8],
    base: &[u8],
    theirs: &[u8],
    labels: [&str; 3],
) -> Result<(Vec<u8>, bool), ScaffoldError> {
    let paths = ["ours", "base", "theirs"].map(|n| scratch.join(n));
    for (path, bytes) in paths.iter().zip([ours, base, theirs]) {
        std::fs::write(path, bytes).map_err(|e| ScaffoldError::Io {
            path: path.clone(),
            source: e,
        })?;
    }
    let output = Command::new("git")
        .args(["merge-file", "-p"])
        .args(["-L", labels[0], "-L", labels[1], "-L", labels[2]])
        .args(&paths)
        .output()
        .map_err(|e| ScaffoldError::Git {
            command: "git merge-file".into(),
            message: format!("{e}; install git"),
        })?;
    // The exit code is the number of conflicts; negative (>127) is an error.
    match output.status.code() {
        Some(0) => Ok((output.stdout, false)),
        Some(n) if (1..=127).contains(&n) => Ok((output.stdout, true)),
        _ => Err(ScaffoldError::Git {
            command: "git merge-file".into(),
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        }),
    }
}
