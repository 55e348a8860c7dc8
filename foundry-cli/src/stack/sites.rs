//! Static services (`[services.<name>] kind = "static"`): a web app's built
//! files, served by the CDN from its web bucket. They share the `[services]`
//! table with containers so that `deploy`, `rollback` and `releases` name
//! both alike, but none of a container's keys applies to them, and they need
//! the `[cdn]` that serves them.

use super::file::{EnvOverlay, ServiceKind, ServiceSpec, StackFile};
use super::{Diagnostic, Locator, Site};

/// Releases whose files stay in the bucket when the file names no number.
pub const DEFAULT_KEEP_RELEASES: u32 = 5;
pub const DEFAULT_DIST: &str = "dist";
pub const DEFAULT_ASSETS: &str = "assets";

/// Where the bucket keeps each release's entry documents and manifest; a
/// build may not write there.
pub const RELEASES_PREFIX: &str = "_releases";

pub fn is_static(spec: &ServiceSpec) -> bool {
    spec.kind == Some(ServiceKind::Static)
}

/// The static services, checked; containers are `services.rs`'s.
pub(super) fn resolve_sites(
    file: &StackFile,
    overlay: &EnvOverlay,
    env: &str,
    locator: &Locator,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Site> {
    let mut sites = Vec::new();
    for (name, spec) in &file.services {
        let at = |key: &str| locator.span(&["services", name, key]);
        if !is_static(spec) {
            for (key, set) in [
                ("dist", spec.dist.is_some()),
                ("assets", spec.assets.is_some()),
                ("keep_releases", spec.keep_releases.is_some()),
            ] {
                if set {
                    diags.push(
                        Diagnostic::new(format!(
                            "`{key}` applies to static services only, and `{name}` is a container"
                        ))
                        .at(at(key))
                        .help(format!(
                            "add kind = \"static\" to [services.{name}] if it is a web app the CDN serves, or remove `{key}`"
                        )),
                    );
                }
            }
            continue;
        }
        for (key, set) in [
            ("port", spec.port.is_some()),
            ("ingress", spec.ingress.is_some()),
            ("cpu", spec.cpu.is_some()),
            ("memory", spec.memory.is_some()),
            ("health", spec.health.is_some()),
            ("env", !spec.env.is_empty()),
            ("scaling", spec.scaling.is_some()),
            ("secrets", !spec.secrets.is_empty()),
            ("buckets", !spec.buckets.is_empty()),
            ("connect", !spec.connect.is_empty()),
        ] {
            if set {
                diags.push(
                    Diagnostic::new(format!(
                        "`{key}` does not apply to static service `{name}`"
                    ))
                    .at(at(key))
                    .help("a static service is files the CDN serves from its web bucket: nothing runs, so remove the key"),
                );
            }
        }
        if overlay.services.contains_key(name) {
            diags.push(
                Diagnostic::new(format!(
                    "[env.{env}.services.{name}] sizes static service `{name}`, which runs nothing"
                ))
                .at(locator.span(&["env", env, "services", name]))
                .help("remove the table: a static service has no cpu, memory or scaling"),
            );
        }
        if let Some(source) = &spec.source
            && source.trim().is_empty()
        {
            diags.push(
                Diagnostic::new(format!("static service `{name}` has an empty `source`"))
                    .at(at("source"))
                    .help("name the npm project (the directory holding package.json), relative to the stack file, e.g. source = \"web\""),
            );
        }
        let dist = spec.dist.clone().unwrap_or_else(|| DEFAULT_DIST.into());
        let assets = spec.assets.clone().unwrap_or_else(|| DEFAULT_ASSETS.into());
        for (key, value, example) in [("dist", &dist, "dist"), ("assets", &assets, "assets")] {
            if !is_relative_dir(value) {
                diags.push(
                    Diagnostic::new(format!(
                        "static service `{name}`: `{value}` is not a directory inside the {}",
                        if key == "dist" {
                            "npm project"
                        } else {
                            "build output"
                        }
                    ))
                    .at(at(key))
                    .help(format!(
                        "write a relative path without `..`, e.g. {key} = \"{example}\""
                    )),
                );
            }
        }
        if assets.split('/').next() == Some(RELEASES_PREFIX) {
            diags.push(
                Diagnostic::new(format!(
                    "static service `{name}`: `{RELEASES_PREFIX}/` holds foundry's record of each release in the bucket"
                ))
                .at(at("assets"))
                .help("name the directory the build writes its hashed files to, e.g. assets = \"assets\""),
            );
        }
        let keep_releases = match spec.keep_releases {
            None => DEFAULT_KEEP_RELEASES,
            Some(n @ 1..=100) => n,
            Some(n) => {
                diags.push(
                    Diagnostic::new(format!("keep_releases = {n} is out of range"))
                        .at(at("keep_releases"))
                        .help("keep from 1 to 100 releases (the current one counts)"),
                );
                n
            }
        };
        let bucket = match file.cdn.as_ref() {
            None => {
                diags.push(
                    Diagnostic::new(format!(
                        "static service `{name}` is served by the CDN, and the stack declares no [cdn]"
                    ))
                    .at(at("kind"))
                    .help("add a [cdn] table whose web_bucket names the bucket under [buckets] that holds the files, e.g. web_bucket = \"web\""),
                );
                String::new()
            }
            Some(cdn) => overlay
                .cdn
                .web_bucket
                .clone()
                .or_else(|| cdn.web_bucket.clone())
                .unwrap_or_default(),
        };
        if let Some(first) = sites.first() {
            let Site { name: first, .. } = first;
            diags.push(
                Diagnostic::new(format!(
                    "static services `{first}` and `{name}`: the CDN serves one web app, at `/`"
                ))
                .at(at("kind"))
                .help("keep one static service; the other's files can live in its build"),
            );
        }
        sites.push(Site {
            name: name.clone(),
            source: spec.source.clone(),
            dist,
            assets,
            keep_releases,
            bucket,
        });
    }
    sites
}

/// `dist`, `build/web`: relative, no `.`/`..` steps, no empty ones.
fn is_relative_dir(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path
            .trim_end_matches('/')
            .split('/')
            .all(|step| !step.is_empty() && step != "." && step != "..")
}

#[cfg(test)]
mod tests {
    use super::is_relative_dir;

    #[test]
    fn only_plain_relative_directories_are_accepted() {
        for ok in ["dist", "build/web", "assets/"] {
            assert!(is_relative_dir(ok), "{ok}");
        }
        for bad in ["", "/dist", "../dist", "a/../b", "./dist", "a//b"] {
            assert!(!is_relative_dir(bad), "{bad}");
        }
    }
}
