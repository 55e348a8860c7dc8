//! The OpenAI-compatible surface (issue 19) through the official `openai`
//! SDKs, Python and Node, pointed at the gateway with a base URL — against
//! each provider's wire-format fake — plus the pipeline's guarantees
//! (caps, redaction, cut streams) on OpenAI-shaped requests.
//!
//! The SDKs are installed by `.ci/run`: Python's into
//! `~/.cache/foundry/openai-venv-<version>`, Node's with `npm ci` in
//! `tests/sdk/node`. A missing SDK fails the test with the command to run.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::Command;

use crate::anthropic::{anthropic_app, message};
use crate::azure::azure_app;
use crate::bedrock::{bedrock_app, converse_stream};
use crate::gemini::{gemini_app, response};
use crate::helpers::{KEY, TestApp, spawn_app};
use crate::openai::{completion, openai_app, stream_events};
use crate::upstream::{Reply, Upstream, data};

/// Pinned in `.ci/run` (and `tests/sdk/node/package-lock.json` for Node).
const PYTHON_SDK_VERSION: &str = "3.57.0";

#[derive(Debug, Clone, Copy)]
enum Sdk {
    Python,
    Node,
}

fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

fn command(sdk: Sdk) -> Command {
    match sdk {
        Sdk::Python => {
            let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
            let python = PathBuf::from(home).join(format!(
                ".cache/foundry/openai-venv-{PYTHON_SDK_VERSION}/bin/python"
            ));
            assert!(
                python.exists(),
                "the openai Python SDK is not installed: python3 -m venv {0} && {0}/bin/pip install openai=={PYTHON_SDK_VERSION} (as .ci/run does)",
                python.parent().unwrap().parent().unwrap().display()
            );
            let mut command = Command::new(python);
            command.arg(sdk_dir().join("python/check.py"));
            command
        }
        Sdk::Node => {
            let node = sdk_dir().join("node");
            assert!(
                node.join("node_modules/openai").exists(),
                "the openai Node SDK is not installed: (cd {} && npm ci) (as .ci/run does)",
                node.display()
            );
            let mut command = Command::new("node");
            command.arg(node.join("check.mjs"));
            command
        }
    }
}

