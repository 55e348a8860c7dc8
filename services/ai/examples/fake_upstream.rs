//! A local OpenAI-compatible upstream with a fixed latency, for the overhead
//! benchmark (`bench/overhead.sh`). Answers `POST /v1/chat/completions` after
//! sleeping `LATENCY_MS` (default 20) with a fixed completion and usage.
//!
//!     UPSTREAM_PORT=18091 LATENCY_MS=20 cargo run --release -p ai --example fake_upstream

use std::time::Duration;

use axum::Router;
use axum::routing::post;
use axum::serve::ListenerExt;
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::var("UPSTREAM_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(18091);
    let latency = Duration::from_millis(
        std::env::var("LATENCY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20),
    );
    let body = json!({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4o-mini",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "Hello there, nice to meet you!" },
                      "logprobs": null, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20 }
    })
    .to_string();
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let body = body.clone();
            async move {
                tokio::time::sleep(latency).await;
                ([("content-type", "application/json")], body)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}
