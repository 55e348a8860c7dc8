//! The JWKS, cached: fetched on first use, refreshed when older than the TTL
//! or when a token names an unknown `kid` (key rotation), and — when the
//! endpoint fails — served from the last good set for up to five minutes past
//! its TTL (seed 003 §15: "allow-last-good for <5m").

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

use super::AuthError;

/// How long a stale key set may still be used while the endpoint fails.
pub const STALE_GRACE: Duration = Duration::from_secs(300);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

pub struct VerifyingKey {
    pub key: DecodingKey,
    pub algorithm: Algorithm,
}

#[derive(Default)]
struct KeySet {
    keys: HashMap<String, Arc<VerifyingKey>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

pub struct JwksCache {
    http: reqwest::Client,
    url: String,
    ttl: Duration,
    min_refresh_interval: Duration,
    state: RwLock<KeySet>,
    /// One fetch at a time; others wait and use its result.
    fetching: tokio::sync::Mutex<()>,
}

impl JwksCache {
    pub fn new(
        http: reqwest::Client,
        url: String,
        ttl: Duration,
        min_refresh_interval: Duration,
    ) -> Self {
        Self {
            http,
            url,
            ttl,
            min_refresh_interval,
            state: RwLock::new(KeySet::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// The key for `kid`, fetching the JWKS as the policy above says.
    pub async fn key(&self, kid: &str) -> Result<Arc<VerifyingKey>, AuthError> {
        let now = Instant::now();
        let (fresh, found, may_refetch) = {
            let state = self.state.read().unwrap_or_else(|e| e.into_inner());
            let fresh = state
                .fetched_at
                .is_some_and(|t| now.duration_since(t) < self.ttl);
            let may_refetch = state
                .last_attempt
                .is_none_or(|t| now.duration_since(t) >= self.min_refresh_interval);
            (fresh, state.keys.get(kid).cloned(), may_refetch)
        };
        match (fresh, found) {
            (true, Some(key)) => return Ok(key),
            (true, None) if !may_refetch => return Err(AuthError::UnknownKey),
            _ => {}
        }
        if may_refetch {
            self.refresh().await;
        }
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let usable = state
            .fetched_at
            .is_some_and(|t| now.duration_since(t) < self.ttl + STALE_GRACE);
        if !usable {
            return Err(AuthError::KeysUnavailable);
        }
        state.keys.get(kid).cloned().ok_or(AuthError::UnknownKey)
    }

    async fn refresh(&self) {
        let started = Instant::now();
        let _guard = self.fetching.lock().await;
        {
            // Someone else fetched while we waited.
            let state = self.state.read().unwrap_or_else(|e| e.into_inner());
            if state.last_attempt.is_some_and(|t| t >= started) {
                return;
            }
        }
        let result = self.fetch().await;
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.last_attempt = Some(Instant::now());
        match result {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "fetched JWKS");
                state.keys = keys;
                state.fetched_at = Some(Instant::now());
            }
            Err(reason) => {
                tracing::warn!(%reason, "JWKS fetch failed; keeping the last good key set")
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<VerifyingKey>>, String> {
        let response = self
            .http
            .get(&self.url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let keys = body
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or("no `keys` array")?;
        // One odd key (an unsupported type, say) must not hide the others.
        let parsed: HashMap<_, _> = keys
            .iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value.clone()).ok())
            .filter_map(|jwk| Some((jwk.common.key_id.clone()?, Arc::new(verifying_key(&jwk)?))))
            .collect();
        if parsed.is_empty() && !keys.is_empty() {
            return Err("no usable RS256/ES256 keys".into());
        }
        Ok(parsed)
    }
}

/// RS256 for RSA keys and ES256 for P-256 keys; anything else is ignored.
fn verifying_key(jwk: &Jwk) -> Option<VerifyingKey> {
    let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
        (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
            if ec.curve == EllipticCurve::P256 =>
        {
            Algorithm::ES256
        }
        _ => return None,
    };
    Some(VerifyingKey {
        key: DecodingKey::from_jwk(jwk).ok()?,
        algorithm,
    })
}
