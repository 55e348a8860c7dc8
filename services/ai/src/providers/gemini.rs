//! Google Gemini API (generativelanguage): `models/{m}:generateContent`,
//! `:streamGenerateContent?alt=sse` (each SSE event is a whole
//! GenerateContentResponse; there is no `[DONE]`, the final chunk carries a
//! `finishReason` and the full `usageMetadata`) and `:batchEmbedContents`.
//!
//! Tools: `tools[].functionDeclarations` (the JSON Schema as
//! `parametersJsonSchema`, which takes it as given where `parameters` takes
//! only an OpenAPI subset), `toolConfig.functionCallingConfig` (`AUTO`,
//! `NONE`, `ANY`, `ANY` with `allowedFunctionNames` for a named function),
//! `functionCall` parts in model turns and `functionResponse` parts (answered
//! by name) in the user turn after them. Gemini sends each call whole, in one
//! part, and without an id: the adapter makes one up. Gemini 3 signs its calls
//! (`thoughtSignature`) and refuses a history whose calls lost their
//! signature; OpenAI's shapes have no place for it, so it travels in the
//! call's id (after [`SIGNATURE_MARK`]) and goes back on the `functionCall`
//! part. Gemini has no knob for parallel calls: `parallel_tool_calls` is not
//! sent, nor is `strict`.

use async_trait::async_trait;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use reqwest::Url;

use super::http::{endpoint, parse_event, read_json, send, sse};
use std::borrow::Cow;

use serde_json::{Value, json};

use super::{
    ChatRequest, Completion, EmbedRequest, Embeddings, EventStream, Provider, ProviderError, Role,
    StreamEvent, ToolCall, ToolChoice, Turn, Usage, new_call_id,
};
use crate::config::Secret;

pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";
const KIND: &str = "gemini";

/// Separates the id the gateway made up for a call from the call's thought
/// signature (neither hex nor base64 contains it).
pub const SIGNATURE_MARK: &str = "~sig~";

pub struct Gemini {
    http: reqwest::Client,
    base_url: Url,
    api_key: Secret,
}

impl Gemini {
    pub fn new(http: reqwest::Client, base_url: Url, api_key: Secret) -> Self {
        Gemini {
            http,
            base_url,
            api_key,
        }
    }

    /// `{base}/v1beta/models/{model}:{method}`, the model encoded as part of one segment.
    fn url(&self, model: &str, method: &str) -> Url {
        endpoint(
            &self.base_url,
            &["v1beta", "models", &format!("{model}:{method}")],
        )
    }

    fn post(&self, model: &str, method: &str) -> reqwest::RequestBuilder {
        // Key in a header, not the `key=` query parameter, so it never lands in URL logs.
        self.http
            .post(self.url(model, method))
            .header("x-goog-api-key", self.api_key.expose())
    }

