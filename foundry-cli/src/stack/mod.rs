//! Stack files: parse, overlay an environment, validate, before any AWS call.
//!
//! Only this module knows the file's syntax; everything after it works on the
//! resolved [`Stack`].

pub mod cdn;
pub mod database;
pub mod diagnostic;
pub mod file;
mod layered;
pub mod network;

use std::ops::Range;
use std::path::Path;

use toml::de::{DeTable, DeValue};

pub use cdn::Cdn;
pub use database::Database;
pub use diagnostic::{Diagnostic, StackFileError};
pub use file::{Engine, NatMode, StackFile, StateBackendKind};
pub use network::{Network, Tier};

/// A stack with one environment's overlay applied and every value checked.
#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    pub region: String,
    pub env: String,
    pub network: Network,
    pub state: StateBackend,
    pub services: Vec<Service>,
    pub secrets: Vec<Secret>,
    pub buckets: Vec<Bucket>,
    pub database: Option<Database>,
    pub cdn: Option<Cdn>,
    /// Addresses alarm notifications go to; none means no topic.
    pub alarm_emails: Vec<String>,
    /// NAT egress alarm threshold, bytes per 5 minutes.
    pub nat_bytes_out_per_5min: u64,
    /// Images kept per ECR repository.
    pub keep_images: u32,
}

/// A service of the app, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub secrets: Vec<String>,
    /// Bucket name → key prefix the service may use.
    pub buckets: Vec<(String, String)>,
    /// Whether the service's security group is admitted to the database.
    pub connects_to_database: bool,
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
                let diag = diagnostic_from_toml(&err);
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
        let state = resolve_state(&self.file.state, &locator, &mut diags);
        let (services, secrets) = resolve_services(&self.file, &locator, &mut diags);
        let buckets = resolve_buckets(&self.file, env, &locator, &mut diags);
        let database = self
            .file
            .database
            .as_ref()
            .map(|base| database::resolve(base, &overlay.database, env, &locator, &mut diags));
        let bucket_names: Vec<&str> = buckets.iter().map(|b| b.name.as_str()).collect();
        let cdn =
            self.file.cdn.as_ref().map(|base| {
                cdn::resolve(base, &overlay.cdn, env, &bucket_names, &locator, &mut diags)
            });
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
                services,
                secrets,
                buckets,
                database,
                cdn,
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

fn resolve_state(
    spec: &file::StateSpec,
    locator: &Locator,
    diags: &mut Vec<Diagnostic>,
) -> StateBackend {
    match spec.backend.unwrap_or(StateBackendKind::Local) {
        StateBackendKind::Local => {
            if spec.bucket.is_some() {
                diags.push(
                    Diagnostic::new("state.bucket is set but the state backend is local")
                        .at(locator.span(&["state", "bucket"]))
                        .help("add backend = \"s3\" to [state], or remove bucket"),
                );
            }
            StateBackend::Local
        }
        StateBackendKind::S3 => {
            let bucket = spec.bucket.clone().unwrap_or_default();
            if bucket.is_empty() {
                diags.push(
                    Diagnostic::new("backend = \"s3\" needs a bucket")
                        .at(locator.span(&["state"]))
                        .help("add bucket = \"<an existing S3 bucket>\" to [state]"),
                );
            } else if !is_bucket_name(&bucket) {
                diags.push(
                    Diagnostic::new(format!("`{bucket}` is not a valid S3 bucket name"))
                        .at(locator.span(&["state", "bucket"]))
                        .help("use 3 to 63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit"),
                );
            }
            let prefix = spec
                .prefix
                .clone()
                .unwrap_or_else(|| "foundry".into())
                .trim_matches('/')
                .to_string();
            StateBackend::S3 { bucket, prefix }
        }
    }
}

