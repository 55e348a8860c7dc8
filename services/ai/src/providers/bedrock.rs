//! Amazon Bedrock through the AWS SDK (SigV4, event-stream decoding):
//! Converse, ConverseStream and, for embeddings, InvokeModel with the Titan
//! text-embeddings body. The SDK's own retries are off (see `aws.rs`): the gateway retries.
//!
//! Tools: `toolConfig` (`toolSpec` with the JSON Schema as `inputSchema.json`,
//! `strict`; `toolChoice` `auto`, `any` or a named `tool`), `toolUse` blocks
//! in assistant turns and `toolResult` blocks in the user turn after them.
//! Streamed calls are a `contentBlockStart.toolUse` (id, name) and
//! `contentBlockDelta.toolUse.input` fragments. Converse has no `none` tool
//! choice (and wants `toolConfig` whenever the history holds tool blocks), so
//! `tool_choice: "none"` is refused with a 400; it has no parallel-calls knob,
//! so `parallel_tool_calls` is not sent. Converse wants user and assistant
//! turns to alternate: consecutive messages of one role go as one turn.

use async_trait::async_trait;
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::types::{
    AnyToolChoice, AutoToolChoice, ContentBlock, ContentBlockDelta, ContentBlockStart,
    ConversationRole, ConverseOutput, ConverseStreamOutput, InferenceConfiguration,
    Message as BedrockMessage, SpecificToolChoice, SystemContentBlock, Tool as BedrockTool,
    ToolChoice as BedrockToolChoice, ToolConfiguration, ToolInputSchema, ToolResultBlock,
    ToolResultContentBlock, ToolSpecification, ToolUseBlock,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::{Blob, Document, Number};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ChatRequest, Completion, EmbedRequest, Embeddings, EventStream, Provider, ProviderError, Role,
    StreamEvent, StreamedCalls, ToolCall, ToolChoice, Turn, Usage,
};
use crate::config::AwsEnv;

const KIND: &str = "bedrock";

pub struct Bedrock {
    client: Client,
}

impl Bedrock {
    pub async fn new(aws: &AwsEnv) -> Self {
        Bedrock {
            client: Client::new(&crate::aws::sdk_config(aws).await),
        }
    }

    fn messages(request: &ChatRequest) -> Result<Vec<BedrockMessage>, ProviderError> {
        let built = |e| ProviderError::malformed(KIND, e);
        let mut turns: Vec<(ConversationRole, Vec<ContentBlock>)> = Vec::new();
        for turn in request.turns() {
            let (role, mut blocks) = match turn {
                Turn::Message { index, message } => {
                    let mut blocks = Vec::new();
                    if !message.content.is_empty() || message.tool_calls.is_empty() {
                        blocks.push(ContentBlock::Text(message.content.clone()));
                    }
                    for (call, tool_call) in message.tool_calls.iter().enumerate() {
                        let input = request.call_input(KIND, index, call)?;
                        let block = ToolUseBlock::builder()
                            .tool_use_id(&tool_call.id)
                            .name(&tool_call.name)
                            .input(document(&input))
                            .build()
                            .map_err(built)?;
                        blocks.push(ContentBlock::ToolUse(block));
                    }
                    let role = if message.role == Role::Assistant {
                        ConversationRole::Assistant
                    } else {
                        ConversationRole::User
                    };
                    (role, blocks)
                }
                Turn::ToolResults(results) => {
                    let mut blocks = Vec::new();
                    for (_, result) in results {
                        let block = ToolResultBlock::builder()
                            .tool_use_id(result.tool_call_id.as_deref().unwrap_or_default())
                            .content(ToolResultContentBlock::Text(result.content.clone()))
                            .build()
                            .map_err(built)?;
                        blocks.push(ContentBlock::ToolResult(block));
                    }
                    (ConversationRole::User, blocks)
                }
            };
            match turns.last_mut() {
                Some((last, content)) if *last == role => content.append(&mut blocks),
                _ => turns.push((role, blocks)),
            }
        }
        turns
            .into_iter()
            .map(|(role, content)| {
                BedrockMessage::builder()
                    .role(role)
                    .set_content(Some(content))
                    .build()
                    .map_err(built)
            })
            .collect()
    }

