//! A static service's build: running npm, and the built tree as foundry
//! uploads it (each file's key, content type, cache policy and hashes, and
//! the digest of the whole). Nothing here talks to AWS.

use std::path::{Path, PathBuf};
use std::process::Command;

use md5::Md5;
use sha2::{Digest, Sha256};

use super::WebError;
use crate::stack::sites::RELEASES_PREFIX;

/// Hashed files never change under their name: cached for a year.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Entry documents change with every release: always revalidated.
pub const NO_CACHE: &str = "no-cache";

/// The document CloudFront serves at `/` (its default root object) and, by
/// the viewer-request function, at every route of the app.
pub const INDEX: &str = "index.html";

/// Content types by extension (lowercase). Text types say their charset:
/// Vite writes UTF-8, and a browser guessing otherwise garbles it.
const CONTENT_TYPES: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("json", "application/json"),
    ("map", "application/json"),
    ("webmanifest", "application/manifest+json"),
    ("txt", "text/plain; charset=utf-8"),
    ("xml", "application/xml"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("ico", "image/vnd.microsoft.icon"),
    ("woff2", "font/woff2"),
    ("woff", "font/woff"),
    ("ttf", "font/ttf"),
    ("otf", "font/otf"),
    ("wasm", "application/wasm"),
    ("pdf", "application/pdf"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
    ("mp3", "audio/mpeg"),
];

/// What a file with no extension the table knows is served as.
pub const UNKNOWN_TYPE: &str = "application/octet-stream";

pub fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((_, ext)) = name.rsplit_once('.') else {
        return UNKNOWN_TYPE;
    };
    let ext = ext.to_ascii_lowercase();
    CONTENT_TYPES
        .iter()
        .find(|(e, _)| *e == ext)
        .map_or(UNKNOWN_TYPE, |(_, t)| t)
}

/// One file of a build.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct File {
    /// Its key in the bucket (and path under `dist`), `/`-separated.
    pub path: String,
    pub size: u64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// Hex MD-5 of the content: what S3 answers as the ETag of an object
    /// uploaded in one part, so a listing tells which files are there.
    pub md5: String,
    pub content_type: String,
    /// Under the hashed-assets directory: cached as immutable, uploaded
    /// before any entry document.
    pub immutable: bool,
}

impl File {
    pub fn cache_control(&self) -> &'static str {
        if self.immutable { IMMUTABLE } else { NO_CACHE }
    }
}

/// A built tree, ready to upload.
#[derive(Debug, Clone)]
pub struct Build {
    pub dir: PathBuf,
    /// Sorted by path.
    pub files: Vec<File>,
    /// `sha256:…` over every path and content.
    pub digest: String,
}

impl Build {
    /// The hex part of the digest: how the bucket names the release.
    pub fn digest_hex(&self) -> &str {
        hex_of(&self.digest)
    }

    pub fn immutable(&self) -> impl Iterator<Item = &File> {
        self.files.iter().filter(|f| f.immutable)
    }

    /// Entry documents, `index.html` last: the one that names the assets
    /// switches after everything else.
    pub fn entries(&self) -> Vec<&File> {
        let mut entries: Vec<&File> = self.files.iter().filter(|f| !f.immutable).collect();
        entries.sort_by_key(|f| (f.path == INDEX, f.path.clone()));
        entries
    }
}

pub fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// `npm ci` when `node_modules` is missing, then `npm run build` with `env`
/// added, in `project`. Output goes to `log` line by line.
pub fn npm_build(project: &Path, env: &[(&str, &str)], log: &dyn Fn(&str)) -> Result<(), WebError> {
    if !project.join("package.json").is_file() {
        return Err(WebError::Build(format!(
            "{} has no package.json; `source` of a static service names the npm project",
            project.display()
        )));
    }
    if !project.join("node_modules").is_dir() {
        run_npm(project, &["ci"], &[], log)?;
    }
    run_npm(project, &["run", "build"], env, log)
}

fn run_npm(
    project: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    log: &dyn Fn(&str),
) -> Result<(), WebError> {
    let shown = format!("npm {}", args.join(" "));
    log(&format!("{shown} in {}", project.display()));
    let out = Command::new("npm")
        .args(args)
        .envs(env.iter().copied())
        .current_dir(project)
        .output()
        .map_err(|e| {
            WebError::Build(format!(
                "could not run npm ({e}); install Node.js and npm, or deploy a build made elsewhere with --dist PATH"
            ))
        })?;
    if out.status.success() {
        return Ok(());
    }
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let last: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = last[last.len().saturating_sub(15)..].join("\n");
    Err(WebError::Build(format!(
        "`{shown}` failed in {} ({}); its last lines:\n{tail}",
        project.display(),
        out.status
    )))
}

