//! Amazon Bedrock through the AWS SDK: Converse (JSON), ConverseStream (AWS
//! event-stream framing, encoded here with aws-smithy-eventstream) and
//! InvokeModel for Titan embeddings. Requests must arrive SigV4-signed.

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, streamed_calls, streamed_text};
use crate::upstream::{Reply, Upstream};

fn frame(event_type: &'static str, payload: Value) -> Vec<u8> {
    let message = Message::new(payload.to_string().into_bytes())
        .add_header(Header::new(
            ":event-type",
            HeaderValue::String(event_type.into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ))
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String("event".into()),
        ));
    let mut buffer = Vec::new();
    write_message_to(&message, &mut buffer).unwrap();
    buffer
}

pub fn converse_stream(deltas: &[&str], usage: (u64, u64), complete: bool) -> Reply {
    let mut body = frame("messageStart", json!({ "role": "assistant" }));
    for delta in deltas {
        body.extend(frame(
            "contentBlockDelta",
            json!({ "contentBlockIndex": 0, "delta": { "text": delta } }),
        ));
    }
    if complete {
        body.extend(frame("contentBlockStop", json!({ "contentBlockIndex": 0 })));
        body.extend(frame("messageStop", json!({ "stopReason": "end_turn" })));
        body.extend(frame("metadata", json!({
            "usage": { "inputTokens": usage.0, "outputTokens": usage.1, "totalTokens": usage.0 + usage.1 },
            "metrics": { "latencyMs": 42 } })));
    }
    Reply::Raw {
        status: 200,
        content_type: "application/vnd.amazon.eventstream",
        body,
    }
}

/// A ConverseStream that calls a tool: `contentBlockStart.toolUse` (id, name),
/// the input in `contentBlockDelta.toolUse.input` fragments, `stopReason: tool_use`.
pub fn converse_stream_tool_use(id: &str, name: &str, fragments: &[&str]) -> Reply {
    let mut body = frame("messageStart", json!({ "role": "assistant" }));
    body.extend(frame(
        "contentBlockStart",
        json!({ "contentBlockIndex": 0, "start": { "toolUse": { "toolUseId": id, "name": name } } }),
    ));
    for fragment in fragments {
        body.extend(frame(
            "contentBlockDelta",
            json!({ "contentBlockIndex": 0, "delta": { "toolUse": { "input": fragment } } }),
        ));
    }
    body.extend(frame("contentBlockStop", json!({ "contentBlockIndex": 0 })));
    body.extend(frame("messageStop", json!({ "stopReason": "tool_use" })));
    body.extend(frame(
        "metadata",
        json!({ "usage": { "inputTokens": 60, "outputTokens": 20, "totalTokens": 80 },
                "metrics": { "latencyMs": 42 } }),
    ));
    Reply::Raw {
        status: 200,
        content_type: "application/vnd.amazon.eventstream",
        body,
    }
}

/// A Converse answer of `content` blocks with `stopReason`.
pub fn converse(content: Value, stop_reason: &str) -> Value {
    json!({
        "output": { "message": { "role": "assistant", "content": content } },
        "stopReason": stop_reason,
        "usage": { "inputTokens": 80, "outputTokens": 9, "totalTokens": 89 },
        "metrics": { "latencyMs": 12 }
    })
}

pub async fn bedrock_app(upstream: &Upstream) -> TestApp {
    spawn_app(
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLETEST"),
            ("AWS_SECRET_ACCESS_KEY", "test-secret-access-key"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", &upstream.url),
        ],
        "",
    )
    .await
}

#[tokio::test]
async fn converse_is_signed_and_usage_parsed() {
    let upstream = Upstream::start(Reply::json(json!({
        "output": { "message": { "role": "assistant", "content": [{ "text": "Hello from Bedrock" }] } },
        "stopReason": "end_turn",
        "usage": { "inputTokens": 11, "outputTokens": 4, "totalTokens": 15 },
        "metrics": { "latencyMs": 120 }
    })))
    .await;
    let app = bedrock_app(&upstream).await;

    let (status, body) = app
        .generate(json!({ "system": "Be nice.", "prompt": "hello", "max_tokens": 64 }))
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["text"], "Hello from Bedrock");
    assert_eq!(body["provider"], "bedrock");
    assert_eq!(
        body["usage"],
        json!({ "input_tokens": 11, "output_tokens": 4, "estimated": false })
    );
    let sent = upstream.last();
    assert_eq!(
        sent.path_and_query,
        "/model/amazon.nova-lite-v1%3A0/converse"
    );
    assert!(
        sent.header("authorization")
            .unwrap()
            .starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLETEST/")
    );
    let sent = sent.json();
    assert_eq!(
        sent["messages"],
        json!([{ "role": "user", "content": [{ "text": "hello" }] }])
    );
    assert_eq!(sent["system"], json!([{ "text": "Be nice." }]));
    assert_eq!(sent["inferenceConfig"]["maxTokens"], 64);
}

#[tokio::test]
async fn converse_stream_decodes_event_stream_frames_and_metadata_usage() {
    let upstream = Upstream::start(converse_stream(&["Hel", "lo ", "Bedrock"], (7, 3), true)).await;
    let app = bedrock_app(&upstream).await;

    let events = app.stream(json!({ "prompt": "hello" })).await;

    assert_eq!(streamed_text(&events), "Hello Bedrock");
    assert_eq!(
        events.last().unwrap().data["usage"],
        json!({ "input_tokens": 7, "output_tokens": 3, "estimated": false })
    );
    assert_eq!(
        upstream.last().path_and_query,
        "/model/amazon.nova-lite-v1%3A0/converse-stream"
    );
}

