//! `POST /v1/embed`.

use axum::Extension;
use axum::extract::State;

use super::ValidJson;
use super::record::{record_usage, redact_texts, reserve_tokens};
use crate::accounting::tokens::estimate_tokens;
use crate::api_types::{EmbedRequest, EmbedResponse, UsageOut, millis};
use crate::catalog::Purpose;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::providers::{EmbedRequest as ProviderEmbedRequest, Usage};
use crate::state::SharedState;

const ROUTE: &str = "embed";
const MAX_INPUTS: usize = 2048;

pub async fn embed(
    State(state): State<SharedState>,
    Extension(context): Extension<RequestContext>,
    ValidJson(request): ValidJson<EmbedRequest>,
) -> Result<axum::Json<EmbedResponse>, ApiError> {
    let result = handle(&state, &context, ROUTE, request).await;
    let (provider, code) = match &result {
        Ok(response) => (response.provider.clone(), "ok"),
        Err(err) => (err_provider(err), err.code()),
    };
    state
        .metrics
        .requests
        .with_label_values(&[ROUTE, &provider, code, context.org_label()])
        .inc();
    result.map(axum::Json)
}

pub(super) fn err_provider(err: &ApiError) -> String {
    match err {
        ApiError::Upstream(e) => e.provider().unwrap_or("none").to_string(),
        _ => "none".to_string(),
    }
}

/// The embedding pipeline, shared with `/v1/embeddings`.
pub(super) async fn handle(
    state: &SharedState,
    context: &RequestContext,
    route: &'static str,
    request: EmbedRequest,
) -> Result<EmbedResponse, ApiError> {
    let inputs = request.input.into_vec();
    if inputs.is_empty() || inputs.len() > MAX_INPUTS {
        return Err(ApiError::invalid(
            "input",
            format!("give between 1 and {MAX_INPUTS} inputs"),
        ));
    }
    if let Some(i) = inputs.iter().position(|s| s.is_empty()) {
        return Err(ApiError::invalid(
            format!("input[{i}]"),
            "must not be empty",
        ));
    }
    let chars: usize = inputs.iter().map(|s| s.chars().count()).sum();
    if chars > state.limits.max_input_chars {
        return Err(ApiError::invalid(
            "input",
            format!(
                "input is {chars} characters; the limit is {}",
                state.limits.max_input_chars
            ),
        ));
    }
    let chain = state
        .catalog
        .resolve(request.model.as_deref(), Purpose::Embed)?;
    let inputs = redact_texts(state, route, state.redact.embed, inputs);
    let estimate: u64 = inputs.iter().map(|s| estimate_tokens(s)).sum();
    let reservation = reserve_tokens(state, context, estimate).await?;

    let inputs = &inputs;
    let outcome = state
        .gateway
        .call(route, &chain, |provider, target| {
            let call = ProviderEmbedRequest {
                model: target.model.clone(),
                inputs: inputs.clone(),
            };
            async move { provider.embed(&call).await }
        })
        .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(err) => {
            reservation.settle(0).await;
            return Err(err.into());
        }
    };
    let (input_tokens, estimated) = match outcome.value.input_tokens {
        Some(tokens) => (tokens, false),
        None => (estimate, true),
    };
    reservation.settle(input_tokens).await;
    let usage = Usage {
        input_tokens,
        output_tokens: 0,
    };
    let cost_usd = record_usage(
        state,
        context,
        &outcome.target.provider,
        &outcome.target.model,
        usage,
        estimated,
    );
    let total = context.received_at.elapsed();
    state
        .metrics
        .request_seconds
        .with_label_values(&[route, &outcome.target.provider])
        .observe(total.as_secs_f64());
    state
        .metrics
        .overhead_seconds
        .with_label_values(&[route])
        .observe(total.saturating_sub(outcome.upstream).as_secs_f64());
    Ok(EmbedResponse {
        embeddings: outcome.value.vectors,
        model: outcome.target.model,
        provider: outcome.target.provider,
        usage: UsageOut {
            input_tokens,
            output_tokens: 0,
            estimated,
        },
        latency_ms: millis(total),
        upstream_latency_ms: millis(outcome.upstream),
        cost_usd,
        request_id: context.request_id.clone(),
    })
}
