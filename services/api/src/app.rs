//! Start-up: builds every part from a `Config` and binds the listener.
//! Production's `main` and the tests' `spawn_app` both go through
//! [`Application::build`], so tests exercise the real wiring.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use axum::Router;

use crate::ai::AiClient;
use crate::auth::{Authenticator, JwksCache};
use crate::config::{Config, DatabaseSource, PersistedQueryMode};
use crate::db::{self, DbError};
use crate::graphql::{self, pipeline::Pipeline};
use crate::http;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimits;
use crate::services::{Services, UploadLimits};
use crate::storage::Storage;
use crate::store::identity::IdentityCache;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
    #[error("PERSISTED_QUERIES_ALLOWLIST: {0}")]
    Allowlist(String),
}

pub struct AppState {
    pub config: Config,
    pub services: Arc<Services>,
    pub auth: Authenticator,
    pub limits: Arc<RateLimits>,
    pub metrics: Arc<Metrics>,
    pub graphql: Pipeline,
}

pub struct Application {
    listener: tokio::net::TcpListener,
    router: Router,
    addr: SocketAddr,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| StartupError::HttpClient(e.to_string()))?;
        let jwks = JwksCache::new(
            http.clone(),
            config.clerk_jwks_url.clone(),
            config.jwks_cache_ttl,
            config.jwks_min_refresh_interval,
        );
        let auth = Authenticator::new(
            jwks,
            config.clerk_issuer.clone(),
            config.clerk_audience.clone(),
            config.clerk_authorized_parties.clone(),
        );

        let mut aws = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(config.aws_region.clone()));
        if let Some(endpoint) = &config.aws_endpoint_url {
            aws = aws.endpoint_url(endpoint);
        }
        if let Some((key_id, secret)) = &config.aws_static_credentials {
            aws = aws.credentials_provider(aws_sdk_s3::config::Credentials::new(
                key_id,
                secret.expose(),
                None,
                None,
                "environment",
            ));
        }
        let aws = aws.load().await;

        let secrets = match &config.database {
            DatabaseSource::Secret(_) => {
                let mut sm = aws_sdk_secretsmanager::config::Builder::from(&aws);
                if let Some(endpoint) = &config.aws_endpoint_url_secrets_manager {
                    sm = sm.endpoint_url(endpoint);
                }
                Some(aws_sdk_secretsmanager::Client::from_conf(sm.build()))
            }
            DatabaseSource::Url(_) => None,
        };
        let db = db::connect(&config.database, secrets, config.db_max_connections).await?;
        // Never serve a schema the code does not match: migrate it (the
        // default, see `Config::migrate_on_start`) or refuse to start.
        if config.migrate_on_start {
            db::migrate(&db).await?;
        } else {
            db::check_ready(&db).await?;
        }
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&aws)
                .force_path_style(config.s3_force_path_style)
                .build(),
        );

        let metrics = Arc::new(Metrics::new());
        let services = Arc::new(Services {
            db,
            identities: IdentityCache::new(),
            storage: Storage::new(s3, config.s3_bucket_uploads.clone()),
            uploads: UploadLimits {
                max_bytes: config.upload_max_bytes,
                allowed_types: config.upload_allowed_types.clone(),
                url_ttl: config.upload_url_ttl,
            },
            ai: AiClient::new(
                http,
                &config.ai_service_url,
                config.ai_internal_api_key.expose().to_string(),
                config.ai_timeout,
            ),
            ai_allowed_models: config.ai_allowed_models.clone(),
            metrics: metrics.clone(),
        });
        let limits = Arc::new(RateLimits::new(&config.rate_limits));
        let allowlist = match &config.persisted_queries {
            PersistedQueryMode::Allowlist(path) => Some(Arc::new(
                graphql::pipeline::load_allowlist(path).map_err(StartupError::Allowlist)?,
            )),
            _ => None,
        };
        let graphql = graphql::build_pipeline(
            &config,
            services.clone(),
            limits.clone(),
            allowlist,
            &metrics,
        );

        let addr = SocketAddr::new(config.host, config.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?;

        let shrinker = limits.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                shrinker.shrink();
            }
        });

        let state = Arc::new(AppState {
            config,
            services,
            auth,
            limits,
            metrics,
            graphql,
        });
        Ok(Self {
            listener,
            router: http::router(state),
            addr,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then drains in-flight requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}
