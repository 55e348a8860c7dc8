//! Streaming half of the chat routes: provider events out as SSE, in the
//! gateway's own format (`/v1/generate`) or OpenAI's (`/v1/chat/completions`).

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::json;

use super::record::{record_latency, record_usage};
use crate::accounting::caps::Reservation;
use crate::api_types::{StreamDone, UsageOut, millis};
use crate::context::RequestContext;
use crate::providers::{EventStream, ProviderError, StreamEvent, Usage};
use crate::state::SharedState;

/// How events are rendered.
#[derive(Debug, Clone)]
pub(super) enum StreamFormat {
    /// `event: delta` … then `event: done` or `event: error`.
    Native,
    /// OpenAI chat completion chunks (`data: {chunk}` lines), `data: [DONE]`
    /// only after the provider's end marker; a failure is a last
    /// `data: {"error": …}` line without `[DONE]`, which the SDKs raise.
    OpenAi {
        id: String,
        created: u64,
        include_usage: bool,
    },
}

/// Relays provider events to the client as SSE (`delta`* then `done`, or
/// `error`), and settles the token reservation however the stream ends,
/// including when the client disconnects (the relay is dropped, which also
/// drops and so cancels the upstream call).
pub(super) struct StreamRelay {
    pub(super) state: SharedState,
    pub(super) context: RequestContext,
    pub(super) route: &'static str,
    pub(super) format: StreamFormat,
    pub(super) provider: String,
    pub(super) model: String,
    pub(super) reservation: Option<Reservation>,
    pub(super) input_estimate: u64,
    pub(super) output_text_len: usize,
    /// Whether the first OpenAI chunk (which carries `role`) went out.
    pub(super) role_sent: bool,
    /// A tool call was streamed: OpenAI's finish_reason is then `tool_calls`.
    pub(super) tool_calls_seen: bool,
    pub(super) upstream_before_stream: Duration,
    pub(super) finished: bool,
}

