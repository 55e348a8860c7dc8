//! Configuration from the environment, with the names of seed 003 §3.
//!
//! Parsing goes through a lookup function so that tests build a `Config` with
//! the very code production uses, without touching the process environment.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use pg_credentials::DatabaseSource;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("missing required environment variable {0}")]
    Missing(&'static str),
    #[error("invalid value for environment variable {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
    /// `DATABASE_URL` or `DATABASE_HOST`/`_PORT`/`_NAME`/`_SECRET_ARN`.
    #[error(transparent)]
    Database(#[from] pg_credentials::SourceError),
}

/// Where the per-IP rate limit finds the client's address (`CLIENT_IP_SOURCE`).
/// Only what the proxies in front of the api wrote counts: a client can put
/// anything in its own headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientIpSource {
    /// The TCP peer (no proxy in front; `peer`).
    Peer,
    /// The entry `trusted_hops` from the right of `X-Forwarded-For`: each of
    /// the `trusted_hops` proxies in front appends the address it saw, so
    /// that entry was written by the outermost one (`x-forwarded-for:N`).
    ForwardedFor { trusted_hops: usize },
    /// CloudFront's `CloudFront-Viewer-Address` (`ip:port`), which CloudFront
    /// sets itself when the origin request policy forwards it
    /// (`cloudfront-viewer-address`). Without the header, the TCP peer.
    CloudFrontViewerAddress,
}

impl std::str::FromStr for ClientIpSource {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        let expected = "expected peer, cloudfront-viewer-address or x-forwarded-for:<trusted hops>";
        match value.to_ascii_lowercase().as_str() {
            "peer" => Ok(ClientIpSource::Peer),
            "cloudfront-viewer-address" => Ok(ClientIpSource::CloudFrontViewerAddress),
            other => {
                let hops = other
                    .strip_prefix("x-forwarded-for:")
                    .ok_or_else(|| format!("`{value}`: {expected}"))?;
                match hops.trim().parse::<usize>() {
                    Ok(n) if (1..=10).contains(&n) => {
                        Ok(ClientIpSource::ForwardedFor { trusted_hops: n })
                    }
                    _ => Err(format!(
                        "`{value}`: the number of trusted proxies must be 1 to 10"
                    )),
                }
            }
        }
    }
}

/// Where the service runs. Development relaxes what production forbids
/// (introspection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Dev,
    Staging,
    Prod,
}

impl AppEnv {
    pub fn is_dev(self) -> bool {
        self == AppEnv::Dev
    }
}

/// How `/graphql` treats persisted queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersistedQueryMode {
    /// Plain queries only.
    Off,
    /// Automatic persisted queries (Apollo APQ): clients may send a hash
    /// instead of the text once the server has seen it.
    Automatic,
    /// Only the queries in the allowlist file (JSON object: sha256 hex → query)
    /// run; anything else is refused.
    Allowlist(PathBuf),
}

/// Token-bucket quotas, in requests per minute (a bucket holds one minute's
/// worth and refills evenly). Behind a proxy, set `CLIENT_IP_SOURCE` or the
/// per-IP bucket is shared by every client of that proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub ip_per_minute: u32,
    pub user_queries_per_minute: u32,
    pub user_mutations_per_minute: u32,
    pub org_per_minute: u32,
}

/// A secret that never shows in Debug output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The cores this process may run on (its CPU affinity and cgroup quota, as
/// the standard library reads them), at least 1.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `DB_MAX_CONNECTIONS` unless set: two per worker thread, at least 4.
///
/// Measured with bench/run.sh's query on 2 cores (Postgres on the same
/// cores, wrk at 16 and 64 connections): pools of 2 and 4 served as many
/// requests as 8, 10 or 16 and with a p99 a half to a third of theirs; more
/// connections only queue more backends for the same cores. A request holds
/// a connection for one statement, so by Little's law a pool of 4 carries
/// about 4 / (round trip + execution) requests a second: some 5,000 at 0.8
/// ms. Raise it when the database is farther away than that.
pub fn default_pool_size(worker_threads: usize) -> u32 {
    u32::try_from(worker_threads.saturating_mul(2))
        .unwrap_or(u32::MAX)
        .max(4)
}