    fn body(request: &ChatRequest) -> Result<GenerateBody<'_>, ProviderError> {
        let mut contents = Vec::new();
        for turn in request.turns() {
            contents.push(match turn {
                Turn::Message { index, message } => {
                    let mut parts = Vec::new();
                    if !message.content.is_empty() || message.tool_calls.is_empty() {
                        parts.push(Part::text(message.content.as_str()));
                    }
                    for (call, tool_call) in message.tool_calls.iter().enumerate() {
                        let signature = tool_call
                            .id
                            .split_once(SIGNATURE_MARK)
                            .map(|(_, signature)| signature);
                        parts.push(Part {
                            function_call: Some(FunctionCallOut {
                                name: &tool_call.name,
                                args: request.call_input(KIND, index, call)?,
                            }),
                            thought_signature: signature,
                            ..Part::default()
                        });
                    }
                    let role = if message.role == Role::Assistant {
                        "model"
                    } else {
                        "user"
                    };
                    Content {
                        role: Some(role),
                        parts,
                    }
                }
                Turn::ToolResults(results) => {
                    let mut parts = Vec::new();
                    for (index, result) in results {
                        let id = result.tool_call_id.as_deref().unwrap_or_default();
                        let name = request.called_function(id).ok_or_else(|| {
                            request.inexpressible(
                                KIND,
                                format!("messages[{index}].tool_call_id"),
                                format!("`{id}` is the id of no earlier assistant tool call; Gemini answers a call by its function's name"),
                            )
                        })?;
                        parts.push(Part {
                            function_response: Some(FunctionResponseOut {
                                name,
                                response: function_response(&result.content),
                            }),
                            ..Part::default()
                        });
                    }
                    Content {
                        role: Some("user"),
                        parts,
                    }
                }
            });
        }
        let declarations: Vec<FunctionDeclaration<'_>> = request
            .tools
            .iter()
            .map(|tool| FunctionDeclaration {
                name: &tool.name,
                description: tool.description.as_deref(),
                parameters_json_schema: tool.parameters.as_ref(),
            })
            .collect();
        Ok(GenerateBody {
            contents,
            system_instruction: request.system_prompt().map(|text| Content {
                role: None,
                parts: vec![Part::text(text)],
            }),
            generation_config: GenerationConfig {
                max_output_tokens: request.max_tokens,
                temperature: request.temperature,
            },
            tools: (!declarations.is_empty()).then(|| {
                vec![WireTools {
                    function_declarations: declarations,
                }]
            }),
            tool_config: request
                .tool_choice
                .as_ref()
                .filter(|_| !request.tools.is_empty())
                .map(|choice| ToolConfig {
                    function_calling_config: function_calling_config(choice),
                }),
        })
    }
}

/// OpenAI's `required` is `ANY`; a named function is `ANY` limited to it.
fn function_calling_config(choice: &ToolChoice) -> FunctionCallingConfig<'_> {
    let (mode, allowed_function_names) = match choice {
        ToolChoice::Auto => ("AUTO", None),
        ToolChoice::None => ("NONE", None),
        ToolChoice::Required => ("ANY", None),
        ToolChoice::Function(name) => ("ANY", Some(vec![name.as_str()])),
    };
    FunctionCallingConfig {
        mode,
        allowed_function_names,
    }
}

/// A tool's result as `functionResponse.response`, which must be an object:
/// a JSON object is passed as it is, anything else as its `output`.
fn function_response(content: &str) -> Value {
    match serde_json::from_str::<Value>(content) {
        Ok(object @ Value::Object(_)) => object,
        Ok(other) => json!({ "output": other }),
        Err(_) => json!({ "output": content }),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerateBody<'a> {
    contents: Vec<Content<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<Content<'a>>,
    generation_config: GenerationConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<WireTools<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_config: Option<ToolConfig<'a>>,
}

#[derive(Serialize)]
struct Content<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    parts: Vec<Part<'a>>,
}

/// One of `text`, `functionCall` or `functionResponse`.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Part<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_call: Option<FunctionCallOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_response: Option<FunctionResponseOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thought_signature: Option<&'a str>,
}

impl<'a> Part<'a> {
    fn text(text: impl Into<Cow<'a, str>>) -> Self {
        Part {
            text: Some(text.into()),
            ..Part::default()
        }
    }
}

#[derive(Serialize)]
struct FunctionCallOut<'a> {
    name: &'a str,
    args: Value,
}

