//! `foundry upgrade`: the difference between the template output the app
//! was made from (`.foundry/template/`) and this foundry's output for the
//! same answers, merged into the app three-way, the way copier updates a
//! project. Only files whose template output changed are touched.

use std::path::{Path, PathBuf};

use super::render::{AppFile, Files, render};
use super::{
    SNAPSHOT, ScaffoldError, VERSION, git, io, read_record, write_file, write_files, write_record,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Upgraded {
    pub from: String,
    pub to: String,
    /// Files the template changed that the app had not: now the new version.
    pub updated: Vec<String>,
    /// Both changed in different places: merged cleanly.
    pub merged: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Left with conflict markers, or as the app had them; each says why.
    pub conflicts: Vec<Conflict>,
}

/// Refuses a dirty tree; otherwise merges and leaves the result
/// uncommitted for review.
pub fn upgrade(root: &Path) -> Result<Upgraded, ScaffoldError> {
    let record = read_record(root)?;
    if git::toplevel(root).is_none() {
        return Err(ScaffoldError::NotGit(root.to_path_buf()));
    }
    let dirty = git::uncommitted(root)?;
    if !dirty.is_empty() {
        let mut listed: Vec<&str> = dirty.iter().take(5).map(|l| l[3..].trim()).collect();
        if dirty.len() > 5 {
            listed.push("…");
        }
        return Err(ScaffoldError::Dirty(listed.join(", ")));
    }

    let base = read_tree(&root.join(SNAPSHOT))?;
    let new = render(&record.answers, VERSION)?;
    let scratch = tempfile::tempdir().map_err(io(Path::new("the temporary directory")))?;
    let labels = [
        "yours".to_string(),
        format!("template {}", record.foundry_version),
        format!("template {VERSION}"),
    ];
    let labels = [labels[0].as_str(), labels[1].as_str(), labels[2].as_str()];

    let mut report = Upgraded {
        from: record.foundry_version.clone(),
        to: VERSION.to_string(),
        ..Upgraded::default()
    };
    let paths: std::collections::BTreeSet<&String> = base.keys().chain(new.keys()).collect();
    for rel in paths {
        let (old, next) = (base.get(rel), new.get(rel));
        if old == next {
            continue;
        }
        let path = root.join(rel);
        let current = read_optional(&path)?;
        let conflict = |reason: &str| Conflict {
            path: rel.clone(),
            reason: reason.to_string(),
        };
        match (old, next, current) {
            (_, Some(next), Some(current)) if current == next.bytes => {
                // Already what the new template says (the mode may differ).
                write_file(&path, next)?;
            }
            (Some(old), None, Some(current)) => {
                if current == old.bytes {
                    std::fs::remove_file(&path).map_err(io(&path))?;
                    report.removed.push(rel.clone());
                } else {
                    report.conflicts.push(conflict(
                        "the template no longer has this file; your changed copy is kept",
                    ));
                }
            }
            (_, None, None) | (None, None, Some(_)) => {}
            (Some(_), Some(_), None) => report.conflicts.push(conflict(
                "you deleted this file and the template changed it; it stays deleted (the new version is in .foundry/template/)",
            )),
            (None, Some(next), None) => {
                write_file(&path, next)?;
                report.added.push(rel.clone());
            }
            (Some(old), Some(next), Some(current)) if current == old.bytes => {
                write_file(&path, next)?;
                report.updated.push(rel.clone());
            }
            (old, Some(next), Some(current)) => {
                let old_bytes = old.map(|o| o.bytes.as_slice()).unwrap_or_default();
                let text = |b: &[u8]| std::str::from_utf8(b).is_ok();
                if !(text(&current) && text(old_bytes) && text(&next.bytes)) {
                    report.conflicts.push(conflict(
                        "a binary file both you and the template changed; yours is kept (the new version is in .foundry/template/)",
                    ));
                    continue;
                }
                let (merged, conflicted) =
                    git::merge_file(scratch.path(), &current, old_bytes, &next.bytes, labels)?;
                write_file(
                    &path,
                    &AppFile {
                        bytes: merged,
                        executable: next.executable,
                    },
                )?;
                if conflicted {
                    report.conflicts.push(conflict(if old.is_none() {
                        "the template adds this file and yours differs: conflict markers"
                    } else {
                        "you and the template changed the same lines: conflict markers"
                    }));
                } else {
                    report.merged.push(rel.clone());
                }
            }
        }
    }

    let snapshot = root.join(SNAPSHOT);
    std::fs::remove_dir_all(&snapshot).map_err(io(&snapshot))?;
    write_files(&snapshot, &new)?;
    write_record(
        root,
        &super::Record {
            foundry_version: VERSION.to_string(),
            answers: record.answers,
        },
    )?;
    Ok(report)
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, ScaffoldError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

/// Every file under `dir`, by path relative to it.
fn read_tree(dir: &Path) -> Result<Files, ScaffoldError> {
    use std::os::unix::fs::PermissionsExt;
    fn walk(root: &Path, dir: &Path, out: &mut Files) -> Result<(), ScaffoldError> {
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let path: PathBuf = entry.map_err(io(dir))?.path();
            let meta = std::fs::metadata(&path).map_err(io(&path))?;
            if meta.is_dir() {
                walk(root, &path, out)?;
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(
                    rel,
                    AppFile {
                        bytes: std::fs::read(&path).map_err(io(&path))?,
                        executable: meta.permissions().mode() & 0o111 != 0,
                    },
                );
            }
        }
        Ok(())
    }
    let mut out = Files::new();
    if dir.is_dir() {
        walk(dir, dir, &mut out)?;
    }
    Ok(out)
}
