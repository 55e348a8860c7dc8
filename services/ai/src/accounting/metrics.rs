//! Prometheus metrics, served at `/metrics`. Labels never carry prompt text,
//! keys or user ids; the organization id is a label on token and request
//! counters because per-org spend is what operators ask about.

use pg_credentials::CredentialedPool;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder, exponential_buckets,
};

/// Finer at the bottom than the latency buckets: the target is p99 under 1 ms.
const OVERHEAD_BUCKETS: [f64; 20] = [
    0.000_025, 0.000_05, 0.000_075, 0.000_1, 0.000_15, 0.000_2, 0.000_3, 0.000_4, 0.000_5,
    0.000_75, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5,
];

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub tokens: IntCounterVec,
    pub cost_usd_micros: IntCounterVec,
    pub request_seconds: HistogramVec,
    pub upstream_seconds: HistogramVec,
    pub overhead_seconds: HistogramVec,
    pub retries: IntCounterVec,
    pub fallbacks: IntCounterVec,
    pub breaker_open: IntGaugeVec,
    pub redactions: IntCounterVec,
    pub stream_outcomes: IntCounterVec,
    pub cap_rejections: IntCounterVec,
    /// 1 for the configured cap store and its behaviour when the database is away.
    pub caps_mode: IntGaugeVec,
    /// 1 while the cap store's database answered its last call, 0 after a failure.
    pub caps_store_up: IntGauge,
    pub caps_store_errors: IntCounterVec,
    pub caps_store_seconds: HistogramVec,
    pub caps_fail_open_admissions: IntCounterVec,
    pub caps_expired_reservations: IntCounter,
}

