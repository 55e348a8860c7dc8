//! The release history of one stack and environment: what ran, from which
//! image and configuration, and how it ended. It is a document beside the
//! stack's state (`releases.json`, local or in the S3 backend), rewritten
//! whole under the stack lock, so every machine sees one history and two
//! deploys never interleave their writes.
//!
//! Rules the deploy and rollback code relies on:
//! - a release is recorded `in_progress` before any service changes, and
//!   finished afterwards; a run killed in between leaves it in progress;
//! - the next run that intends the same thing resumes that record instead of
//!   adding a second one; one that intends something else marks it
//!   `interrupted` and starts a new one;
//! - rollback targets are releases that succeeded, never failed or
//!   interrupted ones.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The name of the document in the state backend.
pub const DOCUMENT: &str = "releases.json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Oldest first; numbers increase by one.
    pub releases: Vec<Release>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub number: u32,
    pub kind: ReleaseKind,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Who ran it: the caller's AWS identity, or `user@host` locally.
    pub by: String,
    pub outcome: Outcome,
    /// What each service of the release runs.
    pub services: BTreeMap<String, ServiceRelease>,
    /// What each static service serves (absent in histories written before
    /// static services existed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sites: BTreeMap<String, SiteRelease>,
}

/// One static service's part of a release: the build the CDN serves. Its
/// files stay in the web bucket under `_releases/<digest>/` while the
/// release is among the static service's `keep_releases` newest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteRelease {
    /// `sha256:…` of the built tree (every path and its content).
    pub digest: String,
    /// Files in the build.
    pub files: usize,
    /// The CloudFront invalidation of the entry documents, once made.
    pub invalidation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReleaseKind {
    Deploy,
    /// Back to the image and configuration of release `to`.
    Rollback {
        to: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    InProgress,
    Succeeded,
    /// Failed, and the services went back to the previous good release.
    Failed {
        reason: String,
    },
    /// Failed and left in place on request (`--keep-failed`).
    FailedKept {
        reason: String,
    },
    /// The run stopped (killed, crashed) before it finished.
    Interrupted,
}

/// One service's part of a release: everything needed to run it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRelease {
    /// `registry/repository@sha256:…`: always a digest, never a tag.
    pub image: String,
    pub git_sha: Option<String>,
    /// Plain environment values, resolved (never secret values).
    pub env: BTreeMap<String, String>,
    /// Variable name → the secret it is injected from.
    pub secrets: BTreeMap<String, SecretRef>,
    /// The compute target's handle for the change (App Runner operation id,
    /// ECS task definition ARN), once known.
    pub handle: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SecretRef {
    pub arn: String,
    /// The version current when the release was made, if known.
    pub version_id: Option<String>,
}

/// What changed for one service from one release to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added,
    Removed,
    Image {
        from: String,
        to: String,
    },
    /// A static service's build (digests).
    Build {
        from: String,
        to: String,
    },
    EnvAdded(String),
    EnvRemoved(String),
    EnvChanged(String),
    Secret(String),
}

