//! Per-request context: request id, caller identity headers and trace parent,
//! carried into the tracing span (logs), metrics labels and responses.

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub org_id: Option<String>,
    pub user_id: Option<String>,
    pub traceparent: Option<String>,
    /// When the request arrived, before body parsing: the start of "total" latency.
    pub received_at: Instant,
}

impl RequestContext {
    /// Caps and metrics key on this; requests without an org share one bucket.
    pub fn org_label(&self) -> &str {
        self.org_id.as_deref().unwrap_or("none")
    }

    /// The trace id part of a W3C `traceparent` (`00-<trace-id>-<span-id>-<flags>`).
    pub fn trace_id(&self) -> Option<&str> {
        let mut parts = self.traceparent.as_deref()?.split('-');
        let _version = parts.next()?;
        parts.next().filter(|id| id.len() == 32)
    }
}

/// Identity headers are attacker-influenced text that ends up in logs and
/// metric labels: keep them short and printable or drop them.
fn header_text(request: &Request, name: &str) -> Option<String> {
    let value = request.headers().get(name)?.to_str().ok()?.trim();
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:@".contains(&b));
    ok.then(|| value.to_string())
}

pub async fn attach(mut request: Request, next: Next) -> Response {
    let received_at = Instant::now();
    let request_id =
        header_text(&request, "x-request-id").unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let context = RequestContext {
        request_id: request_id.clone(),
        org_id: header_text(&request, "x-org-id"),
        user_id: header_text(&request, "x-user-id"),
        traceparent: header_text(&request, "traceparent"),
        received_at,
    };
    let span = tracing::info_span!(
        "request",
        request_id = %context.request_id,
        org_id = context.org_id.as_deref().unwrap_or(""),
        user_id = context.user_id.as_deref().unwrap_or(""),
        trace_id = context.trace_id().unwrap_or(""),
        method = %request.method(),
        path = %request.uri().path(),
    );
    request.extensions_mut().insert(context);
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_comes_from_traceparent() {
        let context = RequestContext {
            request_id: "r".into(),
            org_id: None,
            user_id: None,
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            received_at: Instant::now(),
        };
        assert_eq!(context.trace_id(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert_eq!(context.org_label(), "none");
    }
}
