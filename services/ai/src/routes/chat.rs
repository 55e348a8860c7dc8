//! The chat pipeline shared by `/v1/generate` and `/v1/chat/completions`:
//! validate → resolve model chain → redact → reserve tokens → call through the
//! gateway → settle and account. Each route parses its own request shape into
//! [`ChatInput`] and renders the [`ChatOutcome`] in its own response shape.

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;

use super::record::{record_latency, record_usage, redact_texts, reserve_tokens};
use super::stream_relay::{StreamFormat, StreamRelay};
use crate::accounting::tokens::{Framing, estimate_tokens};
use crate::api_types::UsageOut;
use crate::catalog::Purpose;
use crate::catalog::Target;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::gateway::Outcome;
use crate::providers::{
    ChatRequest, EventStream, Message, Role, Tool, ToolCall, ToolChoice, Usage, supports_tools,
};
use crate::state::{AppState, SharedState};

/// A chat request in the gateway's terms, whatever shape it arrived in.
pub(super) struct ChatInput {
    pub model: Option<String>,
    /// Validated by the route: non-empty, a user message, within the size limit.
    pub messages: Vec<Message>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub tools: ToolInput,
}

/// The tool part of a chat request (empty on `/v1/generate`).
#[derive(Default)]
pub(super) struct ToolInput {
    pub tools: Vec<Tool>,
    pub choice: Option<ToolChoice>,
    pub parallel_calls: Option<bool>,
    /// The client's field that brought tools in, named in the 400 when the
    /// model's providers cannot take them (`tools`, `messages[2].tool_calls`…).
    pub field: Option<String>,
}

/// A finished, non-streamed completion with its accounting.
pub(super) struct Completed {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub model: String,
    pub provider: String,
    pub usage: UsageOut,
    pub total: Duration,
    pub upstream: Duration,
    pub cost_usd: Option<f64>,
}

pub(super) enum ChatOutcome {
    Completed(Completed),
    /// The SSE response, already rendered in the route's format.
    Stream(Response),
}

/// Runs the pipeline. `stream` is `None` for a JSON answer, or the format the
/// SSE events are rendered in.
pub(super) async fn run_chat(
    state: &SharedState,
    context: &RequestContext,
    route: &'static str,
    input: ChatInput,
    stream: Option<StreamFormat>,
) -> Result<ChatOutcome, ApiError> {
    let max_tokens = input.max_tokens.unwrap_or(state.limits.default_max_tokens);
    if max_tokens == 0 || max_tokens > state.limits.max_output_tokens {
        return Err(ApiError::invalid(
            "max_tokens",
            format!("must be between 1 and {}", state.limits.max_output_tokens),
        ));
    }
    if let Some(t) = input.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err(ApiError::invalid("temperature", "must be between 0 and 2"));
    }
    let chain = state
        .catalog
        .resolve(input.model.as_deref(), Purpose::Chat)?;
    let chain = match &input.tools.field {
        Some(field) => tool_capable(state, chain, field)?,
        None => chain,
    };

    let messages = redact_messages(state, route, input.messages);
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
        temperature: input.temperature,
        tools: input.tools.tools,
        tool_choice: input.tools.choice,
        parallel_tool_calls: input.tools.parallel_calls,
    };
    let streaming = stream.is_some();
    let op = |provider: Arc<dyn crate::providers::Provider>, target: &crate::catalog::Target| {
        let mut call = base.clone();
        call.model = target.model.clone();
        async move {
            if streaming {
                provider.stream(&call).await.map(Either::Stream)
            } else {
                provider.generate(&call).await.map(Either::Completion)
            }
        }
    };
    let outcome = match state.gateway.call(route, &chain, op).await {
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
                        output_tokens: estimate_tokens(&completion.text)
                            + completion
                                .tool_calls
                                .iter()
                                .map(|c| estimate_tokens(&c.name) + estimate_tokens(&c.arguments))
                                .sum::<u64>(),
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
            record_latency(state, route, &target.provider, total, upstream);
            state
                .metrics
                .requests
                .with_label_values(&[route, &target.provider, "ok", context.org_label()])
                .inc();
            tracing::info!(provider = %target.provider, kind, model = %target.model, input_tokens = usage.input_tokens,
                output_tokens = usage.output_tokens, latency_ms = crate::api_types::millis(total), "generated");
            Ok(ChatOutcome::Completed(Completed {
                text: completion.text,
                tool_calls: completion.tool_calls,
                model: target.model,
                provider: target.provider,
                usage: UsageOut {
                    input_tokens: usage.input_tokens,
                    output_tokens: usage.output_tokens,
                    estimated,
                },
                total,
                upstream,
                cost_usd,
            }))
        }
        Either::Stream(events) => {
            let relay = StreamRelay {
                state: state.clone(),
                context: context.clone(),
                route,
                format: stream.unwrap_or(StreamFormat::Native),
                provider: target.provider,
                model: target.model,
                reservation: Some(reservation),
                input_estimate,
                output_text_len: 0,
                role_sent: false,
                tool_calls_seen: false,
                upstream_before_stream: upstream,
                finished: false,
            };
            Ok(ChatOutcome::Stream(relay.into_sse(events, timeout)))
        }
    }
}

enum Either {
    Completion(crate::providers::Completion),
    Stream(EventStream),
}

/// Counts a failed request in the metrics (success is counted where it ends).
pub(super) fn record_failure(
    state: &AppState,
    context: &RequestContext,
    route: &str,
    err: &ApiError,
) {
    let provider = match err {
        ApiError::Upstream(e) => e.provider().unwrap_or("none").to_string(),
        _ => "none".to_string(),
    };
    state
        .metrics
        .requests
        .with_label_values(&[route, &provider, err.code(), context.org_label()])
        .inc();
}

/// The checks every chat route applies to its messages.
pub(super) fn check_messages(
    messages: &[Message],
    field: &str,
    max_chars: usize,
) -> Result<(), ApiError> {
    if !messages.iter().any(|m| m.role == Role::User) {
        return Err(ApiError::invalid(field, "needs at least one user message"));
    }
    let chars: usize = messages.iter().map(|m| m.content.chars().count()).sum();
    if chars > max_chars {
        return Err(ApiError::invalid(
            field,
            format!("input is {chars} characters; the limit is {max_chars}"),
        ));
    }
    Ok(())
}

/// Keeps the chain's targets whose providers take tools; a 400 naming the
/// client's field and the model's first target when none does.
fn tool_capable(
    state: &AppState,
    chain: Vec<Target>,
    field: &str,
) -> Result<Vec<Target>, ApiError> {
    let first = chain.first().cloned();
    let capable: Vec<Target> = chain
        .into_iter()
        .filter(|t| supports_tools(state.catalog.kind_of(&t.provider).unwrap_or_default()))
        .collect();
    match (capable.is_empty(), first) {
        (true, Some(first)) => Err(ApiError::invalid(
            field,
            format!(
                "tool calling is not supported by provider `{}` (model `{}`); tools pass through to OpenAI, Azure OpenAI, Anthropic, Gemini and Bedrock models only",
                first.provider, first.model
            ),
        )),
        _ => Ok(capable),
    }
}

fn redact_messages(state: &AppState, route: &str, mut messages: Vec<Message>) -> Vec<Message> {
    let texts = messages
        .iter_mut()
        .map(|m| std::mem::take(&mut m.content))
        .collect();
    let texts = redact_texts(state, route, state.redact.generate, texts);
    for (message, content) in messages.iter_mut().zip(texts) {
        message.content = content;
    }
    messages
}