#[derive(Serialize)]
struct FunctionResponseOut<'a> {
    name: &'a str,
    response: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireTools<'a> {
    function_declarations: Vec<FunctionDeclaration<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FunctionDeclaration<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters_json_schema: Option<&'a Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolConfig<'a> {
    function_calling_config: FunctionCallingConfig<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FunctionCallingConfig<'a> {
    mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_function_names: Option<Vec<&'a str>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    max_output_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateResponse {
    #[serde(default)]
    candidates: Vec<Candidate>,
    usage_metadata: Option<UsageMetadata>,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    content: Option<CandidateContent>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct CandidateContent {
    #[serde(default)]
    parts: Vec<ResponsePart>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResponsePart {
    text: Option<String>,
    function_call: Option<FunctionCallIn>,
    thought_signature: Option<String>,
}

#[derive(Deserialize)]
struct FunctionCallIn {
    id: Option<String>,
    name: String,
    args: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    prompt_token_count: Option<u64>,
    candidates_token_count: Option<u64>,
}

impl GenerateResponse {
    fn text(&self) -> String {
        self.candidates
            .iter()
            .take(1)
            .flat_map(|c| c.content.iter().flat_map(|content| content.parts.iter()))
            .filter_map(|p| p.text.as_deref())
            .collect()
    }

    /// The calls of the first candidate, with ids (Gemini's own, if it sent
    /// one) carrying their thought signatures.
    fn tool_calls(&self) -> Vec<ToolCall> {
        self.candidates
            .iter()
            .take(1)
            .flat_map(|c| c.content.iter().flat_map(|content| content.parts.iter()))
            .filter_map(|part| {
                let call = part.function_call.as_ref()?;
                let mut id = call.id.clone().unwrap_or_else(new_call_id);
                if let Some(signature) = &part.thought_signature {
                    id = format!("{id}{SIGNATURE_MARK}{signature}");
                }
                Some(ToolCall {
                    id,
                    name: call.name.clone(),
                    arguments: call.args.clone().unwrap_or_else(|| json!({})).to_string(),
                })
            })
            .collect()
    }

    fn finished(&self) -> bool {
        self.candidates.iter().any(|c| c.finish_reason.is_some())
    }
}

#[derive(Serialize)]
struct BatchEmbedBody<'a> {
    requests: Vec<EmbedContentRequest<'a>>,
}

#[derive(Serialize)]
struct EmbedContentRequest<'a> {
    model: String,
    content: Content<'a>,
}

#[derive(Deserialize)]
struct BatchEmbedResponse {
    embeddings: Vec<EmbeddingValues>,
}

#[derive(Deserialize)]
struct EmbeddingValues {
    values: Vec<f32>,
}

#[async_trait]
impl Provider for Gemini {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn generate(&self, request: &ChatRequest) -> Result<Completion, ProviderError> {
        let response = send(
            KIND,
            self.post(&request.model, "generateContent")
                .json(&Self::body(request)?),
        )
        .await?;
        let parsed: GenerateResponse = read_json(KIND, response).await?;
        if parsed.candidates.is_empty() && parsed.usage_metadata.is_none() {
            return Err(ProviderError::malformed(
                KIND,
                "response has neither candidates nor usageMetadata",
            ));
        }
        let usage = parsed.usage_metadata.as_ref().map(|u| Usage {
            input_tokens: u.prompt_token_count.unwrap_or(0),
            output_tokens: u.candidates_token_count.unwrap_or(0),
        });
        Ok(Completion {
            text: parsed.text(),
            tool_calls: parsed.tool_calls(),
            usage,
        })
    }