    fn tool_config(request: &ChatRequest) -> Result<Option<ToolConfiguration>, ProviderError> {
        if request.tools.is_empty() {
            return Ok(None);
        }
        let built = |e| ProviderError::malformed(KIND, e);
        let choice = match &request.tool_choice {
            None => None,
            Some(ToolChoice::Auto) => {
                Some(BedrockToolChoice::Auto(AutoToolChoice::builder().build()))
            }
            Some(ToolChoice::Required) => {
                Some(BedrockToolChoice::Any(AnyToolChoice::builder().build()))
            }
            Some(ToolChoice::Function(name)) => Some(BedrockToolChoice::Tool(
                SpecificToolChoice::builder()
                    .name(name)
                    .build()
                    .map_err(built)?,
            )),
            Some(ToolChoice::None) => {
                return Err(request.inexpressible(
                    KIND,
                    "tool_choice",
                    "`none` cannot be expressed: the Converse API's toolChoice is auto, any or a named tool; send no tools instead",
                ));
            }
        };
        let mut tools = Vec::new();
        for tool in &request.tools {
            let schema = tool
                .parameters
                .clone()
                .unwrap_or_else(|| json!({ "type": "object", "properties": {} }));
            let spec = ToolSpecification::builder()
                .name(&tool.name)
                .set_description(tool.description.clone())
                .input_schema(ToolInputSchema::Json(document(&schema)))
                .set_strict(tool.strict)
                .build()
                .map_err(built)?;
            tools.push(BedrockTool::ToolSpec(spec));
        }
        ToolConfiguration::builder()
            .set_tools(Some(tools))
            .set_tool_choice(choice)
            .build()
            .map(Some)
            .map_err(built)
    }

    fn inference_config(request: &ChatRequest) -> InferenceConfiguration {
        InferenceConfiguration::builder()
            .max_tokens(i32::try_from(request.max_tokens).unwrap_or(i32::MAX))
            .set_temperature(request.temperature)
            .build()
    }
}

/// JSON as the SDK's `Document` (tool schemas, call inputs).
fn document(value: &Value) -> Document {
    match value {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Number::PosInt(u),
            (None, Some(i)) => Number::NegInt(i),
            _ => Number::Float(n.as_f64().unwrap_or_default()),
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(items) => Document::Array(items.iter().map(document).collect()),
        Value::Object(fields) => Document::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), document(v)))
                .collect(),
        ),
    }
}

/// The SDK's `Document` as JSON (a call's input becomes its arguments text).
fn json_value(document: &Document) -> Value {
    match document {
        Document::Null => Value::Null,
        Document::Bool(b) => Value::Bool(*b),
        Document::Number(Number::PosInt(u)) => json!(u),
        Document::Number(Number::NegInt(i)) => json!(i),
        Document::Number(Number::Float(f)) => json!(f),
        Document::String(s) => Value::String(s.clone()),
        Document::Array(items) => Value::Array(items.iter().map(json_value).collect()),
        Document::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), json_value(v)))
                .collect(),
        ),
    }
}

fn tool_call(block: &ToolUseBlock) -> ToolCall {
    ToolCall {
        id: block.tool_use_id.clone(),
        name: block.name.clone(),
        arguments: json_value(&block.input).to_string(),
    }
}

/// ConverseStream numbers content blocks with an i32.
fn block_index(index: i32) -> u32 {
    u32::try_from(index).unwrap_or_default()
}

