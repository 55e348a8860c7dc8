//! Everything a handler needs, built once from [`Config`].

use std::sync::Arc;
use std::time::Duration;

use crate::accounting::caps::TokenCaps;
use crate::accounting::caps::postgres::{self, PgCapStore};
use crate::accounting::metrics::Metrics;
use crate::accounting::pricing::PriceTable;
use crate::catalog::Catalog;
use crate::config::{
    Config, InternalKeySource, LimitsConfig, ProviderKind, RedactionConfig, Secret,
};
use crate::gateway::Gateway;
use crate::guardrails::moderation::LocalModerator;
use crate::guardrails::pii::Redactor;

pub type SharedState = Arc<AppState>;

pub struct AppState {
    pub internal_api_key: Secret,
    pub gateway: Gateway,
    pub catalog: Catalog,
    pub caps: Arc<TokenCaps>,
    pub prices: PriceTable,
    pub redactor: Redactor,
    pub local_moderator: LocalModerator,
    pub metrics: Arc<Metrics>,
    pub limits: LimitsConfig,
    pub redact: RedactionConfig,
    /// Provider that answers `/v1/moderate`; None = local rules.
    pub moderation_provider: Option<String>,
}

impl AppState {
    pub async fn build(config: &Config) -> anyhow::Result<SharedState> {
        let internal_api_key = match &config.internal_api_key {
            InternalKeySource::Value(key) => key.clone(),
            InternalKeySource::SecretsManager { secret_id, aws } => {
                crate::aws::internal_key_from_secrets_manager(secret_id, aws).await?
            }
        };
        let metrics = Arc::new(Metrics::new());
        let gateway = Gateway::new(config, metrics.clone()).await?;
        let moderation_provider = config.moderation_provider.clone().or_else(|| {
            config
                .providers
                .iter()
                .find(|p| p.kind == ProviderKind::Openai)
                .map(|p| p.name.clone())
        });
        Ok(Arc::new(AppState {
            internal_api_key,
            gateway,
            catalog: Catalog::new(config),
            caps: build_caps(config, metrics.clone()).await?,
            prices: PriceTable::new(config.prices.clone()),
            redactor: Redactor::new(),
            local_moderator: LocalModerator::new(),
            metrics: metrics.clone(),
            limits: config.limits.clone(),
            redact: config.redact.clone(),
            moderation_provider,
        }))
    }
}

/// The configured cap store. With Postgres the tables are created now if the
/// database answers; if it does not, the service starts anyway (`/readyz`
/// says so) and creates them on first use.
async fn build_caps(config: &Config, metrics: Arc<Metrics>) -> anyhow::Result<Arc<TokenCaps>> {
    let limits = &config.limits;
    let Some(database) = &config.database else {
        return Ok(TokenCaps::in_memory(
            limits.window_seconds,
            limits.org_tokens_per_window,
            limits.orgs.clone(),
            metrics,
        ));
    };
    let secrets = match &database.aws {
        Some(aws) => Some(crate::aws::secrets_manager(aws).await),
        None => None,
    };
    let pool = postgres::connect(database, secrets, &config.caps).await?;
    metrics.watch_credential_refreshes(pool.clone());
    let store = Arc::new(PgCapStore::new(
        pool,
        Duration::from_secs(config.caps.reservation_expiry_seconds),
        metrics.caps_store_seconds.clone(),
    ));
    match store.migrate().await {
        Ok(()) => tracing::info!("token caps kept in Postgres"),
        Err(err) => {
            tracing::warn!(error = %err, "token cap database unreachable at start-up; will retry on use")
        }
    }
    let pruner = Arc::downgrade(&store);
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every_hour.tick().await;
            let Some(store) = pruner.upgrade() else {
                return;
            };
            if let Err(err) = store.prune().await {
                tracing::warn!(error = %err, "pruning old token cap windows failed");
            }
        }
    });
    Ok(TokenCaps::in_postgres(
        limits.window_seconds,
        limits.org_tokens_per_window,
        limits.orgs.clone(),
        store,
        config.caps.on_database_unavailable,
        config.caps.fail_open_tokens_per_window,
        metrics,
    ))
}