    async fn stream(&self, request: &ChatRequest) -> Result<EventStream, ProviderError> {
        let builder = self
            .post(&request.model, "streamGenerateContent")
            .query(&[("alt", "sse")]);
        let response = send(KIND, builder.json(&Self::body(request)?)).await?;
        let mut events = Box::pin(sse(KIND, response));
        Ok(Box::pin(async_stream::stream! {
            let mut finished = false;
            let mut calls = 0;
            while let Some(event) = events.next().await {
                let event = match event {
                    Ok(event) => event,
                    Err(err) => { yield Err(err); return; }
                };
                let chunk: GenerateResponse = match parse_event(KIND, &event.data) {
                    Ok(chunk) => chunk,
                    Err(err) => { yield Err(err); return; }
                };
                if chunk.error.is_some() {
                    yield Err(ProviderError::Stream { provider: KIND, detail: "error event".into() });
                    return;
                }
                let text = chunk.text();
                if !text.is_empty() {
                    yield Ok(StreamEvent::Delta(text));
                }
                // Each call comes whole in one part: one delta carries all of it.
                for call in chunk.tool_calls() {
                    yield Ok(StreamEvent::ToolCallDelta {
                        index: calls, id: Some(call.id), name: Some(call.name), arguments: call.arguments,
                    });
                    calls += 1;
                }
                if let Some(usage) = &chunk.usage_metadata {
                    yield Ok(StreamEvent::Usage {
                        input_tokens: usage.prompt_token_count,
                        output_tokens: usage.candidates_token_count,
                    });
                }
                finished |= chunk.finished();
            }
            // Gemini has no end sentinel: a clean end after a finishReason is complete,
            // anything else is a truncation the gateway reports.
            if finished {
                yield Ok(StreamEvent::Finished);
            }
        }))
    }