fn sdk_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    err: SdkError<E, HttpResponse>,
) -> ProviderError {
    match err {
        SdkError::TimeoutError(_) => ProviderError::Timeout { provider: KIND },
        SdkError::DispatchFailure(failure) if failure.is_timeout() => {
            ProviderError::Timeout { provider: KIND }
        }
        SdkError::DispatchFailure(_) => ProviderError::Connect {
            provider: KIND,
            detail: "dispatch failure".into(),
        },
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let code = context.err().code().unwrap_or("error").to_string();
            if code == "ServiceQuotaExceededException" {
                return ProviderError::BudgetExhausted {
                    provider: KIND,
                    status,
                };
            }
            ProviderError::Status {
                provider: KIND,
                status,
                retry_after: None,
                detail: code,
            }
        }
        SdkError::ResponseError(_) => {
            ProviderError::malformed(KIND, "response could not be parsed")
        }
        other => ProviderError::Connect {
            provider: KIND,
            detail: other.to_string(),
        },
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TitanEmbedding {
    embedding: Vec<f32>,
    input_text_token_count: Option<u64>,
}

#[async_trait]
impl Provider for Bedrock {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn generate(&self, request: &ChatRequest) -> Result<Completion, ProviderError> {
        let mut call = self
            .client
            .converse()
            .model_id(&request.model)
            .set_messages(Some(Self::messages(request)?))
            .set_tool_config(Self::tool_config(request)?)
            .inference_config(Self::inference_config(request));
        if let Some(system) = request.system_prompt() {
            call = call.system(SystemContentBlock::Text(system));
        }
        let output = call.send().await.map_err(sdk_error)?;
        let (text, tool_calls) = match &output.output {
            Some(ConverseOutput::Message(message)) => (
                message
                    .content
                    .iter()
                    .filter_map(|block| block.as_text().ok())
                    .map(String::as_str)
                    .collect(),
                message
                    .content
                    .iter()
                    .filter_map(|block| block.as_tool_use().ok())
                    .map(tool_call)
                    .collect(),
            ),
            _ => {
                return Err(ProviderError::malformed(
                    KIND,
                    "converse output has no message",
                ));
            }
        };
        let usage = output.usage.as_ref().map(|u| Usage {
            input_tokens: u.input_tokens().max(0) as u64,
            output_tokens: u.output_tokens().max(0) as u64,
        });
        Ok(Completion {
            text,
            tool_calls,
            usage,
        })
    }

    async fn stream(&self, request: &ChatRequest) -> Result<EventStream, ProviderError> {
        let mut call = self
            .client
            .converse_stream()
            .model_id(&request.model)
            .set_messages(Some(Self::messages(request)?))
            .set_tool_config(Self::tool_config(request)?)
            .inference_config(Self::inference_config(request));
        if let Some(system) = request.system_prompt() {
            call = call.system(SystemContentBlock::Text(system));
        }
        let mut output = call.send().await.map_err(sdk_error)?;
        Ok(Box::pin(async_stream::stream! {
            // messageStop ends the content; the metadata event with usage follows it.
            let mut stopped = false;
            let mut calls = StreamedCalls::default();
            loop {
                match output.stream.recv().await {
                    Ok(Some(ConverseStreamOutput::ContentBlockStart(event))) => {
                        if let Some(ContentBlockStart::ToolUse(start)) = event.start {
                            let block = block_index(event.content_block_index);
                            yield Ok(calls.start(block, start.tool_use_id, start.name));
                        }
                    }
                    Ok(Some(ConverseStreamOutput::ContentBlockDelta(event))) => {
                        let block = block_index(event.content_block_index);
                        match event.delta {
                            Some(ContentBlockDelta::Text(text)) if !text.is_empty() => {
                                yield Ok(StreamEvent::Delta(text));
                            }
                            Some(ContentBlockDelta::ToolUse(delta)) => {
                                if let Some(event) = calls.input(block, delta.input) {
                                    yield Ok(event);
                                }
                            }
                            _ => {}
                        }
                    }
                    Ok(Some(ConverseStreamOutput::ContentBlockStop(event))) => {
                        if let Some(event) = calls.stop(block_index(event.content_block_index)) {
                            yield Ok(event);
                        }
                    }
                    Ok(Some(ConverseStreamOutput::MessageStop(_))) => stopped = true,
                    Ok(Some(ConverseStreamOutput::Metadata(event))) => {
                        if let Some(usage) = event.usage {
                            yield Ok(StreamEvent::Usage {
                                input_tokens: Some(usage.input_tokens().max(0) as u64),
                                output_tokens: Some(usage.output_tokens().max(0) as u64),
                            });
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        if stopped {
                            yield Ok(StreamEvent::Finished);
                        }
                        return;
                    }
                    Err(err) => {
                        let detail = match &err {
                            SdkError::ServiceError(context) => context.err().code().unwrap_or("exception").to_string(),
                            _ => "event stream broken".to_string(),
                        };
                        yield Err(ProviderError::Stream { provider: KIND, detail });
                        return;
                    }
                }
            }
        }))
    }

    async fn embed(&self, request: &EmbedRequest) -> Result<Embeddings, ProviderError> {
        let mut vectors = Vec::with_capacity(request.inputs.len());
        let mut tokens = 0;
        for input in &request.inputs {
            let body = serde_json::to_vec(&serde_json::json!({ "inputText": input }))
                .map_err(|e| ProviderError::malformed(KIND, e))?;
            let output = self
                .client
                .invoke_model()
                .model_id(&request.model)
                .content_type("application/json")
                .accept("application/json")
                .body(Blob::new(body))
                .send()
                .await
                .map_err(sdk_error)?;
            let parsed: TitanEmbedding = serde_json::from_slice(output.body().as_ref())
                .map_err(|e| ProviderError::malformed(KIND, e))?;
            tokens += parsed.input_text_token_count.unwrap_or(0);
            vectors.push(parsed.embedding);
        }
        Ok(Embeddings {
            vectors,
            input_tokens: Some(tokens),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Message, Tool};
    use super::*;

    fn request(choice: Option<ToolChoice>, messages: Vec<Message>) -> ChatRequest {
        ChatRequest {
            model: "amazon.nova-lite-v1:0".into(),
            messages,
            max_tokens: 64,
            temperature: None,
            tools: vec![Tool {
                name: "get_weather".into(),
                description: Some("Weather".into()),
                parameters: None,
                strict: Some(true),
            }],
            tool_choice: choice,
            parallel_tool_calls: Some(false),
        }
    }

    #[test]
    fn tool_choices_map_to_converse_and_none_is_refused() {
        let cases = [
            (None, Ok(None)),
            (
                Some(ToolChoice::Auto),
                Ok(Some(BedrockToolChoice::Auto(
                    AutoToolChoice::builder().build(),
                ))),
            ),
            (
                Some(ToolChoice::Required),
                Ok(Some(BedrockToolChoice::Any(
                    AnyToolChoice::builder().build(),
                ))),
            ),
            (
                Some(ToolChoice::Function("get_weather".into())),
                Ok(Some(BedrockToolChoice::Tool(
                    SpecificToolChoice::builder()
                        .name("get_weather")
                        .build()
                        .unwrap(),
                ))),
            ),
            (Some(ToolChoice::None), Err("tool_choice")),
        ];
        for (choice, expected) in cases {
            let what = format!("{choice:?}");
            let config = Bedrock::tool_config(&request(choice, Vec::new()));
            match (config, expected) {
                (Ok(Some(config)), Ok(expected)) => {
                    assert_eq!(config.tool_choice, expected, "{what}");
                    let BedrockTool::ToolSpec(spec) = &config.tools[0] else {
                        panic!("{what}: not a toolSpec");
                    };
                    assert_eq!(spec.strict, Some(true), "{what}");
                    assert_eq!(
                        spec.input_schema,
                        Some(ToolInputSchema::Json(document(
                            &json!({ "type": "object", "properties": {} })
                        ))),
                        "{what}"
                    );
                }
                (Err(err), Err(field)) => {
                    assert_eq!(err.field(), Some(field), "{what}");
                    let message = err.to_string();
                    assert!(
                        message.contains("`bedrock`") && message.contains("amazon.nova-lite-v1:0"),
                        "{message}"
                    );
                }
                (got, expected) => panic!("{what}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn json_survives_the_sdks_document() {
        let value = json!({ "city": "Paris", "days": 3, "offset": -2, "ratio": 0.5,
                            "tags": ["a", null, true], "nested": { "ok": false } });
        assert_eq!(json_value(&document(&value)), value);
    }

    #[test]
    fn turns_of_one_role_are_merged_so_roles_alternate() {
        let call = ToolCall {
            id: "t1".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Paris"}"#.into(),
        };
        let messages = vec![
            Message::text(Role::User, "Weather?"),
            Message {
                tool_calls: vec![call],
                ..Message::text(Role::Assistant, "Checking.")
            },
            Message {
                tool_call_id: Some("t1".into()),
                ..Message::text(Role::Tool, "18")
            },
            Message::text(Role::User, "In Celsius?"),
        ];
        let built = Bedrock::messages(&request(None, messages)).unwrap();
        let shape: Vec<(ConversationRole, Vec<&str>)> = built
            .iter()
            .map(|m| {
                let kinds = m
                    .content
                    .iter()
                    .map(|block| match block {
                        ContentBlock::Text(_) => "text",
                        ContentBlock::ToolUse(_) => "toolUse",
                        ContentBlock::ToolResult(_) => "toolResult",
                        _ => "other",
                    })
                    .collect();
                (m.role.clone(), kinds)
            })
            .collect();
        assert_eq!(
            shape,
            [
                (ConversationRole::User, vec!["text"]),
                (ConversationRole::Assistant, vec!["text", "toolUse"]),
                (ConversationRole::User, vec!["toolResult", "text"]),
            ]
        );
        let ContentBlock::ToolUse(tool_use) = &built[1].content[1] else {
            unreachable!()
        };
        assert_eq!(tool_call(tool_use).arguments, r#"{"city":"Paris"}"#);
    }
}