#[derive(Debug, Clone)]
pub struct Config {
    pub host: IpAddr,
    pub port: u16,
    pub app_env: AppEnv,
    pub graphql_playground: bool,
    /// Apply pending migrations at start-up (`MIGRATE_ON_START`, default
    /// true): App Runner has no one-off task to run `api migrate` before a
    /// release, so each new instance migrates (under sqlx's advisory lock)
    /// before it serves. `false` refuses to serve a database with pending
    /// migrations instead (for teams that run `api migrate` themselves).
    pub migrate_on_start: bool,
    /// `DATABASE_URL`, or host, port, name and the ARN of the secret that
    /// holds user and password (RDS-managed, rotated).
    pub database: DatabaseSource,
    pub db_max_connections: u32,
    /// Tokio worker threads (`WORKER_THREADS`, default: the cores this
    /// process may use).
    pub worker_threads: usize,
    pub aws_region: String,
    /// `AWS_ENDPOINT_URL`: a local S3 (moto) in tests and local development.
    pub aws_endpoint_url: Option<String>,
    /// `AWS_ENDPOINT_URL_SECRETS_MANAGER`: wins over `AWS_ENDPOINT_URL` for
    /// the database secret.
    pub aws_endpoint_url_secrets_manager: Option<String>,
    /// Static credentials when both `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY` are given; otherwise the SDK's default chain.
    pub aws_static_credentials: Option<(String, Secret)>,
    pub s3_bucket_uploads: String,
    pub s3_force_path_style: bool,
    pub upload_max_bytes: i64,
    pub upload_allowed_types: Vec<String>,
    pub upload_url_ttl: Duration,
    pub clerk_jwks_url: String,
    pub clerk_issuer: String,
    pub clerk_audience: Option<String>,
    /// `CLERK_AUTHORIZED_PARTIES`: the frontends' origins. When set, a token
    /// whose `azp` (the origin that requested it) is another is refused.
    pub clerk_authorized_parties: Vec<String>,
    pub jwks_cache_ttl: Duration,
    pub jwks_min_refresh_interval: Duration,
    pub ai_service_url: String,
    pub ai_internal_api_key: Secret,
    pub ai_timeout: Duration,
    /// `AI_ALLOWED_MODELS`: the models and aliases `generate` may name; None =
    /// whatever the ai service serves. Omitting `model` is always allowed.
    pub ai_allowed_models: Option<Vec<String>>,
    pub cors_allowed_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub graphql_max_depth: usize,
    pub graphql_max_complexity: usize,
    /// Root fields a mutation operation may hold (aliases count separately).
    pub graphql_max_mutation_fields: usize,
    pub persisted_queries: PersistedQueryMode,
    pub rate_limits: RateLimitConfig,
    /// Where the per-IP limit finds the client address.
    pub client_ip: ClientIpSource,
    pub otel_exporter_otlp_endpoint: Option<String>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads a fixed set of variables (tests, tools).
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| vars.get(name).cloned())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let app_env = match env.optional("APP_ENV").as_deref() {
            None | Some("prod") | Some("production") => AppEnv::Prod,
            Some("staging") => AppEnv::Staging,
            Some("dev") | Some("development") | Some("local") => AppEnv::Dev,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "APP_ENV",
                    reason: format!("`{other}` is not one of dev, staging, prod"),
                });
            }
        };
        let persisted_queries = match env.optional("PERSISTED_QUERIES").as_deref() {
            None | Some("automatic") => PersistedQueryMode::Automatic,
            Some("off") => PersistedQueryMode::Off,
            Some("allowlist") => PersistedQueryMode::Allowlist(PathBuf::from(
                env.required("PERSISTED_QUERIES_ALLOWLIST")?,
            )),
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "PERSISTED_QUERIES",
                    reason: format!("`{other}` is not one of off, automatic, allowlist"),
                });
            }
        };
        let aws_static_credentials = match (
            env.optional("AWS_ACCESS_KEY_ID"),
            env.optional("AWS_SECRET_ACCESS_KEY"),
        ) {
            (Some(id), Some(secret)) => Some((id, Secret(secret))),
            _ => None,
        };
        let worker_threads = env.positive_or(
            "WORKER_THREADS",
            u32::try_from(available_cores()).unwrap_or(u32::MAX),
        )? as usize;
        Ok(Config {
            host: env.parse_or("HOST", IpAddr::from([0, 0, 0, 0]))?,
            port: env.parse_or("PORT", 8080)?,
            app_env,
            graphql_playground: env.bool_or("GRAPHQL_PLAYGROUND", false)?,
            migrate_on_start: env.bool_or("MIGRATE_ON_START", true)?,
            database: DatabaseSource::from_lookup(|name| (env.0)(name))?,
            db_max_connections: env
                .positive_or("DB_MAX_CONNECTIONS", default_pool_size(worker_threads))?,
            worker_threads,
            aws_region: env.required("AWS_REGION")?,
            aws_endpoint_url: env.optional_url("AWS_ENDPOINT_URL")?,
            aws_endpoint_url_secrets_manager: env
                .optional_url("AWS_ENDPOINT_URL_SECRETS_MANAGER")?,
            aws_static_credentials,
            s3_bucket_uploads: env.required("S3_BUCKET_UPLOADS")?,
            s3_force_path_style: env.bool_or("S3_FORCE_PATH_STYLE", false)?,
            upload_max_bytes: env.parse_or("UPLOAD_MAX_BYTES", 25 * 1024 * 1024)?,
            upload_allowed_types: env.list_or(
                "UPLOAD_ALLOWED_TYPES",
                &[
                    "application/pdf",
                    "application/json",
                    "image/gif",
                    "image/jpeg",
                    "image/png",
                    "image/webp",
                    "text/csv",
                    "text/markdown",
                    "text/plain",
                ],
            ),
            upload_url_ttl: Duration::from_secs(env.parse_or("UPLOAD_URL_TTL_SECS", 300)?),
            clerk_jwks_url: env.url("CLERK_JWKS_URL", &["https", "http"])?,
            clerk_issuer: env.required("CLERK_ISSUER")?,
            clerk_audience: env.optional("CLERK_AUDIENCE"),
            clerk_authorized_parties: env
                .list_or("CLERK_AUTHORIZED_PARTIES", &[])
                .into_iter()
                .map(|origin| origin.trim_end_matches('/').to_string())
                .collect(),
            jwks_cache_ttl: Duration::from_secs(env.parse_or("JWKS_CACHE_TTL_SECS", 600)?),
            jwks_min_refresh_interval: Duration::from_secs(
                env.parse_or("JWKS_MIN_REFRESH_SECS", 10)?,
            ),
            ai_service_url: env.url("AI_SERVICE_URL", &["https", "http"])?,
            ai_internal_api_key: Secret(env.required("AI_INTERNAL_API_KEY")?),
            ai_timeout: Duration::from_millis(env.parse_or("AI_TIMEOUT_MS", 6000)?),
            ai_allowed_models: env
                .optional("AI_ALLOWED_MODELS")
                .map(|_| env.list_or("AI_ALLOWED_MODELS", &[])),
            cors_allowed_origins: env.list_or("CORS_ALLOWED_ORIGINS", &[]),
            max_body_bytes: env.parse_or("MAX_BODY_BYTES", 64 * 1024)?,
            request_timeout: Duration::from_secs(env.parse_or("REQUEST_TIMEOUT_SECS", 15)?),
            graphql_max_depth: env.parse_or("GRAPHQL_MAX_DEPTH", 10)?,
            graphql_max_complexity: env.parse_or("GRAPHQL_MAX_COMPLEXITY", 1000)?,
            graphql_max_mutation_fields: env.positive_or("GRAPHQL_MAX_MUTATION_FIELDS", 10)?
                as usize,
            persisted_queries,
            rate_limits: RateLimitConfig {
                ip_per_minute: env.positive_or("RATE_LIMIT_IP_PER_MINUTE", 6000)?,
                user_queries_per_minute: env
                    .positive_or("RATE_LIMIT_USER_QUERIES_PER_MINUTE", 600)?,
                user_mutations_per_minute: env
                    .positive_or("RATE_LIMIT_USER_MUTATIONS_PER_MINUTE", 60)?,
                org_per_minute: env.positive_or("RATE_LIMIT_ORG_PER_MINUTE", 3000)?,
            },
            client_ip: client_ip_source(&env)?,
            otel_exporter_otlp_endpoint: env.optional_url("OTEL_EXPORTER_OTLP_ENDPOINT")?,
        })
    }
}

