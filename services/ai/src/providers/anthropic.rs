//! Anthropic Messages API. Streaming is SSE with named events:
//! `message_start` (input usage) → `content_block_delta`* → `message_delta`
//! (cumulative output usage) → `message_stop`; `ping` may appear anywhere and
//! `error` ends the stream.
//!
//! Tools: `tools` with an `input_schema`, `tool_choice` (`auto`, `any`, `tool`,
//! `none`; `disable_parallel_tool_use` is the parallel-calls knob), assistant
//! `tool_use` blocks and `tool_result` blocks in the user turn after them. A
//! streamed call is a `content_block_start` of type `tool_use` (id, name)
//! followed by `input_json_delta` fragments of its input. `strict` has no
//! field in the Messages API and is not sent.

use async_trait::async_trait;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use reqwest::Url;

use super::http::{endpoint, parse_event, read_json, send, sse};
use std::borrow::Cow;

use serde_json::{Value, json};

use super::{
    ChatRequest, Completion, EventStream, Provider, ProviderError, Role, StreamEvent,
    StreamedCalls, ToolCall, ToolChoice, Turn, Usage,
};
use crate::config::Secret;

pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
pub const API_VERSION: &str = "2023-06-01";
const KIND: &str = "anthropic";

pub struct Anthropic {
    http: reqwest::Client,
    base_url: Url,
    api_key: Secret,
}

impl Anthropic {
    pub fn new(http: reqwest::Client, base_url: Url, api_key: Secret) -> Self {
        Anthropic {
            http,
            base_url,
            api_key,
        }
    }

    fn request(
        &self,
        request: &ChatRequest,
        stream: bool,
    ) -> Result<reqwest::RequestBuilder, ProviderError> {
        let body = body(request, stream)?;
        Ok(self
            .http
            .post(endpoint(&self.base_url, &["v1", "messages"]))
            .header("x-api-key", self.api_key.expose())
            .header("anthropic-version", API_VERSION)
            .json(&body))
    }
}

fn body(request: &ChatRequest, stream: bool) -> Result<MessagesBody<'_>, ProviderError> {
    let mut messages = Vec::new();
    for turn in request.turns() {
        messages.push(match turn {
            Turn::Message { index, message } => {
                let role = if message.role == Role::Assistant {
                    "assistant"
                } else {
                    "user"
                };
                let content = if message.tool_calls.is_empty() {
                    WireContent::Text(&message.content)
                } else {
                    let mut blocks = Vec::new();
                    if !message.content.is_empty() {
                        blocks.push(RequestBlock::Text {
                            text: &message.content,
                        });
                    }
                    for (call, tool_call) in message.tool_calls.iter().enumerate() {
                        blocks.push(RequestBlock::ToolUse {
                            id: &tool_call.id,
                            name: &tool_call.name,
                            input: request.call_input(KIND, index, call)?,
                        });
                    }
                    WireContent::Blocks(blocks)
                };
                WireMessage { role, content }
            }
            Turn::ToolResults(results) => WireMessage {
                role: "user",
                content: WireContent::Blocks(
                    results
                        .into_iter()
                        .map(|(_, result)| RequestBlock::ToolResult {
                            tool_use_id: result.tool_call_id.as_deref().unwrap_or_default(),
                            content: (!result.content.is_empty())
                                .then_some(result.content.as_str()),
                        })
                        .collect(),
                ),
            },
        });
    }
    Ok(MessagesBody {
        model: &request.model,
        max_tokens: request.max_tokens,
        system: request.system_prompt(),
        messages,
        temperature: request.temperature,
        stream,
        tools: request
            .tools
            .iter()
            .map(|tool| WireTool {
                name: &tool.name,
                description: tool.description.as_deref(),
                // Required here, optional in OpenAI's shape: a function without parameters.
                input_schema: tool.parameters.as_ref().map_or_else(
                    || Cow::Owned(json!({ "type": "object", "properties": {} })),
                    Cow::Borrowed,
                ),
            })
            .collect(),
        tool_choice: tool_choice(request),
    })
}

/// OpenAI's `required` is Anthropic's `any`; `parallel_tool_calls: false`
/// is `disable_parallel_tool_use`, which `none` does not take.
fn tool_choice(request: &ChatRequest) -> Option<WireToolChoice<'_>> {
    if request.tools.is_empty() {
        return None;
    }
    let disable_parallel_tool_use = (request.parallel_tool_calls == Some(false)).then_some(true);
    Some(match &request.tool_choice {
        Some(ToolChoice::None) => WireToolChoice::None,
        Some(ToolChoice::Required) => WireToolChoice::Any {
            disable_parallel_tool_use,
        },
        Some(ToolChoice::Function(name)) => WireToolChoice::Tool {
            name,
            disable_parallel_tool_use,
        },
        Some(ToolChoice::Auto) => WireToolChoice::Auto {
            disable_parallel_tool_use,
        },
        None if disable_parallel_tool_use.is_some() => WireToolChoice::Auto {
            disable_parallel_tool_use,
        },
        None => return None,
    })
}

