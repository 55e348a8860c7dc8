//! The long-lived things resolvers use, built once at start-up.

use std::time::Duration;

use crate::db::Db;

use crate::ai::AiClient;
use crate::metrics::Metrics;
use crate::storage::Storage;
use crate::store::identity::IdentityCache;

pub struct UploadLimits {
    pub max_bytes: i64,
    pub allowed_types: Vec<String>,
    pub url_ttl: Duration,
}

pub struct Services {
    pub db: Db,
    pub identities: IdentityCache,
    pub storage: Storage,
    pub uploads: UploadLimits,
    pub ai: AiClient,
    /// Models and aliases `generate` may name (`AI_ALLOWED_MODELS`); None = any
    /// the ai service serves.
    pub ai_allowed_models: Option<Vec<String>>,
    pub metrics: std::sync::Arc<Metrics>,
}
