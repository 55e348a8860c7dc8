//! Configuration: environment variables first (`PORT`, `AI_INTERNAL_API_KEY`
//! and each provider's standard variables), plus an optional TOML file named by
//! `AI_CONFIG_FILE` for aliases, fallback chains, prices, caps and tuning.
//!
//! [`Config::load`] takes the environment as a lookup function so that tests
//! build their app through exactly the same path as `main`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use pg_credentials::{DatabaseSource, SourceError};
use serde::Deserialize;

use crate::catalog::check_model_id;
use crate::providers::{anthropic, azure, echo, gemini, openai};

pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{0} must be set")]
    Missing(String),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: String, reason: String },
}

impl ConfigError {
    fn invalid(name: impl Into<String>, reason: impl fmt::Display) -> Self {
        ConfigError::Invalid {
            name: name.into(),
            reason: reason.to_string(),
        }
    }
}

/// A secret string: never printed by `Debug`, only read through `expose`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Openai,
    Anthropic,
    Gemini,
    Azure,
    Bedrock,
    Echo,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Azure => "azure",
            ProviderKind::Bedrock => "bedrock",
            ProviderKind::Echo => "echo",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [
            Self::Openai,
            Self::Anthropic,
            Self::Gemini,
            Self::Azure,
            Self::Bedrock,
            Self::Echo,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }

    /// The environment variable that holds this kind's key by convention.
    fn key_var(self) -> Option<&'static str> {
        match self {
            ProviderKind::Openai => Some("OPENAI_API_KEY"),
            ProviderKind::Anthropic => Some("ANTHROPIC_API_KEY"),
            ProviderKind::Gemini => Some("GEMINI_API_KEY"),
            ProviderKind::Azure => Some("AZURE_OPENAI_API_KEY"),
            ProviderKind::Bedrock | ProviderKind::Echo => None,
        }
    }

    fn base_url_var(self) -> Option<&'static str> {
        match self {
            ProviderKind::Openai => Some("OPENAI_BASE_URL"),
            ProviderKind::Anthropic => Some("ANTHROPIC_BASE_URL"),
            ProviderKind::Gemini => Some("GEMINI_BASE_URL"),
            ProviderKind::Azure => Some("AZURE_OPENAI_ENDPOINT"),
            ProviderKind::Bedrock => Some("AWS_ENDPOINT_URL_BEDROCK_RUNTIME"),
            ProviderKind::Echo => None,
        }
    }

    fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::Openai => Some(openai::DEFAULT_BASE_URL),
            ProviderKind::Anthropic => Some(anthropic::DEFAULT_BASE_URL),
            ProviderKind::Gemini => Some(gemini::DEFAULT_BASE_URL),
            // Azure has no public default; Bedrock's endpoint comes from the region.
            ProviderKind::Azure | ProviderKind::Bedrock | ProviderKind::Echo => None,
        }
    }

    fn default_model(self) -> &'static str {
        match self {
            ProviderKind::Openai => "gpt-4o-mini",
            ProviderKind::Anthropic => "claude-sonnet-4-5",
            ProviderKind::Gemini => "gemini-2.5-flash",
            ProviderKind::Azure => "gpt-4o-mini",
            ProviderKind::Bedrock => "amazon.nova-lite-v1:0",
            ProviderKind::Echo => echo::DEFAULT_MODEL,
        }
    }

    fn default_embedding_model(self) -> Option<&'static str> {
        match self {
            ProviderKind::Openai | ProviderKind::Azure => Some("text-embedding-3-small"),
            ProviderKind::Gemini => Some("gemini-embedding-001"),
            ProviderKind::Bedrock => Some("amazon.titan-embed-text-v2:0"),
            ProviderKind::Echo => Some("echo-embed-1"),
            ProviderKind::Anthropic => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

/// Where the internal API key comes from. Secrets Manager is read once at
/// start-up (App Runner and ECS can also inject the secret as the env var).
#[derive(Debug, Clone)]
pub enum InternalKeySource {
    Value(Secret),
    SecretsManager { secret_id: String, aws: AwsEnv },
}

/// AWS settings read through the same lookup as everything else, so tests can
/// point the SDK at a local endpoint without touching the process environment.
#[derive(Debug, Clone, Default)]
pub struct AwsEnv {
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// Explicit credentials; None = the SDK's default chain.
    pub credentials: Option<AwsCredentials>,
}

impl AwsEnv {
    fn load(
        get: &dyn Fn(&str) -> Option<String>,
        service_endpoint_var: &str,
    ) -> Result<AwsEnv, ConfigError> {
        let credentials = match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret)) => Some(AwsCredentials {
                access_key_id,
                secret_access_key: Secret::new(secret),
                session_token: get("AWS_SESSION_TOKEN").map(Secret::new),
            }),
            (Some(_), None) => return Err(ConfigError::Missing("AWS_SECRET_ACCESS_KEY".into())),
            _ => None,
        };
        Ok(AwsEnv {
            region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
            endpoint_url: get(service_endpoint_var).or_else(|| get("AWS_ENDPOINT_URL")),
            credentials,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: Option<String>,
    pub api_key: Option<Secret>,
    pub default_model: String,
    pub embedding_model: Option<String>,
    /// Extra model ids this provider serves besides the defaults (for `/v1/models`).
    pub models: Vec<String>,
    pub timeout: Duration,
    pub api_version: Option<String>,
    /// Bedrock only: region, endpoint and credentials for the SDK.
    pub aws: Option<AwsEnv>,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// USD per million input tokens.
    pub input_per_million: f64,
    /// USD per million output tokens.
    pub output_per_million: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts per provider, the first included.
    pub max_attempts: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    /// A Retry-After longer than this is not waited for: the chain falls back instead.
    pub max_retry_after_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 3,
            base_delay_ms: 200,
            max_delay_ms: 5_000,
            max_retry_after_ms: 20_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Consecutive failures that open a provider's breaker.
    pub failure_threshold: u32,
    /// How long it stays open before one half-open probe is let through.
    pub open_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            open_ms: 30_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub window_seconds: u64,
    /// Tokens (input + output) per organization per window; 0 = no cap.
    pub org_tokens_per_window: u64,
    /// Per-organization overrides of the cap.
    pub orgs: HashMap<String, u64>,
    pub max_body_bytes: usize,
    /// Characters of prompt/messages/inputs accepted per request.
    pub max_input_chars: usize,
    pub max_output_tokens: u32,
    pub default_max_tokens: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            window_seconds: 60,
            org_tokens_per_window: 0,
            orgs: HashMap::new(),
            max_body_bytes: 1024 * 1024,
            max_input_chars: 200_000,
            max_output_tokens: 32_768,
            default_max_tokens: 1_024,
        }
    }
}

