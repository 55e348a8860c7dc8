//! `POST /v1/generate`: validate → resolve model chain → redact → reserve
//! tokens → call through the gateway → settle, account, answer (JSON or SSE).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::json;

use super::ValidJson;
use crate::accounting::caps::Reservation;
use crate::accounting::tokens::{MESSAGE_OVERHEAD_TOKENS, estimate_tokens};
use crate::api_types::{GenerateRequest, GenerateResponse, StreamDone, UsageOut, millis};
use crate::catalog::Purpose;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::gateway::Outcome;
use crate::guardrails::pii::Redactions;
use crate::providers::{
    ChatRequest, EventStream, Message, ProviderError, Role, StreamEvent, Usage,
};
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

    let messages = if state.redact.generate {
        redact_messages(state, messages)
    } else {
        messages
    };
    let input_estimate: u64 = messages
        .iter()
        .map(|m| estimate_tokens(&m.content) + MESSAGE_OVERHEAD_TOKENS)
        .sum();
    let reservation = state
        .caps
        .reserve(context.org_label(), input_estimate + u64::from(max_tokens))
        .map_err(|e| {
            state
                .metrics
                .cap_rejections
                .with_label_values(&[context.org_label()])
                .inc();
            ApiError::TokenCapExceeded {
                org: context.org_label().to_string(),
                retry_after_secs: e.retry_after_secs,
            }
        })?;

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
            reservation.settle(0);
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
            reservation.settle(usage.input_tokens + usage.output_tokens);
            let cost_usd = record_usage(
                state,
                context,
                &target.provider,
                &target.model,
                usage,
                estimated,
            );
            let total = context.received_at.elapsed();
            record_latency(state, &target.provider, total, upstream);
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
    let mut found = Redactions::default();
    let messages = messages
        .into_iter()
        .map(|m| {
            let (content, redactions) = state.redactor.redact(&m.content);
            found.merge(redactions);
            Message {
                role: m.role,
                content: content.into_owned(),
            }
        })
        .collect();
    record_redactions(state, ROUTE, &found);
    messages
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
    provider: &str,
    total: Duration,
    upstream: Duration,
) {
    state
        .metrics
        .request_seconds
        .with_label_values(&[ROUTE, provider])
        .observe(total.as_secs_f64());
    state
        .metrics
        .overhead_seconds
        .with_label_values(&[ROUTE])
        .observe(total.saturating_sub(upstream).as_secs_f64());
}

/// Relays provider events to the client as SSE (`delta`* then `done`, or
/// `error`), and settles the token reservation however the stream ends,
/// including when the client disconnects (the relay is dropped, which also
/// drops and so cancels the upstream call).
struct StreamRelay {
    state: SharedState,
    context: RequestContext,
    provider: String,
    model: String,
    reservation: Option<Reservation>,
    input_estimate: u64,
    output_text_len: usize,
    upstream_before_stream: Duration,
    finished: bool,
}

impl StreamRelay {
    fn into_sse(mut self, mut events: EventStream, idle_timeout: Duration) -> Response {
        let stream = async_stream::stream! {
            let stream_started = Instant::now();
            let mut input_tokens = None;
            let mut output_tokens = None;
            loop {
                let next = match tokio::time::timeout(idle_timeout, events.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        let err = ProviderError::Timeout { provider: "upstream" };
                        yield Ok::<Event, Infallible>(self.fail("idle_timeout", &err));
                        return;
                    }
                };
                match next {
                    Some(Ok(StreamEvent::Delta(text))) => {
                        self.output_text_len += text.len();
                        yield Ok(Event::default().event("delta").data(json!({ "text": text }).to_string()));
                    }
                    Some(Ok(StreamEvent::Usage { input_tokens: i, output_tokens: o })) => {
                        input_tokens = i.or(input_tokens);
                        output_tokens = o.or(output_tokens);
                    }
                    Some(Ok(StreamEvent::Finished)) => {
                        let upstream = self.upstream_before_stream + stream_started.elapsed();
                        yield Ok(self.finish(input_tokens, output_tokens, upstream));
                        return;
                    }
                    Some(Err(err)) => {
                        yield Ok(self.fail("upstream_error", &err));
                        return;
                    }
                    None => {
                        let err = ProviderError::Stream {
                            provider: "upstream",
                            detail: "stream ended before the provider's end-of-message marker".into(),
                        };
                        yield Ok(self.fail("truncated", &err));
                        return;
                    }
                }
            }
        };
        Sse::new(stream)
            .keep_alive(KeepAlive::default())
            .into_response()
    }

    fn estimated_output(&self) -> u64 {
        (self.output_text_len as u64).div_ceil(3)
    }

    fn finish(&mut self, input: Option<u64>, output: Option<u64>, upstream: Duration) -> Event {
        self.finished = true;
        let estimated = input.is_none() || output.is_none();
        let usage = Usage {
            input_tokens: input.unwrap_or(self.input_estimate),
            output_tokens: output.unwrap_or_else(|| self.estimated_output()),
        };
        if let Some(reservation) = self.reservation.take() {
            reservation.settle(usage.input_tokens + usage.output_tokens);
        }
        let state = &self.state;
        let cost_usd = record_usage(
            state,
            &self.context,
            &self.provider,
            &self.model,
            usage,
            estimated,
        );
        let total = self.context.received_at.elapsed();
        record_latency(state, &self.provider, total, upstream);
        state
            .metrics
            .requests
            .with_label_values(&[ROUTE, &self.provider, "ok", self.context.org_label()])
            .inc();
        state
            .metrics
            .stream_outcomes
            .with_label_values(&[&self.provider, "completed"])
            .inc();
        let done = StreamDone {
            model: self.model.clone(),
            provider: self.provider.clone(),
            usage: UsageOut {
                input_tokens: usage.input_tokens,
                output_tokens: usage.output_tokens,
                estimated,
            },
            latency_ms: millis(total),
            upstream_latency_ms: millis(upstream),
            cost_usd,
            request_id: self.context.request_id.clone(),
        };
        Event::default()
            .event("done")
            .data(serde_json::to_string(&done).unwrap_or_default())
    }

    fn fail(&mut self, outcome: &str, err: &ProviderError) -> Event {
        self.finished = true;
        let spent = self.input_estimate + self.estimated_output();
        if let Some(reservation) = self.reservation.take() {
            reservation.settle(spent);
        }
        let code = if outcome == "truncated" {
            "stream_truncated"
        } else {
            err.code()
        };
        tracing::warn!(provider = %self.provider, outcome, code, "stream ended abnormally");
        self.state
            .metrics
            .stream_outcomes
            .with_label_values(&[&self.provider, outcome])
            .inc();
        self.state
            .metrics
            .requests
            .with_label_values(&[ROUTE, &self.provider, code, self.context.org_label()])
            .inc();
        let body = json!({
            "error": { "code": code, "message": err.to_string(), "provider": self.provider },
            "request_id": self.context.request_id,
        });
        Event::default().event("error").data(body.to_string())
    }
}

impl Drop for StreamRelay {
    fn drop(&mut self) {
        if !self.finished {
            // The client went away mid-stream: what was generated so far is spent.
            let spent = self.input_estimate + self.estimated_output();
            if let Some(reservation) = self.reservation.take() {
                reservation.settle(spent);
            }
            self.state
                .metrics
                .stream_outcomes
                .with_label_values(&[&self.provider, "client_disconnected"])
                .inc();
        }
    }
}
