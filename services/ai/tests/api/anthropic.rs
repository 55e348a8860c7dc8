//! Anthropic Messages: plain and SSE (message_start … message_delta with usage
//! … message_stop), from ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL alone.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, streamed_calls, streamed_text};
use crate::upstream::{Reply, Upstream, named};

pub fn message(text: &str, input_tokens: u64, output_tokens: u64) -> Value {
    json!({
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{ "type": "text", "text": text }],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": { "input_tokens": input_tokens, "output_tokens": output_tokens }
    })
}

/// The event sequence of a streamed message. `output_tokens` arrives only in
/// `message_delta`; `message_start` carries the input count and a placeholder 1.
pub fn stream_events(
    deltas: &[&str],
    input_tokens: u64,
    output_tokens: u64,
    stop: bool,
) -> Vec<String> {
    let mut events = vec![
        named(
            "message_start",
            &json!({ "type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-sonnet-4-5",
            "stop_reason": null, "stop_sequence": null,
            "usage": { "input_tokens": input_tokens, "output_tokens": 1 } } }),
        ),
        named(
            "content_block_start",
            &json!({ "type": "content_block_start", "index": 0,
            "content_block": { "type": "text", "text": "" } }),
        ),
        named("ping", &json!({ "type": "ping" })),
    ];
    for delta in deltas {
        events.push(named(
            "content_block_delta",
            &json!({ "type": "content_block_delta", "index": 0,
            "delta": { "type": "text_delta", "text": delta } }),
        ));
    }
    if stop {
        events.push(named(
            "content_block_stop",
            &json!({ "type": "content_block_stop", "index": 0 }),
        ));
        events.push(named(
            "message_delta",
            &json!({ "type": "message_delta",
            "delta": { "stop_reason": "end_turn", "stop_sequence": null },
            "usage": { "output_tokens": output_tokens } }),
        ));
        events.push(named("message_stop", &json!({ "type": "message_stop" })));
    }
    events
}

