//! The health gate: after the platform reports a rollout done, foundry asks
//! the service itself, through the URL its users reach, before it calls the
//! release good.

use std::time::{Duration, Instant};

use crate::stack::{Ingress, Service};

/// How long one probe waits for an answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a service gets to answer 200 on its health path.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Overrides [`DEFAULT_TIMEOUT`], in seconds.
pub const TIMEOUT_ENV: &str = "FOUNDRY_HEALTH_TIMEOUT_SECS";

/// The gate's timeout: [`TIMEOUT_ENV`] or the default.
pub fn timeout() -> Duration {
    std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs)
}

/// The URL the gate asks: a URL the target gave with its scheme (ECS's load
/// balancers) as it is; App Runner serves HTTPS on its domain; a service on
/// loopback (the local emulator) speaks plain HTTP, as local registries do.
pub fn health_url(host: &str, path: &str) -> String {
    if host.starts_with("http://") || host.starts_with("https://") {
        return format!("{host}{path}");
    }
    let bare = host.split(':').next().unwrap_or(host);
    let scheme = if bare == "127.0.0.1" || bare == "localhost" {
        "http"
    } else {
        "https"
    };
    format!("{scheme}://{host}{path}")
}

/// Where foundry can ask a service for its health: its health path through
/// its URL, when that URL is reachable from here. A private service answers
/// only inside the VPC, where the platform's own health check is the gate;
/// loopback (the local emulator) is always reachable.
pub fn reachable_health_url(service: &Service, url: Option<&str>) -> Option<String> {
    let url = url.filter(|u| {
        service.ingress == Ingress::Public
            || u.starts_with("127.0.0.1")
            || u.starts_with("localhost")
    })?;
    Some(health_url(url, &service.health_path))
}

/// One health probe's answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Probe {
    pub url: String,
    /// The HTTP status, `None` when nothing answered.
    pub status: Option<u16>,
    pub latency_ms: u64,
    /// What was wrong: a non-2xx answer's first words, or why none came.
    pub error: Option<String>,
}

impl Probe {
    pub fn healthy(&self) -> bool {
        self.error.is_none()
    }
}

/// Asks `url` once, within `timeout`.
pub async fn probe(url: &str, timeout: Duration) -> Probe {
    let started = Instant::now();
    let answer = match crate::http::client(timeout) {
        Ok(client) => client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("no answer ({})", crate::aws::root_cause(&e))),
        Err(e) => Err(e),
    };
    let latency_ms = started.elapsed().as_millis() as u64;
    let (status, error) = match answer {
        Ok(response) if response.status().is_success() => (Some(response.status().as_u16()), None),
        Ok(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            let body: String = body.trim().chars().take(200).collect();
            let error = if body.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {body}")
            };
            (Some(status.as_u16()), Some(error))
        }
        Err(error) => (None, Some(error)),
    };
    Probe {
        url: url.to_owned(),
        status,
        latency_ms,
        error,
    }
}

/// Asks `url` until it answers 2xx; on timeout, says what it last saw.
pub async fn wait_healthy(url: &str, timeout: Duration) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let Some(last) = probe(url, PROBE_TIMEOUT).await.error else {
            return Ok(());
        };
        if start.elapsed() >= timeout {
            return Err(format!(
                "GET {url} did not answer 2xx within {}s; last: {last}",
                timeout.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
