//! What can go wrong talking to a provider, classified for retry, the circuit
//! breaker and the client's status code. Messages never contain prompt text or
//! keys: upstream error bodies are reduced to their type/code.

use std::time::Duration;

use axum::http::StatusCode;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    #[error("could not reach {provider}: {detail}")]
    Connect {
        provider: &'static str,
        detail: String,
    },
    #[error("{provider} did not answer in time")]
    Timeout { provider: &'static str },
    #[error("{provider} answered HTTP {status} ({detail})")]
    Status {
        provider: &'static str,
        status: u16,
        retry_after: Option<Duration>,
        detail: String,
    },
    #[error("{provider} reports the account's budget or quota is exhausted (HTTP {status})")]
    BudgetExhausted { provider: &'static str, status: u16 },
    #[error("{provider} sent a response that does not parse: {detail}")]
    Malformed {
        provider: &'static str,
        detail: String,
    },
    #[error("{provider} stream failed: {detail}")]
    Stream {
        provider: &'static str,
        detail: String,
    },
    #[error("circuit breaker for provider `{provider}` is open")]
    CircuitOpen { provider: String },
    #[error("{provider} does not support {operation}")]
    Unsupported {
        provider: &'static str,
        operation: &'static str,
    },
    /// The request's `field` asks for something this provider's API cannot
    /// express for `model` (found before anything is sent upstream).
    #[error("{field}: {detail} (provider `{provider}`, model `{model}`)")]
    Inexpressible {
        provider: &'static str,
        model: String,
        field: String,
        detail: String,
    },
}

impl ProviderError {
    pub fn malformed(provider: &'static str, err: impl std::fmt::Display) -> Self {
        ProviderError::Malformed {
            provider,
            detail: err.to_string(),
        }
    }

    pub fn provider(&self) -> Option<&str> {
        match self {
            ProviderError::Connect { provider, .. }
            | ProviderError::Timeout { provider }
            | ProviderError::Status { provider, .. }
            | ProviderError::BudgetExhausted { provider, .. }
            | ProviderError::Malformed { provider, .. }
            | ProviderError::Stream { provider, .. }
            | ProviderError::Unsupported { provider, .. }
            | ProviderError::Inexpressible { provider, .. } => Some(provider),
            ProviderError::CircuitOpen { provider } => Some(provider),
        }
    }

    /// Worth trying the same provider again after a pause.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Connect { .. } | ProviderError::Timeout { .. } => true,
            ProviderError::Status { status, .. } => {
                matches!(status, 408 | 429 | 529) || (500..600).contains(status)
            }
            _ => false,
        }
    }

    /// Says something about the provider's health (feeds its circuit breaker),
    /// as opposed to a problem with this one request.
    pub fn counts_against_provider(&self) -> bool {
        match self {
            ProviderError::Status { .. } => self.is_retryable(),
            ProviderError::Connect { .. }
            | ProviderError::Timeout { .. }
            | ProviderError::BudgetExhausted { .. }
            | ProviderError::Malformed { .. }
            | ProviderError::Stream { .. } => true,
            ProviderError::CircuitOpen { .. }
            | ProviderError::Unsupported { .. }
            | ProviderError::Inexpressible { .. } => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn client_status(&self) -> StatusCode {
        match self {
            ProviderError::Connect { .. } | ProviderError::CircuitOpen { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ProviderError::BudgetExhausted { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ProviderError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ProviderError::Status { status: 429, .. } => StatusCode::TOO_MANY_REQUESTS,
            ProviderError::Status { .. }
            | ProviderError::Malformed { .. }
            | ProviderError::Stream { .. } => StatusCode::BAD_GATEWAY,
            ProviderError::Unsupported { .. } | ProviderError::Inexpressible { .. } => {
                StatusCode::BAD_REQUEST
            }
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::Connect { .. } => "upstream_unavailable",
            ProviderError::CircuitOpen { .. } => "circuit_open",
            ProviderError::Timeout { .. } => "upstream_timeout",
            ProviderError::Status { status: 429, .. } => "upstream_rate_limited",
            ProviderError::Status {
                status: 401 | 403, ..
            } => "upstream_auth_failed",
            ProviderError::Status { status, .. } if *status >= 500 => "upstream_error",
            ProviderError::Status { .. } => "upstream_rejected",
            ProviderError::BudgetExhausted { .. } => "upstream_budget_exhausted",
            ProviderError::Malformed { .. } => "upstream_malformed_response",
            ProviderError::Stream { .. } => "upstream_stream_error",
            ProviderError::Unsupported { .. } => "unsupported_operation",
            ProviderError::Inexpressible { .. } => "invalid_request",
        }
    }

    /// The client's request field an [`ProviderError::Inexpressible`] is about.
    pub fn field(&self) -> Option<&str> {
        match self {
            ProviderError::Inexpressible { field, .. } => Some(field),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> ProviderError {
        ProviderError::Status {
            provider: "openai",
            status,
            retry_after: None,
            detail: String::new(),
        }
    }

    #[test]
    fn retries_only_transient_failures() {
        assert!(status(429).is_retryable());
        assert!(status(503).is_retryable());
        assert!(status(529).is_retryable());
        assert!(!status(400).is_retryable());
        assert!(!status(401).is_retryable());
        assert!(!ProviderError::malformed("openai", "x").is_retryable());
    }

    #[test]
    fn client_errors_do_not_trip_the_breaker() {
        assert!(!status(400).counts_against_provider());
        assert!(status(500).counts_against_provider());
        assert!(
            ProviderError::BudgetExhausted {
                provider: "openai",
                status: 429
            }
            .counts_against_provider()
        );
    }

    #[test]
    fn malformed_upstream_is_a_502_with_a_stable_code() {
        let err = ProviderError::malformed("openai", "expected value");
        assert_eq!(err.client_status(), StatusCode::BAD_GATEWAY);
        assert_eq!(err.code(), "upstream_malformed_response");
    }
}