/// Which routes redact PII before anything leaves for a provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedactionConfig {
    pub generate: bool,
    pub embed: bool,
    pub moderate: bool,
}

impl Default for RedactionConfig {
    fn default() -> Self {
        RedactionConfig {
            generate: true,
            embed: true,
            moderate: true,
        }
    }
}

/// Where per-organization token caps are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CapStoreKind {
    /// This process's memory: right for one instance (and tests of the pure logic).
    Memory,
    /// The stack's Postgres: caps hold across instances, restarts and deploys.
    Postgres,
}

/// What the Postgres cap store does while its database is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDatabaseUnavailable {
    /// Refuse capped requests with `caps_unavailable` (503): the safe default for money.
    FailClosed,
    /// Admit from a local per-instance allowance (`fail_open_tokens_per_window`
    /// per org and window), so an outage costs at most that per instance.
    FailOpen,
}

impl OnDatabaseUnavailable {
    pub fn as_str(self) -> &'static str {
        match self {
            OnDatabaseUnavailable::FailClosed => "fail_closed",
            OnDatabaseUnavailable::FailOpen => "fail_open",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CapsConfig {
    /// None: `postgres` when `DATABASE_URL` or any of `DATABASE_HOST`,
    /// `DATABASE_PORT`, `DATABASE_NAME`, `DATABASE_SECRET_ARN` is set, else `memory`.
    pub store: Option<CapStoreKind>,
    pub on_database_unavailable: OnDatabaseUnavailable,
    pub fail_open_tokens_per_window: u64,
    /// After this long an unsettled reservation (its instance died) is released.
    /// Must exceed every provider's timeout.
    pub reservation_expiry_seconds: u64,
    pub pool_max_connections: u32,
    /// How long a request waits for a database connection before the store counts as unreachable.
    pub pool_acquire_timeout_ms: u64,
}

impl Default for CapsConfig {
    fn default() -> Self {
        CapsConfig {
            store: None,
            on_database_unavailable: OnDatabaseUnavailable::FailClosed,
            fail_open_tokens_per_window: 0,
            reservation_expiry_seconds: 900,
            pool_max_connections: 4,
            pool_acquire_timeout_ms: 1_000,
        }
    }
}

/// How to reach the cap store's database, the way the api reaches its own:
/// `DATABASE_URL`, or `DATABASE_HOST`, `DATABASE_PORT`, `DATABASE_NAME` and
/// `DATABASE_SECRET_ARN` (an RDS-managed secret holding user and password,
/// read again whenever Postgres refuses the password).
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub source: DatabaseSource,
    /// For the secret form: region, credentials and endpoint
    /// (`AWS_ENDPOINT_URL_SECRETS_MANAGER`) of the Secrets Manager client.
    pub aws: Option<AwsEnv>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub bind_address: IpAddr,
    pub port: u16,
    pub internal_api_key: InternalKeySource,
    pub providers: Vec<ProviderConfig>,
    /// Alias → ordered fallback chain of `provider/model` targets.
    pub aliases: BTreeMap<String, Vec<String>>,
    pub default_model: Option<String>,
    /// Serve `provider/<any model>` rather than only the models this
    /// configuration lists (providers' models and alias targets). Off by
    /// default: a caller must not pick a model the operator did not budget for.
    pub allow_unlisted_models: bool,
    /// Provider used by `/v1/moderate`; None = the OpenAI provider if any, else local rules.
    pub moderation_provider: Option<String>,
    /// Keyed by `provider/model` or bare model id.
    pub prices: HashMap<String, Price>,
    pub retry: RetryConfig,
    pub breaker: BreakerConfig,
    pub limits: LimitsConfig,
    pub redact: RedactionConfig,
    pub caps: CapsConfig,
    /// Set when the cap store is Postgres.
    pub database: Option<DatabaseSettings>,
}

/// The optional TOML file. Unknown keys are errors: a typo must not silently
/// disable a cap or a fallback.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    default_model: Option<String>,
    #[serde(default)]
    allow_unlisted_models: bool,
    moderation_provider: Option<String>,
    #[serde(default)]
    providers: BTreeMap<String, FileProvider>,
    #[serde(default)]
    models: BTreeMap<String, FileAlias>,
    #[serde(default)]
    prices: HashMap<String, Price>,
    #[serde(default)]
    retry: RetryConfig,
    #[serde(default)]
    breaker: BreakerConfig,
    #[serde(default)]
    limits: LimitsConfig,
    #[serde(default)]
    redact: RedactionConfig,
    #[serde(default)]
    caps: CapsConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProvider {
    kind: Option<ProviderKind>,
    base_url: Option<String>,
    /// Name of the environment variable holding the key (never the key itself).
    api_key_env: Option<String>,
    default_model: Option<String>,
    embedding_model: Option<String>,
    #[serde(default)]
    models: Vec<String>,
    timeout_ms: Option<u64>,
    api_version: Option<String>,
    region: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAlias {
    targets: Vec<String>,
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Any of these picks the Postgres cap store (when `caps.store` is not set).
const DATABASE_VARS: [&str; 5] = [
    pg_credentials::source::DATABASE_URL,
    pg_credentials::source::DATABASE_HOST,
    pg_credentials::source::DATABASE_PORT,
    pg_credentials::source::DATABASE_NAME,
    pg_credentials::source::DATABASE_SECRET_ARN,
];

/// `pg-credentials`' messages, named by the variable to fix. They never
/// quote a value (a URL may hold the password).
fn database_error(err: SourceError) -> ConfigError {
    match err {
        SourceError::Missing => ConfigError::Missing(
            "DATABASE_URL, or DATABASE_HOST, DATABASE_PORT, DATABASE_NAME and DATABASE_SECRET_ARN (caps.store = \"postgres\")"
                .into(),
        ),
        SourceError::PartMissing { missing, given } => {
            ConfigError::Missing(format!("{missing} (needed with {given})"))
        }
        SourceError::Invalid { name, reason } => ConfigError::invalid(name, reason),
        other => ConfigError::invalid(other.variable(), other),
    }
}

impl Config {
    pub fn load(env: EnvLookup<'_>) -> Result<Config, ConfigError> {
        let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());

        let port = match get("PORT") {
            Some(raw) => raw
                .trim()
                .parse::<u16>()
                .map_err(|e| ConfigError::invalid("PORT", e))?,
            // 8081: seed 001's local layout (AI_SERVICE_URL=http://localhost:8081); the api takes 8080.
            None => 8081,
        };
        let bind_address = match get("AI_BIND_ADDRESS") {
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|e| ConfigError::invalid("AI_BIND_ADDRESS", e))?,
            None => IpAddr::from([0, 0, 0, 0]),
        };
        let internal_api_key = match (
            get("AI_INTERNAL_API_KEY"),
            get("AI_INTERNAL_API_KEY_SECRET_ID"),
        ) {
            (Some(key), _) => {
                InternalKeySource::Value(validate_internal_key("AI_INTERNAL_API_KEY", key)?)
            }
            (None, Some(secret_id)) => InternalKeySource::SecretsManager {
                secret_id,
                aws: AwsEnv::load(&get, "AWS_ENDPOINT_URL_SECRETS_MANAGER")?,
            },
            (None, None) => {
                return Err(ConfigError::Missing(
                    "AI_INTERNAL_API_KEY (or AI_INTERNAL_API_KEY_SECRET_ID)".into(),
                ));
            }
        };

        let file = match get("AI_CONFIG_FILE") {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    ConfigError::invalid("AI_CONFIG_FILE", format!("cannot read {path}: {e}"))
                })?;
                toml::from_str::<FileConfig>(&text).map_err(|e| {
                    ConfigError::invalid("AI_CONFIG_FILE", format!("{path}: {}", e.message()))
                })?
            }
            None => FileConfig::default(),
        };

        let mut providers = Vec::new();
        for (name, spec) in &file.providers {
            providers.push(provider_from_file(name, spec, &get)?);
        }
        // Standard env vars alone configure a provider of that kind, unless the
        // file already declares one under the kind's name.
        for kind in [
            ProviderKind::Openai,
            ProviderKind::Anthropic,
            ProviderKind::Gemini,
            ProviderKind::Azure,
        ] {
            let declared = providers.iter().any(|p| p.name == kind.as_str());
            if !declared && kind.key_var().and_then(&get).is_some() {
                providers.push(provider_from_file(
                    kind.as_str(),
                    &FileProvider::default(),
                    &get,
                )?);
            }
        }
        if !providers.iter().any(|p| p.name == "bedrock") && bedrock_from_env(&get) {
            providers.push(provider_from_file(
                "bedrock",
                &FileProvider::default(),
                &get,
            )?);
        }

        // Under `foundry --local` (which sets FOUNDRY_LOCAL=true) an app
        // with no provider key yet still answers, with the echo provider.
        // Never elsewhere: on AWS a missing key must not turn into fake answers.
        if providers.is_empty() && get(LOCAL_MODE_VAR).is_some_and(|v| v == "true") {
            providers.push(provider_from_file(
                ProviderKind::Echo.as_str(),
                &FileProvider::default(),
                &get,
            )?);
        }

        let mut caps = file.caps;
        let database_given = DATABASE_VARS.iter().any(|name| get(name).is_some());
        let store = *caps.store.get_or_insert(if database_given {
            CapStoreKind::Postgres
        } else {
            CapStoreKind::Memory
        });
        let database = match store {
            CapStoreKind::Postgres => {
                let source = DatabaseSource::from_lookup(get).map_err(database_error)?;
                let aws = match source {
                    DatabaseSource::Secret(_) => {
                        Some(AwsEnv::load(&get, "AWS_ENDPOINT_URL_SECRETS_MANAGER")?)
                    }
                    DatabaseSource::Url(_) => None,
                };
                Some(DatabaseSettings { source, aws })
            }
            CapStoreKind::Memory => None,
        };

        let config = Config {
            bind_address,
            port,
            internal_api_key,
            providers,
            aliases: file
                .models
                .into_iter()
                .map(|(alias, a)| (alias, a.targets))
                .collect(),
            default_model: file.default_model,
            allow_unlisted_models: file.allow_unlisted_models,
            moderation_provider: file.moderation_provider,
            prices: file.prices,
            retry: file.retry,
            breaker: file.breaker,
            limits: file.limits,
            redact: file.redact,
            caps,
            database,
        };
        config.validate()?;
        Ok(config)
    }

    /// Cross-references: every alias target names a configured provider, etc.
    fn validate(&self) -> Result<(), ConfigError> {
        let file = "AI_CONFIG_FILE";
        self.validate_model_ids()?;
        for (alias, targets) in &self.aliases {
            if targets.is_empty() {
                return Err(ConfigError::invalid(
                    file,
                    format!("models.{alias}.targets is empty"),
                ));
            }
            for target in targets {
                let Some((provider, model)) = target.split_once('/') else {
                    return Err(ConfigError::invalid(
                        file,
                        format!("models.{alias}: `{target}` is not provider/model"),
                    ));
                };
                if model.is_empty() || !self.providers.iter().any(|p| p.name == provider) {
                    return Err(ConfigError::invalid(
                        file,
                        format!("models.{alias}: provider `{provider}` is not configured"),
                    ));
                }
            }
        }
        if let Some(name) = &self.moderation_provider
            && !self.providers.iter().any(|p| &p.name == name)
        {
            return Err(ConfigError::invalid(
                file,
                format!("moderation_provider `{name}` is not configured"),
            ));
        }
        if self.retry.max_attempts == 0 {
            return Err(ConfigError::invalid(
                file,
                "retry.max_attempts must be at least 1",
            ));
        }
        if self.breaker.failure_threshold == 0 {
            return Err(ConfigError::invalid(
                file,
                "breaker.failure_threshold must be at least 1",
            ));
        }
        if self.limits.window_seconds == 0 {
            return Err(ConfigError::invalid(
                file,
                "limits.window_seconds must be at least 1",
            ));
        }
        let slowest = self.providers.iter().map(|p| p.timeout).max();
        if let Some(slowest) = slowest
            && self.caps.store == Some(CapStoreKind::Postgres)
            && Duration::from_secs(self.caps.reservation_expiry_seconds) <= slowest
        {
            return Err(ConfigError::invalid(
                file,
                format!(
                    "caps.reservation_expiry_seconds must exceed the longest provider timeout ({} ms), or live requests lose their reservations",
                    slowest.as_millis()
                ),
            ));
        }
        if self.caps.on_database_unavailable == OnDatabaseUnavailable::FailOpen
            && self.caps.fail_open_tokens_per_window == 0
        {
            return Err(ConfigError::invalid(
                file,
                "caps.on_database_unavailable = \"fail_open\" needs caps.fail_open_tokens_per_window > 0 (the bound of the local allowance)",
            ));
        }
        if self.caps.pool_max_connections == 0 {
            return Err(ConfigError::invalid(
                file,
                "caps.pool_max_connections must be at least 1",
            ));
        }
        if self.limits.default_max_tokens == 0
            || self.limits.default_max_tokens > self.limits.max_output_tokens
        {
            return Err(ConfigError::invalid(
                file,
                "limits.default_max_tokens must be in 1..=max_output_tokens",
            ));
        }
        Ok(())
    }
}

