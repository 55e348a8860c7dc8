//! `POST /v1/generate`: validate → resolve model chain → redact → reserve
//! tokens → call through the gateway → settle, account, answer (JSON or SSE).

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::ValidJson;
use super::record::{record_latency, record_usage, redact_texts, reserve_tokens};
use super::stream_relay::StreamRelay;
use crate::accounting::tokens::{Framing, estimate_tokens};
use crate::api_types::{GenerateRequest, GenerateResponse, UsageOut, millis};
use crate::catalog::Purpose;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::gateway::Outcome;
use crate::providers::{ChatRequest, EventStream, Message, Role, Usage};
use crate::state::{AppState, SharedState};

const ROUTE: &str = "generate";

pub async fn generate(
    State(state): State<SharedState>,
    Extension(context): Extension<RequestContext>,
    ValidJson(request): ValidJson<GenerateRequest>,
) -> Result<Response, ApiError> {
    let result = handle(&state, &context, request).await;
    if let Err(err) = &result {
        let provider = match err {
            ApiError::Upstream(e) => e.provider().unwrap_or("none").to_string(),
            _ => "none".to_string(),
        };
        state
            .metrics
            .requests
            .with_label_values(&[ROUTE, &provider, err.code(), context.org_label()])
            .inc();
    }
    result
}

async fn handle(
    state: &SharedState,
    context: &RequestContext,
    request: GenerateRequest,
) -> Result<Response, ApiError> {
    if let Some(metadata) = &request.metadata {
        let keys: Vec<&str> = metadata.keys().map(String::as_str).collect();
        tracing::debug!(?keys, "request metadata");
    }
    let max_tokens = request
        .max_tokens
        .unwrap_or(state.limits.default_max_tokens);
    if max_tokens == 0 || max_tokens > state.limits.max_output_tokens {
        return Err(ApiError::invalid(
            "max_tokens",
            format!("must be between 1 and {}", state.limits.max_output_tokens),
        ));
    }
    if let Some(t) = request.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err(ApiError::invalid("temperature", "must be between 0 and 2"));
    }
    let messages = collect_messages(&request, state.limits.max_input_chars)?;
    let chain = state
        .catalog
        .resolve(request.model.as_deref(), Purpose::Chat)?;

    let messages = redact_messages(state, messages);
    // Any provider of the chain may answer: reserve for the one that frames most.
    let input_estimate: u64 = chain
        .iter()
        .map(|t| Framing::of(state.catalog.kind_of(&t.provider).unwrap_or_default()))
        .map(|framing| framing.input_estimate(&messages))
        .max()
        .unwrap_or_default();
    let reservation =
        reserve_tokens(state, context, input_estimate + u64::from(max_tokens)).await?;

    let base = ChatRequest {
        model: String::new(),
        messages,
        max_tokens,
        temperature: request.temperature,
    };
    let op = |stream: bool| {
        let base = &base;
        move |provider: Arc<dyn crate::providers::Provider>, target: &crate::catalog::Target| {
            let mut call = base.clone();
            call.model = target.model.clone();
            async move {
                if stream {
                    provider.stream(&call).await.map(Either::Stream)
                } else {
                    provider.generate(&call).await.map(Either::Completion)
                }
            }
        }
    };
    let outcome = match state.gateway.call(ROUTE, &chain, op(request.stream)).await {
        Ok(outcome) => outcome,
        Err(err) => {
            // Nothing was generated: give the tokens back.
            reservation.settle(0).await;
            return Err(err.into());
        }
    };
    let Outcome {
        value,
        target,
        kind,
        upstream,
        timeout,
    } = outcome;
    match value {
        Either::Completion(completion) => {
            let (usage, estimated) = match completion.usage {
                Some(usage) => (usage, false),
                None => (
                    Usage {
                        input_tokens: input_estimate,
                        output_tokens: estimate_tokens(&completion.text),
                    },
                    true,
                ),
            };
            reservation
                .settle(usage.input_tokens + usage.output_tokens)
                .await;
            let cost_usd = record_usage(
                state,
                context,
                &target.provider,
                &target.model,
                usage,
                estimated,
            );
            let total = context.received_at.elapsed();
            record_latency(state, ROUTE, &target.provider, total, upstream);
            state
                .metrics
                .requests
                .with_label_values(&[ROUTE, &target.provider, "ok", context.org_label()])
                .inc();
            tracing::info!(provider = %target.provider, kind, model = %target.model, input_tokens = usage.input_tokens,
                output_tokens = usage.output_tokens, latency_ms = millis(total), "generated");
            Ok(axum::Json(GenerateResponse {
                text: completion.text,
                model: target.model,
                provider: target.provider,
                usage: UsageOut {
                    input_tokens: usage.input_tokens,
                    output_tokens: usage.output_tokens,
                    estimated,
                },
                latency_ms: millis(total),
                upstream_latency_ms: millis(upstream),
                cost_usd,
                request_id: context.request_id.clone(),
            })
            .into_response())
        }
        Either::Stream(events) => {
            let relay = StreamRelay {
                state: state.clone(),
                context: context.clone(),
                provider: target.provider,
                model: target.model,
                reservation: Some(reservation),
                input_estimate,
                output_text_len: 0,
                upstream_before_stream: upstream,
                finished: false,
            };
            Ok(relay.into_sse(events, timeout))
        }
    }
}

enum Either {
    Completion(crate::providers::Completion),
    Stream(EventStream),
}

fn collect_messages(request: &GenerateRequest, max_chars: usize) -> Result<Vec<Message>, ApiError> {
    let mut messages = Vec::new();
    if let Some(system) = &request.system {
        messages.push(Message {
            role: Role::System,
            content: system.clone(),
        });
    }
    match (&request.prompt, &request.messages) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "prompt",
                "give either prompt or messages, not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "prompt",
                "prompt or messages is required",
            ));
        }
        (Some(prompt), None) => {
            if prompt.trim().is_empty() {
                return Err(ApiError::invalid("prompt", "must not be empty"));
            }
            messages.push(Message {
                role: Role::User,
                content: prompt.clone(),
            });
        }
        (None, Some(list)) => {
            if list.is_empty() {
                return Err(ApiError::invalid("messages", "must not be empty"));
            }
            if !list.iter().any(|m| m.role == Role::User) {
                return Err(ApiError::invalid(
                    "messages",
                    "needs at least one user message",
                ));
            }
            messages.extend(list.iter().cloned());
        }
    }
    let chars: usize = messages.iter().map(|m| m.content.chars().count()).sum();
    if chars > max_chars {
        let field = if request.prompt.is_some() {
            "prompt"
        } else {
            "messages"
        };
        return Err(ApiError::invalid(
            field,
            format!("input is {chars} characters; the limit is {max_chars}"),
        ));
    }
    Ok(messages)
}

fn redact_messages(state: &AppState, messages: Vec<Message>) -> Vec<Message> {
    let roles: Vec<Role> = messages.iter().map(|m| m.role).collect();
    let texts = messages.into_iter().map(|m| m.content).collect();
    let texts = redact_texts(state, ROUTE, state.redact.generate, texts);
    roles
        .into_iter()
        .zip(texts)
        .map(|(role, content)| Message { role, content })
        .collect()
}
