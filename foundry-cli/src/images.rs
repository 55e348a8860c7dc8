//! `foundry build`: the stack's services as reproducible OCI images. The
//! `foundry-image` crate does the work (cargo, assembly, the distribution
//! protocol); this module decides which services, where their crates are,
//! where images are kept and which registry and repository they go to.
//!
//! Images live in one OCI image layout beside the stack file
//! (`.foundry/images`), shared by every service and environment, so a blob
//! two images have in common is stored once. A service's repository is
//! `<stack>/<env>/<service>`, the name `up` gives its ECR repository.

use std::path::{Path, PathBuf};

use foundry_image::git::Revision;
use foundry_image::{
    AssembleError, Assembled, BuildError, BuildRequest, Credentials, GitError, ImageSpec,
    OciLayout, PushError, PushReport, PushTarget, Registry,
};
use serde::Serialize;

use crate::aws::{self, Aws, AwsError};
use crate::stack::{Service, Stack, did_you_mean};

/// Overrides the host ECR's login names, for a stand-in registry (local
/// mode, tests): `http://127.0.0.1:5000`. The ECR token is still fetched
/// and presented, so the login path is the one real AWS takes.
pub const ECR_REGISTRY_ENDPOINT_ENV: &str = "FOUNDRY_ECR_REGISTRY_ENDPOINT";
/// `host[:port][/prefix]` of any OCI registry, instead of ECR.
pub const REGISTRY_ENV: &str = "FOUNDRY_REGISTRY";
/// Basic-auth credentials for [`REGISTRY_ENV`]'s registry, if it asks.
pub const REGISTRY_USERNAME_ENV: &str = "FOUNDRY_REGISTRY_USERNAME";
pub const REGISTRY_PASSWORD_ENV: &str = "FOUNDRY_REGISTRY_PASSWORD";

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("the stack declares no service `{name}`; {help}")]
    UnknownService { name: String, help: String },
    #[error("the stack declares no services, so there is nothing to build")]
    NoServices,
    #[error(
        "service `{service}` has no `source`: name its crate in the stack file, e.g. source = \"services/{service}\" under [services.{service}]"
    )]
    NoSource { service: String },
    #[error("cannot build service `{service}`: {source}")]
    Build { service: String, source: BuildError },
    #[error("cannot tag the image of service `{service}`: {source}")]
    Git { service: String, source: GitError },
    #[error("cannot assemble the image of service `{service}`: {source}")]
    Assemble {
        service: String,
        source: AssembleError,
    },
    #[error(
        "cannot push the image of service `{service}` to {registry}/{repository}: {source}{hint}"
    )]
    Push {
        service: String,
        registry: String,
        repository: String,
        source: Box<PushError>,
        hint: &'static str,
    },
    #[error("cannot log in to the stack's ECR registry: {0}")]
    EcrLogin(#[source] AwsError),
    #[error("invalid registry `{value}`: {reason}")]
    BadRegistry { value: String, reason: String },
}

/// What [`build`] does.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The stack file's directory: services' `source` is relative to it.
    pub stack_dir: PathBuf,
    /// Services to build, by name; empty means all of them.
    pub services: Vec<String>,
    /// cargo profile: `release` for what users deploy (tests use `dev`).
    pub profile: String,
}

/// Where pushed images go.
#[derive(Debug, Clone)]
pub struct Destination {
    pub registry: Registry,
    /// Prepended to every repository name (`team` in `host/team/acme/dev/api`).
    pub prefix: Option<String>,
}

/// One service's image, and its push if there was one.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceImage {
    pub service: String,
    /// `<git sha>` or `<git sha>-dirty`.
    pub tag: String,
    /// The manifest digest: what a deploy names.
    pub digest: String,
    /// Manifest, config and compressed layers, in bytes.
    pub size: u64,
    pub pushed: Option<Pushed>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pushed {
    /// `registry/repository@sha256:…`.
    pub reference: String,
    pub bytes_uploaded: u64,
    pub blobs_uploaded: usize,
    pub blobs_present: usize,
    pub blobs_mounted: usize,
}

impl From<PushReport> for Pushed {
    fn from(report: PushReport) -> Self {
        Pushed {
            reference: report.pinned_reference,
            bytes_uploaded: report.bytes_uploaded,
            blobs_uploaded: report.blobs_uploaded,
            blobs_present: report.blobs_present,
            blobs_mounted: report.blobs_mounted,
        }
    }
}

/// The steps [`build`] reports, besides `foundry-image`'s own progress.
pub trait BuildProgress: foundry_image::Progress {
    fn compiling(&self, _service: &str, _profile: &str) {}
    fn assembled(&self, _service: &str, _image: &Assembled) {}
    fn pushing(&self, _service: &str, _repository: &str) {}
    fn pushed(&self, _service: &str, _pushed: &Pushed) {}
}

/// The layout every image of a stack file is kept in.
pub fn layout_dir(stack_dir: &Path) -> PathBuf {
    stack_dir.join(".foundry").join("images")
}