/// `CLIENT_IP_SOURCE`; the older `TRUST_X_FORWARDED_FOR=true` means one
/// trusted proxy. Both at once would be ambiguous.
fn client_ip_source<F: Fn(&str) -> Option<String>>(
    env: &Env<'_, F>,
) -> Result<ClientIpSource, ConfigError> {
    let legacy = env.bool_or("TRUST_X_FORWARDED_FOR", false)?;
    match env.optional("CLIENT_IP_SOURCE") {
        Some(_) if legacy => Err(ConfigError::Invalid {
            name: "TRUST_X_FORWARDED_FOR",
            reason: "set CLIENT_IP_SOURCE or TRUST_X_FORWARDED_FOR, not both".into(),
        }),
        Some(value) => value.parse().map_err(|reason| ConfigError::Invalid {
            name: "CLIENT_IP_SOURCE",
            reason,
        }),
        None if legacy => Ok(ClientIpSource::ForwardedFor { trusted_hops: 1 }),
        None => Ok(ClientIpSource::Peer),
    }
}

struct Env<'a, F: Fn(&str) -> Option<String>>(&'a F);

impl<F: Fn(&str) -> Option<String>> Env<'_, F> {
    fn optional(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    fn parse_or<T: std::str::FromStr>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.optional(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e: T::Err| ConfigError::Invalid {
                name,
                reason: e.to_string(),
            }),
        }
    }

    fn positive_or(&self, name: &'static str, default: u32) -> Result<u32, ConfigError> {
        let value = self.parse_or(name, default)?;
        if value == 0 {
            return Err(ConfigError::Invalid {
                name,
                reason: "must be greater than zero".into(),
            });
        }
        Ok(value)
    }

    fn bool_or(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self
            .optional(name)
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(other) => Err(ConfigError::Invalid {
                name,
                reason: format!("`{other}` is not true or false"),
            }),
        }
    }

    fn list_or(&self, name: &str, default: &[&str]) -> Vec<String> {
        match self.optional(name) {
            None => default.iter().map(|s| s.to_string()).collect(),
            Some(v) => v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }

    fn url(&self, name: &'static str, schemes: &[&str]) -> Result<String, ConfigError> {
        let value = self.required(name)?;
        check_url(name, &value, schemes)?;
        Ok(value)
    }

    fn optional_url(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        match self.optional(name) {
            None => Ok(None),
            Some(v) => {
                check_url(name, &v, &["http", "https"])?;
                Ok(Some(v))
            }
        }
    }
}

