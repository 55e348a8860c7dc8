//! Prometheus metrics: RED per GraphQL operation, the document caches, DB
//! pool, AI calls.
//!
//! Operation names come from clients, so the label set is bounded: names
//! must look like identifiers, and only the first `MAX_OPERATION_NAMES`
//! distinct ones get their own series.

use std::collections::HashSet;
use std::sync::Mutex;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

const MAX_OPERATION_NAMES: usize = 200;

pub struct Metrics {
    registry: Registry,
    pub graphql_requests: IntCounterVec,
    pub graphql_duration: HistogramVec,
    /// The pipeline's parse and validation caches, by cache and outcome.
    pub graphql_document_cache: IntCounterVec,
    pub http_rejections: IntCounterVec,
    pub db_pool: IntGaugeVec,
    pub ai_requests: IntCounterVec,
    pub ai_duration: HistogramVec,
    pub ai_tokens: IntCounterVec,
    operation_names: Mutex<HashSet<String>>,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let graphql_requests = IntCounterVec::new(
            Opts::new(
                "api_graphql_requests_total",
                "GraphQL requests by operation and outcome",
            ),
            &["operation", "outcome"],
        )
        .expect("valid metric");
        let graphql_duration = HistogramVec::new(
            HistogramOpts::new(
                "api_graphql_request_duration_seconds",
                "GraphQL request duration by operation",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["operation"],
        )
        .expect("valid metric");
        let graphql_document_cache = IntCounterVec::new(
            Opts::new(
                "api_graphql_document_cache_total",
                "Lookups in the parse and validation caches, by cache and outcome",
            ),
            &["cache", "outcome"],
        )
        .expect("valid metric");
        let http_rejections = IntCounterVec::new(
            Opts::new(
                "api_http_rejections_total",
                "Requests refused before GraphQL execution, by reason",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let db_pool = IntGaugeVec::new(
            Opts::new(
                "api_db_pool_connections",
                "Database pool connections by state",
            ),
            &["state"],
        )
        .expect("valid metric");
        let ai_requests = IntCounterVec::new(
            Opts::new(
                "api_ai_requests_total",
                "Calls to the ai service by outcome",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let ai_duration = HistogramVec::new(
            HistogramOpts::new(
                "api_ai_request_duration_seconds",
                "Latency of ai service calls",
            )
            .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 10.0]),
            &["outcome"],
        )
        .expect("valid metric");
        let ai_tokens = IntCounterVec::new(
            Opts::new("api_ai_tokens_total", "Tokens reported by the ai service"),
            &["direction"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(graphql_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(graphql_duration.clone()),
            Box::new(graphql_document_cache.clone()),
            Box::new(http_rejections.clone()),
            Box::new(db_pool.clone()),
            Box::new(ai_requests.clone()),
            Box::new(ai_duration.clone()),
            Box::new(ai_tokens.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Self {
            registry,
            graphql_requests,
            graphql_duration,
            graphql_document_cache,
            http_rejections,
            db_pool,
            ai_requests,
            ai_duration,
            ai_tokens,
            operation_names: Mutex::new(HashSet::new()),
        }
    }

    /// The label for a client-supplied operation name.
    pub fn operation_label(&self, name: Option<&str>) -> String {
        let Some(name) = name else {
            return "anonymous".into();
        };
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return "invalid".into();
        }
        let mut names = self
            .operation_names
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if names.contains(name)
            || (names.len() < MAX_OPERATION_NAMES && names.insert(name.to_string()))
        {
            name.to_string()
        } else {
            "other".into()
        }
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_labels_are_bounded() {
        let m = Metrics::new();
        assert_eq!(m.operation_label(None), "anonymous");
        assert_eq!(m.operation_label(Some("a b")), "invalid");
        for i in 0..MAX_OPERATION_NAMES {
            assert_eq!(m.operation_label(Some(&format!("Op{i}"))), format!("Op{i}"));
        }
        assert_eq!(m.operation_label(Some("OneTooMany")), "other");
        assert_eq!(m.operation_label(Some("Op0")), "Op0");
    }
}
