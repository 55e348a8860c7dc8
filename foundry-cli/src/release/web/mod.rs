//! Releases of a static service: its built files in the CDN's web bucket.
//!
//! A visitor must never get an `index.html` naming assets that are not
//! there yet, so a deploy goes in this order:
//! 1. hashed assets (`assets/…`, `Cache-Control: public, max-age=31536000,
//!    immutable`), each uploaded only if the bucket lacks that content;
//! 2. the release's entry documents staged under `_releases/<digest>/`
//!    (`no-cache`), then its `manifest.json` (every file of the build), which
//!    marks the release complete;
//! 3. recorded in the history as in progress, then the switch: each entry
//!    document copied from its staged key to its live one, `index.html` last;
//! 4. one CloudFront invalidation of `/`, `/index.html` and any other entry
//!    document that changed, its CallerReference derived from the release
//!    number and digest, so a retried request makes no second one;
//! 5. the release recorded as succeeded, then the files of releases beyond
//!    `keep_releases` deleted (assets no kept release names, their
//!    `_releases/` records last).
//!
//! A rollback is steps 3-5 with a kept release's staged documents: no build.

mod files;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

pub use files::{Build, File, IMMUTABLE, INDEX, NO_CACHE, content_type, scan};

use super::history::{Outcome, ReleaseKind, SiteRelease};
use super::{History, ReleaseError, ReleaseProgress, load, save};
use crate::aws;
use crate::engine::Session;
use crate::engine::expand::ids;
use crate::resources::ResourceType;
use crate::resources::bucket;
use crate::resources::distribution::Distribution;
use crate::stack::Site;
use crate::stack::sites::RELEASES_PREFIX;

/// Uploads in flight at once.
const UPLOADS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("{0}")]
    Build(String),
    #[error("{0}")]
    NotUp(String),
    #[error("{0}")]
    NoTarget(String),
    #[error("{0}")]
    Corrupt(String),
}

/// Where a deploy's files come from.
#[derive(Debug, Clone)]
pub enum BuildChoice {
    /// `npm ci` (if `node_modules` is missing) and `npm run build` in the
    /// service's `source`, relative to `stack_dir`.
    Npm { stack_dir: PathBuf },
    /// A build made already: its output directory.
    Dist(PathBuf),
}

/// What a static service's release did.
#[derive(Debug, Clone, Serialize)]
pub struct SiteDeployed {
    /// The release now current (`None` when the build was live already and
    /// nothing was recorded).
    pub number: Option<u32>,
    pub service: String,
    pub digest: String,
    pub bucket: String,
    /// Keys written, in order.
    pub uploaded: Vec<String>,
    /// Files the bucket held already.
    pub unchanged: usize,
    /// Entry documents copied live, in order (`index.html` last).
    pub switched: Vec<String>,
    pub invalidation: Option<Invalidation>,
    /// Releases (digests) whose files were deleted, beyond `keep_releases`.
    pub pruned: Vec<String>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Invalidation {
    pub id: String,
    pub caller_reference: String,
    pub paths: Vec<String>,
}

/// `_releases/<digest>/manifest.json`: every file of one build.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    digest: String,
    files: Vec<File>,
}

fn release_prefix(digest: &str) -> String {
    format!("{RELEASES_PREFIX}/{}/", files::hex_of(digest))
}

fn manifest_key(digest: &str) -> String {
    format!("{}manifest.json", release_prefix(digest))
}

/// Where an entry document of release `digest` is staged.
fn staged_key(digest: &str, path: &str) -> String {
    format!("{}{path}", release_prefix(digest))
}

/// The static service `name`, or why there is none.
pub fn site<'a>(session: &'a Session, name: &str) -> Result<&'a Site, WebError> {
    session
        .stack
        .sites
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| WebError::NoTarget(format!("`{name}` is not a static service")))
}

