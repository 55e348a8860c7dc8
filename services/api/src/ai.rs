//! Client of the ai service's `POST /v1/generate`.
//!
//! A 6 s timeout, no retries (generation is not idempotent: a retry could
//! bill twice), and a circuit breaker so that a dead ai service costs callers
//! nothing but a fast typed error while everything else keeps working.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum AiError {
    #[error("the AI service is unavailable; try again later")]
    Unavailable(String),
    #[error("the AI service is unavailable (circuit open); try again later")]
    CircuitOpen,
    #[error("the AI service timed out")]
    Timeout,
    #[error("the AI service rejected the request: {0}")]
    Rejected(String),
    /// The caller's organization (or the gateway) is over its limit: a healthy
    /// answer about the caller, so it never trips the breaker.
    #[error("the AI usage limit is reached: {0}")]
    Limited(String),
    #[error("the AI service sent an unreadable response")]
    BadResponse(String),
}

impl AiError {
    pub fn code(&self) -> &'static str {
        match self {
            AiError::Unavailable(_) | AiError::CircuitOpen => "AI_UNAVAILABLE",
            AiError::Timeout => "AI_TIMEOUT",
            AiError::Rejected(_) => "AI_REJECTED",
            AiError::Limited(_) => "AI_LIMIT_REACHED",
            AiError::BadResponse(_) => "AI_BAD_RESPONSE",
        }
    }

    /// Failures that say the service is unhealthy (they count for the breaker).
    fn is_service_failure(&self) -> bool {
        matches!(
            self,
            AiError::Unavailable(_) | AiError::Timeout | AiError::BadResponse(_)
        )
    }
}

#[derive(Debug, Serialize)]
pub struct GenerateRequest<'a> {
    pub prompt: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u32,
    #[serde(default)]
    pub output_tokens: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GenerateResponse {
    pub text: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub usage: Option<Usage>,
    pub latency_ms: u64,
    #[serde(default)]
    pub request_id: Option<String>,
}

/// Who is asking, for the ai service's logs and accounting (ids, no PII).
pub struct CallContext<'a> {
    pub org_id: &'a str,
    pub user_id: &'a str,
    pub traceparent: &'a str,
}

pub struct AiClient {
    http: reqwest::Client,
    generate_url: String,
    api_key: String,
    timeout: Duration,
    breaker: CircuitBreaker,
}

impl AiClient {
    pub fn new(http: reqwest::Client, base_url: &str, api_key: String, timeout: Duration) -> Self {
        Self {
            http,
            generate_url: format!("{}/v1/generate", base_url.trim_end_matches('/')),
            api_key,
            timeout,
            breaker: CircuitBreaker::new(5, Duration::from_secs(30)),
        }
    }

    pub async fn generate(
        &self,
        ctx: &CallContext<'_>,
        req: &GenerateRequest<'_>,
    ) -> Result<GenerateResponse, AiError> {
        if !self.breaker.allow() {
            return Err(AiError::CircuitOpen);
        }
        let result = self.call(ctx, req).await;
        match &result {
            Ok(_) => self.breaker.record_success(),
            Err(e) if e.is_service_failure() => self.breaker.record_failure(),
            Err(_) => self.breaker.record_success(),
        }
        result
    }

    async fn call(
        &self,
        ctx: &CallContext<'_>,
        req: &GenerateRequest<'_>,
    ) -> Result<GenerateResponse, AiError> {
        let response = self
            .http
            .post(&self.generate_url)
            .timeout(self.timeout)
            .header("x-internal-api-key", &self.api_key)
            .header("x-org-id", ctx.org_id)
            .header("x-user-id", ctx.user_id)
            .header("traceparent", ctx.traceparent)
            .json(req)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    AiError::Timeout
                } else {
                    AiError::Unavailable(e.without_url().to_string())
                }
            })?;
        let status = response.status();
        if status.is_server_error() {
            return Err(AiError::Unavailable(format!("status {status}")));
        }
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| {
                    v.pointer("/error/message")
                        .or(v.get("message"))
                        .or(v.get("error"))
                        .cloned()
                })
                .and_then(|m| m.as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("status {status}"));
            let message: String = message.chars().take(300).collect();
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                return Err(AiError::Limited(message));
            }
            return Err(AiError::Rejected(message));
        }
        response.json::<GenerateResponse>().await.map_err(|e| {
            if e.is_timeout() {
                AiError::Timeout
            } else {
                AiError::BadResponse(e.without_url().to_string())
            }
        })
    }
}

/// Opens after `threshold` consecutive failures; after `cool_down` lets one
/// trial call through (half-open), which closes it again on success.
pub struct CircuitBreaker {
    threshold: u32,
    cool_down: Duration,
    state: Mutex<BreakerState>,
}

#[derive(Default)]
struct BreakerState {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    trial_in_flight: bool,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, cool_down: Duration) -> Self {
        Self {
            threshold,
            cool_down,
            state: Mutex::new(BreakerState::default()),
        }
    }

    pub fn allow(&self) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match s.open_until {
            None => true,
            Some(until) if Instant::now() < until => false,
            Some(_) if s.trial_in_flight => false,
            Some(_) => {
                s.trial_in_flight = true;
                true
            }
        }
    }

    pub fn record_success(&self) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = BreakerState::default();
    }

    pub fn record_failure(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.consecutive_failures += 1;
        s.trial_in_flight = false;
        if s.consecutive_failures >= self.threshold {
            s.open_until = Some(Instant::now() + self.cool_down);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_after_threshold_and_half_opens_after_cool_down() {
        let b = CircuitBreaker::new(2, Duration::from_millis(30));
        assert!(b.allow());
        b.record_failure();
        assert!(b.allow());
        b.record_failure();
        assert!(!b.allow(), "open after two failures");
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.allow(), "one trial after the cool-down");
        assert!(!b.allow(), "only one trial at a time");
        b.record_success();
        assert!(b.allow() && b.allow(), "closed again");
    }

    #[test]
    fn failed_trial_reopens() {
        let b = CircuitBreaker::new(1, Duration::from_millis(20));
        b.record_failure();
        std::thread::sleep(Duration::from_millis(30));
        assert!(b.allow());
        b.record_failure();
        assert!(!b.allow());
    }
}