impl StreamRelay {
    pub(super) fn into_sse(mut self, mut events: EventStream, idle_timeout: Duration) -> Response {
        let stream = async_stream::stream! {
            let stream_started = Instant::now();
            let mut input_tokens = None;
            let mut output_tokens = None;
            loop {
                let next = match tokio::time::timeout(idle_timeout, events.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        let err = ProviderError::Timeout { provider: "upstream" };
                        yield Ok::<Event, Infallible>(self.fail("idle_timeout", &err).await);
                        return;
                    }
                };
                match next {
                    Some(Ok(StreamEvent::Delta(text))) => {
                        self.output_text_len += text.len();
                        yield Ok(self.delta(json!({ "content": text })));
                    }
                    Some(Ok(StreamEvent::ToolCallDelta { index, id, name, arguments })) => {
                        self.tool_calls_seen = true;
                        self.output_text_len += arguments.len() + name.as_ref().map_or(0, String::len);
                        // Only the OpenAI format carries tools (only its route sends them).
                        if matches!(self.format, StreamFormat::OpenAi { .. }) {
                            let mut call = json!({ "index": index, "function": { "arguments": arguments } });
                            if let Some(id) = id {
                                call["id"] = json!(id);
                                call["type"] = json!("function");
                            }
                            if let Some(name) = name {
                                call["function"]["name"] = json!(name);
                            }
                            yield Ok(self.delta(json!({ "tool_calls": [call] })));
                        }
                    }
                    Some(Ok(StreamEvent::Usage { input_tokens: i, output_tokens: o })) => {
                        input_tokens = i.or(input_tokens);
                        output_tokens = o.or(output_tokens);
                    }
                    Some(Ok(StreamEvent::Finished)) => {
                        let upstream = self.upstream_before_stream + stream_started.elapsed();
                        for event in self.finish(input_tokens, output_tokens, upstream).await {
                            yield Ok(event);
                        }
                        return;
                    }
                    Some(Err(err)) => {
                        yield Ok(self.fail("upstream_error", &err).await);
                        return;
                    }
                    None => {
                        let err = ProviderError::Stream {
                            provider: "upstream",
                            detail: "stream ended before the provider's end-of-message marker".into(),
                        };
                        yield Ok(self.fail("truncated", &err).await);
                        return;
                    }
                }
            }
        };
        Sse::new(stream)
            .keep_alive(KeepAlive::default())
            .into_response()
    }

    fn openai_chunk(
        &self,
        id: &str,
        created: u64,
        choices: serde_json::Value,
    ) -> serde_json::Value {
        json!({
            "id": id, "object": "chat.completion.chunk", "created": created,
            "model": self.model, "choices": choices,
        })
    }

    /// `delta` is OpenAI's (`content` or `tool_calls`); the native format
    /// carries its text only.
    fn delta(&mut self, mut delta: serde_json::Value) -> Event {
        let first = !self.role_sent;
        self.role_sent = true;
        match &self.format {
            StreamFormat::Native => Event::default()
                .event("delta")
                .data(json!({ "text": delta["content"] }).to_string()),
            StreamFormat::OpenAi { id, created, .. } => {
                if first {
                    delta["role"] = json!("assistant");
                }
                let choices = json!([{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": null }]);
                Event::default().data(self.openai_chunk(id, *created, choices).to_string())
            }
        }
    }

    fn estimated_output(&self) -> u64 {
        (self.output_text_len as u64).div_ceil(3)
    }

    async fn finish(
        &mut self,
        input: Option<u64>,
        output: Option<u64>,
        upstream: Duration,
    ) -> Vec<Event> {
        self.finished = true;
        let estimated = input.is_none() || output.is_none();
        let usage = Usage {
            input_tokens: input.unwrap_or(self.input_estimate),
            output_tokens: output.unwrap_or_else(|| self.estimated_output()),
        };
        if let Some(reservation) = self.reservation.take() {
            reservation
                .settle(usage.input_tokens + usage.output_tokens)
                .await;
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
        record_latency(state, self.route, &self.provider, total, upstream);
        state
            .metrics
            .requests
            .with_label_values(&[self.route, &self.provider, "ok", self.context.org_label()])
            .inc();
        state
            .metrics
            .stream_outcomes
            .with_label_values(&[&self.provider, "completed"])
            .inc();
        if let StreamFormat::OpenAi {
            id,
            created,
            include_usage,
        } = &self.format
        {
            let mut events = Vec::new();
            if !self.role_sent {
                let choices = json!([{ "index": 0, "delta": { "role": "assistant", "content": "" }, "logprobs": null, "finish_reason": null }]);
                events.push(
                    Event::default().data(self.openai_chunk(id, *created, choices).to_string()),
                );
            }
            let reason = if self.tool_calls_seen {
                "tool_calls"
            } else {
                "stop"
            };
            let choices =
                json!([{ "index": 0, "delta": {}, "logprobs": null, "finish_reason": reason }]);
            events
                .push(Event::default().data(self.openai_chunk(id, *created, choices).to_string()));
            if *include_usage {
                let mut chunk = self.openai_chunk(id, *created, json!([]));
                chunk["usage"] = json!({
                    "prompt_tokens": usage.input_tokens,
                    "completion_tokens": usage.output_tokens,
                    "total_tokens": usage.input_tokens + usage.output_tokens,
                });
                events.push(Event::default().data(chunk.to_string()));
            }
            events.push(Event::default().data("[DONE]"));
            return events;
        }
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
        vec![
            Event::default()
                .event("done")
                .data(serde_json::to_string(&done).unwrap_or_default()),
        ]
    }

    async fn fail(&mut self, outcome: &str, err: &ProviderError) -> Event {
        self.finished = true;
        let spent = self.input_estimate + self.estimated_output();
        if let Some(reservation) = self.reservation.take() {
            reservation.settle(spent).await;
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
            .with_label_values(&[self.route, &self.provider, code, self.context.org_label()])
            .inc();
        if let StreamFormat::OpenAi { .. } = self.format {
            // OpenAI's error shape; the SDKs raise it as an APIError mid-stream.
            let body = json!({
                "error": { "message": err.to_string(), "type": "server_error", "code": code, "param": null },
            });
            return Event::default().data(body.to_string());
        }
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
                reservation.settle_detached(spent);
            }
            self.state
                .metrics
                .stream_outcomes
                .with_label_values(&[&self.provider, "client_disconnected"])
                .inc();
        }
    }
}
