//! OpenAI-compatible surface: `POST /v1/chat/completions` and
//! `POST /v1/embeddings` in OpenAI's request and response shapes, over the same
//! pipelines as `/v1/generate` and `/v1/embed` (aliases, fallbacks, caps,
//! redaction, retries, breakers, metrics). Only the client-facing shape lives
//! here; what a provider's JSON looks like stays in `providers/`.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ValidJson;
use super::chat::{ChatInput, ChatOutcome, ToolInput, check_messages, record_failure, run_chat};
use super::embed;
use super::stream_relay::StreamFormat;
use crate::api_types::{EmbedRequest, OneOrMany};
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::providers::{Message, Role, Tool, ToolCall, ToolChoice};
use crate::state::SharedState;

const CHAT_ROUTE: &str = "chat_completions";
const EMBED_ROUTE: &str = "embeddings";

/// The Chat Completions request. Parameters the gateway cannot honour are
/// named here so that they are refused with a clear 400 instead of ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatCompletionRequest {
    pub model: Option<String>,
    pub messages: Vec<OpenAiMessage>,
    pub max_tokens: Option<u32>,
    pub max_completion_tokens: Option<u32>,
    pub temperature: Option<f32>,
    #[serde(default)]
    pub stream: bool,
    pub stream_options: Option<StreamOptions>,
    pub n: Option<u32>,
    /// OpenAI's end-user id; accepted, never sent upstream (`X-User-ID` is ours).
    #[allow(dead_code)]
    pub user: Option<String>,
    pub tools: Option<Vec<OpenAiTool>>,
    pub tool_choice: Option<Value>,
    pub parallel_tool_calls: Option<bool>,
    pub functions: Option<Value>,
    pub function_call: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

#[derive(Debug, Deserialize)]
pub struct OpenAiMessage {
    pub role: String,
    pub content: Option<MessageContent>,
    /// Accepted and dropped: providers take no per-message names.
    #[allow(dead_code)]
    pub name: Option<String>,
    pub tool_calls: Option<Vec<OpenAiToolCall>>,
    pub tool_call_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiTool {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: OpenAiFunction,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiFunction {
    pub name: String,
    pub description: Option<String>,
    pub parameters: Option<Value>,
    pub strict: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct OpenAiToolCall {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub function: OpenAiCalledFunction,
}

#[derive(Debug, Deserialize)]
pub struct OpenAiCalledFunction {
    pub name: String,
    pub arguments: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Deserialize)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub async fn chat_completions(
    State(state): State<SharedState>,
    Extension(context): Extension<RequestContext>,
    ValidJson(request): ValidJson<ChatCompletionRequest>,
) -> Result<Response, ApiError> {
    let result = handle_chat(&state, &context, request).await;
    if let Err(err) = &result {
        record_failure(&state, &context, CHAT_ROUTE, err);
    }
    result
}

async fn handle_chat(
    state: &SharedState,
    context: &RequestContext,
    request: ChatCompletionRequest,
) -> Result<Response, ApiError> {
    // The deprecated `functions` API predates tools; clients send `tools` today.
    for (field, given) in [
        ("functions", request.functions.is_some()),
        ("function_call", request.function_call.is_some()),
    ] {
        if given {
            return Err(ApiError::invalid(
                field,
                "the deprecated functions API is not supported; send `tools` and `tool_choice`",
            ));
        }
    }
    if request.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid("n", "only n = 1 is supported"));
    }
    if request.max_tokens.is_some() && request.max_completion_tokens.is_some() {
        return Err(ApiError::invalid(
            "max_tokens",
            "give max_completion_tokens or max_tokens, not both",
        ));
    }
    if request.stream_options.is_some() && !request.stream {
        return Err(ApiError::invalid(
            "stream_options",
            "only allowed when stream is true",
        ));
    }
    let messages = convert_messages(&request.messages)?;
    check_messages(&messages, "messages", state.limits.max_input_chars)?;
    let tools = convert_tools(&request, &messages)?;

    let id = format!("chatcmpl-{}", context.request_id);
    let created = unix_now();
    let stream = request.stream.then(|| StreamFormat::OpenAi {
        id: id.clone(),
        created,
        include_usage: request
            .stream_options
            .as_ref()
            .is_some_and(|o| o.include_usage),
    });
    let input = ChatInput {
        model: request.model,
        messages,
        max_tokens: request.max_completion_tokens.or(request.max_tokens),
        temperature: request.temperature,
        tools,
    };
    match run_chat(state, context, CHAT_ROUTE, input, stream).await? {
        ChatOutcome::Stream(response) => Ok(response),
        ChatOutcome::Completed(done) => Ok(axum::Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": done.model,
            "choices": [{
                "index": 0,
                "message": assistant_message(&done.text, &done.tool_calls),
                "logprobs": null,
                "finish_reason": if done.tool_calls.is_empty() { "stop" } else { "tool_calls" },
            }],
            "usage": {
                "prompt_tokens": done.usage.input_tokens,
                "completion_tokens": done.usage.output_tokens,
                "total_tokens": done.usage.input_tokens + done.usage.output_tokens,
            },
        }))
        .into_response()),
    }
}

