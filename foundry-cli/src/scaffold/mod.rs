//! `foundry new` and `foundry upgrade` (issue 15): an app repository made
//! from the bundled crates and web client (embedded at build time, see
//! `build.rs`) and the per-app templates of `templates/`; later template
//! versions merged into it three-way.
//!
//! An app records what made it in `.foundry/template.toml` (foundry's
//! version and the answers) and keeps the pristine output of that version
//! in `.foundry/template/`: the merge base of the next upgrade, which a
//! newer foundry could not otherwise reproduce.

mod embedded;
mod git;
mod lockfile;
mod names;
mod render;
mod upgrade;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use names::MAX_NAME;
pub use render::{AppFile, Files, render};
pub use upgrade::{Conflict, Upgraded, upgrade};

use crate::stack::{ComputeTarget, Source};

/// The version of foundry (and so of its templates) in this binary.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// What made the app: foundry's version and the answers.
pub const RECORD: &str = ".foundry/template.toml";
/// The pristine output of that version: the next upgrade's merge base.
pub const SNAPSHOT: &str = ".foundry/template";

/// Everything a template depends on; an upgrade renders again with them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answers {
    pub name: String,
    pub region: String,
    /// `ORG/REPO` whose GitHub Actions deploy the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<String>,
    /// The stack's `[compute] target`.
    pub compute: String,
}

/// `.foundry/template.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub foundry_version: String,
    pub answers: Answers,
}

#[derive(Debug, Clone)]
pub struct NewOptions {
    pub answers: Answers,
    /// The app's directory: new, or empty.
    pub dir: PathBuf,
    /// `git init` and a first commit.
    pub git: bool,
}

#[derive(Debug)]
pub struct Created {
    pub dir: PathBuf,
    pub files: usize,
    pub committed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "`{name}` cannot be the app's name: {problem}. The name becomes the stack's and begins its AWS names: use 1 to {MAX_NAME} lowercase letters, digits and single hyphens, starting with a letter, e.g. `acme` or `acme-chat`."
    )]
    InvalidName { name: String, problem: String },
    #[error("`{0}` is not a GitHub repository: pass --github ORG/REPO, e.g. --github acme/app.")]
    InvalidGithub(String),
    #[error("`{0}` is not an AWS region name: pass a region code such as --region us-east-1.")]
    InvalidRegion(String),
    #[error(
        "`{0}` is not a compute target: pass --compute ecs (ECS Fargate, open to every AWS account) or --compute apprunner (App Runner, for accounts it still takes)."
    )]
    Compute(String),
    #[error(
        "{} already exists and is not empty; pass --dir with a new or empty directory, or remove it first.",
        .0.display()
    )]
    DirNotEmpty(PathBuf),
    #[error(
        "{} exists and is not a directory; pass --dir with a new or empty directory.",
        .0.display()
    )]
    NotADirectory(PathBuf),
    #[error(
        "the directory {dir} that should hold the app does not exist; create it (mkdir -p {dir}) or pass another --dir.",
        dir = .0.display()
    )]
    NoParent(PathBuf),
    #[error("cannot write {}: {source}. Check the directory's permissions and free space.", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "foundry's template {path} does not render: {message}. This is a bug in foundry; please report it."
    )]
    Template { path: String, message: String },
    #[error(
        "the app's stack file does not validate: {0}\nThis is a bug in foundry's templates; please report it."
    )]
    Stack(String),
    #[error("`{command}` failed: {message}")]
    Git { command: String, message: String },
    #[error(
        "{} holds no {RECORD}, so it was not made by `foundry new`; run foundry upgrade in the app's root directory (or pass --dir).",
        .0.display()
    )]
    NotAnApp(PathBuf),
    #[error("{} cannot be read: {message}. Restore it from git: git checkout -- {RECORD}", .path.display())]
    Record { path: PathBuf, message: String },
    #[error(
        "{} is not in a git repository: upgrade merges only into committed files, so that `git diff` shows what it changed. Run git init, commit, and upgrade again.",
        .0.display()
    )]
    NotGit(PathBuf),
    #[error(
        "the working tree has uncommitted changes ({0}); commit or stash them first, so that `git diff` shows only what upgrade changes."
    )]
    Dirty(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ScaffoldError + '_ {
    move |source| ScaffoldError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Checks the answers, renders the app beside `dir` and moves it there at
/// the end, so a failure at any step leaves nothing behind.
pub fn create(options: &NewOptions) -> Result<Created, ScaffoldError> {
    let answers = &options.answers;
    names::check_name(&answers.name)?;
    if let Some(repo) = &answers.github {
        names::check_github(repo)?;
    }
    if !crate::stack::is_region(&answers.region) {
        return Err(ScaffoldError::InvalidRegion(answers.region.clone()));
    }
    if serde_json::from_value::<ComputeTarget>(serde_json::Value::String(answers.compute.clone()))
        .is_err()
    {
        return Err(ScaffoldError::Compute(answers.compute.clone()));
    }

    let dir = &options.dir;
    if dir.exists() {
        if !dir.is_dir() {
            return Err(ScaffoldError::NotADirectory(dir.clone()));
        }
        if std::fs::read_dir(dir).map_err(io(dir))?.next().is_some() {
            return Err(ScaffoldError::DirNotEmpty(dir.clone()));
        }
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(ScaffoldError::NoParent(parent));
    }

    let files = render(answers, VERSION)?;
    // Same parent, so the final rename is atomic; removed when dropped.
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{}.foundry-new-", answers.name))
        .tempdir_in(&parent)
        .map_err(io(&parent))?;
    write_files(staging.path(), &files)?;
    write_files(&staging.path().join(SNAPSHOT), &files)?;
    write_record(
        staging.path(),
        &Record {
            foundry_version: VERSION.to_string(),
            answers: answers.clone(),
        },
    )?;
    validate_stack(&staging.path().join("foundry.toml"))?;
    if options.git {
        git::init_and_commit(
            staging.path(),
            &format!("foundry new {} (foundry {VERSION})", answers.name),
        )?;
    }
    if dir.exists() {
        // Checked empty above; rename replaces only an empty directory anyway.
        std::fs::remove_dir(dir).map_err(io(dir))?;
    }
    let staged = staging.keep();
    if let Err(e) = std::fs::rename(&staged, dir) {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(io(dir)(e));
    }
    Ok(Created {
        dir: dir.clone(),
        files: files.len(),
        committed: options.git,
    })
}

/// The rendered stack file passes foundry's own checks in every
/// environment, and every name AWS gets from it fits.
fn validate_stack(path: &Path) -> Result<(), ScaffoldError> {
    let source = Source::load(path).map_err(|e| ScaffoldError::Stack(e.to_string()))?;
    let stacks = source
        .validate_all()
        .map_err(|e| ScaffoldError::Stack(e.to_string()))?;
    for stack in &stacks {
        names::check_derived(stack)?;
    }
    Ok(())
}

pub(crate) fn write_files(root: &Path, files: &Files) -> Result<(), ScaffoldError> {
    for (rel, file) in files {
        write_file(&root.join(rel), file)?;
    }
    Ok(())
}

pub(crate) fn write_file(path: &Path, file: &AppFile) -> Result<(), ScaffoldError> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(path, &file.bytes).map_err(io(path))?;
    let mode = if file.executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io(path))
}

