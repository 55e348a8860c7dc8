//! Anthropic Messages API. Streaming is SSE with named events:
//! `message_start` (input usage) → `content_block_delta`* → `message_delta`
//! (cumulative output usage) → `message_stop`; `ping` may appear anywhere and
//! `error` ends the stream.

use async_trait::async_trait;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use reqwest::Url;

use super::http::{endpoint, parse_event, read_json, send, sse};
use super::{
    ChatRequest, Completion, EventStream, Message, Provider, ProviderError, StreamEvent, Usage,
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

    fn request(&self, request: &ChatRequest, stream: bool) -> reqwest::RequestBuilder {
        let messages: Vec<&Message> = request.conversation().collect();
        let body = MessagesBody {
            model: &request.model,
            max_tokens: request.max_tokens,
            system: request.system_prompt(),
            messages,
            temperature: request.temperature,
            stream,
        };
        self.http
            .post(endpoint(&self.base_url, &["v1", "messages"]))
            .header("x-api-key", self.api_key.expose())
            .header("anthropic-version", API_VERSION)
            .json(&body)
    }
}

#[derive(Serialize)]
struct MessagesBody<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<String>,
    messages: Vec<&'a Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
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
    ContentBlockStart {},
    ContentBlockDelta {
        delta: BlockDelta,
    },
    ContentBlockStop {},
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
struct BlockDelta {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: String,
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
        let response = send(KIND, self.request(request, false)).await?;
        let parsed: MessagesResponse = read_json(KIND, response).await?;
        let text = parsed
            .content
            .iter()
            .filter(|b| b.kind == "text")
            .map(|b| b.text.as_str())
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
            tool_calls: Vec::new(),
            usage,
        })
    }

    async fn stream(&self, request: &ChatRequest) -> Result<EventStream, ProviderError> {
        let response = send(KIND, self.request(request, true)).await?;
        let mut events = Box::pin(sse(KIND, response));
        Ok(Box::pin(async_stream::stream! {
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
                    WireEvent::ContentBlockDelta { delta } if delta.kind == "text_delta" && !delta.text.is_empty() => {
                        yield Ok(StreamEvent::Delta(delta.text))
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
