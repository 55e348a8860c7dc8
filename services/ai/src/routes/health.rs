use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use crate::state::SharedState;

pub async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

/// Ready when at least one provider is configured and not every breaker is
/// open, and capped requests can be admitted: the cap database answers, or
/// the configuration says to fail open (then `caps.database_reachable` is
/// false but the instance stays in service on its local allowance).
pub async fn readyz(State(state): State<SharedState>) -> impl IntoResponse {
    let providers = state.gateway.health();
    let caps = state.caps.health().await;
    let ready = providers.iter().any(|(_, _, open)| !open) && caps.admitting;
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
        axum::Json(json!({ "ready": ready, "providers": listed, "caps": caps })),
    )
}
