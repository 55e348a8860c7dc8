//! Embeds what `foundry new` writes into every app: the bundled crates and
//! web client (the same sources foundry builds and tests, never a second
//! copy) and the per-app templates of `templates/`. Build outputs and
//! installed packages are left out.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Directories of the workspace copied into every app, at the same paths,
/// so path dependencies and the tests' relative paths (`../../web`) hold.
const BUNDLED: &[&str] = &[
    "services/api",
    "services/ai",
    "services/pg-credentials",
    "localenv",
    "web",
];

/// Names of directories and files that are outputs, not sources (the
/// .gitignore files of the bundled directories name the same ones).
const EXCLUDED: &[&str] = &[
    "target",
    "node_modules",
    "dist",
    "__generated__",
    "artifacts",
    "persisted-queries.json",
    ".venv",
    "__pycache__",
];

/// Paths (from the workspace root) left out: localenv's own test suite
/// exercises foundry's fault proxy against every AWS SDK; apps use localenv
/// only to start Postgres and moto in their tests.
const EXCLUDED_PATHS: &[&str] = &["localenv/tests"];

struct File {
    /// Path in the app, `/`-separated.
    rel: String,
    abs: PathBuf,
    executable: bool,
}

/// Files under `dir` (sorted, so the generated code is stable); returns
/// whether anything was excluded below it.
fn walk(root: &Path, dir: &Path, out: &mut Vec<File>, watched: &mut Vec<PathBuf>) -> bool {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let mut excluded_below = false;
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if EXCLUDED.contains(&name.as_str())
            || name.ends_with(".swp")
            || EXCLUDED_PATHS.contains(&rel.as_str())
        {
            excluded_below = true;
            continue;
        }
        let meta = std::fs::metadata(&path).unwrap();
        if meta.is_dir() {
            excluded_below |= walk(root, &path, out, watched);
        } else {
            out.push(File {
                rel,
                executable: meta.permissions().mode() & 0o111 != 0,
                abs: path.clone(),
            });
            watched.push(path);
        }
    }
    // cargo watches a directory recursively, outputs included; only
    // directories without outputs below are watched, for added files.
    if !excluded_below {
        watched.push(dir.to_path_buf());
    }
    excluded_below
}

fn table(name: &str, files: &[File]) -> String {
    let mut code = format!("pub static {name}: &[super::Embedded] = &[\n");
    for f in files {
        writeln!(
            code,
            "    super::Embedded {{ path: {:?}, bytes: include_bytes!({:?}), executable: {} }},",
            f.rel, f.abs, f.executable
        )
        .unwrap();
    }
    code.push_str("];\n");
    code
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest.parent().unwrap().to_path_buf();
    let mut watched = Vec::new();

    let mut bundled = Vec::new();
    for dir in BUNDLED {
        walk(&workspace, &workspace.join(dir), &mut bundled, &mut watched);
    }
    let templates_root = workspace.join("templates");
    let mut templates = Vec::new();
    walk(
        &templates_root,
        &templates_root,
        &mut templates,
        &mut watched,
    );

    let code = table("BUNDLED", &bundled) + &table("TEMPLATES", &templates);
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded.rs");
    std::fs::write(&out, code).unwrap();
    for path in watched {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    println!("cargo:rerun-if-changed=build.rs");
}