    async fn embed(&self, request: &EmbedRequest) -> Result<Embeddings, ProviderError> {
        let body = BatchEmbedBody {
            requests: request
                .inputs
                .iter()
                .map(|text| EmbedContentRequest {
                    model: format!("models/{}", request.model),
                    content: Content {
                        role: None,
                        parts: vec![Part::text(text.as_str())],
                    },
                })
                .collect(),
        };
        let response = send(
            KIND,
            self.post(&request.model, "batchEmbedContents").json(&body),
        )
        .await?;
        let parsed: BatchEmbedResponse = read_json(KIND, response).await?;
        if parsed.embeddings.len() != request.inputs.len() {
            return Err(ProviderError::malformed(
                KIND,
                "embedding count does not match input count",
            ));
        }
        // Gemini reports no token usage for embeddings; the gateway estimates.
        Ok(Embeddings {
            vectors: parsed.embeddings.into_iter().map(|e| e.values).collect(),
            input_tokens: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gemini(base: &str) -> Gemini {
        Gemini::new(
            reqwest::Client::new(),
            Url::parse(base).unwrap(),
            Secret::new("k"),
        )
    }

    #[test]
    fn the_model_stays_inside_its_path_segment() {
        let g = gemini("http://gemini.test/");
        let cases = [
            (
                "gemini-2.5-flash",
                "/v1beta/models/gemini-2.5-flash:generateContent",
            ),
            (
                "../../../admin",
                "/v1beta/models/..%2F..%2F..%2Fadmin:generateContent",
            ),
            ("x#frag", "/v1beta/models/x%23frag:generateContent"),
            ("a%2fb", "/v1beta/models/a%252fb:generateContent"),
            ("x?key=1&", "/v1beta/models/x%3Fkey=1&:generateContent"),
            ("a b\\c", "/v1beta/models/a%20b%5Cc:generateContent"),
        ];
        for (model, path) in cases {
            let url = g.url(model, "generateContent");
            assert_eq!((url.path(), url.query()), (path, None), "{model}");
            assert_eq!(url.host_str(), Some("gemini.test"));
        }
        // A base URL with a path keeps it.
        let g = gemini("http://proxy.test/google");
        assert_eq!(
            g.url("m", "embedContent").path(),
            "/google/v1beta/models/m:embedContent"
        );
    }

    #[test]
    fn tool_choices_map_to_function_calling_modes() {
        let cases = [
            (ToolChoice::Auto, json!({ "mode": "AUTO" })),
            (ToolChoice::None, json!({ "mode": "NONE" })),
            (ToolChoice::Required, json!({ "mode": "ANY" })),
            (
                ToolChoice::Function("get_weather".into()),
                json!({ "mode": "ANY", "allowedFunctionNames": ["get_weather"] }),
            ),
        ];
        for (choice, expected) in cases {
            let config = serde_json::to_value(function_calling_config(&choice)).unwrap();
            assert_eq!(config, expected, "{choice:?}");
        }
    }

    #[test]
    fn tool_results_become_response_objects() {
        let cases = [
            (r#"{"temp_c": 18}"#, json!({ "temp_c": 18 })),
            ("18", json!({ "output": 18 })),
            ("[1, 2]", json!({ "output": [1, 2] })),
            (
                "sunny, 18 degrees",
                json!({ "output": "sunny, 18 degrees" }),
            ),
            ("", json!({ "output": "" })),
        ];
        for (content, expected) in cases {
            assert_eq!(function_response(content), expected, "{content}");
        }
    }

    fn call_request(calls: Vec<ToolCall>, answered: &str) -> ChatRequest {
        let result = super::super::Message {
            tool_call_id: Some(answered.into()),
            ..super::super::Message::text(Role::Tool, "ok")
        };
        ChatRequest {
            model: "gemini-3-pro-preview".into(),
            messages: vec![
                super::super::Message::text(Role::User, "Weather?"),
                super::super::Message {
                    tool_calls: calls,
                    ..super::super::Message::text(Role::Assistant, "Checking.")
                },
                result,
            ],
            max_tokens: 64,
            temperature: None,
            tools: Vec::new(),
            tool_choice: None,
            parallel_tool_calls: None,
        }
    }

    #[test]
    fn signatures_go_back_on_the_calls_that_carried_them() {
        let call = |id: &str| ToolCall {
            id: id.into(),
            name: "get_weather".into(),
            arguments: String::new(),
        };
        let request = call_request(vec![call("call_1~sig~c2ln"), call("call_2")], "call_2");
        let sent = serde_json::to_value(Gemini::body(&request).unwrap()).unwrap();
        assert_eq!(
            sent["contents"][1],
            json!({ "role": "model", "parts": [
                { "text": "Checking." },
                { "functionCall": { "name": "get_weather", "args": {} }, "thoughtSignature": "c2ln" },
                { "functionCall": { "name": "get_weather", "args": {} } }
            ] })
        );
        assert_eq!(
            sent["contents"][2],
            json!({ "role": "user", "parts": [
                { "functionResponse": { "name": "get_weather", "response": { "output": "ok" } } }
            ] })
        );
        assert_eq!(sent.get("tools"), None);
        assert_eq!(sent.get("toolConfig"), None);
    }

    #[test]
    fn a_result_for_no_known_call_is_a_400_naming_it() {
        let request = call_request(Vec::new(), "call_unknown");
        let err = Gemini::body(&request).err().expect("refused");
        assert_eq!(err.field(), Some("messages[2].tool_call_id"));
        assert!(err.to_string().contains("gemini-3-pro-preview"), "{err}");
    }

    #[test]
    fn function_call_parts_become_calls_with_ids() {
        let parsed: GenerateResponse = serde_json::from_value(json!({ "candidates": [{ "content": {
            "role": "model",
            "parts": [
                { "functionCall": { "name": "get_weather", "args": { "city": "Paris" } }, "thoughtSignature": "c2ln" },
                { "functionCall": { "name": "get_time" } },
                { "functionCall": { "id": "given-1", "name": "get_time", "args": {} } }
            ] }, "finishReason": "STOP" }] }))
        .unwrap();
        let calls = parsed.tool_calls();
        let summary: Vec<(&str, &str)> = calls
            .iter()
            .map(|c| (c.name.as_str(), c.arguments.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("get_weather", r#"{"city":"Paris"}"#),
                ("get_time", "{}"),
                ("get_time", "{}")
            ]
        );
        let (made_up, signature) = calls[0].id.split_once(SIGNATURE_MARK).unwrap();
        assert_eq!(signature, "c2ln");
        assert!(made_up.starts_with("call_") && calls[1].id.starts_with("call_"));
        assert_ne!(made_up, calls[1].id);
        assert_eq!(calls[2].id, "given-1", "Gemini's own id is kept");
    }
}
