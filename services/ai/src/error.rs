//! The one error type a client ever sees. Every variant maps to an HTTP status
//! and a stable machine-readable `code`; the JSON shape is always
//! `{"error": {"code": "...", "message": "...", ...details}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::providers::ProviderError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or invalid internal API key (X-Internal-Api-Key or Authorization: Bearer)")]
    Unauthorized,
    #[error("invalid request: {field}: {message}")]
    InvalidRequest { field: String, message: String },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("unknown model `{model}`")]
    UnknownModel { model: String, known: Vec<String> },
    #[error("no model given and no default model is configured")]
    ModelRequired { known: Vec<String> },
    #[error("token cap for organization `{org}` reached for this window")]
    TokenCapExceeded { org: String, retry_after_secs: u64 },
    #[error(
        "token caps cannot be checked: their database is unreachable, and the gateway is configured to refuse rather than admit unaccounted spend"
    )]
    CapsUnavailable,
    #[error(transparent)]
    Upstream(#[from] ProviderError),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::InvalidRequest {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::InvalidRequest { .. } | ApiError::ModelRequired { .. } => {
                StatusCode::BAD_REQUEST
            }
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnknownModel { .. } => StatusCode::NOT_FOUND,
            ApiError::TokenCapExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::CapsUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Upstream(err) => err.client_status(),
        }
    }

    /// Stable error code; clients switch on this, never on the message.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::InvalidRequest { .. } => "invalid_request",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnknownModel { .. } => "model_not_found",
            ApiError::ModelRequired { .. } => "model_required",
            ApiError::TokenCapExceeded { .. } => "token_cap_exceeded",
            ApiError::CapsUnavailable => "caps_unavailable",
            ApiError::Upstream(err) => err.code(),
        }
    }

    /// OpenAI's error `type` for this status, so OpenAI SDKs and tools read
    /// our errors as they read OpenAI's.
    pub fn openai_type(&self) -> &'static str {
        match self.status().as_u16() {
            400 | 404 | 413 => "invalid_request_error",
            401 => "authentication_error",
            429 => match self {
                ApiError::TokenCapExceeded { .. } => "tokens",
                _ => "rate_limit_error",
            },
            _ => "server_error",
        }
    }

    /// `{"error": {"code", "message", "type", "param", …details}}`: our stable
    /// `code` and OpenAI's `type` and `param` in one shape.
    pub fn body(&self) -> Value {
        let mut error = json!({
            "code": self.code(),
            "message": self.to_string(),
            "type": self.openai_type(),
            "param": null,
        });
        match self {
            ApiError::InvalidRequest { field, .. } => {
                error["field"] = json!(field);
                error["param"] = json!(field);
            }
            ApiError::UnknownModel { known, .. } | ApiError::ModelRequired { known } => {
                error["known_models"] = json!(known)
            }
            ApiError::TokenCapExceeded {
                retry_after_secs, ..
            } => error["retry_after_secs"] = json!(retry_after_secs),
            ApiError::Upstream(err) => {
                if let Some(provider) = err.provider() {
                    error["provider"] = json!(provider);
                }
                if let Some(field) = err.field() {
                    error["field"] = json!(field);
                    error["param"] = json!(field);
                }
            }
            _ => {}
        }
        json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if let ApiError::TokenCapExceeded {
            retry_after_secs, ..
        } = &self
            && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
