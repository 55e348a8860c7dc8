//! `POST /v1/moderate`: the configured provider's moderation API (OpenAI's by
//! default) through the gateway's retry/breaker, or local rules when no such
//! provider is configured.

use axum::Extension;
use axum::extract::State;

use super::ValidJson;
use super::record::redact_texts;
use crate::api_types::{ModerateRequest, ModerateResponse};
use crate::catalog::Target;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::providers::openai::MODERATION_MODEL;
use crate::state::SharedState;

const ROUTE: &str = "moderate";
const MAX_INPUTS: usize = 32;

pub async fn moderate(
    State(state): State<SharedState>,
    Extension(context): Extension<RequestContext>,
    ValidJson(request): ValidJson<ModerateRequest>,
) -> Result<axum::Json<ModerateResponse>, ApiError> {
    let result = handle(&state, &context, request).await;
    let (provider, code) = match &result {
        Ok(response) => (response.provider.clone(), "ok"),
        Err(err) => ("none".to_string(), err.code()),
    };
    state
        .metrics
        .requests
        .with_label_values(&[ROUTE, &provider, code, context.org_label()])
        .inc();
    result.map(axum::Json)
}

async fn handle(
    state: &SharedState,
    context: &RequestContext,
    request: ModerateRequest,
) -> Result<ModerateResponse, ApiError> {
    let inputs = request.input.into_vec();
    if inputs.is_empty() || inputs.len() > MAX_INPUTS {
        return Err(ApiError::invalid(
            "input",
            format!("give between 1 and {MAX_INPUTS} inputs"),
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
    let Some(provider) = &state.moderation_provider else {
        let results: Vec<_> = inputs
            .iter()
            .map(|text| state.local_moderator.moderate(text))
            .collect();
        return Ok(ModerateResponse {
            flagged: results.iter().any(|r| r.flagged),
            results,
            provider: "local".into(),
            request_id: context.request_id.clone(),
        });
    };
    let inputs = redact_texts(state, ROUTE, state.redact.moderate, inputs);
    let chain = [Target {
        provider: provider.clone(),
        model: MODERATION_MODEL.into(),
    }];
    let inputs = &inputs;
    let outcome = state
        .gateway
        .call(ROUTE, &chain, |provider, _target| async move {
            provider.moderate(inputs).await
        })
        .await?;
    Ok(ModerateResponse {
        flagged: outcome.value.iter().any(|r| r.flagged),
        results: outcome.value,
        provider: outcome.target.provider,
        request_id: context.request_id.clone(),
    })
}