impl History {
    pub fn from_json(bytes: &[u8]) -> Result<History, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a history serialises")
    }

    /// Starts recording `services` as a release. A release left in progress
    /// by a run that died is resumed when it intended exactly this, and
    /// marked interrupted otherwise. Returns the release's number.
    /// The static services carry over from the current release.
    pub fn begin(
        &mut self,
        kind: ReleaseKind,
        services: BTreeMap<String, ServiceRelease>,
        by: &str,
        now: &str,
    ) -> u32 {
        let sites = self.current().map(|r| r.sites.clone()).unwrap_or_default();
        self.begin_release(kind, services, sites, by, now)
    }

    /// Starts recording a release of static service `name` serving `site`;
    /// every other service and static service carries over from the
    /// current release. Resumes and interrupts as [`History::begin`] does.
    pub fn begin_site(
        &mut self,
        kind: ReleaseKind,
        name: &str,
        site: SiteRelease,
        by: &str,
        now: &str,
    ) -> u32 {
        let (services, mut sites) = self
            .current()
            .map(|r| (r.services.clone(), r.sites.clone()))
            .unwrap_or_default();
        sites.insert(name.to_owned(), site);
        self.begin_release(kind, services, sites, by, now)
    }

    fn begin_release(
        &mut self,
        kind: ReleaseKind,
        services: BTreeMap<String, ServiceRelease>,
        sites: BTreeMap<String, SiteRelease>,
        by: &str,
        now: &str,
    ) -> u32 {
        if let Some(last) = self.releases.last_mut()
            && last.outcome == Outcome::InProgress
        {
            if last.kind == kind
                && same_intent(&last.services, &services)
                && same_sites(&last.sites, &sites)
            {
                return last.number;
            }
            last.outcome = Outcome::Interrupted;
        }
        let number = self.releases.last().map_or(1, |r| r.number + 1);
        self.releases.push(Release {
            number,
            kind,
            started_at: now.to_owned(),
            finished_at: None,
            by: by.to_owned(),
            outcome: Outcome::InProgress,
            services,
            sites,
        });
        number
    }

    /// Records the invalidation of static service `site` in release `number`.
    pub fn set_invalidation(&mut self, number: u32, site: &str, id: &str) {
        if let Some(s) = self.release_mut(number).and_then(|r| r.sites.get_mut(site)) {
            s.invalidation = Some(id.to_owned());
        }
    }

    /// The digests static service `site` served in releases that
    /// succeeded, newest first, each once: the first is what it serves now.
    pub fn site_digests(&self, site: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for release in self.releases.iter().rev() {
            if release.outcome != Outcome::Succeeded {
                continue;
            }
            if let Some(s) = release.sites.get(site)
                && !out.contains(&s.digest)
            {
                out.push(s.digest.clone());
            }
        }
        out
    }

    /// What `rollback SITE` returns to: the newest succeeded release before
    /// the current one whose build of `site` differs from the current's.
    pub fn previous_site(&self, site: &str) -> Option<&Release> {
        let current = self.current()?;
        let serving = current.sites.get(site).map(|s| &s.digest);
        self.releases.iter().rev().find(|r| {
            r.number < current.number
                && r.outcome == Outcome::Succeeded
                && r.sites
                    .get(site)
                    .is_some_and(|s| Some(&s.digest) != serving)
        })
    }

    /// Records the target's handle for one service of release `number`.
    pub fn set_handle(&mut self, number: u32, service: &str, handle: &str) {
        if let Some(s) = self
            .release_mut(number)
            .and_then(|r| r.services.get_mut(service))
        {
            s.handle = Some(handle.to_owned());
        }
    }

    pub fn finish(&mut self, number: u32, outcome: Outcome, now: &str) {
        if let Some(release) = self.release_mut(number) {
            release.outcome = outcome;
            release.finished_at = Some(now.to_owned());
        }
    }

    pub fn get(&self, number: u32) -> Option<&Release> {
        self.releases.iter().find(|r| r.number == number)
    }

    fn release_mut(&mut self, number: u32) -> Option<&mut Release> {
        self.releases.iter_mut().find(|r| r.number == number)
    }

    /// The newest release that succeeded (what runs now, when the last run
    /// went well or was rolled back).
    pub fn current(&self) -> Option<&Release> {
        self.releases
            .iter()
            .rev()
            .find(|r| r.outcome == Outcome::Succeeded)
    }

    /// What `rollback` goes back to: the newest succeeded release before the
    /// current one, or `None` when there is nothing earlier.
    pub fn previous_good(&self) -> Option<&Release> {
        let current = self.current()?;
        self.releases
            .iter()
            .rev()
            .filter(|r| r.number < current.number && r.outcome == Outcome::Succeeded)
            .find(|r| {
                !same_intent(&r.services, &current.services)
                    || !same_sites(&r.sites, &current.sites)
            })
    }

    /// Releases newest first, each with what changed from the release before
    /// it that succeeded (for `foundry releases`).
    pub fn with_changes(&self) -> Vec<(&Release, BTreeMap<String, Vec<Change>>)> {
        let mut out = Vec::new();
        let mut before: Option<&Release> = None;
        for release in &self.releases {
            let empty = BTreeMap::new();
            let base = before.map_or(&empty, |r| &r.services);
            let mut changed = changes(base, &release.services);
            let no_sites = BTreeMap::new();
            let base_sites = before.map_or(&no_sites, |r| &r.sites);
            for (name, site) in &release.sites {
                match base_sites.get(name) {
                    None => {
                        changed.insert(name.clone(), vec![Change::Added]);
                    }
                    Some(old) if old.digest != site.digest => {
                        let change = Change::Build {
                            from: old.digest.clone(),
                            to: site.digest.clone(),
                        };
                        changed.insert(name.clone(), vec![change]);
                    }
                    Some(_) => {}
                }
            }
            out.push((release, changed));
            if release.outcome == Outcome::Succeeded {
                before = Some(release);
            }
        }
        out.reverse();
        out
    }
}

/// Same images, env and secrets; handles and git shas do not count.
fn same_intent(a: &BTreeMap<String, ServiceRelease>, b: &BTreeMap<String, ServiceRelease>) -> bool {
    a.len() == b.len()
        && a.iter().all(|(name, x)| {
            b.get(name)
                .is_some_and(|y| x.image == y.image && x.env == y.env && x.secrets == y.secrets)
        })
}

/// Same builds; invalidations do not count.
fn same_sites(a: &BTreeMap<String, SiteRelease>, b: &BTreeMap<String, SiteRelease>) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|(name, x)| b.get(name).is_some_and(|y| x.digest == y.digest))
}

/// Per service, what differs from `before` to `after`.
pub fn changes(
    before: &BTreeMap<String, ServiceRelease>,
    after: &BTreeMap<String, ServiceRelease>,
) -> BTreeMap<String, Vec<Change>> {
    let mut out = BTreeMap::new();
    for (name, new) in after {
        let Some(old) = before.get(name) else {
            out.insert(name.clone(), vec![Change::Added]);
            continue;
        };
        let mut list = Vec::new();
        if old.image != new.image {
            list.push(Change::Image {
                from: old.image.clone(),
                to: new.image.clone(),
            });
        }
        for (key, value) in &new.env {
            match old.env.get(key) {
                None => list.push(Change::EnvAdded(key.clone())),
                Some(v) if v != value => list.push(Change::EnvChanged(key.clone())),
                Some(_) => {}
            }
        }
        for key in old.env.keys().filter(|k| !new.env.contains_key(*k)) {
            list.push(Change::EnvRemoved(key.clone()));
        }
        let names: std::collections::BTreeSet<&String> =
            old.secrets.keys().chain(new.secrets.keys()).collect();
        for key in names {
            if old.secrets.get(key) != new.secrets.get(key) {
                list.push(Change::Secret(key.clone()));
            }
        }
        if !list.is_empty() {
            out.insert(name.clone(), list);
        }
    }
    for name in before.keys().filter(|n| !after.contains_key(*n)) {
        out.insert(name.clone(), vec![Change::Removed]);
    }
    out
}

#[cfg(test)]
mod tests;