#[tokio::test]
async fn converse_stream_without_message_stop_is_truncated() {
    let upstream = Upstream::start(converse_stream(&["Hel"], (0, 0), false)).await;
    let app = bedrock_app(&upstream).await;

    let events = app.stream(json!({ "prompt": "hello" })).await;

    assert_eq!(events[0].event, "delta");
    assert_eq!(events.last().unwrap().event, "error");
    assert_eq!(
        events.last().unwrap().data["error"]["code"],
        "stream_truncated"
    );
}

#[tokio::test]
async fn embed_invokes_titan() {
    let upstream = Upstream::start(Reply::json(
        json!({ "embedding": [0.1, -0.2], "inputTextTokenCount": 3 }),
    ))
    .await;
    let app = bedrock_app(&upstream).await;

    let (status, body) = app.call("/v1/embed", &json!({ "input": "abc def" })).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["embeddings"], json!([[0.1, -0.2]]));
    assert_eq!(
        body["usage"],
        json!({ "input_tokens": 3, "output_tokens": 0, "estimated": false })
    );
    let sent = upstream.last();
    assert_eq!(
        sent.path_and_query,
        "/model/amazon.titan-embed-text-v2%3A0/invoke"
    );
    assert_eq!(sent.json(), json!({ "inputText": "abc def" }));
}

/// Converse has no `none` tool choice: the request is refused before
/// anything is sent, with a 400 naming the field, the provider and the model.
#[tokio::test]
async fn tool_choice_none_is_a_bad_request_for_bedrock() {
    let upstream = Upstream::start(Reply::json(converse(
        json!([{ "text": "never" }]),
        "end_turn",
    )))
    .await;
    let app = bedrock_app(&upstream).await;

    let (status, body) = app
        .call(
            "/v1/chat/completions",
            &json!({
                "model": "bedrock/amazon.nova-lite-v1:0",
                "messages": [{ "role": "user", "content": "hi" }],
                "tools": [{ "type": "function", "function": { "name": "get_weather" } }],
                "tool_choice": "none"
            }),
        )
        .await;

    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], "tool_choice", "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert_eq!(body["error"]["code"], "invalid_request", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`bedrock`") && message.contains("amazon.nova-lite-v1:0"),
        "{message}"
    );
    assert!(upstream.received().is_empty());
}

/// A streamed call whose arguments arrive in fragments, then the required
/// tool choice and parallel calls as Converse takes them (no parallel knob).
#[tokio::test]
async fn converse_stream_tool_use_becomes_openai_tool_call_chunks() {
    let upstream = Upstream::start(converse_stream_tool_use(
        "tooluse_1",
        "get_weather",
        &[r#"{"city""#, r#":"Paris"}"#],
    ))
    .await;
    let app = bedrock_app(&upstream).await;

    let chunks = app
        .chat_stream(json!({
            "model": "bedrock/amazon.nova-lite-v1:0",
            "messages": [{ "role": "user", "content": "Weather in Paris?" }],
            "tools": [{ "type": "function", "function": { "name": "get_weather", "strict": true,
                        "parameters": { "type": "object", "properties": { "city": { "type": "string" } } } } }],
            "tool_choice": "required",
            "parallel_tool_calls": false
        }))
        .await;

    let (calls, finish) = streamed_calls(&chunks);
    assert_eq!(
        calls,
        [json!([
            0,
            "tooluse_1",
            "get_weather",
            r#"{"city":"Paris"}"#
        ])]
    );
    assert_eq!(finish.as_deref(), Some("tool_calls"));
    let sent = upstream.last();
    assert_eq!(
        sent.path_and_query,
        "/model/amazon.nova-lite-v1%3A0/converse-stream"
    );
    assert_eq!(
        sent.json()["toolConfig"],
        json!({ "tools": [{ "toolSpec": { "name": "get_weather", "strict": true,
                    "inputSchema": { "json": { "type": "object", "properties": { "city": { "type": "string" } } } } } }],
                "toolChoice": { "any": {} } })
    );
}

/// What Bedrock cannot express is found before anything is sent, and a
/// fallback target that can express it serves the request.
#[tokio::test]
async fn a_chain_falls_back_past_bedrock_for_tool_choice_none() {
    let bedrock = Upstream::start(Reply::json(converse(
        json!([{ "text": "never" }]),
        "end_turn",
    )))
    .await;
    let openai = Upstream::start(Reply::json(crate::openai::completion(
        "No tools needed.",
        9,
        4,
    )))
    .await;
    let app = spawn_app(
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLETEST"),
            ("AWS_SECRET_ACCESS_KEY", "test-secret-access-key"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", &bedrock.url),
            ("OPENAI_API_KEY", "sk-o"),
            ("OPENAI_BASE_URL", &format!("{}/v1", openai.url)),
        ],
        "[models.tools]\ntargets = [\"bedrock/amazon.nova-lite-v1:0\", \"openai/gpt-4o-mini\"]\n",
    )
    .await;

    let (status, body) = app
        .call(
            "/v1/chat/completions",
            &json!({
                "model": "tools",
                "messages": [{ "role": "user", "content": "hi" }],
                "tools": [{ "type": "function", "function": { "name": "get_weather" } }],
                "tool_choice": "none"
            }),
        )
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], "No tools needed.");
    assert!(bedrock.received().is_empty());
    assert_eq!(openai.last().json()["tool_choice"], "none");
}