fn write_record(root: &Path, record: &Record) -> Result<(), ScaffoldError> {
    let text = format!(
        "# Written by `foundry new`, updated by `foundry upgrade`: the foundry version\n\
         # whose templates made this app (their output is in {SNAPSHOT}/, the\n\
         # merge base of the next upgrade) and the answers they were rendered with.\n{}",
        toml::to_string(record).expect("the record serialises")
    );
    let path = root.join(RECORD);
    write_file(
        &path,
        &AppFile {
            bytes: text.into_bytes(),
            executable: false,
        },
    )
}

pub fn read_record(root: &Path) -> Result<Record, ScaffoldError> {
    let path = root.join(RECORD);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ScaffoldError::NotAnApp(root.to_path_buf()));
        }
        Err(e) => {
            return Err(ScaffoldError::Record {
                path,
                message: e.to_string(),
            });
        }
    };
    toml::from_str(&text).map_err(|e| ScaffoldError::Record {
        path,
        message: e.message().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(name: &str) -> Answers {
        Answers {
            name: name.into(),
            region: "eu-west-2".into(),
            github: Some("acme/app".into()),
            compute: "apprunner".into(),
        }
    }

    #[test]
    fn the_stack_file_is_the_reference_renamed_and_validates() {
        let dir = tempfile::tempdir().unwrap();
        let files = render(&answers("abcdefghijklmnopqrstuvwx"), VERSION).unwrap();
        write_files(dir.path(), &files).unwrap();
        validate_stack(&dir.path().join("foundry.toml")).unwrap();
        let stack = String::from_utf8(files["foundry.toml"].bytes.clone()).unwrap();
        assert!(stack.contains("name = \"abcdefghijklmnopqrstuvwx\""));
        assert!(stack.contains("region = \"eu-west-2\""));
        assert!(stack.contains("source = \"services/api\""));
        // --github names the repository whose workflows deploy; nothing
        // else of the reference stack's name is left.
        assert!(stack.contains("[ci]\ngithub = \"acme/app\""), "{stack}");
        assert!(
            !stack.replace("\"acme/app\"", "").contains("acme"),
            "{stack}"
        );
    }

    #[test]
    fn bundled_sources_come_without_build_outputs() {
        let files = render(&answers("acme"), VERSION).unwrap();
        for must in [
            "services/api/Cargo.toml",
            "services/ai/Cargo.toml",
            "services/pg-credentials/Cargo.toml",
            "localenv/Cargo.toml",
            "web/schema.graphql",
            "Cargo.toml",
            "Cargo.lock",
            ".gitignore",
            ".github/workflows/ci.yml",
            ".github/workflows/deploy.yml",
            "runbooks/README.md",
            "README.md",
        ] {
            assert!(files.contains_key(must), "{must} missing");
        }
        for path in files.keys() {
            for output in ["node_modules/", "target/", "dist/", "__generated__/"] {
                assert!(!path.contains(output), "{path} is a build output");
            }
            assert!(!path.ends_with(".j2"), "{path} was not rendered");
        }
    }
}