impl Config {
    /// Every name a request may use obeys the rule requests are held to, so
    /// a configured model is never one the catalog would refuse.
    fn validate_model_ids(&self) -> Result<(), ConfigError> {
        let check = |what: String, id: &str| {
            check_model_id(id).map_err(|rule| {
                ConfigError::invalid("AI_CONFIG_FILE", format!("{what} `{id}`: {rule}"))
            })
        };
        for p in &self.providers {
            let name = &p.name;
            check("provider name".to_string(), name)?;
            check(format!("providers.{name}.default_model"), &p.default_model)?;
            if let Some(model) = &p.embedding_model {
                check(format!("providers.{name}.embedding_model"), model)?;
            }
            for model in &p.models {
                check(format!("providers.{name}.models"), model)?;
            }
        }
        for (alias, targets) in &self.aliases {
            check("model alias".to_string(), alias)?;
            for target in targets {
                if let Some((_, model)) = target.split_once('/') {
                    check(format!("models.{alias}.targets"), model)?;
                }
            }
        }
        if let Some(default) = &self.default_model {
            let model = default.split_once('/').map_or(default.as_str(), |(_, m)| m);
            check("default_model".to_string(), model)?;
        }
        Ok(())
    }
}

/// Short keys are guessable; the same rule applies to a key from Secrets Manager.
pub fn validate_internal_key(source: &str, key: String) -> Result<Secret, ConfigError> {
    let key = key.trim().to_string();
    if key.len() < 16 {
        return Err(ConfigError::invalid(
            source,
            "the internal API key must be at least 16 characters",
        ));
    }
    Ok(Secret::new(key))
}

