//! OpenAI's REST wire format: chat completions (with
//! `stream_options.include_usage`, whose final chunk carries usage and no
//! choices; function tools, assistant `tool_calls` and `tool` messages, with
//! `delta.tool_calls` fragments when streamed), embeddings and moderations. Azure OpenAI speaks the same bodies
//! under different URLs and auth; see `azure.rs`.

use async_trait::async_trait;
use futures::StreamExt;
use reqwest::{RequestBuilder, Url};
use serde::{Deserialize, Serialize};

use super::http::{endpoint, parse_event, read_json, send, sse};
use super::{
    ChatRequest, Completion, EmbedRequest, Embeddings, EventStream, Message, ModerationResult,
    Provider, ProviderError, Role, StreamEvent, ToolCall, ToolChoice, Usage,
};
use crate::config::Secret;

pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
pub const MODERATION_MODEL: &str = "omni-moderation-latest";

const CHAT: &[&str] = &["chat", "completions"];
const EMBEDDINGS: &[&str] = &["embeddings"];
const MODERATIONS: &[&str] = &["moderations"];

/// Where requests go and how they authenticate.
pub enum Endpoint {
    /// `{base_url}/chat/completions`, `Authorization: Bearer`.
    OpenAi { base_url: Url },
    /// `{endpoint}/openai/deployments/{deployment}/...?api-version=`, `api-key` header.
    Azure { endpoint: Url, api_version: String },
}

pub struct OpenAi {
    http: reqwest::Client,
    kind: &'static str,
    endpoint: Endpoint,
    api_key: Secret,
}

impl OpenAi {
    pub fn new(http: reqwest::Client, base_url: Url, api_key: Secret) -> Self {
        OpenAi {
            http,
            kind: "openai",
            endpoint: Endpoint::OpenAi { base_url },
            api_key,
        }
    }

    pub(super) fn with_endpoint(
        http: reqwest::Client,
        kind: &'static str,
        endpoint: Endpoint,
        api_key: Secret,
    ) -> Self {
        OpenAi {
            http,
            kind,
            endpoint,
            api_key,
        }
    }

    /// Where `operation` (fixed path segments such as `["chat", "completions"]`)
    /// goes; for Azure the model (deployment) is encoded as one segment.
    fn url(&self, model: &str, operation: &[&str]) -> Url {
        match &self.endpoint {
            Endpoint::OpenAi { base_url } => endpoint(base_url, operation),
            Endpoint::Azure {
                endpoint: base,
                api_version,
            } => {
                let mut segments = vec!["openai", "deployments", model];
                segments.extend_from_slice(operation);
                let mut url = endpoint(base, &segments);
                url.query_pairs_mut()
                    .clear()
                    .append_pair("api-version", api_version);
                url
            }
        }
    }

    fn post(&self, model: &str, operation: &[&str]) -> RequestBuilder {
        let builder = self.http.post(self.url(model, operation));
        match &self.endpoint {
            Endpoint::OpenAi { .. } => builder.bearer_auth(self.api_key.expose()),
            Endpoint::Azure { .. } => builder.header("api-key", self.api_key.expose()),
        }
    }

    fn is_azure(&self) -> bool {
        matches!(self.endpoint, Endpoint::Azure { .. })
    }

    fn chat_body<'a>(&self, request: &'a ChatRequest, stream: bool) -> ChatBody<'a> {
        let azure = self.is_azure();
        ChatBody {
            // Azure addresses the model through the deployment in the URL.
            model: (!azure).then_some(request.model.as_str()),
            messages: request.messages.iter().map(WireMessage::from).collect(),
            tools: request.tools.iter().map(WireTool::from).collect(),
            tool_choice: request.tool_choice.as_ref().map(tool_choice),
            parallel_tool_calls: request.parallel_tool_calls,
            // OpenAI deprecated `max_tokens` for `max_completion_tokens`; Azure's GA
            // api-versions still document `max_tokens`.
            max_completion_tokens: (!azure).then_some(request.max_tokens),
            max_tokens: azure.then_some(request.max_tokens),
            temperature: request.temperature,
            stream,
            stream_options: stream.then_some(StreamOptions {
                include_usage: true,
            }),
        }
    }
}

#[derive(Serialize)]
struct ChatBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    /// `null` on an assistant turn that only calls tools.
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<WireToolCall>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
}

impl<'a> From<&'a Message> for WireMessage<'a> {
    fn from(m: &'a Message) -> Self {
        let role = match m.role {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        };
        let only_calls = m.content.is_empty() && !m.tool_calls.is_empty();
        WireMessage {
            role,
            content: (!only_calls).then_some(m.content.as_str()),
            tool_calls: m.tool_calls.iter().map(WireToolCall::from).collect(),
            tool_call_id: m.tool_call_id.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct WireTool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunction<'a>,
}

#[derive(Serialize)]
struct WireFunction<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    strict: Option<bool>,
}

