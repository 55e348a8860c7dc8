use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use crate::state::SharedState;

pub async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

/// Ready when at least one provider is configured and not every breaker is open.
pub async fn readyz(State(state): State<SharedState>) -> impl IntoResponse {
    let providers = state.gateway.health();
    let ready = providers.iter().any(|(_, _, open)| !open);
    let listed: Vec<_> = providers
        .iter()
        .map(|(name, kind, open)| json!({ "name": name, "kind": kind, "circuit_open": open }))
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({ "ready": ready, "providers": listed })),
    )
}
