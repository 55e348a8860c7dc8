//! Everything a handler needs, built once from [`Config`].

use std::sync::Arc;

use crate::accounting::caps::TokenCaps;
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
            caps: TokenCaps::new(
                config.limits.window_seconds,
                config.limits.org_tokens_per_window,
                config.limits.orgs.clone(),
            ),
            prices: PriceTable::new(config.prices.clone()),
            redactor: Redactor::new(),
            local_moderator: LocalModerator::new(),
            metrics,
            limits: config.limits.clone(),
            redact: config.redact.clone(),
            moderation_provider,
        }))
    }
}