/// The bucket's full name and the distribution's id, or a sentence saying
/// `up` must run first.
async fn target(session: &Session, site: &Site) -> Result<(String, String), ReleaseError> {
    let account = aws::account_id(&session.aws).await?;
    let bucket = bucket::bucket_name(&session.scope, &site.bucket, &account);
    let exists = session.aws.s3.head_bucket().bucket(&bucket).send().await;
    if exists.is_err() {
        return Err(WebError::NotUp(format!(
            "static service `{}` goes to bucket {bucket}, which does not exist (or is not readable) in {}/{}: run `foundry up --env {}` first",
            site.name, session.stack.name, session.stack.env, session.stack.env
        ))
        .into());
    }
    let found = Distribution.observe(&session.aws, &session.scope).await?;
    let distribution = found
        .iter()
        .find(|o| o.id == ids::DISTRIBUTION)
        .and_then(|o| o.attrs.get("id").cloned())
        .ok_or_else(|| {
            WebError::NotUp(format!(
                "{}/{} has no CloudFront distribution yet to serve static service `{}`: run `foundry up --env {}` first (the distribution waits for its api origin)",
                session.stack.name, session.stack.env, site.name, session.stack.env
            ))
        })?;
    Ok((bucket, distribution))
}

/// Builds (or takes) static service `name`'s files and makes them what the
/// CDN serves, as one release.
pub async fn deploy_site(
    session: &Session,
    name: &str,
    choice: &BuildChoice,
    progress: &dyn ReleaseProgress,
) -> Result<SiteDeployed, ReleaseError> {
    let started = Instant::now();
    let site = site(session, name)?;
    let dir = match choice {
        BuildChoice::Dist(dir) => dir.clone(),
        BuildChoice::Npm { stack_dir } => {
            let source = site.source.as_ref().ok_or_else(|| {
                WebError::Build(format!(
                    "static service `{name}` has no `source` to build: add source = \"web\" (the npm project, relative to the stack file) to [services.{name}], or deploy a build made elsewhere with --dist PATH"
                ))
            })?;
            let project = stack_dir.join(source);
            // The client signs in with Clerk when built with its key.
            let env: Vec<(&str, &str)> = session
                .stack
                .auth
                .as_ref()
                .and_then(|a| a.publishable_key.as_deref())
                .map(|key| ("VITE_CLERK_PUBLISHABLE_KEY", key))
                .into_iter()
                .collect();
            files::npm_build(&project, &env, &|line| progress.site_step(name, line))?;
            project.join(&site.dist)
        }
    };
    let build = scan(&dir, &site.assets)?;
    progress.site_step(
        name,
        &format!(
            "build {} ({} files, {} entry documents)",
            build.digest,
            build.files.len(),
            build.entries().len()
        ),
    );
    let (bucket, distribution) = target(session, site).await?;
    let held = aws::s3::list(&session.aws, &bucket, "").await?;
    let mut out = SiteDeployed {
        number: None,
        service: name.to_owned(),
        digest: build.digest.clone(),
        bucket: bucket.clone(),
        uploaded: Vec::new(),
        unchanged: 0,
        switched: Vec::new(),
        invalidation: None,
        pruned: Vec::new(),
        seconds: 0.0,
    };
    upload(session, &bucket, &build, &held, &mut out, progress).await?;

    let mut history = load(&session.state).await?;
    let manifest = Manifest {
        digest: build.digest.clone(),
        files: build.files.clone(),
    };
    let live = aws::s3::list(&session.aws, &bucket, "").await?;
    let pending = to_switch(&manifest, &live);
    let current = history
        .current()
        .and_then(|r| r.sites.get(name))
        .map(|s| s.digest.clone());
    let resuming = history
        .releases
        .last()
        .is_some_and(|r| r.outcome == Outcome::InProgress);
    if current.as_deref() == Some(build.digest.as_str()) && pending.is_empty() && !resuming {
        progress.site_step(name, "this build is live already: nothing to switch");
        out.number = history.current().map(|r| r.number);
        out.seconds = started.elapsed().as_secs_f64();
        return Ok(out);
    }
    let record = SiteRelease {
        digest: build.digest.clone(),
        files: build.files.len(),
        invalidation: None,
    };
    let by = aws::caller_arn(&session.aws).await?;
    let before = history.releases.len();
    let number = history.begin_site(ReleaseKind::Deploy, name, record, &by, &now());
    save(&session.state, &history).await?;
    progress.release_begun(number, history.releases.len() == before);
    let previous = previous_manifest(session, &bucket, &history, name, number).await?;
    switch(
        session,
        Switch {
            bucket: &bucket,
            distribution: &distribution,
            number,
            name,
            manifest: &manifest,
            previous: previous.as_ref(),
        },
        &mut history,
        &mut out,
        progress,
    )
    .await?;
    out.pruned = prune(session, &bucket, &history, site, progress).await?;
    out.seconds = started.elapsed().as_secs_f64();
    Ok(out)
}