/// Services and secrets: valid names, and every secret a service reads is declared.
fn resolve_services(
    file: &StackFile,
    locator: &Locator,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<Service>, Vec<Secret>) {
    let declared: Vec<&str> = file.secrets.keys().map(String::as_str).collect();
    for (kind, names) in [
        ("service", file.services.keys().collect::<Vec<_>>()),
        ("secret", file.secrets.keys().collect()),
    ] {
        for name in names {
            if !is_key_name(name) {
                diags.push(
                    Diagnostic::new(format!("invalid {kind} name `{name}`"))
                        .at(locator.span(&[&format!("{kind}s"), name]))
                        .help("use lowercase letters, digits, `_` or `-`, starting with a letter (at most 32)"),
                );
            }
        }
    }
    let mut services = Vec::new();
    for (name, spec) in &file.services {
        for (i, secret) in spec.secrets.iter().enumerate() {
            if !declared.contains(&secret.as_str()) {
                let d = Diagnostic::new(format!(
                    "service `{name}` reads secret `{secret}`, which is not declared"
                ))
                .at(locator.span(&["services", name, "secrets", &i.to_string()]));
                diags.push(d.help(did_you_mean(secret, declared.iter().copied(), || {
                    format!("declare it with a [secrets.{secret}] table")
                })));
            }
        }
        let buckets: Vec<&str> = file.buckets.keys().map(String::as_str).collect();
        for (bucket, prefix) in &spec.buckets {
            let at = locator.span(&["services", name, "buckets", bucket]);
            if !buckets.contains(&bucket.as_str()) {
                let d = Diagnostic::new(format!(
                    "service `{name}` uses bucket `{bucket}`, which is not declared"
                ))
                .at(at);
                diags.push(d.help(did_you_mean(bucket, buckets.iter().copied(), || {
                    format!("declare it with a [buckets.{bucket}] table")
                })));
            } else if prefix.contains('*') || prefix.starts_with('/') {
                diags.push(
                    Diagnostic::new(format!("`{prefix}` is not a key prefix"))
                        .at(at)
                        .help("write a plain prefix such as \"uploads/\" (or \"\" for the whole bucket); no wildcards"),
                );
            }
        }
        for (i, target) in spec.connect.iter().enumerate() {
            let at = locator.span(&["services", name, "connect", &i.to_string()]);
            if target != "database" {
                diags.push(
                    Diagnostic::new(format!(
                        "service `{name}` connects to `{target}`, which foundry does not know"
                    ))
                    .at(at)
                    .help("the only connection so far is \"database\""),
                );
            } else if file.database.is_none() {
                diags.push(
                    Diagnostic::new(format!(
                        "service `{name}` connects to the database, but the stack declares none"
                    ))
                    .at(at)
                    .help("declare it with a [database] table, or remove the connection"),
                );
            }
        }
        services.push(Service {
            name: name.clone(),
            connects_to_database: spec.connect.iter().any(|c| c == "database"),
            secrets: spec.secrets.clone(),
            buckets: spec
                .buckets
                .iter()
                .map(|(b, p)| (b.clone(), p.clone()))
                .collect(),
        });
    }
    let secrets = file
        .secrets
        .iter()
        .map(|(name, spec)| Secret {
            name: name.clone(),
            description: spec
                .description
                .clone()
                .unwrap_or_else(|| format!("{name} (set with foundry secret set {name})")),
            generate: spec.generate,
        })
        .collect();
    (services, secrets)
}

