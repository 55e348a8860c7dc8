//! OpenAI chat completions (plain and streamed with `include_usage`),
//! embeddings and moderations, configured from the standard env vars alone.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, streamed_text};
use crate::upstream::{Reply, Upstream, data};

pub fn completion(text: &str, prompt_tokens: u64, completion_tokens: u64) -> Value {
    json!({
        "id": "chatcmpl-abc123", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": text, "refusal": null },
                      "logprobs": null, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                   "total_tokens": prompt_tokens + completion_tokens },
        "system_fingerprint": "fp_1"
    })
}

fn chunk(choices: Value, usage: Value) -> Value {
    json!({ "id": "chatcmpl-abc123", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_1", "choices": choices, "usage": usage })
}

/// A streamed completion as OpenAI sends it with `stream_options.include_usage`:
/// role chunk, content chunks, finish chunk, a usage-only chunk with empty
/// `choices`, then `[DONE]`. `usage: None` leaves the usage chunk out.
pub fn stream_events(deltas: &[&str], usage: Option<(u64, u64)>, done: bool) -> Vec<String> {
    let mut events = vec![data(&chunk(
        json!([{ "index": 0, "delta": { "role": "assistant", "content": "" }, "logprobs": null, "finish_reason": null }]),
        Value::Null,
    ))];
    for delta in deltas {
        events.push(data(&chunk(
            json!([{ "index": 0, "delta": { "content": delta }, "logprobs": null, "finish_reason": null }]),
            Value::Null,
        )));
    }
    if done {
        events.push(data(&chunk(
            json!([{ "index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop" }]),
            Value::Null,
        )));
        if let Some((prompt, completion)) = usage {
            events.push(data(&chunk(
                json!([]),
                json!({ "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion }),
            )));
        }
        events.push("data: [DONE]\n\n".to_string());
    }
    events
}

/// A completion where the model calls `name` with `arguments` (JSON text)
/// instead of answering, as OpenAI sends it: `content` null, `tool_calls`,
/// `finish_reason: "tool_calls"`.
pub fn tool_call_completion(id: &str, name: &str, arguments: &str) -> Value {
    json!({
        "id": "chatcmpl-tool123", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{ "index": 0,
                      "message": { "role": "assistant", "content": null, "refusal": null, "annotations": [],
                                   "tool_calls": [{ "id": id, "type": "function",
                                                    "function": { "name": name, "arguments": arguments } }] },
                      "logprobs": null, "finish_reason": "tool_calls" }],
        "usage": { "prompt_tokens": 61, "completion_tokens": 16, "total_tokens": 77 },
        "system_fingerprint": "fp_1"
    })
}

/// The same call streamed as OpenAI does: the first chunk carries the role,
/// the call's `index`, `id`, `type` and name with empty arguments, then the
/// arguments in fragments, a `finish_reason: "tool_calls"` chunk, usage, `[DONE]`.
pub fn tool_call_stream_events(id: &str, name: &str, fragments: &[&str]) -> Vec<String> {
    let mut events = vec![data(&chunk(
        json!([{ "index": 0, "delta": { "role": "assistant", "content": null, "refusal": null,
                 "tool_calls": [{ "index": 0, "id": id, "type": "function",
                                  "function": { "name": name, "arguments": "" } }] },
                 "logprobs": null, "finish_reason": null }]),
        Value::Null,
    ))];
    for fragment in fragments {
        events.push(data(&chunk(
            json!([{ "index": 0, "delta": { "tool_calls": [{ "index": 0, "function": { "arguments": fragment } }] },
                     "logprobs": null, "finish_reason": null }]),
            Value::Null,
        )));
    }
    events.push(data(&chunk(
        json!([{ "index": 0, "delta": {}, "logprobs": null, "finish_reason": "tool_calls" }]),
        Value::Null,
    )));
    events.push(data(&chunk(
        json!([]),
        json!({ "prompt_tokens": 61, "completion_tokens": 16, "total_tokens": 77 }),
    )));
    events.push("data: [DONE]\n\n".to_string());
    events
}

pub async fn openai_app(upstream: &Upstream, config: &str) -> TestApp {
    let base = format!("{}/v1", upstream.url);
    spawn_app(
        &[
            ("OPENAI_API_KEY", "sk-test-openai"),
            ("OPENAI_BASE_URL", &base),
        ],
        config,
    )
    .await
}

#[tokio::test]
async fn generate_from_env_only_uses_the_default_model_and_parses_usage() {
    let upstream = Upstream::start(Reply::json(completion("Hello there!", 12, 4))).await;
    let app = openai_app(&upstream, "").await;

    let (status, body) = app
        .generate(json!({ "prompt": "Say hello", "max_tokens": 50, "temperature": 0.2 }))
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["text"], "Hello there!");
    assert_eq!(body["provider"], "openai");
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(
        body["usage"],
        json!({ "input_tokens": 12, "output_tokens": 4, "estimated": false })
    );
    assert!(body["latency_ms"].as_u64().unwrap() >= body["upstream_latency_ms"].as_u64().unwrap());
    assert!(body["request_id"].as_str().is_some_and(|id| !id.is_empty()));

    let sent = upstream.last();
    assert_eq!(
        (sent.method.as_str(), sent.path_and_query.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(sent.header("authorization"), Some("Bearer sk-test-openai"));
    let sent = sent.json();
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert_eq!(
        sent["messages"],
        json!([{ "role": "user", "content": "Say hello" }])
    );
    assert_eq!(sent["max_completion_tokens"], 50);
    assert!((sent["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6);
    assert!(sent.get("stream").is_none());
}

#[tokio::test]
async fn cost_comes_from_the_price_table() {
    let upstream = Upstream::start(Reply::json(completion("ok", 1_000, 500))).await;
    let config =
        "[prices.\"openai/gpt-4o-mini\"]\ninput_per_million = 0.15\noutput_per_million = 0.60\n";
    let app = openai_app(&upstream, config).await;

    let (status, body) = app.generate(json!({ "prompt": "hi" })).await;

    assert_eq!(status, 200, "{body}");
    let cost = body["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - (1_000.0 * 0.15 + 500.0 * 0.60) / 1e6).abs() < 1e-12,
        "{cost}"
    );
}

#[tokio::test]
async fn stream_relays_deltas_and_takes_usage_from_the_final_chunk() {
    let upstream = Upstream::start(Reply::sse(stream_events(
        &["Hel", "lo", " world"],
        Some((9, 3)),
        true,
    )))
    .await;
    let app = openai_app(&upstream, "").await;

    let events = app
        .stream(json!({ "messages": [
        { "role": "system", "content": "Be brief." },
        { "role": "user", "content": "Greet me" }
    ] }))
        .await;

    assert_eq!(streamed_text(&events), "Hello world");
    let done = &events.last().unwrap().data;
    assert_eq!(
        done["usage"],
        json!({ "input_tokens": 9, "output_tokens": 3, "estimated": false })
    );
    assert_eq!(done["provider"], "openai");
    assert!(done["latency_ms"].as_u64().is_some() && done["request_id"].is_string());

    let sent = upstream.last().json();
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"], json!({ "include_usage": true }));
    assert_eq!(
        sent["messages"][0],
        json!({ "role": "system", "content": "Be brief." })
    );
}

#[tokio::test]
async fn stream_without_usage_is_estimated_and_marked() {
    let upstream = Upstream::start(Reply::sse(stream_events(&["one two three"], None, true))).await;
    let app = openai_app(&upstream, "").await;

    let events = app.stream(json!({ "prompt": "count" })).await;

    assert_eq!(streamed_text(&events), "one two three");
    let usage = &events.last().unwrap().data["usage"];
    assert_eq!(usage["estimated"], true);
    assert!(usage["output_tokens"].as_u64().unwrap() > 0);
    assert!(usage["input_tokens"].as_u64().unwrap() > 0);
    let metrics = app.metrics().await;
    assert!(
        crate::helpers::metric(
            &metrics,
            "ai_tokens_total",
            &[("direction", "output"), ("estimated", "true")]
        ) > 0.0
    );
}

#[tokio::test]
async fn embed_keeps_input_order_and_reports_usage() {
    let upstream = Upstream::start(Reply::json(json!({
        "object": "list",
        "data": [
            { "object": "embedding", "index": 1, "embedding": [0.4, 0.5] },
            { "object": "embedding", "index": 0, "embedding": [0.1, 0.2] }
        ],
        "model": "text-embedding-3-small",
        "usage": { "prompt_tokens": 7, "total_tokens": 7 }
    })))
    .await;
    let app = openai_app(&upstream, "").await;

    let (status, body) = app
        .call("/v1/embed", &json!({ "input": ["first", "second"] }))
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["embeddings"], json!([[0.1, 0.2], [0.4, 0.5]]));
    assert_eq!(body["model"], "text-embedding-3-small");
    assert_eq!(
        body["usage"],
        json!({ "input_tokens": 7, "output_tokens": 0, "estimated": false })
    );
    let sent = upstream.last();
    assert_eq!(sent.path_and_query, "/v1/embeddings");
    assert_eq!(
        sent.json(),
        json!({ "model": "text-embedding-3-small", "input": ["first", "second"] })
    );
}

#[tokio::test]
async fn moderate_uses_the_moderations_endpoint() {
    let upstream = Upstream::start(Reply::json(json!({
        "id": "modr-1", "model": "omni-moderation-latest",
        "results": [{ "flagged": true, "categories": { "violence": true, "harassment": false, "self-harm": false },
                      "category_scores": { "violence": 0.93, "harassment": 0.01, "self-harm": 0.0 } }]
    })))
    .await;
    let app = openai_app(&upstream, "").await;

    let (status, body) = app
        .call("/v1/moderate", &json!({ "input": "some text" }))
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["flagged"], true);
    assert_eq!(body["provider"], "openai");
    assert_eq!(body["results"][0]["categories"]["violence"], true);
    let sent = upstream.last();
    assert_eq!(sent.path_and_query, "/v1/moderations");
    assert_eq!(
        sent.json(),
        json!({ "model": "omni-moderation-latest", "input": ["some text"] })
    );
}