/// The answer's message as OpenAI shapes it: `content` is null when the
/// model only called tools, `tool_calls` is absent when it called none.
fn assistant_message(text: &str, calls: &[ToolCall]) -> Value {
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) },
        "refusal": null,
    });
    if !calls.is_empty() {
        message["tool_calls"] = calls
            .iter()
            .map(|c| json!({ "id": c.id, "type": "function", "function": { "name": c.name, "arguments": c.arguments } }))
            .collect();
    }
    message
}

/// `tools`, `tool_choice` and `parallel_tool_calls` in the gateway's terms,
/// with the first field that uses tools (the 400 names it when the model's
/// provider cannot take tools).
fn convert_tools(
    request: &ChatCompletionRequest,
    messages: &[Message],
) -> Result<ToolInput, ApiError> {
    let mut tools = Vec::new();
    for (i, tool) in request.tools.iter().flatten().enumerate() {
        if tool.kind != "function" {
            return Err(ApiError::invalid(
                format!("tools[{i}].type"),
                format!("only function tools are supported, not `{}`", tool.kind),
            ));
        }
        tools.push(Tool {
            name: tool.function.name.clone(),
            description: tool.function.description.clone(),
            parameters: tool.function.parameters.clone(),
            strict: tool.function.strict,
        });
    }
    let choice = match &request.tool_choice {
        None => None,
        Some(Value::String(s)) if s == "auto" => Some(ToolChoice::Auto),
        Some(Value::String(s)) if s == "none" => Some(ToolChoice::None),
        Some(Value::String(s)) if s == "required" => Some(ToolChoice::Required),
        Some(value) => match value["function"]["name"].as_str() {
            Some(name) if value["type"] == "function" => Some(ToolChoice::Function(name.into())),
            _ => {
                return Err(ApiError::invalid(
                    "tool_choice",
                    "must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": …}}",
                ));
            }
        },
    };
    if choice.is_some() && tools.is_empty() {
        return Err(ApiError::invalid(
            "tool_choice",
            "only allowed when tools are given",
        ));
    }
    let tool_turn = messages
        .iter()
        .position(|m| m.role == Role::Tool || !m.tool_calls.is_empty());
    let field = if request.tools.is_some() {
        Some("tools".to_string())
    } else if request.parallel_tool_calls.is_some() {
        Some("parallel_tool_calls".to_string())
    } else {
        tool_turn.map(|i| match messages[i].role {
            Role::Tool => format!("messages[{i}].role"),
            _ => format!("messages[{i}].tool_calls"),
        })
    };
    Ok(ToolInput {
        tools,
        choice,
        parallel_calls: request.parallel_tool_calls,
        field,
    })
}

