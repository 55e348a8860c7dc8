//! Azure OpenAI: OpenAI's bodies at
//! `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…`
//! with an `api-key` header. The gateway's "model" for Azure is the deployment.

use reqwest::Url;

use super::openai::{Endpoint, OpenAi};
use crate::config::Secret;

/// GA version that accepts `stream_options.include_usage`.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

pub fn new(http: reqwest::Client, endpoint: Url, api_version: &str, api_key: Secret) -> OpenAi {
    let endpoint = Endpoint::Azure {
        endpoint,
        api_version: api_version.to_string(),
    };
    OpenAi::with_endpoint(http, "azure", endpoint, api_key)
}
