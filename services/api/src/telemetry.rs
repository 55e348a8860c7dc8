//! JSON logs, and OpenTelemetry traces exported over OTLP/HTTP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! Log lines are formatted on the thread that logs and written by a
//! dedicated thread (tracing-appender's non-blocking writer), so a slow
//! stdout (a full pipe to the log collector) never stalls a request. The
//! writer is not lossy: should the thread fall 128k lines behind, loggers
//! wait rather than drop lines. [`Telemetry`] holds the writer's guard for
//! the process's lifetime; dropping it (end of `main`) writes every line
//! logged so far, so the lines of the last requests and of shutdown are
//! not lost.
//!
//! Spans carry the request id and, once known, the (pseudonymous) user and
//! organization ids; tokens and email addresses are never logged (the
//! Authorization header is marked sensitive and no code logs claims).

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Flushes and stops trace export, and writes the log lines still queued,
/// when dropped (at the end of `main`).
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    /// Dropped after the provider (fields drop in order, after `drop`).
    _logs: WorkerGuard,
}

impl Telemetry {
    /// Sends the spans ended so far (tests, shutdown).
    pub fn flush(&self) {
        if let Some(provider) = &self.provider {
            let _ = provider.force_flush();
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Logs to stdout, filtered by `RUST_LOG` (default `info`); traces to
/// `otlp_endpoint` when given.
pub fn init(otlp_endpoint: Option<&str>) -> Result<Telemetry, String> {
    init_with_writer(std::io::stdout(), otlp_endpoint)
}

/// As [`init`], logging to `writer` (tests capture logs this way).
pub fn init_with_writer<W>(writer: W, otlp_endpoint: Option<&str>) -> Result<Telemetry, String>
where
    W: std::io::Write + Send + 'static,
{
    let provider = otlp_endpoint.map(tracer_provider).transpose()?;
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("api-log-writer")
        .finish(writer);
    let otel_layer = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("api")));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_writer(writer)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(otel_layer)
        .try_init();
    Ok(Telemetry {
        provider,
        _logs: guard,
    })
}

fn tracer_provider(endpoint: &str) -> Result<SdkTracerProvider, String> {
    let endpoint = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    // The exporter's blocking HTTP client may not be built on a runtime thread.
    std::thread::spawn(move || {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(endpoint)
            .build()
            .map_err(|e| format!("OTEL_EXPORTER_OTLP_ENDPOINT: {e}"))?;
        Ok(SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(Resource::builder().with_service_name("api").build())
            .build())
    })
    .join()
    .map_err(|_| "could not start the trace exporter".to_string())?
}

use opentelemetry_otlp::WithExportConfig as _;

struct HeaderExtractor<'a>(&'a axum::http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Makes `span` a child of the caller's trace when it sent a `traceparent`.
pub fn adopt_remote_parent(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// The `traceparent` for an outgoing call made inside `span`, when traces are
/// being recorded (otherwise `None`).
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let span_ref = context.span();
    let sc = span_ref.span_context();
    sc.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    })
}

/// A W3C traceparent for a call made on behalf of the request in `span`
/// (the ai service): the span's own when traces are recorded; otherwise the
/// caller's trace id when its `traceparent` header carried a valid one, else
/// a new trace; always a new span id.
pub fn child_traceparent(span: &tracing::Span, incoming: Option<&str>) -> String {
    if let Some(traceparent) = traceparent_of(span) {
        return traceparent;
    }
    let span_id = &uuid::Uuid::new_v4().simple().to_string()[..16];
    let incoming = incoming.and_then(|v| {
        let parts: Vec<&str> = v.trim().split('-').collect();
        let valid = parts.len() == 4
            && parts[1].len() == 32
            && parts[1].chars().all(|c| c.is_ascii_hexdigit())
            && parts[1] != "00000000000000000000000000000000";
        valid.then(|| parts[1].to_ascii_lowercase())
    });
    let trace_id = incoming.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    format!("00-{trace_id}-{span_id}-01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_keeps_the_callers_trace_id() {
        let span = tracing::Span::none();
        let tp = child_traceparent(
            &span,
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        assert!(
            tp.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{tp}"
        );
        assert!(!tp.contains("00f067aa0ba902b7"));
        let fresh = child_traceparent(&span, None);
        assert_eq!(fresh.len(), 55, "{fresh}");
    }
}
