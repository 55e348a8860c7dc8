//! The health gate: after the platform reports a rollout done, foundry asks
//! the service itself, through the URL its users reach, before it calls the
//! release good.

use std::time::{Duration, Instant};

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

/// The URL the gate asks: App Runner serves HTTPS on its domain; a service
/// on loopback (the local emulator) speaks plain HTTP, as local registries do.
pub fn health_url(host: &str, path: &str) -> String {
    let bare = host.split(':').next().unwrap_or(host);
    let scheme = if bare == "127.0.0.1" || bare == "localhost" {
        "http"
    } else {
        "https"
    };
    format!("{scheme}://{host}{path}")
}

/// Asks `url` until it answers 2xx; on timeout, says what it last saw.
pub async fn wait_healthy(url: &str, timeout: Duration) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let start = Instant::now();
    let mut last;
    loop {
        match client.get(url).send().await {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                let body: String = body.trim().chars().take(200).collect();
                last = if body.is_empty() {
                    format!("HTTP {status}")
                } else {
                    format!("HTTP {status}: {body}")
                };
            }
            Err(e) => last = format!("no answer ({})", crate::aws::root_cause(&e)),
        }
        if start.elapsed() >= timeout {
            return Err(format!(
                "GET {url} did not answer 2xx within {}s; last: {last}",
                timeout.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
