//! Metrics every route records the same way: redactions, tokens and cost,
//! latency and the gateway's own overhead.

use std::time::Duration;

use crate::accounting::caps::{CapError, Reservation};
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::guardrails::pii::Redactions;
use crate::providers::Usage;
use crate::state::AppState;

/// Redacts each text (if the route has redaction on) and counts what was found.
pub(super) fn redact_texts(
    state: &AppState,
    route: &str,
    enabled: bool,
    texts: Vec<String>,
) -> Vec<String> {
    if !enabled {
        return texts;
    }
    let mut found = Redactions::default();
    let redacted = texts
        .into_iter()
        .map(|text| {
            let (out, redactions) = state.redactor.redact(&text);
            found.merge(redactions);
            match out {
                std::borrow::Cow::Borrowed(_) => text,
                std::borrow::Cow::Owned(owned) => owned,
            }
        })
        .collect();
    record_redactions(state, route, &found);
    redacted
}

pub(super) fn record_redactions(state: &AppState, route: &str, found: &Redactions) {
    for (kind, count) in &found.0 {
        state
            .metrics
            .redactions
            .with_label_values(&[kind.as_str(), route])
            .inc_by(u64::from(*count));
    }
}

/// Token and cost metrics; returns the cost if the model has a price.
pub(super) fn record_usage(
    state: &AppState,
    context: &RequestContext,
    provider: &str,
    model: &str,
    usage: Usage,
    estimated: bool,
) -> Option<f64> {
    let org = context.org_label();
    let estimated_label = if estimated { "true" } else { "false" };
    state
        .metrics
        .tokens
        .with_label_values(&["input", provider, model, org, estimated_label])
        .inc_by(usage.input_tokens);
    state
        .metrics
        .tokens
        .with_label_values(&["output", provider, model, org, estimated_label])
        .inc_by(usage.output_tokens);
    let cost = state.prices.cost(provider, model, usage);
    if let Some(cost) = cost {
        state
            .metrics
            .cost_usd_micros
            .with_label_values(&[provider, model, org])
            .inc_by((cost * 1e6).round() as u64);
    }
    cost
}

pub(super) fn record_latency(
    state: &AppState,
    route: &str,
    provider: &str,
    total: Duration,
    upstream: Duration,
) {
    state
        .metrics
        .request_seconds
        .with_label_values(&[route, provider])
        .observe(total.as_secs_f64());
    state
        .metrics
        .overhead_seconds
        .with_label_values(&[route])
        .observe(total.saturating_sub(upstream).as_secs_f64());
}

/// Reserves `estimate` tokens under the caller's org cap, counting refusals.
pub(super) async fn reserve_tokens(
    state: &AppState,
    context: &RequestContext,
    estimate: u64,
) -> Result<Reservation, ApiError> {
    let org = context.org_label();
    state
        .caps
        .reserve(org, estimate)
        .await
        .map_err(|err| match err {
            CapError::Exceeded { retry_after_secs } => {
                state.metrics.cap_rejections.with_label_values(&[org]).inc();
                ApiError::TokenCapExceeded {
                    org: org.to_string(),
                    retry_after_secs,
                }
            }
            CapError::StoreUnavailable => ApiError::CapsUnavailable,
        })
}
