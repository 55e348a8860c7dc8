//! Stack files: parse, overlay an environment, validate, before any AWS call.
//!
//! Only this module knows the file's syntax; everything after it works on the
//! resolved [`Stack`].

pub mod auth;
mod buckets;
pub mod cdn;
pub mod ci;
pub mod database;
pub mod diagnostic;
pub mod file;
mod layered;
mod locator;
pub mod network;
pub mod references;
mod services;
pub mod sites;
mod state_backend;

use std::path::Path;

pub use auth::Auth;
pub use cdn::{ApiOrigin, Cdn};
pub use ci::Ci;
pub use database::Database;
pub use diagnostic::{Diagnostic, StackFileError};
pub use file::{ComputeTarget, Engine, Ingress, NatMode, ServiceKind, StackFile, StateBackendKind};
pub use locator::{Locator, closest, diagnostic_from_toml, did_you_mean};
pub use network::{Network, Tier};
pub use references::{DatabaseAttribute, Part, Reference, Template};

/// A stack with one environment's overlay applied and every value checked.
#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    pub region: String,
    pub env: String,
    pub network: Network,
    pub state: StateBackend,
    /// Where the services run.
    pub compute: ComputeTarget,
    /// `[compute]`'s settings of the ECS target.
    pub ecs: EcsSettings,
    /// The container services (`kind = "container"`, the default).
    pub services: Vec<Service>,
    /// The static services (`kind = "static"`): at most one, served by the CDN.
    pub sites: Vec<Site>,
    pub secrets: Vec<Secret>,
    pub buckets: Vec<Bucket>,
    pub database: Option<Database>,
    pub cdn: Option<Cdn>,
    /// Whose tokens the services accept (`[auth]`).
    pub auth: Option<Auth>,
    /// The repository whose CI may deploy (`[ci]`).
    pub ci: Option<Ci>,
    /// Addresses alarm notifications go to; none means no topic.
    pub alarm_emails: Vec<String>,
    /// NAT egress alarm threshold, bytes per 5 minutes.
    pub nat_bytes_out_per_5min: u64,
    /// Images kept per ECR repository.
    pub keep_images: u32,
}

/// What the ECS target takes from `[compute]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsSettings {
    /// The public load balancers' certificate; none means HTTP.
    pub certificate_arn: Option<String>,
    pub log_retention_days: u32,
}

impl Stack {
    /// The services that read the declared secret `name`.
    pub fn services_reading<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Service> {
        self.services
            .iter()
            .filter(move |s| s.secrets.iter().any(|x| x == name))
    }
}

/// The port a service listens on when its table names none.
pub const DEFAULT_SERVICE_PORT: u16 = 8080;

/// A service of the app, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    /// The service's crate, as written (relative to the stack file).
    pub source: Option<String>,
    pub port: u16,
    pub ingress: Ingress,
    /// CPU units (1024 = one vCPU) and memory in MiB.
    pub cpu: u32,
    pub memory: u32,
    /// Path that answers 200 when healthy.
    pub health_path: String,
    /// Environment variables, by name.
    pub env: Vec<EnvVar>,
    pub scaling: Scaling,
    /// Other services this one calls (network paths to private ones).
    pub connects_to: Vec<String>,
    pub secrets: Vec<String>,
    /// Bucket name → key prefix the service may use.
    pub buckets: Vec<(String, String)>,
    /// Whether the service's security group is admitted to the database.
    pub connects_to_database: bool,
}

/// A static service: a web app's built files in the CDN's web bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub name: String,
    /// The npm project, as written (relative to the stack file).
    pub source: Option<String>,
    /// The build's output directory, relative to `source`.
    pub dist: String,
    /// The directory under `dist` of content-hashed (immutable) files.
    pub assets: String,
    /// Releases whose files stay in the bucket.
    pub keep_releases: u32,
    /// The bucket under `[buckets]` that holds the files (`[cdn] web_bucket`).
    pub bucket: String,
}

/// An environment variable of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    pub value: EnvValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    /// Text, possibly with references to other resources' attributes.
    Text(Template),
    /// A declared secret, injected by ARN (never as a plain value).
    Secret(String),
}

