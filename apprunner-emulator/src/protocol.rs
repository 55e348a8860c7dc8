//! The awsJson 1.0 wire protocol: `POST /` with `X-Amz-Target:
//! AppRunner.<Operation>` and a JSON body; answers are JSON, errors are
//! `{"__type": "<ErrorShape>", "Message": "…"}` with HTTP 400 (500 for a
//! fault). Input is validated against the model before any handler sees it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Shared;
use crate::validate::model;

const TARGET_PREFIX: &str = "AppRunner.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// An error the API answers with: one of the model's error shapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub kind: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn invalid_request(message: impl Into<String>) -> Self {
        ApiError {
            kind: "InvalidRequestException",
            message: message.into(),
        }
    }
    pub fn invalid_state(message: impl Into<String>) -> Self {
        ApiError {
            kind: "InvalidStateException",
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            kind: "ResourceNotFoundException",
            message: message.into(),
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            kind: "InternalServiceErrorException",
            message: message.into(),
        }
    }
    fn status(&self) -> StatusCode {
        match self.kind {
            "InternalServiceErrorException" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

pub(crate) type ApiResult = Result<Value, ApiError>;

/// The typed request from validated input.
pub(crate) fn parse<T: DeserializeOwned>(input: Value) -> Result<T, ApiError> {
    serde_json::from_value(input).map_err(|e| ApiError::invalid_request(e.to_string()))
}

/// A typed answer as JSON, nulls removed (absent members stay absent).
pub(crate) fn answer(value: impl Serialize) -> ApiResult {
    let mut json = serde_json::to_value(value).map_err(|e| ApiError::internal(e.to_string()))?;
    strip_nulls(&mut json);
    Ok(json)
}

fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

pub(crate) async fn handle(
    State(emulator): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = dispatch(&emulator, &headers, &body);
    let (status, body) = match outcome {
        Ok(value) => (StatusCode::OK, value),
        Err(error) => (
            error.status(),
            serde_json::json!({ "__type": error.kind, "Message": error.message }),
        ),
    };
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

fn dispatch(emulator: &Arc<Shared>, headers: &HeaderMap, body: &[u8]) -> ApiResult {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let operation = target.strip_prefix(TARGET_PREFIX).unwrap_or_default();
    if !model().has_operation(operation) {
        return Err(ApiError {
            kind: "UnknownOperationException",
            message: format!("unknown operation {target:?}"),
        });
    }
    let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError {
            kind: "SerializationException",
            message: format!("the body is not JSON: {e}"),
        })?
    };
    if let Some(shape) = model().input_shape(operation) {
        model()
            .validate(shape, &input, "")
            .map_err(|m| ApiError::invalid_request(format!("1 validation error detected: {m}")))?;
    }
    crate::route(emulator, operation, input)
}
