//! The Relay GraphQL schema and how it is assembled.

pub mod context;
pub mod mutation;
pub mod pipeline;
pub mod query;
pub mod scalars;
pub mod types;

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{EmptySubscription, Schema, ValidationMode};

use crate::config::{Config, PersistedQueryMode};
use crate::metrics::Metrics;
use crate::ratelimit::RateLimits;
use crate::services::Services;
use pipeline::{PersistedQueries, Pipeline};

pub type ApiSchema = Schema<query::QueryRoot, mutation::MutationRoot, EmptySubscription>;

/// The schema with its limits, twice (full validation, and the one for
/// inputs that passed it: see `pipeline`), inside the request pipeline.
/// No async-graphql extensions: the pipeline does their work per request.
pub fn build_pipeline(
    config: &Config,
    services: Arc<Services>,
    limits: Arc<RateLimits>,
    allowlist: Option<Arc<HashMap<String, String>>>,
    metrics: &Metrics,
) -> Pipeline {
    let schema = |mode: ValidationMode| {
        let mut builder =
            Schema::build(query::QueryRoot, mutation::MutationRoot, EmptySubscription)
                .data(services.clone())
                .validation_mode(mode)
                .limit_depth(config.graphql_max_depth)
                .limit_complexity(config.graphql_max_complexity)
                .limit_recursive_depth(32)
                .limit_directives(20);
        if !config.app_env.is_dev() {
            builder = builder.disable_introspection();
        }
        builder.finish()
    };
    let persisted = match (&config.persisted_queries, allowlist) {
        (PersistedQueryMode::Allowlist(_), Some(list)) => PersistedQueries::Allowlist(list),
        (PersistedQueryMode::Off, _) => PersistedQueries::Off,
        _ => PersistedQueries::Automatic,
    };
    Pipeline::new(
        schema(ValidationMode::Strict),
        schema(ValidationMode::Fast),
        persisted,
        limits,
        config.graphql_max_mutation_fields,
        metrics,
    )
}

/// The schema in SDL, for clients and review.
pub fn sdl() -> String {
    Schema::build(query::QueryRoot, mutation::MutationRoot, EmptySubscription)
        .finish()
        .sdl()
}