/// The repository a service's images go to (the ECR repository `up` makes).
pub fn repository(stack: &Stack, service: &str) -> String {
    format!("{}/{}/{}", stack.name, stack.env, service)
}

/// Builds the chosen services' images into the layout and, given a
/// destination, pushes each. Stops at the first service that fails: later
/// images would only be left unpushed in a half-done release anyway.
pub async fn build(
    stack: &Stack,
    options: &BuildOptions,
    destination: Option<&Destination>,
    progress: &dyn BuildProgress,
) -> Result<Vec<ServiceImage>, ImageError> {
    let services = select(stack, &options.services)?;
    let layout_root = layout_dir(&options.stack_dir);
    let layout =
        OciLayout::open_or_create(&layout_root).map_err(|source| ImageError::Assemble {
            service: services[0].name.clone(),
            source,
        })?;
    let repositories: Vec<String> = services
        .iter()
        .map(|s| full_repository(destination, &repository(stack, &s.name)))
        .collect();
    let mut images = Vec::new();
    for (i, service) in services.iter().enumerate() {
        let assembled = assemble_service(options, service, &layout, progress)?;
        let pushed = match destination {
            None => None,
            Some(destination) => {
                let target = PushTarget {
                    repository: repositories[i].clone(),
                    tag: assembled.tag.clone(),
                    mount_from: repositories
                        .iter()
                        .filter(|r| **r != repositories[i])
                        .cloned()
                        .collect(),
                };
                progress.pushing(&service.name, &target.repository);
                let report = foundry_image::push(
                    &layout,
                    assembled.manifest_digest.as_str(),
                    &destination.registry,
                    &target,
                    progress,
                )
                .await
                .map_err(|source| push_error(service, destination, &target, source))?;
                let pushed = Pushed::from(report);
                progress.pushed(&service.name, &pushed);
                Some(pushed)
            }
        };
        images.push(ServiceImage {
            service: service.name.clone(),
            tag: assembled.tag.clone(),
            digest: assembled.manifest_digest.as_str().to_owned(),
            size: assembled.size,
            pushed,
        });
    }
    Ok(images)
}

/// The services named, in the stack's order, or all of them.
pub fn select<'a>(stack: &'a Stack, names: &[String]) -> Result<Vec<&'a Service>, ImageError> {
    if stack.services.is_empty() {
        return Err(ImageError::NoServices);
    }
    for name in names {
        if !stack.services.iter().any(|s| &s.name == name) {
            let declared = stack.services.iter().map(|s| s.name.as_str());
            let help = did_you_mean(name, declared, || {
                let all: Vec<&str> = stack.services.iter().map(|s| s.name.as_str()).collect();
                format!("it declares: {}", all.join(", "))
            });
            return Err(ImageError::UnknownService {
                name: name.clone(),
                help,
            });
        }
    }
    Ok(stack
        .services
        .iter()
        .filter(|s| names.is_empty() || names.contains(&s.name))
        .collect())
}

fn assemble_service(
    options: &BuildOptions,
    service: &Service,
    layout: &OciLayout,
    progress: &dyn BuildProgress,
) -> Result<Assembled, ImageError> {
    let name = &service.name;
    let source = service
        .source
        .as_deref()
        .ok_or_else(|| ImageError::NoSource {
            service: name.clone(),
        })?;
    let crate_dir = options.stack_dir.join(source);
    if !crate_dir.join("Cargo.toml").is_file() {
        return Err(ImageError::Build {
            service: name.clone(),
            source: BuildError::NotACrate { crate_dir },
        });
    }
    let git = |source| ImageError::Git {
        service: name.clone(),
        source,
    };
    let revision = Revision::of(&crate_dir).map_err(git)?;
    progress.compiling(name, &options.profile);
    let built = foundry_image::build(&BuildRequest::new(&crate_dir, &options.profile), progress)
        .map_err(|source| ImageError::Build {
            service: name.clone(),
            source,
        })?;
    let mut spec = ImageSpec::new(
        &built.binary,
        revision.tag(),
        &revision.sha,
        revision.source_date_epoch().map_err(git)?,
    );
    spec.source = revision.source_url.clone();
    spec.port = Some(service.port);
    let assembled =
        foundry_image::assemble(&spec, layout).map_err(|source| ImageError::Assemble {
            service: name.clone(),
            source,
        })?;
    progress.assembled(name, &assembled);
    Ok(assembled)
}

fn full_repository(destination: Option<&Destination>, repository: &str) -> String {
    match destination.and_then(|d| d.prefix.as_deref()) {
        Some(prefix) => format!("{prefix}/{repository}"),
        None => repository.to_owned(),
    }
}

fn push_error(
    service: &Service,
    destination: &Destination,
    target: &PushTarget,
    source: PushError,
) -> ImageError {
    let hint = match &source {
        PushError::Refused { .. } => {
            ". If the repository does not exist yet, run `foundry up` for this environment first (it creates one per service)"
        }
        _ => "",
    };
    ImageError::Push {
        service: service.name.clone(),
        registry: destination.registry.host.clone(),
        repository: target.repository.clone(),
        source: Box::new(source),
        hint,
    }
}