/// OpenAI messages → the gateway's: `developer` is a system message, text
/// parts are joined, assistant tool calls and `tool` results carried over;
/// images, audio and the deprecated `function` role are refused by field.
fn convert_messages(messages: &[OpenAiMessage]) -> Result<Vec<Message>, ApiError> {
    if messages.is_empty() {
        return Err(ApiError::invalid("messages", "must not be empty"));
    }
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let field = |name: &str| format!("messages[{i}].{name}");
            let role = match m.role.as_str() {
                "system" | "developer" => Role::System,
                "user" => Role::User,
                "assistant" => Role::Assistant,
                "tool" => Role::Tool,
                "function" => {
                    return Err(ApiError::invalid(
                        field("role"),
                        "the deprecated `function` role is not supported; send `tool` messages",
                    ));
                }
                other => {
                    return Err(ApiError::invalid(
                        field("role"),
                        format!("unknown role `{other}`"),
                    ));
                }
            };
            if m.tool_calls.is_some() && role != Role::Assistant {
                return Err(ApiError::invalid(
                    field("tool_calls"),
                    "only assistant messages carry tool calls",
                ));
            }
            let tool_call_id = match (role, &m.tool_call_id) {
                (Role::Tool, Some(id)) => Some(id.clone()),
                (Role::Tool, None) => {
                    return Err(ApiError::invalid(
                        field("tool_call_id"),
                        "a tool message needs the id of the call it answers",
                    ));
                }
                (_, Some(_)) => {
                    return Err(ApiError::invalid(
                        field("tool_call_id"),
                        "only tool messages carry a tool_call_id",
                    ));
                }
                (_, None) => None,
            };
            let mut tool_calls = Vec::new();
            for (j, call) in m.tool_calls.iter().flatten().enumerate() {
                if call.kind != "function" {
                    return Err(ApiError::invalid(
                        format!("messages[{i}].tool_calls[{j}].type"),
                        format!("only function calls are supported, not `{}`", call.kind),
                    ));
                }
                tool_calls.push(ToolCall {
                    id: call.id.clone(),
                    name: call.function.name.clone(),
                    arguments: call.function.arguments.clone(),
                });
            }
            let content = match &m.content {
                None => String::new(),
                Some(MessageContent::Text(text)) => text.clone(),
                Some(MessageContent::Parts(parts)) => {
                    let mut text = String::new();
                    for (j, part) in parts.iter().enumerate() {
                        match (part.kind.as_str(), &part.text) {
                            ("text", Some(t)) => text.push_str(t),
                            (kind, _) => {
                                return Err(ApiError::invalid(
                                    format!("messages[{i}].content[{j}].type"),
                                    format!("only text parts are supported, not `{kind}`"),
                                ));
                            }
                        }
                    }
                    text
                }
            };
            Ok(Message {
                role,
                content,
                tool_calls,
                tool_call_id,
            })
        })
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingsRequest {
    pub input: Value,
    pub model: Option<String>,
    /// `float` (default) or `base64` (little-endian f32, what the SDKs ask for).
    pub encoding_format: Option<String>,
    pub dimensions: Option<u32>,
    #[allow(dead_code)]
    pub user: Option<String>,
}

pub async fn embeddings(
    State(state): State<SharedState>,
    Extension(context): Extension<RequestContext>,
    ValidJson(request): ValidJson<EmbeddingsRequest>,
) -> Result<axum::Json<Value>, ApiError> {
    let result = handle_embeddings(&state, &context, request).await;
    let (provider, code) = match &result {
        Ok((_, provider)) => (provider.clone(), "ok"),
        Err(err) => (embed::err_provider(err), err.code()),
    };
    state
        .metrics
        .requests
        .with_label_values(&[EMBED_ROUTE, &provider, code, context.org_label()])
        .inc();
    result.map(|(body, _)| axum::Json(body))
}

async fn handle_embeddings(
    state: &SharedState,
    context: &RequestContext,
    request: EmbeddingsRequest,
) -> Result<(Value, String), ApiError> {
    if request.dimensions.is_some() {
        return Err(ApiError::invalid(
            "dimensions",
            "not supported: the model's own dimensions are returned",
        ));
    }
    let base64 = match request.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "encoding_format",
                format!("must be float or base64, not `{other}`"),
            ));
        }
    };
    let input = match request.input {
        Value::String(one) => OneOrMany::One(one),
        Value::Array(items) if items.iter().all(Value::is_string) => OneOrMany::Many(
            items
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => {
            return Err(ApiError::invalid(
                "input",
                "must be a string or an array of strings (token arrays are not supported)",
            ));
        }
    };
    let answer = embed::handle(
        state,
        context,
        EMBED_ROUTE,
        EmbedRequest {
            input,
            model: request.model,
            metadata: None,
        },
    )
    .await?;
    let data: Vec<Value> = answer
        .embeddings
        .iter()
        .enumerate()
        .map(|(index, vector)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({ "object": "embedding", "index": index, "embedding": embedding })
        })
        .collect();
    let body = json!({
        "object": "list",
        "data": data,
        "model": answer.model,
        "usage": {
            "prompt_tokens": answer.usage.input_tokens,
            "total_tokens": answer.usage.input_tokens,
        },
    });
    Ok((body, answer.provider))
}