/// Runs `scenario` with `sdk` against `app`; returns what the script saw.
async fn run(sdk: Sdk, app: &TestApp, scenario: &str, vars: &[(&str, &str)]) -> Value {
    let mut command = command(sdk);
    command
        .env("GATEWAY_URL", format!("{}/v1", app.address))
        .env("GATEWAY_KEY", KEY)
        .env("SCENARIO", scenario)
        .envs(vars.iter().copied())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the SDK script finishes")
        .expect("the SDK script runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{sdk:?} SDK, {scenario}: {}\n{stdout}\n{stderr}",
        output.status
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{sdk:?} SDK printed no JSON ({e}): {stdout}\n{stderr}"))
}

/// One provider behind the gateway, with its fake's replies to a chat
/// completion, a stream and (if the provider embeds) an embedding.
struct Case {
    provider: &'static str,
    model: &'static str,
    embed_model: Option<&'static str>,
    chat: Reply,
    stream: Reply,
    embed: Option<Reply>,
}

fn cases() -> Vec<Case> {
    let openai_embedding = json!({
        "object": "list", "model": "text-embedding-3-small",
        "data": [{ "object": "embedding", "index": 0, "embedding": [0.25, -0.5] }],
        "usage": { "prompt_tokens": 2, "total_tokens": 2 }
    });
    vec![
        Case {
            provider: "openai",
            model: "openai/gpt-4o-mini",
            embed_model: Some("openai/text-embedding-3-small"),
            chat: Reply::json(completion("Hello from openai", 9, 4)),
            stream: Reply::sse(stream_events(&["Hel", "lo"], Some((9, 2)), true)),
            embed: Some(Reply::json(openai_embedding.clone())),
        },
        Case {
            provider: "azure",
            model: "azure/prod-gpt4o",
            embed_model: Some("azure/prod-embed"),
            chat: Reply::json(completion("Hello from azure", 9, 4)),
            stream: Reply::sse(stream_events(&["Hel", "lo"], Some((9, 2)), true)),
            embed: Some(Reply::json(openai_embedding)),
        },
        Case {
            provider: "anthropic",
            model: "anthropic/claude-sonnet-4-5",
            embed_model: None,
            chat: Reply::json(message("Hello from anthropic", 9, 4)),
            stream: Reply::sse(crate::anthropic::stream_events(&["Hel", "lo"], 9, 2, true)),
            embed: None,
        },
        Case {
            provider: "gemini",
            model: "gemini/gemini-2.5-flash",
            embed_model: Some("gemini/gemini-embedding-001"),
            chat: Reply::json(response("Hello from gemini", Some("STOP"), Some((9, 4)))),
            stream: Reply::sse(vec![
                data(&response("Hel", None, Some((9, 1)))),
                data(&response("lo", Some("STOP"), Some((9, 2)))),
            ]),
            embed: Some(Reply::json(
                json!({ "embeddings": [{ "values": [0.25, -0.5] }] }),
            )),
        },
        Case {
            provider: "bedrock",
            model: "bedrock/amazon.nova-lite-v1:0",
            embed_model: Some("bedrock/amazon.titan-embed-text-v2:0"),
            chat: Reply::json(json!({
                "output": { "message": { "role": "assistant", "content": [{ "text": "Hello from bedrock" }] } },
                "stopReason": "end_turn",
                "usage": { "inputTokens": 9, "outputTokens": 4, "totalTokens": 13 },
                "metrics": { "latencyMs": 12 }
            })),
            stream: converse_stream(&["Hel", "lo"], (9, 2), true),
            embed: Some(Reply::json(
                json!({ "embedding": [0.25, -0.5], "inputTextTokenCount": 2 }),
            )),
        },
    ]
}

async fn app_for(provider: &str, upstream: &Upstream) -> TestApp {
    match provider {
        "openai" => openai_app(upstream, "").await,
        "azure" => azure_app(upstream).await,
        "anthropic" => anthropic_app(upstream).await,
        "gemini" => gemini_app(upstream).await,
        "bedrock" => bedrock_app(upstream).await,
        other => unreachable!("no fake for {other}"),
    }
}

async fn every_provider_through(sdk: Sdk) {
    for case in cases() {
        let upstream = Upstream::start(Reply::status(500, json!({ "error": "unscripted" }))).await;
        upstream.then(case.chat).then(case.stream);
        if let Some(embed) = case.embed {
            upstream.then(embed);
        }
        let app = app_for(case.provider, &upstream).await;
        let mut vars = vec![("MODEL", case.model)];
        if let Some(embed_model) = case.embed_model {
            vars.push(("EMBED_MODEL", embed_model));
        }
        let seen = run(sdk, &app, "basic", &vars).await;
        let what = format!("{sdk:?} SDK via {}: {seen}", case.provider);
        assert_eq!(
            seen["text"],
            format!("Hello from {}", case.provider),
            "{what}"
        );
        assert_eq!(seen["usage"], json!([9, 4]), "{what}");
        assert_eq!(seen["streamed"], "Hello", "{what}");
        assert_eq!(seen["stream_usage"], json!([9, 2]), "{what}");
        if case.embed_model.is_some() {
            // Sent as base64 by both SDKs by default, decoded back exactly.
            assert_eq!(seen["embedding"], json!([0.25, -0.5]), "{what}");
        }
        let models = seen["models"].as_array().unwrap();
        assert!(models.contains(&json!(case.model)), "{what}");
        let sent = upstream.received();
        assert_eq!(
            sent.len(),
            2 + usize::from(case.embed_model.is_some()),
            "{what}"
        );
    }
}

#[tokio::test]
async fn the_python_sdk_works_against_every_provider() {
    every_provider_through(Sdk::Python).await;
}

#[tokio::test]
async fn the_node_sdk_works_against_every_provider() {
    every_provider_through(Sdk::Node).await;
}

#[tokio::test]
async fn an_over_cap_org_gets_the_sdks_rate_limit_error() {
    let upstream = Upstream::start(Reply::json(completion("never", 1, 1))).await;
    let app = openai_app(&upstream, "[limits.orgs]\nsdk-org = 10\n").await;
    for sdk in [Sdk::Python, Sdk::Node] {
        let seen = run(sdk, &app, "over_cap", &[("MODEL", "openai/gpt-4o-mini")]).await;
        assert_eq!(seen["error"], "RateLimitError", "{sdk:?}: {seen}");
        assert_eq!(seen["code"], "token_cap_exceeded", "{sdk:?}: {seen}");
        assert!(seen["retry_after"].as_str().is_some(), "{sdk:?}: {seen}");
    }
    assert!(upstream.received().is_empty());
}

#[tokio::test]
async fn a_stream_cut_upstream_is_an_error_in_the_sdk() {
    // Two deltas, then the connection ends without finish_reason or [DONE].
    let upstream = Upstream::start(Reply::sse(stream_events(
        &["The answer ", "is"],
        None,
        false,
    )))
    .await;
    let app = openai_app(&upstream, "").await;
    for sdk in [Sdk::Python, Sdk::Node] {
        let seen = run(sdk, &app, "cut", &[("MODEL", "openai/gpt-4o-mini")]).await;
        assert_eq!(seen["received"], "The answer is", "{sdk:?}: {seen}");
        assert!(
            seen["message"].as_str().unwrap().contains("end-of-message"),
            "{sdk:?}: {seen}"
        );
    }
}

#[tokio::test]
async fn redaction_applies_to_messages_before_the_upstream() {
    let upstream = Upstream::start(Reply::json(completion("noted", 9, 4))).await;
    upstream
        .then(Reply::json(completion("noted", 9, 4)))
        .then(Reply::sse(stream_events(&["ok"], Some((9, 1)), true)));
    let app = openai_app(&upstream, "").await;
    let prompt = "Mail jane.doe@example.com about the invoice";
    run(
        Sdk::Python,
        &app,
        "basic",
        &[("MODEL", "openai/gpt-4o-mini"), ("PROMPT", prompt)],
    )
    .await;
    for received in upstream.received() {
        let body = String::from_utf8_lossy(&received.body).to_string();
        assert!(!body.contains("jane.doe@example.com"), "{body}");
        assert!(body.contains("Be brief."), "{body}");
    }
}

#[tokio::test]
async fn caps_hold_under_concurrent_openai_shaped_requests() {
    let (cap, max_tokens) = (300, 8);
    let upstream = Upstream::start(
        Reply::json(completion("billed", 8, max_tokens)).after(Duration::from_millis(150)),
    )
    .await;
    let app = spawn_app(
        &[
            ("OPENAI_API_KEY", "sk-o"),
            ("OPENAI_BASE_URL", &format!("{}/v1", upstream.url)),
        ],
        &format!("[limits]\nwindow_seconds = 31536000\n\n[limits.orgs]\nacme = {cap}\n"),
    )
    .await;
    let requests = (0..50).map(|_| {
        app.client
            .post(format!("{}/v1/chat/completions", app.address))
            .bearer_auth(KEY)
            .header("x-org-id", "acme")
            .json(
                &json!({ "model": "openai/gpt-4o-mini", "max_tokens": max_tokens,
                           "messages": [{ "role": "user", "content": "hi" }] }),
            )
            .send()
    });
    let one = crate::accounting::reservation("hi", max_tokens);
    let (mut spent, mut admitted, mut refused) = (0, 0, 0);
    for response in futures::future::join_all(requests).await {
        let response = response.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        match status {
            200 => {
                admitted += 1;
                spent += body["usage"]["total_tokens"].as_u64().unwrap();
            }
            429 => {
                refused += 1;
                assert_eq!(body["error"]["type"], "tokens");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(
        admitted > 0 && refused > 0,
        "admitted {admitted}, refused {refused}"
    );
    assert!(
        spent <= cap + one,
        "spent {spent} > cap {cap} + one reservation {one}"
    );
}

const CALL_ID: &str = "call_weather_1";
const ARGUMENTS: &str = r#"{"city":"Paris"}"#;
const FRAGMENTS: &[&str] = &[r#"{"ci"#, r#"ty":"Pa"#, r#"ris"}"#];
const ANSWER: &str = "It is 18 degrees in Paris.";
const ANSWER_PIECES: &[&str] = &["It is 18 ", "degrees in Paris."];
/// What the SDK scripts send back as the tool's result.
const RESULT: &str = r#"{"temp_c": 18}"#;
const GEMINI_SIGNATURES: [&str; 2] = ["c2lnLWpzb24=", "c2lnLXN0cmVhbQ=="];

/// The round trip against one provider: its fake's four replies (the call as
/// JSON, the answer to its result, the call streamed, the answer streamed)
/// and what must hold of the call ids the SDK saw and the requests the fake
/// received, in that provider's shapes.
struct ToolCase {
    provider: &'static str,
    model: &'static str,
    replies: Vec<Reply>,
    /// Given the SDK's view (`call`, `stream_call`) and the four request bodies.
    check: fn(&str, &Value, &[Value]),
}

fn openai_tool_case(provider: &'static str, model: &'static str) -> ToolCase {
    ToolCase {
        provider,
        model,
        replies: vec![
            Reply::json(crate::openai::tool_call_completion(
                CALL_ID,
                "get_weather",
                ARGUMENTS,
            )),
            Reply::json(completion(ANSWER, 80, 9)),
            Reply::sse(crate::openai::tool_call_stream_events(
                CALL_ID,
                "get_weather",
                FRAGMENTS,
            )),
            Reply::sse(stream_events(ANSWER_PIECES, Some((80, 9)), true)),
        ],
        check: |what, seen, sent| {
            assert_eq!(seen["call"][0], CALL_ID, "{what}");
            assert_eq!(seen["stream_call"][0], CALL_ID, "{what}");
            for (i, body) in sent.iter().enumerate() {
                // The tools go with every turn, in OpenAI's shape.
                let tool = &body["tools"][0];
                assert_eq!(tool["type"], "function", "{what}: request {i}");
                assert_eq!(tool["function"]["name"], "get_weather", "{what}");
                assert_eq!(
                    tool["function"]["parameters"]["required"],
                    json!(["city"]),
                    "{what}"
                );
                assert_eq!(body["tool_choice"], "auto", "{what}");
            }
            for answer in [&sent[1], &sent[3]] {
                let messages = answer["messages"].as_array().unwrap();
                let (call_turn, result) = (&messages[2], &messages[3]);
                assert_eq!(call_turn["role"], "assistant", "{what}");
                assert_eq!(call_turn["content"], Value::Null, "{what}");
                assert_eq!(
                    call_turn["tool_calls"],
                    json!([{ "id": CALL_ID, "type": "function",
                             "function": { "name": "get_weather", "arguments": ARGUMENTS } }]),
                    "{what}"
                );
                assert_eq!(result["role"], "tool", "{what}");
                assert_eq!(result["tool_call_id"], CALL_ID, "{what}");
                assert_eq!(result["content"], RESULT, "{what}");
            }
        },
    }
}

/// The schema both SDK scripts declare for `get_weather`.
fn weather_schema() -> Value {
    json!({ "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] })
}

fn tool_cases() -> Vec<ToolCase> {
    vec![
        openai_tool_case("openai", "openai/gpt-4o-mini"),
        openai_tool_case("azure", "azure/prod-gpt4o"),
        ToolCase {
            provider: "anthropic",
            model: "anthropic/claude-sonnet-4-5",
            replies: vec![
                Reply::json(crate::anthropic::tool_use_message(
                    "Let me check.",
                    "toolu_json",
                    "get_weather",
                    json!({ "city": "Paris" }),
                )),
                Reply::json(message(ANSWER, 80, 9)),
                Reply::sse(crate::anthropic::tool_use_stream_events(
                    "toolu_stream",
                    "get_weather",
                    FRAGMENTS,
                )),
                Reply::sse(crate::anthropic::stream_events(ANSWER_PIECES, 80, 9, true)),
            ],
            check: |what, seen, sent| {
                assert_eq!(seen["call"][0], "toolu_json", "{what}");
                assert_eq!(seen["stream_call"][0], "toolu_stream", "{what}");
                for body in sent {
                    assert_eq!(
                        body["tools"],
                        json!([{ "name": "get_weather", "description": "Current weather in a city",
                                 "input_schema": weather_schema() }]),
                        "{what}"
                    );
                    assert_eq!(body["tool_choice"], json!({ "type": "auto" }), "{what}");
                }
                // The JSON answer's assistant turn kept its text; the streamed one had none.
                for (answer, id, blocks) in [
                    (
                        &sent[1],
                        "toolu_json",
                        json!([{ "type": "text", "text": "Let me check." }]),
                    ),
                    (&sent[3], "toolu_stream", json!([])),
                ] {
                    let mut blocks = blocks.as_array().unwrap().clone();
                    blocks.push(json!({ "type": "tool_use", "id": id, "name": "get_weather",
                                        "input": { "city": "Paris" } }));
                    assert_eq!(
                        answer["messages"],
                        json!([
                            { "role": "user", "content": "What is the weather in Paris?" },
                            { "role": "assistant", "content": blocks },
                            { "role": "user", "content": [
                                { "type": "tool_result", "tool_use_id": id, "content": RESULT }] }
                        ]),
                        "{what}"
                    );
                }
            },
        },
        ToolCase {
            provider: "gemini",
            model: "gemini/gemini-2.5-flash",
            replies: vec![
                Reply::json(crate::gemini::function_call(
                    "get_weather",
                    json!({ "city": "Paris" }),
                    GEMINI_SIGNATURES[0],
                    Some("STOP"),
                    Some((60, 20)),
                )),
                Reply::json(response(ANSWER, Some("STOP"), Some((80, 9)))),
                Reply::sse(vec![
                    data(&crate::gemini::function_call(
                        "get_weather",
                        json!({ "city": "Paris" }),
                        GEMINI_SIGNATURES[1],
                        None,
                        Some((60, 10)),
                    )),
                    data(&response("", Some("STOP"), Some((60, 20)))),
                ]),
                Reply::sse(vec![
                    data(&response(ANSWER_PIECES[0], None, Some((80, 4)))),
                    data(&response(ANSWER_PIECES[1], Some("STOP"), Some((80, 9)))),
                ]),
            ],
            check: |what, seen, sent| {
                // Gemini's calls have no id: the gateway makes one up, the
                // call's thought signature riding after the mark.
                let ids =
                    [&seen["call"][0], &seen["stream_call"][0]].map(|id| id.as_str().unwrap());
                for (id, signature) in ids.iter().zip(GEMINI_SIGNATURES) {
                    assert!(id.starts_with("call_"), "{what}");
                    assert!(id.ends_with(&format!("~sig~{signature}")), "{what}");
                }
                assert_ne!(ids[0], ids[1], "{what}");
                for body in sent {
                    assert_eq!(
                        body["tools"],
                        json!([{ "functionDeclarations": [{ "name": "get_weather",
                            "description": "Current weather in a city",
                            "parametersJsonSchema": weather_schema() }] }]),
                        "{what}"
                    );
                    assert_eq!(
                        body["toolConfig"],
                        json!({ "functionCallingConfig": { "mode": "AUTO" } }),
                        "{what}"
                    );
                }
                for (answer, signature) in [
                    (&sent[1], GEMINI_SIGNATURES[0]),
                    (&sent[3], GEMINI_SIGNATURES[1]),
                ] {
                    assert_eq!(
                        answer["contents"],
                        json!([
                            { "role": "user", "parts": [{ "text": "What is the weather in Paris?" }] },
                            { "role": "model", "parts": [{
                                "functionCall": { "name": "get_weather", "args": { "city": "Paris" } },
                                "thoughtSignature": signature }] },
                            { "role": "user", "parts": [{ "functionResponse": {
                                "name": "get_weather", "response": { "temp_c": 18 } } }] }
                        ]),
                        "{what}"
                    );
                }
            },
        },
        ToolCase {
            provider: "bedrock",
            model: "bedrock/amazon.nova-lite-v1:0",
            replies: vec![
                Reply::json(crate::bedrock::converse(
                    json!([{ "toolUse": { "toolUseId": "tooluse_json", "name": "get_weather",
                                          "input": { "city": "Paris" } } }]),
                    "tool_use",
                )),
                Reply::json(crate::bedrock::converse(
                    json!([{ "text": ANSWER }]),
                    "end_turn",
                )),
                crate::bedrock::converse_stream_tool_use(
                    "tooluse_stream",
                    "get_weather",
                    FRAGMENTS,
                ),
                converse_stream(ANSWER_PIECES, (80, 9), true),
            ],
            check: |what, seen, sent| {
                assert_eq!(seen["call"][0], "tooluse_json", "{what}");
                assert_eq!(seen["stream_call"][0], "tooluse_stream", "{what}");
                for body in sent {
                    assert_eq!(
                        body["toolConfig"],
                        json!({ "tools": [{ "toolSpec": { "name": "get_weather",
                                    "description": "Current weather in a city",
                                    "inputSchema": { "json": weather_schema() } } }],
                                "toolChoice": { "auto": {} } }),
                        "{what}"
                    );
                }
                for (answer, id) in [(&sent[1], "tooluse_json"), (&sent[3], "tooluse_stream")] {
                    assert_eq!(
                        answer["messages"],
                        json!([
                            { "role": "user", "content": [{ "text": "What is the weather in Paris?" }] },
                            { "role": "assistant", "content": [{ "toolUse": {
                                "toolUseId": id, "name": "get_weather", "input": { "city": "Paris" } } }] },
                            { "role": "user", "content": [{ "toolResult": {
                                "toolUseId": id, "content": [{ "text": RESULT }] } }] }
                        ]),
                        "{what}"
                    );
                }
            },
        },
    ]
}

/// The round trip of a tool call through each SDK against each provider that
/// takes tools: the model asks for `get_weather`, the client runs it and sends
/// the result back, the model answers; once as JSON and once streamed (the
/// arguments arrive in pieces where the provider streams them so).
#[tokio::test]
async fn a_tool_call_round_trips_through_the_sdks() {
    for case in tool_cases() {
        for sdk in [Sdk::Python, Sdk::Node] {
            let upstream =
                Upstream::start(Reply::status(500, json!({ "error": "unscripted" }))).await;
            for reply in &case.replies {
                upstream.then(reply.clone());
            }
            let app = app_for(case.provider, &upstream).await;
            let seen = run(sdk, &app, "tools", &[("MODEL", case.model)]).await;
            let what = format!("{sdk:?} SDK via {}: {seen}", case.provider);
            let paris = json!({ "city": "Paris" });
            for (call, finish) in [
                ("call", "finish_reason"),
                ("stream_call", "stream_finish_reason"),
            ] {
                assert_eq!(seen[call][1], "get_weather", "{what}");
                assert_eq!(seen[call][2], paris, "{what}");
                assert_eq!(seen[finish], "tool_calls", "{what}");
            }
            assert_eq!(seen["answer"], ANSWER, "{what}");
            assert_eq!(seen["stream_answer"], ANSWER, "{what}");

            let sent: Vec<Value> = upstream.received().iter().map(|r| r.json()).collect();
            assert_eq!(sent.len(), 4, "{what}");
            (case.check)(&what, &seen, &sent);
        }
    }
}

/// A provider whose adapter does not pass tools (the offline echo provider)
/// refuses them with a 400 that the SDKs raise as BadRequestError, naming
/// the field and the provider and model.
#[tokio::test]
async fn tools_for_a_provider_without_them_are_a_bad_request_in_the_sdks() {
    let app = spawn_app(&[], "[providers.echo]\nkind = \"echo\"\n").await;
    for sdk in [Sdk::Python, Sdk::Node] {
        let seen = run(sdk, &app, "tools_refused", &[("MODEL", "echo/echo-1")]).await;
        assert_eq!(seen["error"], "BadRequestError", "{sdk:?}: {seen}");
        assert_eq!(seen["status"], 400, "{sdk:?}: {seen}");
        assert_eq!(seen["param"], "tools", "{sdk:?}: {seen}");
        let message = seen["message"].as_str().unwrap();
        assert!(
            message.contains("`echo`") && message.contains("echo-1"),
            "{sdk:?}: {seen}"
        );
    }
}
