//! The gateway trusts exactly one kind of caller: one holding the internal API
//! key (from `AI_INTERNAL_API_KEY`, which App Runner/ECS inject from Secrets
//! Manager), as `X-Internal-Api-Key` or `Authorization: Bearer` (what OpenAI
//! SDKs send). Compared in constant time.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::SharedState;

pub const HEADER: &str = "x-internal-api-key";

pub fn key_matches(expected: &str, presented: &[u8]) -> bool {
    // ct_eq returns false for different lengths without comparing contents;
    // the key's length is not a secret worth protecting.
    expected.as_bytes().ct_eq(presented).into()
}

pub async fn require_internal_key(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    // OpenAI SDKs send their api_key as `Authorization: Bearer`.
    let headers = request.headers();
    let presented = headers
        .get(HEADER)
        .map(|v| v.as_bytes())
        .or_else(|| {
            headers
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        })
        .unwrap_or_default();
    if !key_matches(state.internal_api_key.expose(), presented) {
        return ApiError::Unauthorized.into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_key_matches() {
        assert!(key_matches("secret-key-123456", b"secret-key-123456"));
        assert!(!key_matches("secret-key-123456", b"secret-key-123457"));
        assert!(!key_matches("secret-key-123456", b"secret-key-12345"));
        assert!(!key_matches("secret-key-123456", b""));
    }
}
