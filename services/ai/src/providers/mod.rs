//! Provider adapters. Each file speaks one provider's real wire format and
//! turns it into the gateway's neutral types below; nothing outside this module
//! knows a provider's JSON.
//!
//! Invariant: a provider returns from `stream` only after the upstream answered
//! with a success status, so retries and fallback happen before the first byte
//! reaches our client. A stream is complete only when it yields
//! [`StreamEvent::Finished`]; ending without it is a truncation.

pub mod anthropic;
pub mod azure;
pub mod bedrock;
pub mod echo;
pub mod error;
pub mod gemini;
pub mod http;
pub mod openai;

use std::collections::BTreeMap;
use std::pin::Pin;

use async_trait::async_trait;
use futures::Stream;
use serde::{Deserialize, Serialize};

pub use error::ProviderError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    /// A tool's result, answering an assistant's tool call; only the
    /// OpenAI-compatible route builds these.
    #[serde(skip)]
    Tool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
    /// The calls an assistant turn made (empty for plain text turns).
    #[serde(skip)]
    pub tool_calls: Vec<ToolCall>,
    /// For a `Tool` message: the call it answers.
    #[serde(skip)]
    pub tool_call_id: Option<String>,
}

impl Message {
    pub fn text(role: Role, content: impl Into<String>) -> Message {
        Message {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
}

/// A function the model may call; `parameters` is a JSON Schema, passed as given.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    pub parameters: Option<serde_json::Value>,
    pub strict: Option<bool>,
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    Auto,
    None,
    Required,
    Function(String),
}

/// A call the model asked for; `arguments` is the JSON text the model wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// Whether the provider of this kind passes tools and tool turns through
/// (each adapter translates them to its API's own shapes). The chat pipeline
/// refuses a tool request with a 400 for any other kind (the echo provider).
pub fn supports_tools(kind: &str) -> bool {
    matches!(
        kind,
        "openai" | "azure" | "anthropic" | "gemini" | "bedrock"
    )
}

/// A turn of the conversation as providers with typed content blocks see it.
/// OpenAI sends each tool result as a message of its own; Anthropic, Gemini
/// and Bedrock want the results answering one assistant turn together, in
/// the user turn that follows it.
#[derive(Debug, PartialEq)]
pub enum Turn<'a> {
    /// A user message, or an assistant message with its calls (if any);
    /// `index` is its position in [`ChatRequest::messages`] (the client's).
    Message { index: usize, message: &'a Message },
    /// A run of consecutive `tool` messages, with their indexes.
    ToolResults(Vec<(usize, &'a Message)>),
}

/// A chat request as the gateway hands it to a provider: redacted already,
/// with the provider's own model id.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: Option<bool>,
}

impl ChatRequest {
    /// Whether anything in the request needs a provider that supports tools.
    pub fn uses_tools(&self) -> bool {
        !self.tools.is_empty()
            || self.tool_choice.is_some()
            || self
                .messages
                .iter()
                .any(|m| m.role == Role::Tool || !m.tool_calls.is_empty())
    }

    /// System messages joined, for providers that take the system prompt apart.
    pub fn system_prompt(&self) -> Option<String> {
        let parts: Vec<&str> = self
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        (!parts.is_empty()).then(|| parts.join("\n\n"))
    }

    pub fn conversation(&self) -> impl Iterator<Item = &Message> {
        self.messages.iter().filter(|m| m.role != Role::System)
    }

    /// The conversation (system messages left out) with runs of tool results grouped.
    pub fn turns(&self) -> Vec<Turn<'_>> {
        let mut turns: Vec<Turn<'_>> = Vec::new();
        for (index, message) in self.messages.iter().enumerate() {
            match (message.role, turns.last_mut()) {
                (Role::System, _) => {}
                (Role::Tool, Some(Turn::ToolResults(results))) => results.push((index, message)),
                (Role::Tool, _) => turns.push(Turn::ToolResults(vec![(index, message)])),
                _ => turns.push(Turn::Message { index, message }),
            }
        }
        turns
    }

    /// The arguments of call `call` of message `index` as the JSON object
    /// Anthropic, Gemini and Bedrock take (OpenAI carries them as text; an
    /// empty text is a call without arguments).
    pub fn call_input(
        &self,
        provider: &'static str,
        index: usize,
        call: usize,
    ) -> Result<serde_json::Value, ProviderError> {
        let arguments = self.messages[index].tool_calls[call].arguments.trim();
        if arguments.is_empty() {
            return Ok(serde_json::Value::Object(Default::default()));
        }
        match serde_json::from_str::<serde_json::Value>(arguments) {
            Ok(value) if value.is_object() => Ok(value),
            _ => Err(self.inexpressible(
                provider,
                format!("messages[{index}].tool_calls[{call}].function.arguments"),
                "must be a JSON object: the provider takes a call's arguments as an object, not as text",
            )),
        }
    }

    /// The name of the function the call `tool_call_id` invoked (Gemini
    /// answers calls by name): the latest assistant call with that id.
    pub fn called_function(&self, tool_call_id: &str) -> Option<&str> {
        self.messages
            .iter()
            .rev()
            .flat_map(|m| m.tool_calls.iter())
            .find(|c| c.id == tool_call_id)
            .map(|c| c.name.as_str())
    }

    /// The 400 for a field of this request that `provider`'s API cannot express.
    pub fn inexpressible(
        &self,
        provider: &'static str,
        field: impl Into<String>,
        detail: impl Into<String>,
    ) -> ProviderError {
        ProviderError::Inexpressible {
            provider,
            model: self.model.clone(),
            field: field.into(),
            detail: detail.into(),
        }
    }
}

/// Ids for calls whose provider gives none (Gemini): unique, so that
/// clients keying results by id never mix two calls up.
pub fn new_call_id() -> String {
    format!("call_{}", uuid::Uuid::new_v4().simple())
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

#[derive(Debug, Clone)]
pub struct Completion {
    pub text: String,
    /// The calls the model asked for instead of (or besides) text.
    pub tool_calls: Vec<ToolCall>,
    /// None when the provider did not report usage; the caller estimates.
    pub usage: Option<Usage>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Delta(String),
    /// A piece of tool call `index`: the id and name come with its first piece,
    /// the arguments' JSON text arrives in fragments.
    ToolCallDelta {
        index: u32,
        id: Option<String>,
        name: Option<String>,
        arguments: String,
    },
    /// Usage so far; later events replace earlier ones field by field.
    Usage {
        input_tokens: Option<u64>,
        output_tokens: Option<u64>,
    },
    /// The provider's own end-of-stream marker arrived.
    Finished,
}

/// Calls streamed as content blocks (Anthropic, Bedrock): a block starts
/// with the call's id and name, its input JSON follows in fragments. Tracks
/// which call (counted from 0, as OpenAI counts them) each block index is and
/// whether any input arrived for it.
#[derive(Default)]
pub struct StreamedCalls {
    by_block: std::collections::HashMap<u32, (u32, bool)>,
}

impl StreamedCalls {
    pub fn start(&mut self, block: u32, id: String, name: String) -> StreamEvent {
        let index = self.by_block.len() as u32;
        self.by_block.insert(block, (index, false));
        StreamEvent::ToolCallDelta {
            index,
            id: Some(id),
            name: Some(name),
            arguments: String::new(),
        }
    }

    /// A fragment of block `block`'s input; `None` for blocks that are not calls.
    pub fn input(&mut self, block: u32, fragment: String) -> Option<StreamEvent> {
        let (index, any_input) = self.by_block.get_mut(&block)?;
        if fragment.is_empty() {
            return None;
        }
        *any_input = true;
        Some(StreamEvent::ToolCallDelta {
            index: *index,
            id: None,
            name: None,
            arguments: fragment,
        })
    }

    /// A call whose block ended without input takes none: its arguments are
    /// `{}`, which clients parse, where an empty text would not.
    pub fn stop(&mut self, block: u32) -> Option<StreamEvent> {
        match self.by_block.get(&block) {
            Some(&(index, false)) => Some(StreamEvent::ToolCallDelta {
                index,
                id: None,
                name: None,
                arguments: "{}".into(),
            }),
            _ => None,
        }
    }
}

pub type EventStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, ProviderError>> + Send>>;

#[derive(Debug, Clone)]
pub struct EmbedRequest {
    pub model: String,
    pub inputs: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    pub input_tokens: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModerationResult {
    pub flagged: bool,
    pub categories: BTreeMap<String, bool>,
}

#[async_trait]
pub trait Provider: Send + Sync {
    /// The provider's kind, e.g. `openai`; used in responses and metrics.
    fn kind(&self) -> &'static str;

    async fn generate(&self, request: &ChatRequest) -> Result<Completion, ProviderError>;

    async fn stream(&self, request: &ChatRequest) -> Result<EventStream, ProviderError>;

    async fn embed(&self, _request: &EmbedRequest) -> Result<Embeddings, ProviderError> {
        Err(ProviderError::Unsupported {
            provider: self.kind(),
            operation: "embed",
        })
    }

    async fn moderate(&self, _inputs: &[String]) -> Result<Vec<ModerationResult>, ProviderError> {
        Err(ProviderError::Unsupported {
            provider: self.kind(),
            operation: "moderate",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn call(id: &str, name: &str, arguments: &str) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }

    fn assistant_calling(calls: Vec<ToolCall>) -> Message {
        Message {
            tool_calls: calls,
            ..Message::text(Role::Assistant, "")
        }
    }

    fn result(id: &str, content: &str) -> Message {
        Message {
            tool_call_id: Some(id.into()),
            ..Message::text(Role::Tool, content)
        }
    }

    fn request(messages: Vec<Message>) -> ChatRequest {
        ChatRequest {
            model: "m-1".into(),
            messages,
            max_tokens: 16,
            temperature: None,
            tools: Vec::new(),
            tool_choice: None,
            parallel_tool_calls: None,
        }
    }

    #[test]
    fn turns_group_runs_of_tool_results_and_drop_system_messages() {
        let request = request(vec![
            Message::text(Role::System, "Be brief."),
            Message::text(Role::User, "Weather in Paris and Rome?"),
            assistant_calling(vec![
                call("a", "get_weather", "{}"),
                call("b", "get_weather", "{}"),
            ]),
            result("a", "18"),
            result("b", "21"),
            Message::text(Role::User, "And Oslo?"),
            result("c", "late"),
        ]);
        let shape: Vec<Vec<usize>> = request
            .turns()
            .iter()
            .map(|turn| match turn {
                Turn::Message { index, .. } => vec![*index],
                Turn::ToolResults(results) => results.iter().map(|(i, _)| *i).collect(),
            })
            .collect();
        assert_eq!(shape, [vec![1], vec![2], vec![3, 4], vec![5], vec![6]]);
        assert!(matches!(request.turns()[2], Turn::ToolResults(_)));
    }

    #[test]
    fn call_arguments_become_an_object_or_a_400_naming_them() {
        let cases = [
            (
                r#"{"city":"Paris"}"#,
                Ok(serde_json::json!({ "city": "Paris" })),
            ),
            ("", Ok(serde_json::json!({}))),
            ("  ", Ok(serde_json::json!({}))),
            ("[1]", Err(())),
            (r#""Paris""#, Err(())),
            (r#"{"city":"#, Err(())),
        ];
        for (arguments, expected) in cases {
            let request = request(vec![
                Message::text(Role::User, "hi"),
                assistant_calling(vec![call("x", "f", "{}"), call("y", "f", arguments)]),
            ]);
            match (request.call_input("anthropic", 1, 1), expected) {
                (Ok(value), Ok(expected)) => assert_eq!(value, expected, "{arguments}"),
                (Err(err), Err(())) => {
                    assert_eq!(
                        err.field(),
                        Some("messages[1].tool_calls[1].function.arguments")
                    );
                    assert_eq!(err.client_status(), StatusCode::BAD_REQUEST);
                    let message = err.to_string();
                    assert!(
                        message.contains("`anthropic`") && message.contains("`m-1`"),
                        "{message}"
                    );
                }
                (got, expected) => panic!("{arguments}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn a_result_is_answered_by_the_latest_call_with_its_id() {
        let request = request(vec![
            assistant_calling(vec![call("a", "first", "{}")]),
            assistant_calling(vec![call("b", "second", "{}"), call("a", "again", "{}")]),
        ]);
        assert_eq!(request.called_function("a"), Some("again"));
        assert_eq!(request.called_function("b"), Some("second"));
        assert_eq!(request.called_function("z"), None);
    }

    #[test]
    fn streamed_calls_are_counted_from_zero_whatever_their_block() {
        let mut calls = StreamedCalls::default();
        // Block 0 is text (never started as a call), blocks 1 and 2 are calls.
        assert_eq!(calls.input(0, "ignored".into()), None);
        let delta = |index, id: Option<&str>, name: Option<&str>, arguments: &str| {
            StreamEvent::ToolCallDelta {
                index,
                id: id.map(Into::into),
                name: name.map(Into::into),
                arguments: arguments.into(),
            }
        };
        assert_eq!(
            calls.start(1, "t1".into(), "f".into()),
            delta(0, Some("t1"), Some("f"), "")
        );
        assert_eq!(calls.input(1, String::new()), None);
        assert_eq!(
            calls.input(1, "{\"a\":".into()),
            Some(delta(0, None, None, "{\"a\":"))
        );
        assert_eq!(calls.stop(1), None, "input arrived");
        assert_eq!(
            calls.start(2, "t2".into(), "g".into()),
            delta(1, Some("t2"), Some("g"), "")
        );
        assert_eq!(
            calls.stop(2),
            Some(delta(1, None, None, "{}")),
            "a call without input takes none"
        );
        assert_eq!(calls.stop(0), None);
    }
}