/// A message that calls a tool instead of (after a sentence of) answering:
/// a `tool_use` block and `stop_reason: "tool_use"`.
pub fn tool_use_message(preamble: &str, id: &str, name: &str, input: Value) -> Value {
    json!({
        "id": "msg_01Aq9w938a90dw8q", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [
            { "type": "text", "text": preamble },
            { "type": "tool_use", "id": id, "name": name, "input": input }
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": { "input_tokens": 60, "output_tokens": 20 }
    })
}

/// A streamed tool call: a `tool_use` content block, its input as
/// `input_json_delta` fragments (the first one empty, as Anthropic sends it),
/// `stop_reason: "tool_use"`.
pub fn tool_use_stream_events(id: &str, name: &str, fragments: &[&str]) -> Vec<String> {
    let mut events = vec![
        named(
            "message_start",
            &json!({ "type": "message_start", "message": {
            "id": "msg_2", "type": "message", "role": "assistant", "content": [], "model": "claude-sonnet-4-5",
            "stop_reason": null, "stop_sequence": null,
            "usage": { "input_tokens": 60, "output_tokens": 1 } } }),
        ),
        named(
            "content_block_start",
            &json!({ "type": "content_block_start", "index": 0,
            "content_block": { "type": "tool_use", "id": id, "name": name, "input": {} } }),
        ),
    ];
    for fragment in std::iter::once(&"").chain(fragments) {
        events.push(named(
            "content_block_delta",
            &json!({ "type": "content_block_delta", "index": 0,
            "delta": { "type": "input_json_delta", "partial_json": fragment } }),
        ));
    }
    events.push(named(
        "content_block_stop",
        &json!({ "type": "content_block_stop", "index": 0 }),
    ));
    events.push(named(
        "message_delta",
        &json!({ "type": "message_delta",
        "delta": { "stop_reason": "tool_use", "stop_sequence": null },
        "usage": { "output_tokens": 20 } }),
    ));
    events.push(named("message_stop", &json!({ "type": "message_stop" })));
    events
}

pub async fn anthropic_app(upstream: &Upstream) -> TestApp {
    spawn_app(
        &[
            ("ANTHROPIC_API_KEY", "sk-ant-test"),
            ("ANTHROPIC_BASE_URL", &upstream.url),
        ],
        "",
    )
    .await
}

#[tokio::test]
async fn generate_sends_the_messages_format_and_parses_usage() {
    let upstream = Upstream::start(Reply::json(message("Bonjour!", 21, 5))).await;
    let app = anthropic_app(&upstream).await;

    let (status, body) = app
        .generate(json!({ "system": "Answer in French.", "prompt": "Say hello" }))
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["text"], "Bonjour!");
    assert_eq!(body["provider"], "anthropic");
    assert_eq!(
        body["usage"],
        json!({ "input_tokens": 21, "output_tokens": 5, "estimated": false })
    );

    let sent = upstream.last();
    assert_eq!(sent.path_and_query, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    let sent = sent.json();
    assert_eq!(sent["system"], "Answer in French.");
    assert_eq!(
        sent["messages"],
        json!([{ "role": "user", "content": "Say hello" }])
    );
    assert_eq!(
        sent["max_tokens"], 1024,
        "Anthropic requires max_tokens; the default is sent"
    );
}

#[tokio::test]
async fn stream_takes_output_usage_from_message_delta() {
    let upstream = Upstream::start(Reply::sse(stream_events(
        &["Hello", ", ", "world"],
        25,
        15,
        true,
    )))
    .await;
    let app = anthropic_app(&upstream).await;

    let events = app.stream(json!({ "prompt": "Greet the world" })).await;

    assert_eq!(streamed_text(&events), "Hello, world");
    let done = &events.last().unwrap().data;
    assert_eq!(
        done["usage"],
        json!({ "input_tokens": 25, "output_tokens": 15, "estimated": false })
    );
    assert_eq!(upstream.last().json()["stream"], true);
}

#[tokio::test]
async fn an_error_event_mid_stream_becomes_an_error_event() {
    let mut events = stream_events(&["partial"], 10, 0, false);
    events.push(named(
        "error",
        &json!({ "type": "error",
        "error": { "type": "overloaded_error", "message": "Overloaded" } }),
    ));
    let upstream = Upstream::start(Reply::sse(events)).await;
    let app = anthropic_app(&upstream).await;

    let events = app.stream(json!({ "prompt": "hi" })).await;

    assert_eq!(events[0].event, "delta");
    let last = events.last().unwrap();
    assert_eq!(last.event, "error");
    assert_eq!(last.data["error"]["code"], "upstream_stream_error");
    assert!(
        last.data["error"]["message"]
            .as_str()
            .unwrap()
            .contains("overloaded_error")
    );
}

/// Text first, then two calls in parallel: Anthropic numbers content blocks
/// (0 text, 1 and 2 tool_use), OpenAI numbers calls (0 and 1).
#[tokio::test]
async fn parallel_streamed_calls_after_text_are_numbered_as_openai_numbers_them() {
    // message_start, and message_delta and message_stop, from the helper's script.
    let events = tool_use_stream_events("toolu_paris", "get_weather", &[]);
    let (start, end) = (&events[..1], &events[events.len() - 2..]);
    let block = |index: u32, id: &str, fragments: &[&str]| {
        let mut block = vec![named(
            "content_block_start",
            &json!({ "type": "content_block_start", "index": index,
                "content_block": { "type": "tool_use", "id": id, "name": "get_weather", "input": {} } }),
        )];
        for fragment in fragments {
            block.push(named(
                "content_block_delta",
                &json!({ "type": "content_block_delta", "index": index,
                    "delta": { "type": "input_json_delta", "partial_json": fragment } }),
            ));
        }
        block.push(named(
            "content_block_stop",
            &json!({ "type": "content_block_stop", "index": index }),
        ));
        block
    };
    let mut script = start.to_vec();
    script.push(named(
        "content_block_start",
        &json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" } }),
    ));
    script.push(named(
        "content_block_delta",
        &json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": "Checking both." } }),
    ));
    script.push(named(
        "content_block_stop",
        &json!({ "type": "content_block_stop", "index": 0 }),
    ));
    script.extend(block(1, "toolu_paris", &[r#"{"city":"#, r#""Paris"}"#]));
    // A call without arguments: no input fragments at all.
    script.extend(block(2, "toolu_any", &[]));
    script.extend_from_slice(end);
    let upstream = Upstream::start(Reply::sse(script)).await;
    let app = anthropic_app(&upstream).await;

    let chunks = app
        .chat_stream(json!({
            "model": "anthropic/claude-sonnet-4-5",
            "messages": [{ "role": "user", "content": "Weather in Paris, and anywhere?" }],
            "tools": [{ "type": "function", "function": { "name": "get_weather" } }],
            "parallel_tool_calls": true
        }))
        .await;

    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Checking both.");
    let (calls, finish) = streamed_calls(&chunks);
    assert_eq!(
        calls,
        [
            json!([0, "toolu_paris", "get_weather", r#"{"city":"Paris"}"#]),
            json!([1, "toolu_any", "get_weather", "{}"])
        ]
    );
    assert_eq!(finish.as_deref(), Some("tool_calls"));
    let sent = upstream.last().json();
    assert_eq!(
        sent["tools"],
        json!([{ "name": "get_weather", "input_schema": { "type": "object", "properties": {} } }])
    );
    assert_eq!(
        sent.get("tool_choice"),
        None,
        "parallel calls are Anthropic's default"
    );
}
