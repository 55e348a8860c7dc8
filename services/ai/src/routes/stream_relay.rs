//! Streaming half of `/v1/generate`: provider events out as SSE.

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

const ROUTE: &str = "generate";

/// Relays provider events to the client as SSE (`delta`* then `done`, or
/// `error`), and settles the token reservation however the stream ends,
/// including when the client disconnects (the relay is dropped, which also
/// drops and so cancels the upstream call).
pub(super) struct StreamRelay {
    pub(super) state: SharedState,
    pub(super) context: RequestContext,
    pub(super) provider: String,
    pub(super) model: String,
    pub(super) reservation: Option<Reservation>,
    pub(super) input_estimate: u64,
    pub(super) output_text_len: usize,
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
                        yield Ok(Event::default().event("delta").data(json!({ "text": text }).to_string()));
                    }
                    Some(Ok(StreamEvent::Usage { input_tokens: i, output_tokens: o })) => {
                        input_tokens = i.or(input_tokens);
                        output_tokens = o.or(output_tokens);
                    }
                    Some(Ok(StreamEvent::Finished)) => {
                        let upstream = self.upstream_before_stream + stream_started.elapsed();
                        yield Ok(self.finish(input_tokens, output_tokens, upstream).await);
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

    fn estimated_output(&self) -> u64 {
        (self.output_text_len as u64).div_ceil(3)
    }

    async fn finish(
        &mut self,
        input: Option<u64>,
        output: Option<u64>,
        upstream: Duration,
    ) -> Event {
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
        record_latency(state, ROUTE, &self.provider, total, upstream);
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
