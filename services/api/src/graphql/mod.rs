//! The Relay GraphQL schema and how it is assembled.

pub mod context;
pub mod extensions;
pub mod mutation;
pub mod query;
pub mod scalars;
pub mod types;

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::apollo_persisted_queries::{
    ApolloPersistedQueries, LruCacheStorage,
};
use async_graphql::{EmptySubscription, Schema};

use crate::config::{Config, PersistedQueryMode};
use crate::ratelimit::RateLimits;
use crate::services::Services;

pub type ApiSchema = Schema<query::QueryRoot, mutation::MutationRoot, EmptySubscription>;

pub fn build_schema(
    config: &Config,
    services: Arc<Services>,
    limits: Arc<RateLimits>,
    allowlist: Option<Arc<HashMap<String, String>>>,
) -> ApiSchema {
    let mut builder = Schema::build(query::QueryRoot, mutation::MutationRoot, EmptySubscription)
        .data(services)
        .limit_depth(config.graphql_max_depth)
        .limit_complexity(config.graphql_max_complexity)
        .limit_recursive_depth(32)
        .limit_directives(20)
        .extension(extensions::CallerRateLimit {
            limits,
            max_mutation_fields: config.graphql_max_mutation_fields,
        });
    builder = match (&config.persisted_queries, allowlist) {
        (PersistedQueryMode::Allowlist(_), Some(list)) => {
            builder.extension(extensions::PersistedQueryAllowlist(list))
        }
        (PersistedQueryMode::Off, _) => builder,
        _ => builder.extension(ApolloPersistedQueries::new(LruCacheStorage::new(1024))),
    };
    if !config.app_env.is_dev() {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The schema in SDL, for clients and review.
pub fn sdl() -> String {
    Schema::build(query::QueryRoot, mutation::MutationRoot, EmptySubscription)
        .finish()
        .sdl()
}