/// Returns static service `name` to release `to` (default: the newest
/// succeeded one serving another build), from the files the bucket kept.
pub async fn rollback_site(
    session: &Session,
    name: &str,
    to: Option<u32>,
    progress: &dyn ReleaseProgress,
) -> Result<SiteDeployed, ReleaseError> {
    let started = Instant::now();
    let site = site(session, name)?;
    let mut history = load(&session.state).await?;
    let current = history.current().cloned().ok_or_else(|| {
        WebError::NoTarget(
            "nothing has been deployed to this environment yet, so there is nothing to roll back"
                .into(),
        )
    })?;
    let target_release = match to {
        Some(n) => {
            let release = history.get(n).ok_or_else(|| {
                WebError::NoTarget(format!(
                    "there is no release {n}; `foundry releases {name}` lists them"
                ))
            })?;
            if release.outcome != Outcome::Succeeded {
                return Err(WebError::NoTarget(format!(
                    "release {n} did not succeed, so it is not a state to return to; pick one that did from `foundry releases {name}`"
                ))
                .into());
            }
            release.clone()
        }
        None => history.previous_site(name).cloned().ok_or_else(|| {
            WebError::NoTarget(format!(
                "release {} serves the only build of `{name}` that succeeded; there is nothing earlier to roll back to",
                current.number
            ))
        })?,
    };
    let wanted = target_release.sites.get(name).cloned().ok_or_else(|| {
        WebError::NoTarget(format!(
            "release {} did not serve static service `{name}`",
            target_release.number
        ))
    })?;
    let (bucket, distribution) = target(session, site).await?;
    let manifest = read_manifest(session, &bucket, &wanted.digest)
        .await?
        .ok_or_else(|| {
            WebError::NoTarget(format!(
                "the files of release {} ({}) are no longer in bucket {bucket}: only the newest {} builds are kept (keep_releases); deploy it again from its source instead",
                target_release.number, wanted.digest, site.keep_releases
            ))
        })?;
    let held = aws::s3::list(&session.aws, &bucket, "").await?;
    let missing: Vec<String> = manifest
        .files
        .iter()
        .map(|f| {
            if f.immutable {
                f.path.clone()
            } else {
                staged_key(&manifest.digest, &f.path)
            }
        })
        .filter(|key| !held.contains_key(key))
        .collect();
    if !missing.is_empty() {
        return Err(WebError::Corrupt(format!(
            "release {} cannot be served again: bucket {bucket} lacks {} of its files ({}); deploy it again from its source instead",
            target_release.number,
            missing.len(),
            missing.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        ))
        .into());
    }
    let mut out = SiteDeployed {
        number: None,
        service: name.to_owned(),
        digest: wanted.digest.clone(),
        bucket: bucket.clone(),
        uploaded: Vec::new(),
        unchanged: manifest.files.len(),
        switched: Vec::new(),
        invalidation: None,
        pruned: Vec::new(),
        seconds: 0.0,
    };
    let record = SiteRelease {
        invalidation: None,
        ..wanted
    };
    let by = aws::caller_arn(&session.aws).await?;
    let before = history.releases.len();
    let kind = ReleaseKind::Rollback {
        to: target_release.number,
    };
    let number = history.begin_site(kind, name, record, &by, &now());
    save(&session.state, &history).await?;
    progress.release_begun(number, history.releases.len() == before);
    let previous = previous_manifest(session, &bucket, &history, name, number).await?;
    switch(
        session,
        Switch {
            bucket: &bucket,
            distribution: &distribution,
            number,
            name,
            manifest: &manifest,
            previous: previous.as_ref(),
        },
        &mut history,
        &mut out,
        progress,
    )
    .await?;
    out.pruned = prune(session, &bucket, &history, site, progress).await?;
    out.seconds = started.elapsed().as_secs_f64();
    Ok(out)
}