/// The stack's ECR registry, logged in with a fresh authorization token.
/// [`ECR_REGISTRY_ENDPOINT_ENV`] redirects the pushes (not the login).
pub async fn ecr_destination(aws: &Aws) -> Result<Destination, ImageError> {
    let login = aws::ecr::registry_login(aws)
        .await
        .map_err(ImageError::EcrLogin)?;
    let credentials = Credentials::from_ecr_authorization_token(&login.token).map_err(|e| {
        ImageError::EcrLogin(AwsError::Api {
            operation: "GetAuthorizationToken",
            code: None,
            message: e.to_string(),
        })
    })?;
    let endpoint = std::env::var(ECR_REGISTRY_ENDPOINT_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| {
            aws.registry_override
                .as_ref()
                .map(|h| format!("http://{h}"))
        })
        .unwrap_or(login.endpoint);
    let (host, insecure_http, prefix) = parse_registry(&endpoint)?;
    if prefix.is_some() {
        return Err(ImageError::BadRegistry {
            value: endpoint,
            reason: "an ECR registry endpoint is a host, without a path".into(),
        });
    }
    Ok(Destination {
        registry: Registry {
            host,
            insecure_http,
            credentials,
        },
        prefix: None,
    })
}

/// Any OCI registry: `host[:port][/prefix]`, optionally with `http://` or
/// `https://`. Without a scheme, loopback registries are spoken to over
/// plain HTTP (as docker does) and every other over HTTPS. Credentials come
/// from [`REGISTRY_USERNAME_ENV`] and [`REGISTRY_PASSWORD_ENV`].
pub fn named_destination(value: &str) -> Result<Destination, ImageError> {
    let (host, insecure_http, prefix) = parse_registry(value)?;
    let username = std::env::var(REGISTRY_USERNAME_ENV).ok();
    let password = std::env::var(REGISTRY_PASSWORD_ENV).ok();
    let credentials = match (username, password) {
        (Some(username), Some(password)) => Credentials::Basic { username, password },
        (None, None) => Credentials::Anonymous,
        _ => {
            return Err(ImageError::BadRegistry {
                value: value.into(),
                reason: format!(
                    "set both {REGISTRY_USERNAME_ENV} and {REGISTRY_PASSWORD_ENV}, or neither"
                ),
            });
        }
    };
    Ok(Destination {
        registry: Registry {
            host,
            insecure_http,
            credentials,
        },
        prefix,
    })
}

/// `(host, plain http, path prefix)`.
fn parse_registry(value: &str) -> Result<(String, bool, Option<String>), ImageError> {
    let bad = |reason: &str| ImageError::BadRegistry {
        value: value.into(),
        reason: reason.into(),
    };
    let trimmed = value.trim().trim_end_matches('/');
    let (scheme, rest) = match trimmed.split_once("://") {
        Some(("http", rest)) => (Some(false), rest),
        Some(("https", rest)) => (Some(true), rest),
        Some(_) => return Err(bad("the scheme must be http:// or https://")),
        None => (None, trimmed),
    };
    let (host, prefix) = match rest.split_once('/') {
        Some((host, prefix)) => (host, Some(prefix.to_owned())),
        None => (rest, None),
    };
    if host.is_empty() || host.contains('@') {
        return Err(bad(
            "write host[:port][/prefix], without user or password (use FOUNDRY_REGISTRY_USERNAME and FOUNDRY_REGISTRY_PASSWORD)",
        ));
    }
    let hostname = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let loopback = matches!(hostname, "localhost" | "127.0.0.1" | "[::1]");
    let insecure_http = match scheme {
        Some(https) => !https,
        None => loopback,
    };
    Ok((host.to_owned(), insecure_http, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(value: &str, expect: Option<(&str, bool, Option<&str>)>) {
        let got = parse_registry(value).ok();
        let got = got
            .as_ref()
            .map(|(h, insecure, p)| (h.as_str(), *insecure, p.as_deref()));
        assert_eq!(got, expect, "{value}");
    }

    #[test]
    fn registries_parse_with_loopback_over_http_and_the_rest_over_https() {
        check("127.0.0.1:5000", Some(("127.0.0.1:5000", true, None)));
        check(
            "localhost:5000/team",
            Some(("localhost:5000", true, Some("team"))),
        );
        check("ghcr.io/acme", Some(("ghcr.io", false, Some("acme"))));
        check(
            "https://123.dkr.ecr.us-east-1.amazonaws.com",
            Some(("123.dkr.ecr.us-east-1.amazonaws.com", false, None)),
        );
        check("http://10.0.0.5:5000/", Some(("10.0.0.5:5000", true, None)));
        check("ftp://host", None);
        check("user:pw@host", None);
        check("", None);
    }
}
