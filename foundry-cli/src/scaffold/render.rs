//! What an app consists of for a set of answers: the bundled sources as
//! they are, `templates/` rendered with minijinja, and the files made from
//! foundry's own workspace (manifest, lock file, reference stack).

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use super::embedded::{BUNDLED, REFERENCE_STACK, TEMPLATES, WORKSPACE_LOCK, WORKSPACE_MANIFEST};
use super::{Answers, ScaffoldError};

/// The crates of the app's workspace, at the paths foundry keeps them.
pub const MEMBERS: &[&str] = &[
    "services/api",
    "services/ai",
    "services/pg-credentials",
    "localenv",
];

/// One file of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppFile {
    pub bytes: Vec<u8>,
    pub executable: bool,
}

/// Every file of the app by path (`/`-separated, relative to its root).
pub type Files = BTreeMap<String, AppFile>;

#[derive(Serialize)]
struct Context<'a> {
    name: &'a str,
    region: &'a str,
    github: Option<&'a str>,
    compute: &'a str,
    foundry_version: &'a str,
    workspace_manifest: String,
    stack: String,
    openai_sdk_version: String,
}

pub fn render(answers: &Answers, foundry_version: &str) -> Result<Files, ScaffoldError> {
    let mut files = Files::new();
    for f in BUNDLED {
        let bytes = match f.path {
            "localenv/Cargo.toml" => without_dev_dependencies(f.bytes),
            _ => f.bytes.to_vec(),
        };
        files.insert(
            f.path.to_string(),
            AppFile {
                bytes,
                executable: f.executable,
            },
        );
    }
    let member_names: Vec<&str> = MEMBERS
        .iter()
        .map(|m| m.rsplit('/').next().unwrap())
        .collect();
    files.insert(
        "Cargo.lock".into(),
        AppFile {
            bytes: super::lockfile::subset(WORKSPACE_LOCK, &member_names).into_bytes(),
            executable: false,
        },
    );

    let context = Context {
        name: &answers.name,
        region: &answers.region,
        github: answers.github.as_deref(),
        compute: &answers.compute,
        foundry_version,
        workspace_manifest: workspace_manifest(),
        stack: stack_file(answers),
        openai_sdk_version: openai_sdk_version(),
    };
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    for t in TEMPLATES {
        let Some(template) = t.path.strip_suffix(".j2") else {
            files.insert(
                app_path(t.path),
                AppFile {
                    bytes: t.bytes.to_vec(),
                    executable: t.executable,
                },
            );
            continue;
        };
        let source = std::str::from_utf8(t.bytes).map_err(|_| ScaffoldError::Template {
            path: t.path.to_string(),
            message: "not UTF-8".into(),
        })?;
        let rendered = env
            .render_str(source, &context)
            .map_err(|e| ScaffoldError::Template {
                path: t.path.to_string(),
                message: format!("{e:#}"),
            })?;
        files.insert(
            app_path(template),
            AppFile {
                bytes: rendered.into_bytes(),
                executable: t.executable,
            },
        );
    }
    settle_lock(&mut files);
    Ok(files)
}

/// The subset of foundry's lock file still names packages that only
/// foundry's features pull in, and versions where foundry has two; cargo
/// drops those on its first resolve without changing any version. Letting
/// cargo resolve once here gives the lock file the first build keeps:
/// `cargo update --workspace --offline` re-locks only the app's own crates
/// and needs nothing but the registry index foundry's build left (`cargo
/// metadata` would also want every platform's packages downloaded, which a
/// machine that only built foundry lacks). Without cargo, the subset stays
/// and the first build settles it.
fn settle_lock(files: &mut Files) {
    let Ok(scratch) = tempfile::tempdir() else {
        return;
    };
    if super::write_files(scratch.path(), files).is_err() {
        return;
    }
    let resolved = std::process::Command::new("cargo")
        .args(["update", "--workspace", "--offline", "--manifest-path"])
        .arg(scratch.path().join("Cargo.toml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if resolved && let Ok(lock) = std::fs::read(scratch.path().join("Cargo.lock")) {
        files.insert(
            "Cargo.lock".into(),
            AppFile {
                bytes: lock,
                executable: false,
            },
        );
    }
}

/// localenv's manifest without the dev-dependencies of its own test suite
/// (not bundled: see build.rs), which would build every AWS SDK foundry uses.
fn without_dev_dependencies(manifest: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(manifest).expect("localenv/Cargo.toml is UTF-8");
    let mut doc: toml_edit::DocumentMut = text.parse().expect("localenv/Cargo.toml is TOML");
    doc.remove("dev-dependencies");
    doc.to_string().into_bytes()
}

/// `dot-github/workflows/ci.yml` → `.github/workflows/ci.yml`: templates
/// keep their dot-files visible and out of foundry's own git and CI.
fn app_path(template: &str) -> String {
    template
        .split('/')
        .map(|part| match part.strip_prefix("dot-") {
            Some(rest) => format!(".{rest}"),
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// foundry's workspace manifest with the app's members: the same shared
/// dependency versions, package metadata and profiles.
fn workspace_manifest() -> String {
    let mut doc: toml_edit::DocumentMut = WORKSPACE_MANIFEST
        .parse()
        .expect("foundry's Cargo.toml is TOML");
    let members: toml_edit::Array = MEMBERS.iter().copied().collect();
    doc["workspace"]["members"] = toml_edit::value(members);
    doc.to_string().trim_start().to_string()
}

/// The reference stack named after the app, in its region, building the
/// app's own service crates and running on the chosen compute target.
fn stack_file(answers: &Answers) -> String {
    // The reference stack is written for a stack named `acme` (its name,
    // its example origins and addresses).
    let text = REFERENCE_STACK.replace("acme", &answers.name);
    let mut doc: toml_edit::DocumentMut = text.parse().expect("stacks/reference.toml is TOML");
    doc["region"] = toml_edit::value(answers.region.as_str());
    if let Some(services) = doc["services"].as_table_like_mut() {
        for (name, service) in services.iter_mut() {
            if let Some(table) = service.as_table_like_mut()
                && table.contains_key("source")
            {
                table.insert("source", toml_edit::value(format!("services/{name}")));
            }
        }
    }
    let mut compute = toml_edit::Table::new();
    compute.insert("target", toml_edit::value(answers.compute.as_str()));
    compute
        .decor_mut()
        .set_prefix("\n# Where the services run.\n");
    doc.insert("compute", toml_edit::Item::Table(compute));
    // The header comment named the reference stack; the template says what the file is.
    let text = doc.to_string();
    let body = text
        .lines()
        .skip_while(|l| l.starts_with('#') || l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    body + "\n"
}

/// The openai SDK version the ai service's tests pin, for the app's CI.
fn openai_sdk_version() -> String {
    let tests = BUNDLED
        .iter()
        .find(|f| f.path == "services/ai/tests/api/openai_sdk.rs")
        .map(|f| String::from_utf8_lossy(f.bytes).into_owned())
        .unwrap_or_default();
    tests
        .lines()
        .find_map(|l| l.strip_prefix("const PYTHON_SDK_VERSION: &str = \""))
        .and_then(|rest| rest.strip_suffix("\";"))
        .expect("services/ai/tests/api/openai_sdk.rs pins PYTHON_SDK_VERSION")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_prefixes_become_dots() {
        assert_eq!(
            app_path("dot-github/workflows/ci.yml"),
            ".github/workflows/ci.yml"
        );
        assert_eq!(app_path("dot-gitignore"), ".gitignore");
        assert_eq!(app_path("runbooks/README.md"), "runbooks/README.md");
    }
}