impl Metrics {
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("ai".into()), None).expect("static registry prefix is valid");
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)
                .expect("static metric definition is valid");
            registry
                .register(Box::new(c.clone()))
                .expect("metric names are unique");
            c
        };
        let requests = counter(
            "requests_total",
            "Requests by route, provider, outcome code and org.",
            &["route", "provider", "code", "org"],
        );
        let tokens = counter(
            "tokens_total",
            "Tokens by direction, provider, model, org; estimated=true when the provider reported none.",
            &["direction", "provider", "model", "org", "estimated"],
        );
        let cost_usd_micros = counter(
            "cost_usd_micros_total",
            "Cost in millionths of a USD, from the price table.",
            &["provider", "model", "org"],
        );
        let retries = counter(
            "upstream_retries_total",
            "Retries of upstream calls.",
            &["provider", "reason"],
        );
        let fallbacks = counter(
            "fallbacks_total",
            "Requests answered by a provider other than the first of the chain.",
            &["from", "to"],
        );
        let redactions = counter(
            "pii_redactions_total",
            "PII spans redacted before leaving for a provider.",
            &["kind", "route"],
        );
        let stream_outcomes = counter(
            "stream_outcomes_total",
            "How streams ended: completed, truncated, upstream_error, client_disconnected, idle_timeout.",
            &["provider", "outcome"],
        );
        let cap_rejections = counter(
            "token_cap_rejections_total",
            "Requests refused because the org's token cap was reached.",
            &["org"],
        );

        // 50µs .. ~100s: the gateway's own overhead lives at the bottom of this range.
        let buckets = exponential_buckets(0.00005, 2.0, 22).expect("static buckets are valid");
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets.clone()),
                labels,
            )
            .expect("static metric definition is valid");
            registry
                .register(Box::new(h.clone()))
                .expect("metric names are unique");
            h
        };
        let request_seconds = histogram(
            "request_duration_seconds",
            "Total time in the gateway per request.",
            &["route", "provider"],
        );
        let upstream_seconds = histogram(
            "upstream_duration_seconds",
            "Time spent waiting on providers (retries included).",
            &["route", "provider"],
        );
        let overhead_seconds = HistogramVec::new(
            HistogramOpts::new(
                "gateway_overhead_seconds",
                "Total minus upstream time: what the gateway itself adds.",
            )
            .buckets(OVERHEAD_BUCKETS.to_vec()),
            &["route"],
        )
        .expect("static metric definition is valid");
        registry
            .register(Box::new(overhead_seconds.clone()))
            .expect("metric names are unique");

        let breaker_open = IntGaugeVec::new(
            Opts::new(
                "circuit_breaker_open",
                "1 while a provider's breaker is open.",
            ),
            &["provider"],
        )
        .expect("static metric definition is valid");
        registry
            .register(Box::new(breaker_open.clone()))
            .expect("metric names are unique");

        let caps_fail_open_admissions = counter(
            "caps_fail_open_admissions_total",
            "Requests admitted from the local allowance while the cap database was unreachable.",
            &["org"],
        );
        let caps_store_errors = counter(
            "caps_store_errors_total",
            "Failed calls to the cap database, by operation (reserve, settle, release_expired, check).",
            &["operation"],
        );
        let caps_mode = IntGaugeVec::new(
            Opts::new(
                "caps_mode",
                "1 for the cap store in use and what happens when its database is unreachable.",
            ),
            &["store", "on_unavailable"],
        )
        .expect("static metric definition is valid");
        registry
            .register(Box::new(caps_mode.clone()))
            .expect("metric names are unique");
        let caps_store_up = IntGauge::new(
            "caps_store_up",
            "1 while the cap database answered its last call; 0 after a failure.",
        )
        .expect("static metric definition is valid");
        registry
            .register(Box::new(caps_store_up.clone()))
            .expect("metric names are unique");
        let caps_expired_reservations = IntCounter::new(
            "caps_expired_reservations_total",
            "Reservations of instances that died before settling, released after their expiry.",
        )
        .expect("static metric definition is valid");
        registry
            .register(Box::new(caps_expired_reservations.clone()))
            .expect("metric names are unique");
        let caps_store_seconds = HistogramVec::new(
            HistogramOpts::new(
                "caps_store_duration_seconds",
                "Round trips to the cap database, by operation.",
            )
            .buckets(OVERHEAD_BUCKETS.to_vec()),
            &["operation"],
        )
        .expect("static metric definition is valid");
        registry
            .register(Box::new(caps_store_seconds.clone()))
            .expect("metric names are unique");

        Metrics {
            registry,
            caps_mode,
            caps_store_up,
            caps_store_errors,
            caps_store_seconds,
            caps_fail_open_admissions,
            caps_expired_reservations,
            requests,
            tokens,
            cost_usd_micros,
            request_seconds,
            upstream_seconds,
            overhead_seconds,
            retries,
            fallbacks,
            breaker_open,
            redactions,
            stream_outcomes,
            cap_rejections,
        }
    }

    /// `ai_caps_database_credential_refreshes_total`: how many times the cap
    /// store read its database secret again after Postgres refused the
    /// password (a rotation). Read from the pool at each scrape.
    pub fn watch_credential_refreshes(&self, pool: CredentialedPool) {
        let counter = IntCounter::new(
            "caps_database_credential_refreshes_total",
            "Times the cap database's credentials were read again from Secrets Manager after Postgres refused them.",
        )
        .expect("static metric definition is valid");
        // A second cap store in one process would be a bug; the first stays.
        let _ = self.registry.register(Box::new(RefreshCounter {
            pool,
            counter: std::sync::Mutex::new(counter.clone()),
            desc: counter.desc().into_iter().cloned().collect(),
        }));
    }

    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding into a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// A counter that follows the pool's own (monotonic) count of refreshes.
struct RefreshCounter {
    pool: CredentialedPool,
    /// Locked so that two concurrent scrapes do not both add the same refreshes.
    counter: std::sync::Mutex<IntCounter>,
    desc: Vec<Desc>,
}

impl Collector for RefreshCounter {
    fn desc(&self) -> Vec<&Desc> {
        self.desc.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let counter = self
            .counter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let refreshes = self.pool.credential_refreshes();
        counter.inc_by(refreshes.saturating_sub(counter.get()));
        counter.collect()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
