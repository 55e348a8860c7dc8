//! The commit an image comes from: its tag, its revision label and its fixed
//! timestamp.

use std::path::Path;
use std::process::Command;

use crate::GitError;

/// HEAD of the repository holding a crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// Full commit sha.
    pub sha: String,
    /// The work tree differs from HEAD (changed, staged or untracked files).
    pub dirty: bool,
    /// Committer time of HEAD, seconds since 1970.
    pub commit_time: u64,
    /// `origin`'s URL without any user or password in it, if there is one.
    pub source_url: Option<String>,
}

impl Revision {
    /// Reads HEAD and the work tree's state of the repository containing `dir`.
    pub fn of(dir: &Path) -> Result<Revision, GitError> {
        let no_commit = |detail: String| GitError::NoCommit {
            dir: dir.to_owned(),
            detail,
        };
        let head = match git(dir, &["log", "-1", "--format=%H %ct"]) {
            Ok(Some(head)) => head,
            Ok(None) => return Err(no_commit("git log found no commit".into())),
            Err(GitError::Output(detail)) => return Err(no_commit(detail)),
            Err(other) => return Err(other),
        };
        let (sha, time) = head
            .trim()
            .split_once(' ')
            .ok_or_else(|| GitError::Output(format!("unexpected `git log` output {head:?}")))?;
        let commit_time = time
            .parse()
            .map_err(|_| GitError::Output(format!("commit time {time:?}")))?;
        let status =
            git(dir, &["status", "--porcelain", "--untracked-files=normal"])?.unwrap_or_default();
        let source_url = git(dir, &["remote", "get-url", "origin"])
            .ok()
            .flatten()
            .map(|url| without_credentials(url.trim()))
            .filter(|url| !url.is_empty());
        Ok(Revision {
            sha: sha.to_owned(),
            dirty: !status.trim().is_empty(),
            commit_time,
            source_url,
        })
    }

    /// `<sha>`, or `<sha>-dirty` when the tree had uncommitted changes.
    pub fn tag(&self) -> String {
        if self.dirty {
            format!("{}-dirty", self.sha)
        } else {
            self.sha.clone()
        }
    }

    /// The image's timestamp: `SOURCE_DATE_EPOCH` when set (the
    /// reproducible-builds convention), else HEAD's commit time — never the
    /// clock, which would change the digest on every build.
    pub fn source_date_epoch(&self) -> Result<u64, GitError> {
        source_date_epoch(
            std::env::var("SOURCE_DATE_EPOCH").ok().as_deref(),
            self.commit_time,
        )
    }
}

fn source_date_epoch(env_value: Option<&str>, commit_time: u64) -> Result<u64, GitError> {
    match env_value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(value) => value
            .parse()
            .map_err(|_| GitError::BadSourceDateEpoch(value.to_owned())),
        None => Ok(commit_time),
    }
}

/// Runs git in `dir`; `Ok(None)` for empty output, `Err(Output)` with git's
/// message when it fails.
fn git(dir: &Path, args: &[&str]) -> Result<Option<String>, GitError> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(GitError::NotRunnable)?;
    if !output.status.success() {
        return Err(GitError::Output(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    Ok((!text.trim().is_empty()).then_some(text))
}

/// `https://user:token@host/x` → `https://host/x`: a label must never carry
/// a secret.
fn without_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, args: &[&str]) {
        let status = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_DATE", "1700000000 +0000")
            .env("GIT_COMMITTER_DATE", "1700000000 +0000")
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    #[test]
    fn revision_reads_head_and_turns_dirty_with_any_change() {
        let dir = tempfile::tempdir().unwrap();
        let err = Revision::of(dir.path()).unwrap_err();
        assert!(matches!(err, GitError::NoCommit { .. }), "{err}");

        run(dir.path(), &["init", "-q"]);
        run(
            dir.path(),
            &[
                "remote",
                "add",
                "origin",
                "https://someone:s3cret@example.com/acme/app.git",
            ],
        );
        std::fs::write(dir.path().join("a.txt"), "one").unwrap();
        run(dir.path(), &["add", "a.txt"]);
        run(
            dir.path(),
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@e",
                "commit",
                "-q",
                "-m",
                "first",
            ],
        );

        let clean = Revision::of(dir.path()).unwrap();
        assert_eq!(clean.sha.len(), 40);
        assert!(!clean.dirty);
        assert_eq!(clean.tag(), clean.sha);
        assert_eq!(clean.commit_time, 1_700_000_000);
        assert_eq!(
            clean.source_url.as_deref(),
            Some("https://example.com/acme/app.git")
        );

        std::fs::write(dir.path().join("untracked.txt"), "new").unwrap();
        let dirty = Revision::of(dir.path()).unwrap();
        assert!(dirty.dirty);
        assert_eq!(dirty.tag(), format!("{}-dirty", clean.sha));
    }

    #[test]
    fn source_date_epoch_prefers_the_environment_and_rejects_garbage() {
        assert_eq!(source_date_epoch(None, 5).unwrap(), 5);
        assert_eq!(source_date_epoch(Some(""), 5).unwrap(), 5);
        assert_eq!(source_date_epoch(Some("1234"), 5).unwrap(), 1234);
        assert!(matches!(
            source_date_epoch(Some("yesterday"), 5),
            Err(GitError::BadSourceDateEpoch(_))
        ));
    }

    #[test]
    fn credentials_are_stripped_from_urls() {
        for (url, clean) in [
            (
                "https://u:p@github.com/a/b.git",
                "https://github.com/a/b.git",
            ),
            ("https://github.com/a/b", "https://github.com/a/b"),
            ("ssh://git@host:22/a", "ssh://host:22/a"),
            ("git@github.com:a/b.git", "git@github.com:a/b.git"),
        ] {
            assert_eq!(without_credentials(url), clean);
        }
    }
}
