//! Gemini generateContent, streamGenerateContent?alt=sse and batchEmbedContents.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, streamed_calls, streamed_text};
use crate::upstream::{Reply, Upstream, data};

pub fn response(text: &str, finish: Option<&str>, usage: Option<(u64, u64)>) -> Value {
    let mut candidate =
        json!({ "content": { "parts": [{ "text": text }], "role": "model" }, "index": 0 });
    if let Some(reason) = finish {
        candidate["finishReason"] = json!(reason);
    }
    let mut body = json!({ "candidates": [candidate], "modelVersion": "gemini-2.5-flash" });
    if let Some((prompt, candidates)) = usage {
        body["usageMetadata"] = json!({ "promptTokenCount": prompt, "candidatesTokenCount": candidates,
                                         "totalTokenCount": prompt + candidates });
    }
    body
}

/// A candidate that calls `name` (whole arguments in one `functionCall`
/// part, no id, as Gemini sends them) with a thought signature on the part.
pub fn function_call(
    name: &str,
    args: Value,
    signature: &str,
    finish: Option<&str>,
    usage: Option<(u64, u64)>,
) -> Value {
    let mut body = response("", finish, usage);
    body["candidates"][0]["content"]["parts"] =
        json!([{ "functionCall": { "name": name, "args": args }, "thoughtSignature": signature }]);
    body
}

pub async fn gemini_app(upstream: &Upstream) -> TestApp {
    let config = format!("[providers.gemini]\nbase_url = \"{}\"\n", upstream.url);
    spawn_app(&[("GEMINI_API_KEY", "gemini-test-key")], &config).await
}

#[tokio::test]
async fn generate_maps_roles_and_system_instruction() {
    let upstream =
        Upstream::start(Reply::json(response("Four.", Some("STOP"), Some((14, 2))))).await;
    let app = gemini_app(&upstream).await;

    let (status, body) = app
        .generate(json!({ "messages": [
            { "role": "system", "content": "Be terse." },
            { "role": "user", "content": "2+2?" },
            { "role": "assistant", "content": "Let me think." },
            { "role": "user", "content": "Answer." }
        ], "max_tokens": 16 }))
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["text"], "Four.");
    assert_eq!(
        body["usage"],
        json!({ "input_tokens": 14, "output_tokens": 2, "estimated": false })
    );
    let sent = upstream.last();
    assert_eq!(
        sent.path_and_query,
        "/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(sent.header("x-goog-api-key"), Some("gemini-test-key"));
    let sent = sent.json();
    assert_eq!(
        sent["systemInstruction"],
        json!({ "parts": [{ "text": "Be terse." }] })
    );
    assert_eq!(
        sent["contents"][1],
        json!({ "role": "model", "parts": [{ "text": "Let me think." }] })
    );
    assert_eq!(sent["generationConfig"]["maxOutputTokens"], 16);
}

#[tokio::test]
async fn stream_uses_sse_and_the_last_chunks_usage() {
    let upstream = Upstream::start(Reply::sse(vec![
        data(&response("The sky ", None, Some((8, 2)))),
        data(&response("is blue.", Some("STOP"), Some((8, 5)))),
    ]))
    .await;
    let app = gemini_app(&upstream).await;

    let events = app.stream(json!({ "prompt": "Sky colour?" })).await;

    assert_eq!(streamed_text(&events), "The sky is blue.");
    assert_eq!(
        events.last().unwrap().data["usage"],
        json!({ "input_tokens": 8, "output_tokens": 5, "estimated": false })
    );
    assert_eq!(
        upstream.last().path_and_query,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
}

#[tokio::test]
async fn a_stream_that_ends_without_finish_reason_is_truncated() {
    let upstream = Upstream::start(Reply::sse(vec![data(&response("The sky ", None, None))])).await;
    let app = gemini_app(&upstream).await;

    let events = app.stream(json!({ "prompt": "Sky colour?" })).await;

    assert_eq!(events.last().unwrap().event, "error");
    assert_eq!(
        events.last().unwrap().data["error"]["code"],
        "stream_truncated"
    );
}

#[tokio::test]
async fn embed_uses_batch_embed_contents_and_estimates_usage() {
    let upstream = Upstream::start(Reply::json(
        json!({ "embeddings": [{ "values": [0.1, 0.2, 0.3] }] }),
    ))
    .await;
    let app = gemini_app(&upstream).await;

    let (status, body) = app
        .call("/v1/embed", &json!({ "input": "hello world" }))
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["embeddings"].as_array().unwrap().len(), 1);
    assert_eq!(
        body["usage"]["estimated"], true,
        "Gemini reports no embedding usage"
    );
    let sent = upstream.last();
    assert_eq!(
        sent.path_and_query,
        "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    );
    assert_eq!(
        sent.json(),
        json!({ "requests": [{ "model": "models/gemini-embedding-001", "content": { "parts": [{ "text": "hello world" }] } }] })
    );
}

/// Gemini sends parallel calls as parts of one chunk, whole and without ids:
/// each becomes a call of its own with an id of its own.
#[tokio::test]
async fn parallel_calls_in_one_chunk_get_indexes_and_ids_of_their_own() {
    let mut chunk = function_call(
        "get_weather",
        json!({ "city": "Paris" }),
        "c2ln",
        Some("STOP"),
        Some((30, 12)),
    );
    chunk["candidates"][0]["content"]["parts"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "functionCall": { "name": "get_weather", "args": { "city": "Rome" } } }));
    let upstream = Upstream::start(Reply::sse(vec![data(&chunk)])).await;
    let app = gemini_app(&upstream).await;

    let chunks = app
        .chat_stream(json!({
            "model": "gemini/gemini-2.5-flash",
            "messages": [{ "role": "user", "content": "Weather in Paris and Rome?" }],
            "tools": [{ "type": "function", "function": { "name": "get_weather" } }],
            "tool_choice": { "type": "function", "function": { "name": "get_weather" } }
        }))
        .await;

    let (calls, finish) = streamed_calls(&chunks);
    assert_eq!(finish.as_deref(), Some("tool_calls"));
    let summary: Vec<Value> = calls.iter().map(|c| json!([c[0], c[2], c[3]])).collect();
    assert_eq!(
        summary,
        [
            json!([0, "get_weather", r#"{"city":"Paris"}"#]),
            json!([1, "get_weather", r#"{"city":"Rome"}"#])
        ]
    );
    let ids: Vec<&str> = calls.iter().map(|c| c[1].as_str().unwrap()).collect();
    assert!(
        ids[0].starts_with("call_") && ids[0].ends_with("~sig~c2ln"),
        "{ids:?}"
    );
    assert!(
        ids[1].starts_with("call_") && !ids[1].contains("~sig~"),
        "{ids:?}"
    );
    let sent = upstream.last().json();
    assert_eq!(
        sent["toolConfig"],
        json!({ "functionCallingConfig": { "mode": "ANY", "allowedFunctionNames": ["get_weather"] } })
    );
    assert_eq!(
        sent["tools"],
        json!([{ "functionDeclarations": [{ "name": "get_weather" }] }])
    );
}
