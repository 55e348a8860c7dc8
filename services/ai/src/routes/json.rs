//! A JSON body extractor whose errors name the offending field
//! (`messages[0].role`) and come back as our JSON error, never as plain text.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::SharedState;

pub struct ValidJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<SharedState> for ValidJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &SharedState) -> Result<Self, Self::Rejection> {
        let limit = state.limits.max_body_bytes;
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge { limit }
                } else {
                    ApiError::invalid("body", rejection.body_text())
                }
            })?;
        let deserializer = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(deserializer)
            .map(ValidJson)
            .map_err(|err| {
                let path = err.path().to_string();
                let message = err.inner().to_string();
                let field = if path != "." {
                    path
                } else {
                    named_field(&message).unwrap_or_else(|| "body".into())
                };
                ApiError::InvalidRequest { field, message }
            })
    }
}

/// serde reports missing/unknown fields at the parent's path; the name is in backticks.
fn named_field(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}
