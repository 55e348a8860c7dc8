//! HTTP surface. `/healthz` and `/readyz` are open (load balancer and App
//! Runner health checks send no headers); everything else needs the internal key.

mod chat;
mod embed;
mod generate;
mod health;
mod json;
mod moderate;
mod openai_compat;
mod record;
mod stream_relay;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::auth;
use crate::context;
use crate::state::SharedState;

pub use json::ValidJson;

pub fn router(state: SharedState) -> Router {
    let body_limit = state.limits.max_body_bytes;
    let protected = Router::new()
        .route("/v1/generate", post(generate::generate))
        .route("/v1/embed", post(embed::embed))
        .route("/v1/moderate", post(moderate::moderate))
        .route("/v1/models", get(models))
        .route(
            "/v1/chat/completions",
            post(openai_compat::chat_completions),
        )
        .route("/v1/embeddings", post(openai_compat::embeddings))
        .route("/metrics", get(metrics))
        .route_layer(from_fn_with_state(
            state.clone(),
            auth::require_internal_key,
        ));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(protected)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(from_fn(context::attach))
        .with_state(state)
}

/// The gateway's listing under `models`, and the same ids in OpenAI's list
/// shape under `object`/`data`, so `client.models.list()` of the SDKs works.
async fn models(State(state): State<SharedState>) -> impl IntoResponse {
    let listing = state.catalog.listing();
    let data: Vec<_> = listing
        .iter()
        .map(|m| serde_json::json!({ "id": m.id, "object": "model", "created": 0, "owned_by": m.kind }))
        .collect();
    axum::Json(serde_json::json!({ "object": "list", "data": data, "models": listing }))
}

async fn metrics(State(state): State<SharedState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
