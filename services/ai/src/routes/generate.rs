//! `POST /v1/generate`: the gateway's own request and response shapes over
//! the shared chat pipeline (`chat.rs`).

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::ValidJson;
use super::chat::{ChatInput, ChatOutcome, ToolInput, record_failure, run_chat};
use super::stream_relay::StreamFormat;
use crate::api_types::{GenerateRequest, GenerateResponse, millis};
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::providers::{Message, Role};
use crate::state::SharedState;

const ROUTE: &str = "generate";

pub async fn generate(
    State(state): State<SharedState>,
    Extension(context): Extension<RequestContext>,
    ValidJson(request): ValidJson<GenerateRequest>,
) -> Result<Response, ApiError> {
    let result = handle(&state, &context, request).await;
    if let Err(err) = &result {
        record_failure(&state, &context, ROUTE, err);
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
    let input = ChatInput {
        messages: collect_messages(&request, state.limits.max_input_chars)?,
        model: request.model,
        max_tokens: request.max_tokens,
        temperature: request.temperature,
        tools: ToolInput::default(),
    };
    let stream = request.stream.then_some(StreamFormat::Native);
    match run_chat(state, context, ROUTE, input, stream).await? {
        ChatOutcome::Stream(response) => Ok(response),
        ChatOutcome::Completed(done) => Ok(axum::Json(GenerateResponse {
            text: done.text,
            model: done.model,
            provider: done.provider,
            usage: done.usage,
            latency_ms: millis(done.total),
            upstream_latency_ms: millis(done.upstream),
            cost_usd: done.cost_usd,
            request_id: context.request_id.clone(),
        })
        .into_response()),
    }
}

fn collect_messages(request: &GenerateRequest, max_chars: usize) -> Result<Vec<Message>, ApiError> {
    let mut messages = Vec::new();
    if let Some(system) = &request.system {
        messages.push(Message::text(Role::System, system.clone()));
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
            messages.push(Message::text(Role::User, prompt.clone()));
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