/// Bedrock from the environment alone: a region plus either explicit
/// credentials/profile or `AI_BEDROCK_MODEL`. A task role by itself (ECS, App
/// Runner) does not switch Bedrock on, or every deployment on AWS would grow a
/// second provider and lose its "only one provider" default.
fn bedrock_from_env(get: &dyn Fn(&str) -> Option<String>) -> bool {
    let region = get("AWS_REGION")
        .or_else(|| get("AWS_DEFAULT_REGION"))
        .is_some();
    // Under `foundry --local` the AWS keys are the local stand-ins' (moto
    // has no Bedrock): only naming a model chooses Bedrock there.
    let local = get(LOCAL_MODE_VAR).is_some_and(|v| v == "true");
    let choices: &[&str] = if local {
        &["AI_BEDROCK_MODEL"]
    } else {
        &["AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AI_BEDROCK_MODEL"]
    };
    let chosen = choices.iter().any(|v| get(v).is_some());
    region && chosen
}

/// Set to `true` by `foundry --local` in every service it runs.
pub const LOCAL_MODE_VAR: &str = "FOUNDRY_LOCAL";

fn provider_from_file(
    name: &str,
    spec: &FileProvider,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<ProviderConfig, ConfigError> {
    let kind = match spec.kind.or_else(|| ProviderKind::from_name(name)) {
        Some(kind) => kind,
        None => {
            return Err(ConfigError::invalid(
                "AI_CONFIG_FILE",
                format!(
                    "providers.{name}: `kind` is required (openai, anthropic, gemini, azure, bedrock, echo)"
                ),
            ));
        }
    };
    let key_var = spec.api_key_env.as_deref().or(kind.key_var());
    let api_key = match key_var {
        Some(var) => Some(Secret::new(
            get(var).ok_or_else(|| ConfigError::Missing(var.to_string()))?,
        )),
        None => None,
    };
    let base_url = spec
        .base_url
        .clone()
        .or_else(|| kind.base_url_var().and_then(get))
        .or_else(|| {
            if kind == ProviderKind::Bedrock {
                get("AWS_ENDPOINT_URL")
            } else {
                None
            }
        })
        .or_else(|| kind.default_base_url().map(str::to_owned));
    if kind == ProviderKind::Azure && base_url.is_none() {
        return Err(ConfigError::Missing("AZURE_OPENAI_ENDPOINT".into()));
    }
    if let Some(url) = &base_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        let var = spec.base_url.as_ref().map_or(
            kind.base_url_var().unwrap_or("base_url"),
            |_| "AI_CONFIG_FILE",
        );
        return Err(ConfigError::invalid(
            var,
            format!("`{url}` is not an http(s) URL"),
        ));
    }
    let api_version = match kind {
        ProviderKind::Azure => Some(
            spec.api_version
                .clone()
                .or_else(|| get("AZURE_OPENAI_API_VERSION"))
                .or_else(|| get("OPENAI_API_VERSION"))
                .unwrap_or_else(|| azure::DEFAULT_API_VERSION.to_string()),
        ),
        _ => spec.api_version.clone(),
    };
    let default_model = spec
        .default_model
        .clone()
        .or_else(|| {
            (kind == ProviderKind::Azure)
                .then(|| get("AZURE_OPENAI_DEPLOYMENT"))
                .flatten()
        })
        .or_else(|| {
            (kind == ProviderKind::Bedrock)
                .then(|| get("AI_BEDROCK_MODEL"))
                .flatten()
        })
        .unwrap_or_else(|| kind.default_model().to_string());
    let embedding_model = spec
        .embedding_model
        .clone()
        .or_else(|| {
            (kind == ProviderKind::Azure)
                .then(|| get("AZURE_OPENAI_EMBEDDING_DEPLOYMENT"))
                .flatten()
        })
        .or_else(|| kind.default_embedding_model().map(str::to_owned));
    let aws = if kind == ProviderKind::Bedrock {
        let mut aws = AwsEnv::load(get, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME")?;
        aws.region = spec.region.clone().or(aws.region);
        aws.endpoint_url = base_url.clone();
        Some(aws)
    } else {
        None
    };
    Ok(ProviderConfig {
        name: name.to_string(),
        kind,
        base_url,
        api_key,
        default_model,
        embedding_model,
        models: spec.models.clone(),
        timeout: spec
            .timeout_ms
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis),
        api_version,
        aws,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(&|name| map.get(name).cloned())
    }

    const KEY: (&str, &str) = ("AI_INTERNAL_API_KEY", "0123456789abcdef");

    #[test]
    fn internal_key_is_required_and_named() {
        let err = load(&[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "AI_INTERNAL_API_KEY (or AI_INTERNAL_API_KEY_SECRET_ID) must be set"
        );
        let err = load(&[("AI_INTERNAL_API_KEY", "short")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("AI_INTERNAL_API_KEY is invalid"),
            "{err}"
        );
    }

    #[test]
    fn malformed_port_names_the_variable() {
        let err = load(&[KEY, ("PORT", "eighty")]).unwrap_err();
        assert!(err.to_string().starts_with("PORT is invalid"), "{err}");
    }

    #[test]
    fn a_provider_from_its_standard_env_vars_alone() {
        let config = load(&[
            KEY,
            ("OPENAI_API_KEY", "sk-test"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
        ])
        .unwrap();
        assert_eq!(config.providers.len(), 1);
        let openai = &config.providers[0];
        assert_eq!(openai.kind, ProviderKind::Openai);
        assert_eq!(openai.base_url.as_deref(), Some("http://127.0.0.1:9/v1"));
        assert_eq!(openai.default_model, "gpt-4o-mini");
    }

    #[test]
    fn azure_without_endpoint_is_refused() {
        let err = load(&[KEY, ("AZURE_OPENAI_API_KEY", "k")]).unwrap_err();
        assert_eq!(err, ConfigError::Missing("AZURE_OPENAI_ENDPOINT".into()));
    }

    #[test]
    fn file_typos_and_dangling_aliases_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ai.toml");
        std::fs::write(&path, "[limits]\norg_token_per_window = 5\n").unwrap();
        let path_str = path.to_str().unwrap();
        let err = load(&[KEY, ("AI_CONFIG_FILE", path_str)]).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");

        std::fs::write(&path, "[models.fast]\ntargets = [\"openai/gpt-4o\"]\n").unwrap();
        let err = load(&[KEY, ("AI_CONFIG_FILE", path_str)]).unwrap_err();
        assert!(
            err.to_string()
                .contains("provider `openai` is not configured"),
            "{err}"
        );
    }

    #[test]
    fn only_foundry_local_answers_with_echo_when_no_provider_key_is_set() {
        let names = |config: &Config| -> Vec<String> {
            config.providers.iter().map(|p| p.name.clone()).collect()
        };
        assert!(names(&load(&[KEY]).unwrap()).is_empty());
        assert!(names(&load(&[KEY, ("FOUNDRY_LOCAL", "false")]).unwrap()).is_empty());
        assert_eq!(
            names(&load(&[KEY, ("FOUNDRY_LOCAL", "true")]).unwrap()),
            ["echo"]
        );
        // The local AWS keys are moto's: they do not choose Bedrock there.
        let local_aws = [
            KEY,
            ("FOUNDRY_LOCAL", "true"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "foundry-local"),
        ];
        assert_eq!(names(&load(&local_aws).unwrap()), ["echo"]);
        // A key, once set, wins: no echo beside the real provider.
        assert_eq!(
            names(&load(&[KEY, ("FOUNDRY_LOCAL", "true"), ("OPENAI_API_KEY", "sk-1")]).unwrap()),
            ["openai"]
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let config = load(&[KEY, ("OPENAI_API_KEY", "sk-very-secret")]).unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("sk-very-secret") && !printed.contains("0123456789abcdef"));
    }

    #[test]
    fn bedrock_needs_a_region_and_an_explicit_choice() {
        let region_only = load(&[KEY, ("AWS_REGION", "us-east-1")]).unwrap();
        assert!(
            region_only.providers.is_empty(),
            "a task role alone does not switch Bedrock on"
        );
        let chosen = load(&[
            KEY,
            ("AWS_REGION", "eu-west-1"),
            ("AI_BEDROCK_MODEL", "anthropic.claude-x"),
        ])
        .unwrap();
        let bedrock = &chosen.providers[0];
        assert_eq!(
            (bedrock.kind, bedrock.default_model.as_str()),
            (ProviderKind::Bedrock, "anthropic.claude-x")
        );
        assert_eq!(
            bedrock.aws.as_ref().unwrap().region.as_deref(),
            Some("eu-west-1")
        );
    }

    #[test]
    fn the_example_config_file_loads() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/ai.example.toml");
        let config = load(&[
            KEY,
            ("AI_CONFIG_FILE", path),
            ("OPENAI_API_KEY", "sk-1"),
            ("OPENAI_EU_API_KEY", "sk-2"),
            ("ANTHROPIC_API_KEY", "sk-3"),
        ])
        .unwrap();
        assert_eq!(config.providers.len(), 4);
        assert_eq!(config.aliases["fast"].len(), 3);
        assert_eq!(config.limits.orgs["org_2abc"], 10_000_000);
    }

    #[test]
    fn caps_store_follows_database_url_and_its_settings_are_checked() {
        let url = (
            "DATABASE_URL",
            "postgres://ai:pw-secret@db.internal:5432/app",
        );
        let config = load(&[KEY, url]).unwrap();
        assert_eq!(config.caps.store, Some(CapStoreKind::Postgres));
        assert!(config.database.is_some());
        let config = load(&[KEY]).unwrap();
        assert_eq!(config.caps.store, Some(CapStoreKind::Memory));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ai.toml");
        let path_str = path.to_str().unwrap();
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: [Case; 4] = [
            ("[caps]\nstore = \"postgres\"\n", &[], "DATABASE_URL"),
            (
                "[caps]\non_database_unavailable = \"fail_open\"\n",
                &[url],
                "fail_open_tokens_per_window",
            ),
            (
                "[providers.openai]\ntimeout_ms = 60000\n[caps]\nreservation_expiry_seconds = 60\n",
                &[url, ("OPENAI_API_KEY", "sk")],
                "reservation_expiry_seconds must exceed",
            ),
            (
                "",
                &[("DATABASE_URL", "mysql://u:pw-secret@h/db")],
                "DATABASE_URL is invalid",
            ),
        ];
        for (file, env, expected) in cases {
            std::fs::write(&path, file).unwrap();
            let mut vars = vec![KEY, ("AI_CONFIG_FILE", path_str)];
            vars.extend_from_slice(env);
            let err = load(&vars).unwrap_err().to_string();
            assert!(err.contains(expected), "{file}: {err}");
            assert!(
                !err.contains("pw-secret"),
                "the URL's password leaked: {err}"
            );
        }
    }

    const SECRET_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1-AbCdEf";

    fn secret_form() -> Vec<(&'static str, &'static str)> {
        vec![
            KEY,
            ("DATABASE_HOST", "db.internal"),
            ("DATABASE_PORT", "5432"),
            ("DATABASE_NAME", "app"),
            ("DATABASE_SECRET_ARN", SECRET_ARN),
        ]
    }

    #[test]
    fn caps_database_can_be_host_port_name_and_an_rds_secret() {
        let mut vars = secret_form();
        vars.push(("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:5000"));
        vars.push(("AWS_REGION", "eu-west-1"));
        let config = load(&vars).unwrap();
        assert_eq!(config.caps.store, Some(CapStoreKind::Postgres));
        let database = config.database.unwrap();
        assert_eq!(
            database.source,
            DatabaseSource::Secret(pg_credentials::SecretSource {
                host: "db.internal".into(),
                port: 5432,
                database: "app".into(),
                secret_arn: SECRET_ARN.into(),
            })
        );
        let aws = database.aws.expect("the secret form reads Secrets Manager");
        assert_eq!(aws.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(aws.region.as_deref(), Some("eu-west-1"));

        // The URL form needs no AWS settings.
        let config = load(&[KEY, ("DATABASE_URL", "postgres://ai:pw-secret@h/app")]).unwrap();
        assert!(config.database.unwrap().aws.is_none());
    }

    #[test]
    fn a_partial_or_doubled_database_configuration_is_refused_by_name() {
        // Any one part picks the Postgres store, so a typo is not silently
        // a per-instance memory store.
        for missing in [
            "DATABASE_HOST",
            "DATABASE_PORT",
            "DATABASE_NAME",
            "DATABASE_SECRET_ARN",
        ] {
            let vars: Vec<_> = secret_form()
                .into_iter()
                .filter(|(k, _)| *k != missing)
                .collect();
            let err = load(&vars).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("{missing} (needed with DATABASE_")),
                "{err}"
            );
        }
        let mut both = secret_form();
        both.push(("DATABASE_URL", "postgres://ai:pw-secret@h/app"));
        let err = load(&both).unwrap_err().to_string();
        assert!(
            err.contains("DATABASE_URL") && err.contains("DATABASE_HOST"),
            "{err}"
        );
        assert!(!err.contains("pw-secret"), "{err}");
        let mut bad_port = secret_form();
        bad_port[2] = ("DATABASE_PORT", "fivefour");
        assert!(
            load(&bad_port)
                .unwrap_err()
                .to_string()
                .starts_with("DATABASE_PORT is invalid"),
        );
    }
}