fn resolve_buckets(
    file: &StackFile,
    env: &str,
    locator: &Locator,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Bucket> {
    let mut out = Vec::new();
    for (name, spec) in &file.buckets {
        // `<stack>-<env>-<name>-<12-digit account>` must fit S3's 63 characters.
        let len = file.name.len() + env.len() + name.len() + 15;
        if !is_key_name(name) || name.contains('_') || len > 63 {
            diags.push(
                Diagnostic::new(format!("bucket name `{name}` cannot form a valid S3 bucket name for {}/{env}", file.name))
                    .at(locator.span(&["buckets", name]))
                    .help("use lowercase letters, digits and `-`, short enough that <stack>-<env>-<name>-<account id> stays within 63 characters"),
            );
        }
        if let (Some(ia), Some(glacier)) = (spec.ia_after_days, spec.glacier_after_days)
            && glacier <= ia
        {
            diags.push(
                Diagnostic::new(format!(
                    "glacier_after_days ({glacier}) must come after ia_after_days ({ia})"
                ))
                .at(locator.span(&["buckets", name, "glacier_after_days"]))
                .help("objects move to Infrequent Access first, then to Glacier"),
            );
        }
        if spec.ia_after_days.is_some_and(|d| d < 30) {
            diags.push(
                Diagnostic::new(
                    "S3 moves objects to Infrequent Access after 30 days at the earliest",
                )
                .at(locator.span(&["buckets", name, "ia_after_days"]))
                .help("use 30 or more"),
            );
        }
        out.push(Bucket {
            name: name.clone(),
            versioning: spec.versioning.unwrap_or(true),
            ia_after_days: spec.ia_after_days,
            glacier_after_days: spec.glacier_after_days,
            cors_origins: spec.cors_origins.clone(),
        });
    }
    out
}

fn is_key_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && s.len() <= 32
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn is_bucket_name(s: &str) -> bool {
    (3..=63).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn is_name(s: &str, max: usize) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && s.len() <= max
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.ends_with('-')
}

fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// A hint for an unknown `word`: the close candidate as "did you mean", else
/// `otherwise`.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    otherwise: impl FnOnce() -> String,
) -> String {
    closest(word, candidates).map_or_else(otherwise, |s| format!("did you mean `{s}`?"))
}

/// The candidate closest to `word`, if it is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Turns a toml/serde error into a diagnostic, adding a suggestion for
/// misspelt keys and enum values.
fn diagnostic_from_toml(err: &toml::de::Error) -> Diagnostic {
    let message = err.message().trim().to_string();
    let mut diag = Diagnostic::new(message.clone()).at(err.span());
    // serde's wording: "unknown field `nats`, expected one of `a`, `b`" and
    // "unknown variant `x`, expected one of ...".
    for what in ["unknown field `", "unknown variant `"] {
        if let Some(rest) = message.strip_prefix(what) {
            let word = rest.split('`').next().unwrap_or("");
            let expected: Vec<&str> = rest
                .split('`')
                .skip(1)
                .enumerate()
                .filter(|(i, _)| i % 2 == 1)
                .map(|(_, s)| s)
                .collect();
            diag = match closest(word, expected.iter().copied()) {
                Some(s) => diag.help(format!("did you mean `{s}`?")),
                None if !expected.is_empty() => {
                    diag.help(format!("expected one of: {}", expected.join(", ")))
                }
                None => diag.help("remove it; `foundry schema` lists every key"),
            };
        }
    }
    if message.starts_with("missing field") {
        diag = diag.help("add it; `foundry schema` documents every key");
    } else if message.starts_with("invalid type") {
        diag = diag.help("check the value's type against `foundry schema`");
    }
    diag
}

/// Finds where a key path (`["env", "prod", "network", "cidr"]`) stands in
/// the source, so that checks made after deserialisation can point at it.
pub struct Locator<'a> {
    root: Option<toml::Spanned<DeTable<'a>>>,
}

impl<'a> Locator<'a> {
    pub fn new(text: &'a str) -> Self {
        Self {
            root: DeTable::parse(text).ok(),
        }
    }

    /// The span of the value at `path`, or of the deepest part of it that exists.
    pub fn span(&self, path: &[&str]) -> Option<Range<usize>> {
        let root = self.root.as_ref()?;
        let mut best = None;
        let mut current: Option<&DeValue<'a>> = None;
        for key in path {
            let next = match current {
                None => find_key(root.get_ref(), key),
                Some(DeValue::Table(t)) => find_key(t, key),
                Some(DeValue::Array(a)) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
                Some(_) => None,
            };
            let Some(next) = next else { break };
            best = Some(next.span());
            current = Some(next.get_ref());
        }
        best
    }
}

fn find_key<'t, 'a>(table: &'t DeTable<'a>, key: &str) -> Option<&'t toml::Spanned<DeValue<'a>>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref() == key)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests;