impl<'a> From<&'a super::Tool> for WireTool<'a> {
    fn from(tool: &'a super::Tool) -> Self {
        WireTool {
            kind: "function",
            function: WireFunction {
                name: &tool.name,
                description: tool.description.as_deref(),
                parameters: tool.parameters.as_ref(),
                strict: tool.strict,
            },
        }
    }
}

fn tool_choice(choice: &ToolChoice) -> serde_json::Value {
    match choice {
        ToolChoice::Auto => "auto".into(),
        ToolChoice::None => "none".into(),
        ToolChoice::Required => "required".into(),
        ToolChoice::Function(name) => {
            serde_json::json!({ "type": "function", "function": { "name": name } })
        }
    }
}

/// A complete call, in requests (assistant turns) and responses alike.
#[derive(Serialize, Deserialize)]
struct WireToolCall {
    id: String,
    #[serde(rename = "type", default = "function_type")]
    kind: String,
    function: WireCalledFunction,
}

#[derive(Serialize, Deserialize)]
struct WireCalledFunction {
    name: String,
    #[serde(default)]
    arguments: String,
}

fn function_type() -> String {
    "function".into()
}

impl From<&ToolCall> for WireToolCall {
    fn from(call: &ToolCall) -> Self {
        WireToolCall {
            id: call.id.clone(),
            kind: function_type(),
            function: WireCalledFunction {
                name: call.name.clone(),
                arguments: call.arguments.clone(),
            },
        }
    }
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Deserialize)]
struct ChatResponse {
    choices: Vec<Choice>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<WireToolCall>,
}

#[derive(Deserialize)]
struct WireUsage {
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    usage: Option<WireUsage>,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: ChunkDelta,
}

#[derive(Deserialize, Default)]
struct ChunkDelta {
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolCallFragment>,
}

/// One piece of a streamed call: `id`, `type` and `function.name` come with
/// the first piece of each `index`, `function.arguments` in fragments.
#[derive(Deserialize)]
struct ToolCallFragment {
    index: u32,
    id: Option<String>,
    function: Option<FunctionFragment>,
}

#[derive(Deserialize)]
struct FunctionFragment {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Serialize)]
struct EmbedBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    input: &'a [String],
}

#[derive(Deserialize)]
struct EmbedResponse {
    data: Vec<EmbeddingData>,
    usage: Option<EmbedUsage>,
}

#[derive(Deserialize)]
struct EmbeddingData {
    embedding: Vec<f32>,
    index: usize,
}

#[derive(Deserialize)]
struct EmbedUsage {
    prompt_tokens: u64,
}

#[derive(Serialize)]
struct ModerationBody<'a> {
    model: &'a str,
    input: &'a [String],
}

#[derive(Deserialize)]
struct ModerationResponse {
    results: Vec<ModerationResult>,
}

impl<'de> Deserialize<'de> for ModerationResult {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            flagged: bool,
            #[serde(default)]
            categories: std::collections::BTreeMap<String, Option<bool>>,
        }
        let wire = Wire::deserialize(deserializer)?;
        Ok(ModerationResult {
            flagged: wire.flagged,
            categories: wire
                .categories
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or(false)))
                .collect(),
        })
    }
}