#[derive(Serialize)]
struct MessagesBody<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<String>,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<WireToolChoice<'a>>,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: WireContent<'a>,
}

/// Plain turns keep the short string form; turns with tool blocks need the list.
#[derive(Serialize)]
#[serde(untagged)]
enum WireContent<'a> {
    Text(&'a str),
    Blocks(Vec<RequestBlock<'a>>),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum RequestBlock<'a> {
    Text {
        text: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: Value,
    },
    ToolResult {
        tool_use_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<&'a str>,
    },
}

#[derive(Serialize)]
struct WireTool<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    input_schema: Cow<'a, Value>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireToolChoice<'a> {
    Auto {
        #[serde(skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    Any {
        #[serde(skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    Tool {
        name: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    None,
}

#[derive(Deserialize)]
struct MessagesResponse {
    content: Vec<ContentBlock>,
    usage: WireUsage,
}

#[derive(Deserialize)]
struct ContentBlock {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: String,
    /// `tool_use` blocks: the call's id, function and arguments.
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    input: Option<Value>,
}

impl ContentBlock {
    fn tool_call(self) -> Option<ToolCall> {
        (self.kind == "tool_use").then(|| ToolCall {
            id: self.id,
            name: self.name,
            arguments: self.input.unwrap_or_else(|| json!({})).to_string(),
        })
    }
}

#[derive(Deserialize, Default)]
struct WireUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireEvent {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        index: u32,
        content_block: StartBlock,
    },
    ContentBlockDelta {
        index: u32,
        delta: BlockDelta,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        #[serde(default)]
        usage: WireUsage,
    },
    MessageStop,
    Ping,
    Error {
        error: WireError,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    usage: WireUsage,
}

#[derive(Deserialize)]
struct StartBlock {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct BlockDelta {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: String,
    /// `input_json_delta`: a fragment of a tool call's input JSON.
    #[serde(default)]
    partial_json: String,
}

#[derive(Deserialize)]
struct WireError {
    #[serde(rename = "type")]
    kind: String,
}

#[async_trait]
impl Provider for Anthropic {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn generate(&self, request: &ChatRequest) -> Result<Completion, ProviderError> {
        let response = send(KIND, self.request(request, false)?).await?;
        let parsed: MessagesResponse = read_json(KIND, response).await?;
        let text = parsed
            .content
            .iter()
            .filter(|b| b.kind == "text")
            .map(|b| b.text.as_str())
            .collect();
        let tool_calls = parsed
            .content
            .into_iter()
            .filter_map(ContentBlock::tool_call)
            .collect();
        let usage = match (parsed.usage.input_tokens, parsed.usage.output_tokens) {
            (Some(input_tokens), Some(output_tokens)) => Some(Usage {
                input_tokens,
                output_tokens,
            }),
            _ => None,
        };
        Ok(Completion {
            text,
            tool_calls,
            usage,
        })
    }

    async fn stream(&self, request: &ChatRequest) -> Result<EventStream, ProviderError> {
        let response = send(KIND, self.request(request, true)?).await?;
        let mut events = Box::pin(sse(KIND, response));
        Ok(Box::pin(async_stream::stream! {
            let mut calls = StreamedCalls::default();
            while let Some(event) = events.next().await {
                let event = match event {
                    Ok(event) => event,
                    Err(err) => { yield Err(err); return; }
                };
                let parsed: WireEvent = match parse_event(KIND, &event.data) {
                    Ok(parsed) => parsed,
                    Err(err) => { yield Err(err); return; }
                };
                match parsed {
                    WireEvent::MessageStart { message } => yield Ok(StreamEvent::Usage {
                        input_tokens: message.usage.input_tokens,
                        output_tokens: message.usage.output_tokens,
                    }),
                    WireEvent::ContentBlockDelta { delta, .. } if delta.kind == "text_delta" && !delta.text.is_empty() => {
                        yield Ok(StreamEvent::Delta(delta.text))
                    }
                    WireEvent::ContentBlockStart { index, content_block } if content_block.kind == "tool_use" => {
                        yield Ok(calls.start(index, content_block.id, content_block.name));
                    }
                    WireEvent::ContentBlockDelta { index, delta } if delta.kind == "input_json_delta" => {
                        if let Some(event) = calls.input(index, delta.partial_json) {
                            yield Ok(event);
                        }
                    }
                    WireEvent::ContentBlockStop { index } => {
                        if let Some(event) = calls.stop(index) {
                            yield Ok(event);
                        }
                    }
                    // message_delta's usage is cumulative; input_tokens appears there too on newer models.
                    WireEvent::MessageDelta { usage } => yield Ok(StreamEvent::Usage {
                        input_tokens: usage.input_tokens,
                        output_tokens: usage.output_tokens,
                    }),
                    WireEvent::MessageStop => { yield Ok(StreamEvent::Finished); return; }
                    WireEvent::Error { error } => {
                        yield Err(ProviderError::Stream { provider: KIND, detail: error.kind });
                        return;
                    }
                    _ => {}
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Message, Tool};
    use super::*;

    fn weather_request(choice: Option<ToolChoice>, parallel: Option<bool>) -> ChatRequest {
        ChatRequest {
            model: "claude-sonnet-4-5".into(),
            messages: vec![Message::text(Role::User, "Weather?")],
            max_tokens: 64,
            temperature: None,
            tools: vec![Tool {
                name: "get_weather".into(),
                description: None,
                parameters: None,
                strict: Some(true),
            }],
            tool_choice: choice,
            parallel_tool_calls: parallel,
        }
    }

    #[test]
    fn tool_choice_and_parallel_calls_map_to_anthropics_shapes() {
        let named = || Some(ToolChoice::Function("get_weather".into()));
        let cases = [
            (None, None, Value::Null),
            (None, Some(true), Value::Null),
            (
                None,
                Some(false),
                json!({ "type": "auto", "disable_parallel_tool_use": true }),
            ),
            (Some(ToolChoice::Auto), None, json!({ "type": "auto" })),
            (Some(ToolChoice::None), None, json!({ "type": "none" })),
            // `none` takes no parallel knob: there are no calls to limit.
            (
                Some(ToolChoice::None),
                Some(false),
                json!({ "type": "none" }),
            ),
            (Some(ToolChoice::Required), None, json!({ "type": "any" })),
            (
                Some(ToolChoice::Required),
                Some(false),
                json!({ "type": "any", "disable_parallel_tool_use": true }),
            ),
            (
                named(),
                Some(true),
                json!({ "type": "tool", "name": "get_weather" }),
            ),
            (
                named(),
                Some(false),
                json!({ "type": "tool", "name": "get_weather", "disable_parallel_tool_use": true }),
            ),
        ];
        for (choice, parallel, expected) in cases {
            let what = format!("{choice:?}, parallel {parallel:?}");
            let request = weather_request(choice, parallel);
            let sent = serde_json::to_value(body(&request, false).unwrap()).unwrap();
            assert_eq!(sent["tool_choice"], expected, "{what}");
            // A function without parameters still has the object schema Anthropic requires;
            // `strict` has no field here.
            assert_eq!(
                sent["tools"],
                json!([{ "name": "get_weather", "input_schema": { "type": "object", "properties": {} } }]),
                "{what}"
            );
        }
    }

    #[test]
    fn parallel_results_go_back_together_in_one_user_turn() {
        let call = |id: &str, city: &str| ToolCall {
            id: id.into(),
            name: "get_weather".into(),
            arguments: format!(r#"{{"city":"{city}"}}"#),
        };
        let result = |id: &str, content: &str| Message {
            tool_call_id: Some(id.into()),
            ..Message::text(Role::Tool, content)
        };
        let mut request = weather_request(None, None);
        request.messages.extend([
            Message {
                tool_calls: vec![call("t1", "Paris"), call("t2", "Rome")],
                ..Message::text(Role::Assistant, "")
            },
            result("t1", "18"),
            result("t2", ""),
            Message::text(Role::User, "Thanks"),
        ]);
        let sent = serde_json::to_value(body(&request, false).unwrap()).unwrap();
        assert_eq!(
            sent["messages"],
            json!([
                { "role": "user", "content": "Weather?" },
                { "role": "assistant", "content": [
                    { "type": "tool_use", "id": "t1", "name": "get_weather", "input": { "city": "Paris" } },
                    { "type": "tool_use", "id": "t2", "name": "get_weather", "input": { "city": "Rome" } }
                ] },
                { "role": "user", "content": [
                    { "type": "tool_result", "tool_use_id": "t1", "content": "18" },
                    { "type": "tool_result", "tool_use_id": "t2" }
                ] },
                { "role": "user", "content": "Thanks" }
            ])
        );
    }

    #[test]
    fn tool_use_blocks_become_calls() {
        let parsed: MessagesResponse = serde_json::from_value(json!({
            "content": [
                { "type": "text", "text": "Checking." },
                { "type": "tool_use", "id": "t1", "name": "get_weather", "input": { "city": "Paris" } },
                { "type": "tool_use", "id": "t2", "name": "get_time", "input": {} }
            ],
            "usage": { "input_tokens": 1, "output_tokens": 2 }
        }))
        .unwrap();
        let calls: Vec<ToolCall> = parsed
            .content
            .into_iter()
            .filter_map(ContentBlock::tool_call)
            .collect();
        assert_eq!(
            calls,
            [
                ToolCall {
                    id: "t1".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Paris"}"#.into()
                },
                ToolCall {
                    id: "t2".into(),
                    name: "get_time".into(),
                    arguments: "{}".into()
                }
            ]
        );
    }
}