/// Reads `dir` (the build's output) as a [`Build`]; `assets` is the
/// hashed-assets directory under it.
pub fn scan(dir: &Path, assets: &str) -> Result<Build, WebError> {
    if !dir.is_dir() {
        return Err(WebError::Build(format!(
            "{} is not a directory: the build wrote nothing there (check `dist` of the static service, or --dist)",
            dir.display()
        )));
    }
    let mut paths = Vec::new();
    walk(dir, dir, &mut paths)?;
    paths.sort();
    let assets = assets.trim_end_matches('/');
    let mut files = Vec::new();
    let mut whole = Sha256::new();
    for path in paths {
        if path.split('/').next() == Some(RELEASES_PREFIX) {
            return Err(WebError::Build(format!(
                "the build holds {path}, under `{RELEASES_PREFIX}/`, where the bucket keeps each release's record; rename it"
            )));
        }
        let bytes = std::fs::read(dir.join(&path)).map_err(|e| {
            WebError::Build(format!("cannot read {}: {e}", dir.join(&path).display()))
        })?;
        let sha256 = hex(&Sha256::digest(&bytes));
        whole.update(path.as_bytes());
        whole.update([0]);
        whole.update(sha256.as_bytes());
        whole.update([b'\n']);
        files.push(File {
            immutable: path.starts_with(&format!("{assets}/")),
            content_type: content_type(&path).to_string(),
            md5: hex(&Md5::digest(&bytes)),
            sha256,
            size: bytes.len() as u64,
            path,
        });
    }
    if !files.iter().any(|f| f.path == INDEX) {
        return Err(WebError::Build(format!(
            "{} has no {INDEX}: CloudFront serves it at `/` and at every route of the app",
            dir.display()
        )));
    }
    Ok(Build {
        dir: dir.to_owned(),
        files,
        digest: format!("sha256:{}", hex(&whole.finalize())),
    })
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), WebError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| WebError::Build(format!("cannot read {}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| WebError::Build(format!("{}: {e}", dir.display())))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| WebError::Build(format!("{}: {e}", path.display())))?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if kind.is_file() {
            let relative = path.strip_prefix(root).expect("under the root");
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_file_a_build_writes_has_its_type() {
        for (path, expected) in [
            ("index.html", "text/html; charset=utf-8"),
            ("assets/index-AbC123.js", "text/javascript; charset=utf-8"),
            ("assets/worker-1.mjs", "text/javascript; charset=utf-8"),
            ("assets/index-D4e.css", "text/css; charset=utf-8"),
            ("assets/index-AbC123.js.map", "application/json"),
            ("manifest.json", "application/json"),
            ("favicon.svg", "image/svg+xml"),
            ("logo.PNG", "image/png"),
            ("a/photo.jpg", "image/jpeg"),
            ("hero.webp", "image/webp"),
            ("favicon.ico", "image/vnd.microsoft.icon"),
            ("assets/inter-x.woff2", "font/woff2"),
            ("robots.txt", "text/plain; charset=utf-8"),
            ("assets/sql-1.wasm", "application/wasm"),
            ("LICENSE", UNKNOWN_TYPE),
            ("data.bin", UNKNOWN_TYPE),
        ] {
            assert_eq!(content_type(path), expected, "{path}");
        }
    }

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn the_digest_follows_paths_and_contents_and_nothing_else() {
        let a = tree(&[("index.html", "<html>"), ("assets/a-1.js", "1")]);
        let b = tree(&[("assets/a-1.js", "1"), ("index.html", "<html>")]);
        let moved = tree(&[("index.html", "<html>"), ("assets/a-2.js", "1")]);
        let changed = tree(&[("index.html", "<html> "), ("assets/a-1.js", "1")]);
        let digest = |d: &tempfile::TempDir| scan(d.path(), "assets").unwrap().digest;
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&moved));
        assert_ne!(digest(&a), digest(&changed));
    }

    #[test]
    fn hashed_assets_are_immutable_and_index_html_switches_last() {
        let d = tree(&[
            ("index.html", "<html>"),
            ("zz.txt", "z"),
            ("favicon.svg", "<svg/>"),
            ("assets/a-1.js", "1"),
            ("assets/b-2.css", "2"),
        ]);
        let build = scan(d.path(), "assets").unwrap();
        let immutable: Vec<&str> = build.immutable().map(|f| f.path.as_str()).collect();
        assert_eq!(immutable, ["assets/a-1.js", "assets/b-2.css"]);
        let entries: Vec<&str> = build.entries().iter().map(|f| f.path.as_str()).collect();
        assert_eq!(entries, ["favicon.svg", "zz.txt", "index.html"]);
        assert_eq!(build.files[0].md5, "c4ca4238a0b923820dcc509a6f75849b");
    }

    #[test]
    fn a_build_without_index_html_or_with_a_releases_directory_is_refused() {
        let no_index = tree(&[("main.html", "x")]);
        let err = scan(no_index.path(), "assets").unwrap_err().to_string();
        assert!(err.contains("has no index.html"), "{err}");
        let reserved = tree(&[("index.html", "x"), ("_releases/x", "y")]);
        let err = scan(reserved.path(), "assets").unwrap_err().to_string();
        assert!(err.contains("_releases/x"), "{err}");
    }
}
