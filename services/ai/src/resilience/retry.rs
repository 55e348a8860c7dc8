//! Exponential backoff with jitter for transient upstream failures
//! (429, 5xx, connect errors, timeouts), honouring Retry-After.

use std::time::Duration;

use rand::Rng;

use crate::config::RetryConfig;
use crate::providers::ProviderError;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    max_attempts: u32,
    base: Duration,
    max: Duration,
    max_retry_after: Duration,
}

impl RetryPolicy {
    pub fn new(config: &RetryConfig) -> Self {
        RetryPolicy {
            max_attempts: config.max_attempts.max(1),
            base: Duration::from_millis(config.base_delay_ms),
            max: Duration::from_millis(config.max_delay_ms),
            max_retry_after: Duration::from_millis(config.max_retry_after_ms),
        }
    }

    /// How long to wait before trying again after `attempt` (1-based) failed
    /// with `err`, or None to stop and fall back.
    pub fn delay_after(&self, attempt: u32, err: &ProviderError) -> Option<Duration> {
        if attempt >= self.max_attempts || !err.is_retryable() {
            return None;
        }
        if let Some(wait) = err.retry_after() {
            // A provider asking for a long pause is better served by the next provider.
            return (wait <= self.max_retry_after).then_some(wait);
        }
        let exponential = self
            .base
            .saturating_mul(1 << (attempt - 1).min(16))
            .min(self.max);
        // "Equal jitter": half fixed, half random, so retries from many requests spread out
        // but never collapse to zero.
        let half = exponential / 2;
        let jitter = rand::rng().random_range(0..=half.as_micros() as u64);
        Some(half + Duration::from_micros(jitter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::new(&RetryConfig {
            max_attempts: 4,
            base_delay_ms: 100,
            max_delay_ms: 300,
            max_retry_after_ms: 1_000,
        })
    }

    fn status(status: u16, retry_after: Option<Duration>) -> ProviderError {
        ProviderError::Status {
            provider: "openai",
            status,
            retry_after,
            detail: String::new(),
        }
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let p = policy();
        for _ in 0..50 {
            let first = p.delay_after(1, &status(503, None)).unwrap();
            assert!(
                first >= Duration::from_millis(50) && first <= Duration::from_millis(100),
                "{first:?}"
            );
            let third = p.delay_after(3, &status(503, None)).unwrap();
            assert!(
                third >= Duration::from_millis(150) && third <= Duration::from_millis(300),
                "{third:?}"
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_unless_too_long() {
        let p = policy();
        assert_eq!(
            p.delay_after(1, &status(429, Some(Duration::from_millis(700)))),
            Some(Duration::from_millis(700))
        );
        assert_eq!(
            p.delay_after(1, &status(429, Some(Duration::from_secs(5)))),
            None
        );
    }

    #[test]
    fn stops_after_max_attempts_and_on_permanent_errors() {
        let p = policy();
        assert_eq!(p.delay_after(4, &status(503, None)), None);
        assert_eq!(p.delay_after(1, &status(400, None)), None);
    }
}
