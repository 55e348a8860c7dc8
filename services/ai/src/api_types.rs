//! The gateway's own JSON contract (requests and responses of `/v1/*`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::providers::{Message, ModerationResult};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    pub prompt: Option<String>,
    pub messages: Option<Vec<Message>>,
    /// Convenience for a system message ahead of `prompt` or `messages`.
    pub system: Option<String>,
    pub model: Option<String>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    #[serde(default)]
    pub stream: bool,
    /// Free-form caller data; logged as keys only, never sent upstream.
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct UsageOut {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// True when the provider reported no usage and these are estimates.
    pub estimated: bool,
}

#[derive(Debug, Serialize)]
pub struct GenerateResponse {
    pub text: String,
    pub model: String,
    pub provider: String,
    pub usage: UsageOut,
    pub latency_ms: u64,
    pub upstream_latency_ms: u64,
    pub cost_usd: Option<f64>,
    pub request_id: String,
}

/// The last event of a stream.
#[derive(Debug, Serialize)]
pub struct StreamDone {
    pub model: String,
    pub provider: String,
    pub usage: UsageOut,
    pub latency_ms: u64,
    pub upstream_latency_ms: u64,
    pub cost_usd: Option<f64>,
    pub request_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedRequest {
    pub input: OneOrMany,
    pub model: Option<String>,
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Serialize)]
pub struct EmbedResponse {
    pub embeddings: Vec<Vec<f32>>,
    pub model: String,
    pub provider: String,
    pub usage: UsageOut,
    pub latency_ms: u64,
    pub upstream_latency_ms: u64,
    pub cost_usd: Option<f64>,
    pub request_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModerateRequest {
    pub input: OneOrMany,
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Serialize)]
pub struct ModerateResponse {
    pub flagged: bool,
    pub results: Vec<ModerationResult>,
    /// `local` when answered by the built-in rules.
    pub provider: String,
    pub request_id: String,
}

/// Whole milliseconds, rounded: the unit callers (and seed 001's contract)
/// expect. Sub-millisecond detail lives in the Prometheus histograms.
pub fn millis(duration: std::time::Duration) -> u64 {
    (duration.as_secs_f64() * 1e3).round() as u64
}