/// Instances and requests per instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scaling {
    pub min: u32,
    pub max: u32,
    pub concurrency: u32,
}

/// A bucket, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
    pub versioning: bool,
    pub ia_after_days: Option<u32>,
    pub glacier_after_days: Option<u32>,
    pub cors_origins: Vec<String>,
}

/// A named secret, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub name: String,
    pub description: String,
    pub generate: bool,
}

/// Where state lives, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateBackend {
    /// `.foundry/state/` beside the stack file.
    Local,
    S3 {
        bucket: String,
        prefix: String,
    },
}

/// Errors of loading a stack file: unreadable, or not a valid stack.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "cannot read the stack file {path}: {source}. Pass --stack PATH, or run foundry in the directory that holds foundry.toml."
    )]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Invalid(#[from] StackFileError),
}

/// A parsed stack file together with its text, for locating problems.
pub struct Source {
    pub file: StackFile,
    pub path: std::path::PathBuf,
    pub text: String,
}

impl Source {
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, text)
    }

    pub fn parse(path: &Path, text: String) -> Result<Self, LoadError> {
        match toml::from_str::<StackFile>(&text) {
            Ok(file) => Ok(Self {
                file,
                path: path.to_path_buf(),
                text,
            }),
            Err(err) => {
                let diag = locator::diagnostic_from_toml(&err);
                Err(StackFileError::new(path, &text, vec![diag]).into())
            }
        }
    }

    /// The environments the file declares, in file order of their names.
    pub fn envs(&self) -> Vec<&str> {
        self.file.env.keys().map(String::as_str).collect()
    }

    /// Resolves one environment, collecting every problem rather than the first.
    pub fn resolve(&self, env: &str) -> Result<Stack, StackFileError> {
        let mut diags = Vec::new();
        let locator = Locator::new(&self.text);
        check_identity(&self.file, &locator, &mut diags);
        let Some(overlay) = self.file.env.get(env) else {
            let known = self.envs();
            let mut d =
                Diagnostic::new(format!("unknown environment `{env}`")).at(locator.span(&["env"]));
            d = match closest(env, known.iter().copied()) {
                Some(s) => d.help(format!(
                    "did you mean `{s}`? declared: {}",
                    known.join(", ")
                )),
                None if known.is_empty() => d.help(format!(
                    "declare it with an [env.{env}] table (it may be empty)"
                )),
                None => d.help(format!(
                    "declared environments: {}; add [env.{env}] to declare it",
                    known.join(", ")
                )),
            };
            diags.push(d);
            return Err(StackFileError::new(&self.path, &self.text, diags));
        };
        let network = network::resolve(
            &self.file.network,
            &overlay.network,
            env,
            &locator,
            &mut diags,
        );
        let state = state_backend::resolve_state(&self.file.state, &locator, &mut diags);
        let (compute, ecs) =
            services::resolve_compute(&self.file, overlay, env, &locator, &mut diags);
        let (services, secrets) =
            services::resolve_services(&self.file, overlay, env, &locator, &mut diags);
        let sites = sites::resolve_sites(&self.file, overlay, env, &locator, &mut diags);
        let buckets = buckets::resolve_buckets(&self.file, env, &locator, &mut diags);
        let database = self
            .file
            .database
            .as_ref()
            .map(|base| database::resolve(base, &overlay.database, env, &locator, &mut diags));
        let bucket_names: Vec<&str> = buckets.iter().map(|b| b.name.as_str()).collect();
        let service_ingress: Vec<(&str, Ingress)> = services
            .iter()
            .map(|s| (s.name.as_str(), s.ingress))
            .collect();
        let cdn = self.file.cdn.as_ref().map(|base| {
            cdn::resolve(
                base,
                &overlay.cdn,
                env,
                &bucket_names,
                &service_ingress,
                &locator,
                &mut diags,
            )
        });
        let auth = self
            .file
            .auth
            .as_ref()
            .and_then(|base| auth::resolve(base, &overlay.auth, env, &locator, &mut diags));
        let ci = self
            .file
            .ci
            .as_ref()
            .and_then(|spec| ci::resolve(spec, &locator, &mut diags));
        let alarms = (&overlay.alarms, &self.file.alarms);
        let alarm_emails = alarms
            .0
            .emails
            .clone()
            .or_else(|| alarms.1.emails.clone())
            .unwrap_or_default();
        for (i, email) in alarm_emails.iter().enumerate() {
            if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
                let path = if alarms.0.emails.is_some() {
                    vec!["env", env, "alarms", "emails"]
                } else {
                    vec!["alarms", "emails"]
                };
                let i = i.to_string();
                let mut path = path;
                path.push(&i);
                diags.push(
                    Diagnostic::new(format!("`{email}` is not an e-mail address"))
                        .at(locator.span(&path))
                        .help("write an address such as ops@example.com"),
                );
            }
        }
        let nat_bytes_out_per_5min = alarms
            .0
            .nat_bytes_out_per_5min
            .or(alarms.1.nat_bytes_out_per_5min)
            .unwrap_or(5_000_000_000);
        let keep_images = match overlay
            .registry
            .keep_images
            .or(self.file.registry.keep_images)
        {
            None => 30,
            Some(n @ 1..=1000) => n,
            Some(n) => {
                let path: &[&str] = if overlay.registry.keep_images.is_some() {
                    &["env", env, "registry", "keep_images"]
                } else {
                    &["registry", "keep_images"]
                };
                diags.push(
                    Diagnostic::new(format!("keep_images = {n} is out of range"))
                        .at(locator.span(path))
                        .help("keep from 1 to 1000 images per repository"),
                );
                n
            }
        };
        match network {
            Some(network) if diags.is_empty() => Ok(Stack {
                name: self.file.name.clone(),
                region: self.file.region.clone(),
                env: env.to_string(),
                network,
                state,
                compute,
                ecs,
                services,
                sites,
                secrets,
                buckets,
                database,
                cdn,
                auth,
                ci,
                alarm_emails,
                nat_bytes_out_per_5min,
                keep_images,
            }),
            _ => Err(StackFileError::new(&self.path, &self.text, diags)),
        }
    }

    /// Resolves every declared environment; the problems of all of them.
    pub fn validate_all(&self) -> Result<Vec<Stack>, StackFileError> {
        let mut stacks = Vec::new();
        let mut diags: Vec<Diagnostic> = Vec::new();
        if self.file.env.is_empty() {
            diags.push(
                Diagnostic::new("the stack file declares no environment")
                    .help("add at least one, e.g. `[env.dev]` (an empty table is fine)"),
            );
        }
        for env in self.envs() {
            match self.resolve(env) {
                Ok(stack) => stacks.push(stack),
                Err(err) => {
                    for d in err.diagnostics {
                        // Base-file problems show once, not once per environment.
                        if !diags
                            .iter()
                            .any(|seen| seen.message == d.message && seen.span == d.span)
                        {
                            diags.push(d);
                        }
                    }
                }
            }
        }
        if diags.is_empty() {
            Ok(stacks)
        } else {
            Err(StackFileError::new(&self.path, &self.text, diags))
        }
    }
}

fn check_identity(file: &StackFile, locator: &Locator, diags: &mut Vec<Diagnostic>) {
    if !is_name(&file.name, 24) {
        diags.push(
            Diagnostic::new(format!("invalid stack name `{}`", file.name))
                .at(locator.span(&["name"]))
                .help("use 1 to 24 lowercase letters, digits or hyphens, starting with a letter, e.g. `acme`"),
        );
    }
    if !is_region(&file.region) {
        diags.push(
            Diagnostic::new(format!("`{}` is not an AWS region name", file.region))
                .at(locator.span(&["region"]))
                .help("use a region code such as `us-east-1` or `eu-west-2`"),
        );
    }
    for env in file.env.keys() {
        if !is_name(env, 16) {
            diags.push(
                Diagnostic::new(format!("invalid environment name `{env}`"))
                    .at(locator.span(&["env", env]))
                    .help(
                        "use 1 to 16 lowercase letters, digits or hyphens, starting with a letter",
                    ),
            );
        }
    }
}

fn is_name(s: &str, max: usize) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && s.len() <= max
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.ends_with('-')
}

/// An AWS region code such as `us-east-1` (its shape, not a list of regions).
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

#[cfg(test)]
mod tests;