/// Steps 1 and 2: what the bucket lacks of `build`, assets first, the
/// manifest last.
async fn upload(
    session: &Session,
    bucket: &str,
    build: &Build,
    held: &BTreeMap<String, String>,
    out: &mut SiteDeployed,
    progress: &dyn ReleaseProgress,
) -> Result<(), ReleaseError> {
    let staged: Vec<(String, &File)> = build
        .entries()
        .into_iter()
        .map(|f| (staged_key(&build.digest, &f.path), f))
        .collect();
    let assets: Vec<(String, &File)> = build.immutable().map(|f| (f.path.clone(), f)).collect();
    for batch in [assets, staged] {
        let (present, missing): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .partition(|(key, f)| held.get(key) == Some(&f.md5));
        out.unchanged += present.len();
        let total = missing.len();
        let done: Vec<String> = futures::stream::iter(missing.into_iter().enumerate().map(
            |(i, (key, file))| async move {
                let body = std::fs::read(build.dir.join(&file.path)).map_err(|e| {
                    WebError::Build(format!(
                        "cannot read {}: {e}",
                        build.dir.join(&file.path).display()
                    ))
                })?;
                aws::s3::put(
                    &session.aws,
                    bucket,
                    &key,
                    body,
                    &file.content_type,
                    file.cache_control(),
                )
                .await?;
                progress.uploaded(&key, file.size, i + 1, total);
                Ok::<_, ReleaseError>(key)
            },
        ))
        .buffered(UPLOADS)
        .try_collect()
        .await?;
        out.uploaded.extend(done);
    }
    let key = manifest_key(&build.digest);
    if !held.contains_key(&key) {
        let manifest = Manifest {
            digest: build.digest.clone(),
            files: build.files.clone(),
        };
        let body = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
        aws::s3::put(
            &session.aws,
            bucket,
            &key,
            body,
            "application/json",
            NO_CACHE,
        )
        .await?;
        out.uploaded.push(key);
    }
    Ok(())
}

/// Entry documents whose live object is not the release's (by ETag).
fn to_switch<'a>(manifest: &'a Manifest, live: &BTreeMap<String, String>) -> Vec<&'a File> {
    let mut entries: Vec<&File> = manifest.files.iter().filter(|f| !f.immutable).collect();
    entries.sort_by_key(|f| (f.path == INDEX, f.path.clone()));
    entries
        .into_iter()
        .filter(|f| live.get(&f.path) != Some(&f.md5))
        .collect()
}

async fn read_manifest(
    session: &Session,
    bucket: &str,
    digest: &str,
) -> Result<Option<Manifest>, ReleaseError> {
    let key = manifest_key(digest);
    let Some(bytes) = aws::s3::get(&session.aws, bucket, &key).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        WebError::Corrupt(format!(
            "s3://{bucket}/{key} is not a release manifest foundry wrote ({e}); delete it and deploy again"
        ))
        .into()
    })
}

/// The manifest of what `name` served in the current release before
/// `number`, if its record is still in the bucket.
async fn previous_manifest(
    session: &Session,
    bucket: &str,
    history: &History,
    name: &str,
    number: u32,
) -> Result<Option<Manifest>, ReleaseError> {
    let before = history
        .releases
        .iter()
        .rev()
        .filter(|r| r.number < number && r.outcome == Outcome::Succeeded)
        .find_map(|r| r.sites.get(name));
    match before {
        Some(s) => read_manifest(session, bucket, &s.digest).await,
        None => Ok(None),
    }
}

struct Switch<'a> {
    bucket: &'a str,
    distribution: &'a str,
    number: u32,
    name: &'a str,
    manifest: &'a Manifest,
    previous: Option<&'a Manifest>,
}

