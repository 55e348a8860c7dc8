//! HTTP plumbing shared by the REST providers: sending, classifying failures,
//! Retry-After, JSON and SSE bodies.

use std::time::{Duration, SystemTime};

use eventsource_stream::{Event, Eventsource};
use futures::{Stream, StreamExt};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response, Url};
use serde::de::DeserializeOwned;

use super::ProviderError;

/// Error bodies larger than this are not read further: we only want the code.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// `base` with `segments` appended, each percent-encoded as exactly one path
/// segment (`/`, `?`, `#`, `\`, `%`, spaces… are escaped; `.` and `..` are
/// dropped). Provider URLs are built only this way, never with `format!`, so
/// no part of a request can change the path or query the gateway calls.
pub fn endpoint(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    // http(s) URLs always have a path; `base` was checked when the provider was built.
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

pub fn transport_error(provider: &'static str, err: reqwest::Error) -> ProviderError {
    if err.is_timeout() {
        ProviderError::Timeout { provider }
    } else {
        // `without_url`: URLs can carry deployment names and query keys.
        ProviderError::Connect {
            provider,
            detail: err.without_url().to_string(),
        }
    }
}

/// Sends the request; any non-2xx answer becomes a classified [`ProviderError`].
pub async fn send(
    provider: &'static str,
    request: RequestBuilder,
) -> Result<Response, ProviderError> {
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(provider, e))?;
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(status_error(provider, response).await)
    }
}

async fn status_error(provider: &'static str, response: Response) -> ProviderError {
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers(), SystemTime::now());
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_ERROR_BODY {
            break;
        }
    }
    if is_budget_exhausted(status, &body) {
        return ProviderError::BudgetExhausted { provider, status };
    }
    ProviderError::Status {
        provider,
        status,
        retry_after,
        detail: error_summary(status, &body),
    }
}

/// Answers that mean "the account is out of money or quota", as opposed to a
/// transient rate limit: retrying is pointless, the breaker should open.
fn is_budget_exhausted(status: u16, body: &[u8]) -> bool {
    if status == 402 {
        return true;
    }
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    [
        "insufficient_quota",
        "credit balance is too low",
        "billing_not_active",
        "billing_hard_limit",
    ]
    .iter()
    .any(|marker| text.contains(marker))
}

/// A short, safe description of an upstream error body: its type/code and,
/// except for auth failures (which can echo part of a key), a truncated message.
fn error_summary(status: u16, body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return "no JSON error body".to_string();
    };
    // OpenAI/Azure/Anthropic: {"error": {"type"|"code", "message"}}; Gemini: {"error": {"status", "message"}}.
    let error = value.get("error").unwrap_or(&value);
    let kind = ["type", "code", "status"]
        .iter()
        .find_map(|k| error.get(*k).and_then(|v| v.as_str().map(str::to_owned)))
        .unwrap_or_else(|| "error".to_string());
    if matches!(status, 401 | 403) {
        return kind;
    }
    match error.get("message").and_then(|m| m.as_str()) {
        Some(message) => format!("{kind}: {}", truncate(message, 200)),
        None => kind,
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((idx, _)) => &text[..idx],
        None => text,
    }
}

/// `retry-after-ms` (OpenAI, Azure) wins over `Retry-After` (seconds or an HTTP date).
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = header("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

pub async fn read_json<T: DeserializeOwned>(
    provider: &'static str,
    response: Response,
) -> Result<T, ProviderError> {
    let body = response
        .bytes()
        .await
        .map_err(|e| transport_error(provider, e))?;
    serde_json::from_slice(&body).map_err(|e| ProviderError::malformed(provider, e))
}

/// The response body as Server-Sent Events.
pub fn sse(
    provider: &'static str,
    response: Response,
) -> impl Stream<Item = Result<Event, ProviderError>> + Send {
    response.bytes_stream().eventsource().map(move |item| {
        item.map_err(|e| ProviderError::Stream {
            provider,
            detail: format!("connection lost mid-stream: {e}"),
        })
    })
}

pub fn parse_event<T: DeserializeOwned>(
    provider: &'static str,
    data: &str,
) -> Result<T, ProviderError> {
    serde_json::from_str(data).map_err(|e| ProviderError::malformed(provider, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_in_seconds_ms_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&headers(&[("retry-after", "2")]), now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "2"), ("retry-after-ms", "150")]),
                now
            ),
            Some(Duration::from_millis(150))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&headers(&[]), now), None);
    }

    #[test]
    fn budget_exhaustion_is_recognised() {
        assert!(is_budget_exhausted(
            429,
            br#"{"error":{"type":"insufficient_quota"}}"#
        ));
        assert!(is_budget_exhausted(
            400,
            br#"{"error":{"message":"Your credit balance is too low"}}"#
        ));
        assert!(is_budget_exhausted(402, b""));
        assert!(!is_budget_exhausted(
            429,
            br#"{"error":{"type":"rate_limit_exceeded"}}"#
        ));
    }

    #[test]
    fn auth_errors_never_echo_the_message() {
        let body = br#"{"error":{"type":"invalid_request_error","message":"Incorrect API key provided: sk-abc"}}"#;
        assert_eq!(error_summary(401, body), "invalid_request_error");
        assert!(error_summary(400, body).contains("Incorrect"));
    }
}