/// A URL with one of `schemes` and a host; the value is never echoed back,
/// because URLs may carry credentials.
fn check_url(name: &'static str, value: &str, schemes: &[&str]) -> Result<(), ConfigError> {
    let ok = value.split_once("://").is_some_and(|(scheme, rest)| {
        schemes.contains(&scheme.to_ascii_lowercase().as_str())
            && !rest.is_empty()
            && !rest.starts_with('/')
    });
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            name,
            reason: format!(
                "expected a URL starting with {}://",
                schemes.join(":// or ")
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> HashMap<String, String> {
        [
            ("DATABASE_URL", "postgres://u:p@localhost/app"),
            ("AWS_REGION", "us-east-1"),
            ("S3_BUCKET_UPLOADS", "uploads"),
            (
                "CLERK_JWKS_URL",
                "https://clerk.example/.well-known/jwks.json",
            ),
            ("CLERK_ISSUER", "https://clerk.example"),
            ("AI_SERVICE_URL", "http://localhost:8081"),
            ("AI_INTERNAL_API_KEY", "k"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn minimal_environment_gives_secure_defaults() {
        let config = Config::from_map(&base()).unwrap();
        assert_eq!(config.port, 8080);
        assert_eq!(config.app_env, AppEnv::Prod);
        assert!(!config.graphql_playground);
        assert_eq!(config.clerk_audience, None);
        assert!(config.clerk_authorized_parties.is_empty());
        assert_eq!(config.ai_allowed_models, None);
        assert_eq!(config.graphql_max_mutation_fields, 10);
        assert_eq!(config.persisted_queries, PersistedQueryMode::Automatic);
        assert_eq!(config.ai_timeout, Duration::from_secs(6));
        assert_eq!(config.worker_threads, available_cores());
        assert_eq!(
            config.db_max_connections,
            (2 * available_cores()).max(4) as u32
        );
    }

    #[test]
    fn runtime_and_pool_sizes_follow_the_cores_unless_set() {
        assert_eq!(default_pool_size(1), 4);
        assert_eq!(default_pool_size(2), 4);
        assert_eq!(default_pool_size(8), 16);
        let mut vars = base();
        vars.insert("WORKER_THREADS".into(), "3".into());
        let config = Config::from_map(&vars).unwrap();
        assert_eq!((config.worker_threads, config.db_max_connections), (3, 6));
        vars.insert("DB_MAX_CONNECTIONS".into(), "20".into());
        assert_eq!(Config::from_map(&vars).unwrap().db_max_connections, 20);
        for name in ["WORKER_THREADS", "DB_MAX_CONNECTIONS"] {
            let mut vars = base();
            vars.insert(name.into(), "0".into());
            let err = Config::from_map(&vars).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn each_required_variable_is_named_when_missing() {
        for name in [
            "DATABASE_URL",
            "AWS_REGION",
            "S3_BUCKET_UPLOADS",
            "CLERK_JWKS_URL",
            "CLERK_ISSUER",
            "AI_SERVICE_URL",
            "AI_INTERNAL_API_KEY",
        ] {
            let mut vars = base();
            vars.remove(name);
            let err = Config::from_map(&vars).unwrap_err();
            if name == "DATABASE_URL" {
                // Either form would do: the message names both.
                assert_eq!(
                    err,
                    ConfigError::Database(pg_credentials::SourceError::Missing)
                );
            } else {
                assert_eq!(err, ConfigError::Missing(name));
            }
            assert!(err.to_string().contains(name));
        }
    }

    #[test]
    fn malformed_values_name_the_variable_without_echoing_secrets() {
        let cases = [
            ("PORT", "eighty"),
            ("DATABASE_URL", "mysql://secret@host/db"),
            ("CLERK_JWKS_URL", "not a url"),
            ("GRAPHQL_PLAYGROUND", "maybe"),
            ("APP_ENV", "qa"),
            ("RATE_LIMIT_IP_PER_MINUTE", "0"),
            ("GRAPHQL_MAX_MUTATION_FIELDS", "0"),
        ];
        for (name, value) in cases {
            let mut vars = base();
            vars.insert(name.into(), value.into());
            let err = Config::from_map(&vars).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
            assert!(!err.contains("secret@"), "{err}");
        }
    }

    #[test]
    fn lists_are_trimmed_and_origins_lose_a_trailing_slash() {
        let mut vars = base();
        vars.insert(
            "CLERK_AUTHORIZED_PARTIES".into(),
            "https://app.example.com/, http://localhost:3000".into(),
        );
        vars.insert(
            "AI_ALLOWED_MODELS".into(),
            "fast, openai/gpt-4o-mini,".into(),
        );
        let config = Config::from_map(&vars).unwrap();
        assert_eq!(
            config.clerk_authorized_parties,
            ["https://app.example.com", "http://localhost:3000"]
        );
        assert_eq!(
            config.ai_allowed_models.as_deref(),
            Some(&["fast".to_string(), "openai/gpt-4o-mini".to_string()][..])
        );
    }

    #[test]
    fn the_database_is_a_url_or_host_port_name_and_secret_but_not_both() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1";
        let mut vars = base();
        vars.remove("DATABASE_URL");
        for (k, v) in [
            ("DATABASE_HOST", "db.internal"),
            ("DATABASE_PORT", "5432"),
            ("DATABASE_NAME", "app"),
            ("DATABASE_SECRET_ARN", arn),
        ] {
            vars.insert(k.into(), v.into());
        }
        let config = Config::from_map(&vars).unwrap();
        assert!(matches!(config.database, DatabaseSource::Secret(ref s) if s.secret_arn == arn));

        let mut both = vars.clone();
        both.insert("DATABASE_URL".into(), "postgres://u:p@h/app".into());
        let err = Config::from_map(&both).unwrap_err().to_string();
        assert!(
            err.contains("DATABASE_URL") && err.contains("DATABASE_HOST"),
            "{err}"
        );

        let mut partial = vars.clone();
        partial.remove("DATABASE_NAME");
        let err = Config::from_map(&partial).unwrap_err().to_string();
        assert!(err.contains("DATABASE_NAME"), "{err}");
    }

    #[test]
    fn client_ip_source_is_parsed_and_the_legacy_switch_still_means_one_hop() {
        let cases = [
            (None, None, Ok(ClientIpSource::Peer)),
            (
                None,
                Some("true"),
                Ok(ClientIpSource::ForwardedFor { trusted_hops: 1 }),
            ),
            (Some("peer"), None, Ok(ClientIpSource::Peer)),
            (
                Some("cloudfront-viewer-address"),
                None,
                Ok(ClientIpSource::CloudFrontViewerAddress),
            ),
            (
                Some("x-forwarded-for:2"),
                None,
                Ok(ClientIpSource::ForwardedFor { trusted_hops: 2 }),
            ),
            (Some("x-forwarded-for:0"), None, Err("CLIENT_IP_SOURCE")),
            (Some("x-forwarded-for"), None, Err("CLIENT_IP_SOURCE")),
            (Some("true-client-ip"), None, Err("CLIENT_IP_SOURCE")),
            (Some("peer"), Some("true"), Err("TRUST_X_FORWARDED_FOR")),
        ];
        for (source, legacy, expected) in cases {
            let mut vars = base();
            if let Some(v) = source {
                vars.insert("CLIENT_IP_SOURCE".into(), v.into());
            }
            if let Some(v) = legacy {
                vars.insert("TRUST_X_FORWARDED_FOR".into(), v.into());
            }
            match (Config::from_map(&vars), expected) {
                (Ok(config), Ok(want)) => assert_eq!(config.client_ip, want, "{source:?}"),
                (Err(err), Err(name)) => assert!(err.to_string().contains(name), "{err}"),
                (got, want) => panic!("{source:?}/{legacy:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let config = Config::from_map(&base()).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("u:p@localhost"));
        assert!(!debug.contains("\"k\""));
    }
}