/// Steps 3 and 4, and the release's outcome.
async fn switch(
    session: &Session,
    s: Switch<'_>,
    history: &mut History,
    out: &mut SiteDeployed,
    progress: &dyn ReleaseProgress,
) -> Result<(), ReleaseError> {
    let result = switch_and_invalidate(session, &s, out, progress).await;
    match result {
        Ok(invalidation) => {
            history.set_invalidation(s.number, s.name, &invalidation.id);
            history.finish(s.number, Outcome::Succeeded, &now());
            save(&session.state, history).await?;
            out.number = Some(s.number);
            out.invalidation = Some(invalidation);
            Ok(())
        }
        // Left in progress: the documents switched so far are the new
        // release's, and the next run with the same intent resumes it.
        Err(e) => Err(e),
    }
}

async fn switch_and_invalidate(
    session: &Session,
    s: &Switch<'_>,
    out: &mut SiteDeployed,
    progress: &dyn ReleaseProgress,
) -> Result<Invalidation, ReleaseError> {
    aws::fault::point("before-switch", s.name).await;
    let live = aws::s3::list(&session.aws, s.bucket, "").await?;
    for file in to_switch(s.manifest, &live) {
        let from = staged_key(&s.manifest.digest, &file.path);
        aws::s3::copy(&session.aws, s.bucket, &from, &file.path).await?;
        progress.site_step(s.name, &format!("{} is live", file.path));
        out.switched.push(file.path.clone());
    }
    aws::fault::point("after-switch", s.name).await;
    let paths = invalidation_paths(s.manifest, s.previous);
    let caller_reference = format!(
        "foundry-{}-{}-{}-release-{}-{}",
        session.stack.name,
        session.stack.env,
        s.name,
        s.number,
        &files::hex_of(&s.manifest.digest)[..16]
    );
    let id = aws::cloudfront::invalidate(&session.aws, s.distribution, &caller_reference, &paths)
        .await?;
    progress.site_step(
        s.name,
        &format!("CloudFront invalidation {id}: {}", paths.join(" ")),
    );
    Ok(Invalidation {
        id,
        caller_reference,
        paths,
    })
}