#[async_trait]
impl Provider for OpenAi {
    fn kind(&self) -> &'static str {
        self.kind
    }

    async fn generate(&self, request: &ChatRequest) -> Result<Completion, ProviderError> {
        let body = self.chat_body(request, false);
        let response = send(self.kind, self.post(&request.model, CHAT).json(&body)).await?;
        let parsed: ChatResponse = read_json(self.kind, response).await?;
        let choice = parsed
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| ProviderError::malformed(self.kind, "response has no choices"))?;
        Ok(Completion {
            text: choice.message.content.unwrap_or_default(),
            tool_calls: choice
                .message
                .tool_calls
                .into_iter()
                .map(|c| ToolCall {
                    id: c.id,
                    name: c.function.name,
                    arguments: c.function.arguments,
                })
                .collect(),
            usage: parsed.usage.map(|u| Usage {
                input_tokens: u.prompt_tokens,
                output_tokens: u.completion_tokens,
            }),
        })
    }

    async fn stream(&self, request: &ChatRequest) -> Result<EventStream, ProviderError> {
        let body = self.chat_body(request, true);
        let response = send(self.kind, self.post(&request.model, CHAT).json(&body)).await?;
        let kind = self.kind;
        let mut events = Box::pin(sse(kind, response));
        Ok(Box::pin(async_stream::stream! {
            while let Some(event) = events.next().await {
                let event = match event {
                    Ok(event) => event,
                    Err(err) => { yield Err(err); return; }
                };
                if event.data.trim() == "[DONE]" {
                    yield Ok(StreamEvent::Finished);
                    return;
                }
                let chunk: Chunk = match parse_event(kind, &event.data) {
                    Ok(chunk) => chunk,
                    Err(err) => { yield Err(err); return; }
                };
                if let Some(error) = chunk.error {
                    let detail = error.get("type").or_else(|| error.get("code"))
                        .and_then(|v| v.as_str()).unwrap_or("error event").to_string();
                    yield Err(ProviderError::Stream { provider: kind, detail });
                    return;
                }
                // Azure sends a first chunk with empty choices (content filter results).
                for choice in chunk.choices {
                    if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                        yield Ok(StreamEvent::Delta(text));
                    }
                    for fragment in choice.delta.tool_calls {
                        let (name, arguments) = match fragment.function {
                            Some(f) => (f.name, f.arguments.unwrap_or_default()),
                            None => (None, String::new()),
                        };
                        yield Ok(StreamEvent::ToolCallDelta {
                            index: fragment.index, id: fragment.id, name, arguments,
                        });
                    }
                }
                if let Some(usage) = chunk.usage {
                    yield Ok(StreamEvent::Usage {
                        input_tokens: Some(usage.prompt_tokens),
                        output_tokens: Some(usage.completion_tokens),
                    });
                }
            }
        }))
    }

    async fn embed(&self, request: &EmbedRequest) -> Result<Embeddings, ProviderError> {
        let body = EmbedBody {
            model: (!self.is_azure()).then_some(request.model.as_str()),
            input: &request.inputs,
        };
        let response = send(self.kind, self.post(&request.model, EMBEDDINGS).json(&body)).await?;
        let mut parsed: EmbedResponse = read_json(self.kind, response).await?;
        if parsed.data.len() != request.inputs.len() {
            return Err(ProviderError::malformed(
                self.kind,
                "embedding count does not match input count",
            ));
        }
        parsed.data.sort_by_key(|d| d.index);
        Ok(Embeddings {
            vectors: parsed.data.into_iter().map(|d| d.embedding).collect(),
            input_tokens: parsed.usage.map(|u| u.prompt_tokens),
        })
    }

    async fn moderate(&self, inputs: &[String]) -> Result<Vec<ModerationResult>, ProviderError> {
        if self.is_azure() {
            // Azure moderates through content filters on each call, not an endpoint.
            return Err(ProviderError::Unsupported {
                provider: self.kind,
                operation: "moderate",
            });
        }
        let body = ModerationBody {
            model: MODERATION_MODEL,
            input: inputs,
        };
        let response = send(
            self.kind,
            self.post(MODERATION_MODEL, MODERATIONS).json(&body),
        )
        .await?;
        let parsed: ModerationResponse = read_json(self.kind, response).await?;
        if parsed.results.len() != inputs.len() {
            return Err(ProviderError::malformed(
                self.kind,
                "moderation result count does not match input count",
            ));
        }
        Ok(parsed.results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_azure_deployment_stays_inside_its_path_segment() {
        let azure = crate::providers::azure::new(
            reqwest::Client::new(),
            Url::parse("https://res.openai.azure.test/").unwrap(),
            "2024-10-21",
            Secret::new("k"),
        );
        let cases = [
            (
                "prod-gpt4o",
                "/openai/deployments/prod-gpt4o/chat/completions",
            ),
            (
                "../../../../admin",
                "/openai/deployments/..%2F..%2F..%2F..%2Fadmin/chat/completions",
            ),
            (
                "x?api-version=1999-01-01&",
                "/openai/deployments/x%3Fapi-version=1999-01-01&/chat/completions",
            ),
            ("x#frag", "/openai/deployments/x%23frag/chat/completions"),
            ("..", "/openai/deployments/chat/completions"),
        ];
        for (model, path) in cases {
            let url = azure.url(model, CHAT);
            assert_eq!(url.path(), path, "{model}");
            assert_eq!(url.query(), Some("api-version=2024-10-21"), "{model}");
        }
    }

    #[test]
    fn openai_urls_append_to_the_base_path() {
        let openai = OpenAi::new(
            reqwest::Client::new(),
            Url::parse("https://api.openai.test/v1").unwrap(),
            Secret::new("k"),
        );
        assert_eq!(
            openai.url("ignored/../x", CHAT).as_str(),
            "https://api.openai.test/v1/chat/completions"
        );
    }
}
