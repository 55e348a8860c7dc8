//! Calls a provider operation along a model's chain: per attempt a timeout,
//! retries with backoff on transient failures, a circuit breaker per provider,
//! and fallback to the next target when a provider fails or its breaker is open.
//!
//! Invariant: only this module decides whether to try again or elsewhere;
//! providers report classified errors and never retry themselves.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::accounting::metrics::Metrics;
use crate::catalog::Target;
use crate::config::{Config, ProviderConfig, ProviderKind};
use crate::providers::{Provider, ProviderError, anthropic, azure, bedrock, echo, gemini, openai};
use crate::resilience::breaker::CircuitBreaker;
use crate::resilience::retry::RetryPolicy;

struct Upstream {
    provider: Arc<dyn Provider>,
    breaker: Arc<CircuitBreaker>,
    timeout: Duration,
}

pub struct Gateway {
    upstreams: HashMap<String, Upstream>,
    retry: RetryPolicy,
    metrics: Arc<Metrics>,
}

/// A successful call and how it was obtained.
pub struct Outcome<T> {
    pub value: T,
    pub target: Target,
    pub kind: &'static str,
    /// Wall time spent in provider calls and retry pauses.
    pub upstream: Duration,
    /// The provider's per-attempt timeout (also the idle limit between stream events).
    pub timeout: Duration,
}

impl Gateway {
    pub async fn new(config: &Config, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(512)
            .tcp_nodelay(true)
            .build()?;
        let mut upstreams = HashMap::new();
        for spec in &config.providers {
            let provider = build_provider(spec, http.clone()).await?;
            let breaker = CircuitBreaker::new(
                config.breaker.failure_threshold,
                Duration::from_millis(config.breaker.open_ms),
                metrics.breaker_open.with_label_values(&[&spec.name]),
            );
            upstreams.insert(
                spec.name.clone(),
                Upstream {
                    provider,
                    breaker,
                    timeout: spec.timeout,
                },
            );
        }
        Ok(Gateway {
            upstreams,
            retry: RetryPolicy::new(&config.retry),
            metrics,
        })
    }

    pub fn kind_of(&self, provider: &str) -> Option<&'static str> {
        self.upstreams.get(provider).map(|u| u.provider.kind())
    }

    /// (name, kind, breaker open) for every provider, for `/readyz`.
    pub fn health(&self) -> Vec<(String, &'static str, bool)> {
        let mut out: Vec<_> = self
            .upstreams
            .iter()
            .map(|(name, u)| (name.clone(), u.provider.kind(), u.breaker.is_open()))
            .collect();
        out.sort();
        out
    }

    /// Runs `op` against the chain's targets in order until one succeeds.
    pub async fn call<T, F, Fut>(
        &self,
        route: &str,
        chain: &[Target],
        op: F,
    ) -> Result<Outcome<T>, ProviderError>
    where
        F: Fn(Arc<dyn Provider>, &Target) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let started = Instant::now();
        let mut last_error = None;
        for target in chain {
            let Some(upstream) = self.upstreams.get(&target.provider) else {
                continue; // validated at start-up; unreachable in practice
            };
            let kind = upstream.provider.kind();
            let mut attempt = 0;
            loop {
                attempt += 1;
                let Some(permit) = upstream.breaker.try_acquire() else {
                    // If this request's own failures just opened the breaker, their
                    // error says more than "circuit open".
                    if attempt == 1 {
                        last_error = Some(ProviderError::CircuitOpen {
                            provider: target.provider.clone(),
                        });
                    }
                    break;
                };
                let result = match tokio::time::timeout(
                    upstream.timeout,
                    op(upstream.provider.clone(), target),
                )
                .await
                {
                    Ok(result) => result,
                    Err(_) => Err(ProviderError::Timeout { provider: kind }),
                };
                match result {
                    Ok(value) => {
                        permit.success();
                        if target != &chain[0] {
                            self.metrics
                                .fallbacks
                                .with_label_values(&[&chain[0].provider, &target.provider])
                                .inc();
                        }
                        let upstream_time = started.elapsed();
                        self.metrics
                            .upstream_seconds
                            .with_label_values(&[route, &target.provider])
                            .observe(upstream_time.as_secs_f64());
                        return Ok(Outcome {
                            value,
                            target: target.clone(),
                            kind,
                            upstream: upstream_time,
                            timeout: upstream.timeout,
                        });
                    }
                    Err(err) => {
                        if err.counts_against_provider() {
                            permit.failure(matches!(err, ProviderError::BudgetExhausted { .. }));
                        } else {
                            drop(permit);
                        }
                        tracing::warn!(provider = %target.provider, attempt, code = err.code(), error = %err, "upstream call failed");
                        let delay = self.retry.delay_after(attempt, &err);
                        last_error = Some(err);
                        match delay {
                            Some(delay) => {
                                let reason = last_error.as_ref().map_or("error", |e| e.code());
                                self.metrics
                                    .retries
                                    .with_label_values(&[&target.provider, reason])
                                    .inc();
                                tokio::time::sleep(delay).await;
                            }
                            None => break,
                        }
                    }
                }
            }
        }
        Err(last_error.unwrap_or(ProviderError::CircuitOpen {
            provider: "none".into(),
        }))
    }
}

async fn build_provider(
    spec: &ProviderConfig,
    http: reqwest::Client,
) -> anyhow::Result<Arc<dyn Provider>> {
    let key = || {
        spec.api_key
            .clone()
            .ok_or_else(|| anyhow::anyhow!("provider `{}` has no API key", spec.name))
    };
    let base = || {
        let url = spec
            .base_url
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("provider `{}` has no base URL", spec.name))?;
        // Never echo the URL itself: it may carry credentials.
        reqwest::Url::parse(url)
            .map_err(|e| anyhow::anyhow!("provider `{}` has an invalid base URL: {e}", spec.name))
    };
    Ok(match spec.kind {
        ProviderKind::Openai => Arc::new(openai::OpenAi::new(http, base()?, key()?)),
        ProviderKind::Azure => {
            let version = spec
                .api_version
                .as_deref()
                .unwrap_or(azure::DEFAULT_API_VERSION);
            Arc::new(azure::new(http, base()?, version, key()?))
        }
        ProviderKind::Anthropic => Arc::new(anthropic::Anthropic::new(http, base()?, key()?)),
        ProviderKind::Gemini => Arc::new(gemini::Gemini::new(http, base()?, key()?)),
        ProviderKind::Bedrock => {
            Arc::new(bedrock::Bedrock::new(&spec.aws.clone().unwrap_or_default()).await)
        }
        ProviderKind::Echo => Arc::new(echo::Echo),
    })
}