/// `/` and `/index.html` always (the entry of every route), and every other
/// entry document that is new or differs from the previous release's:
/// hashed assets never need it. Derived from the manifests alone, so a
/// retried switch asks for exactly the same paths.
fn invalidation_paths(manifest: &Manifest, previous: Option<&Manifest>) -> Vec<String> {
    let mut paths = vec!["/".to_string(), format!("/{INDEX}")];
    let before: BTreeMap<&str, &str> = previous
        .map(|p| {
            p.files
                .iter()
                .map(|f| (f.path.as_str(), f.sha256.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let mut others: Vec<String> = manifest
        .files
        .iter()
        .filter(|f| !f.immutable && f.path != INDEX)
        .filter(|f| before.get(f.path.as_str()) != Some(&f.sha256.as_str()))
        .map(|f| format!("/{}", f.path))
        .collect();
    others.sort();
    paths.extend(others);
    paths
}

/// Step 5: deletes the files of builds beyond the newest `keep_releases`
/// that succeeded (and of builds that never did); returns their digests.
async fn prune(
    session: &Session,
    bucket: &str,
    history: &History,
    site: &Site,
    progress: &dyn ReleaseProgress,
) -> Result<Vec<String>, ReleaseError> {
    let kept: Vec<String> = history
        .site_digests(&site.name)
        .into_iter()
        .take(site.keep_releases as usize)
        .map(|d| files::hex_of(&d).to_string())
        .collect();
    let held = aws::s3::list(&session.aws, bucket, &format!("{RELEASES_PREFIX}/")).await?;
    let recorded: BTreeSet<String> = held
        .keys()
        .filter_map(|k| k.split('/').nth(1).map(str::to_string))
        .collect();
    // A release still in progress (another run's, resumed later) keeps its
    // files: only finished history decides.
    let in_progress: Vec<String> = history
        .releases
        .iter()
        .filter(|r| r.outcome == Outcome::InProgress)
        .filter_map(|r| r.sites.get(&site.name))
        .map(|s| files::hex_of(&s.digest).to_string())
        .collect();
    let doomed: Vec<&String> = recorded
        .iter()
        .filter(|d| !kept.contains(d) && !in_progress.contains(d))
        .collect();
    if doomed.is_empty() {
        return Ok(Vec::new());
    }
    let mut still_named = BTreeSet::new();
    for digest in kept.iter().chain(&in_progress) {
        if let Some(m) = read_manifest(session, bucket, digest).await? {
            still_named.extend(m.files.into_iter().filter(|f| f.immutable).map(|f| f.path));
        }
    }
    let mut pruned = Vec::new();
    for digest in doomed {
        let prefix = format!("{RELEASES_PREFIX}/{digest}/");
        let manifest = read_manifest(session, bucket, digest).await?;
        let assets: Vec<String> = manifest
            .map(|m| {
                m.files
                    .into_iter()
                    .filter(|f| f.immutable && !still_named.contains(&f.path))
                    .map(|f| f.path)
                    .collect()
            })
            .unwrap_or_default();
        aws::s3::delete(&session.aws, bucket, &assets).await?;
        // The record goes last, so an interrupted prune is finished by the
        // next run, which still finds what the release named.
        let mut record: Vec<String> = held
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect();
        record.sort_by_key(|k| k.ends_with("/manifest.json"));
        let (files, manifest_key): (Vec<String>, Vec<String>) = record
            .into_iter()
            .partition(|k| !k.ends_with("/manifest.json"));
        aws::s3::delete(&session.aws, bucket, &files).await?;
        aws::s3::delete(&session.aws, bucket, &manifest_key).await?;
        progress.site_step(
            &site.name,
            &format!(
                "pruned build sha256:{digest} ({} assets no kept release names)",
                assets.len()
            ),
        );
        pruned.push(format!("sha256:{digest}"));
    }
    Ok(pruned)
}

fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, sha: &str) -> File {
        File {
            path: path.into(),
            size: 1,
            sha256: sha.into(),
            md5: sha.into(),
            content_type: content_type(path).into(),
            immutable: path.starts_with("assets/"),
        }
    }

    fn manifest(files: &[(&str, &str)]) -> Manifest {
        Manifest {
            digest: "sha256:00".into(),
            files: files.iter().map(|(p, s)| file(p, s)).collect(),
        }
    }

    #[test]
    fn only_the_entry_and_changed_entry_documents_are_invalidated() {
        let v1 = manifest(&[
            ("index.html", "a"),
            ("assets/x-1.js", "b"),
            ("favicon.svg", "c"),
        ]);
        let v2 = manifest(&[
            ("index.html", "d"),
            ("assets/x-2.js", "e"),
            ("favicon.svg", "c"),
        ]);
        let v3 = manifest(&[
            ("index.html", "d"),
            ("favicon.svg", "f"),
            ("robots.txt", "g"),
        ]);
        assert_eq!(invalidation_paths(&v2, Some(&v1)), ["/", "/index.html"]);
        assert_eq!(
            invalidation_paths(&v3, Some(&v2)),
            ["/", "/index.html", "/favicon.svg", "/robots.txt"]
        );
        assert_eq!(
            invalidation_paths(&v1, None),
            ["/", "/index.html", "/favicon.svg"]
        );
    }

    #[test]
    fn index_html_switches_after_the_other_entry_documents() {
        let m = manifest(&[
            ("index.html", "a"),
            ("zzz.txt", "b"),
            ("assets/x-1.js", "c"),
        ]);
        let live = BTreeMap::from([("zzz.txt".to_string(), "old".to_string())]);
        let order: Vec<&str> = to_switch(&m, &live)
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(order, ["zzz.txt", "index.html"]);
        let live = BTreeMap::from([
            ("zzz.txt".to_string(), "b".to_string()),
            ("index.html".to_string(), "a".to_string()),
        ]);
        assert!(to_switch(&m, &live).is_empty());
    }
}
