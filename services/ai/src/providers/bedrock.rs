//! Amazon Bedrock through the AWS SDK (SigV4, event-stream decoding):
//! Converse, ConverseStream and, for embeddings, InvokeModel with the Titan
//! text-embeddings body. The SDK's own retries are off (see `aws.rs`): the gateway retries.

use async_trait::async_trait;
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ContentBlockDelta, ConversationRole, ConverseOutput, ConverseStreamOutput,
    InferenceConfiguration, Message as BedrockMessage, SystemContentBlock,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::Blob;
use serde::Deserialize;

use super::{
    ChatRequest, Completion, EmbedRequest, Embeddings, EventStream, Provider, ProviderError, Role,
    StreamEvent, Usage,
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
        request
            .conversation()
            .map(|m| {
                let role = if m.role == Role::Assistant {
                    ConversationRole::Assistant
                } else {
                    ConversationRole::User
                };
                BedrockMessage::builder()
                    .role(role)
                    .content(ContentBlock::Text(m.content.clone()))
                    .build()
                    .map_err(|e| ProviderError::malformed(KIND, e))
            })
            .collect()
    }

    fn inference_config(request: &ChatRequest) -> InferenceConfiguration {
        InferenceConfiguration::builder()
            .max_tokens(i32::try_from(request.max_tokens).unwrap_or(i32::MAX))
            .set_temperature(request.temperature)
            .build()
    }
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
            .inference_config(Self::inference_config(request));
        if let Some(system) = request.system_prompt() {
            call = call.system(SystemContentBlock::Text(system));
        }
        let output = call.send().await.map_err(sdk_error)?;
        let text = match &output.output {
            Some(ConverseOutput::Message(message)) => message
                .content
                .iter()
                .filter_map(|block| block.as_text().ok())
                .map(String::as_str)
                .collect(),
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
            tool_calls: Vec::new(),
            usage,
        })
    }

    async fn stream(&self, request: &ChatRequest) -> Result<EventStream, ProviderError> {
        let mut call = self
            .client
            .converse_stream()
            .model_id(&request.model)
            .set_messages(Some(Self::messages(request)?))
            .inference_config(Self::inference_config(request));
        if let Some(system) = request.system_prompt() {
            call = call.system(SystemContentBlock::Text(system));
        }
        let mut output = call.send().await.map_err(sdk_error)?;
        Ok(Box::pin(async_stream::stream! {
            // messageStop ends the content; the metadata event with usage follows it.
            let mut stopped = false;
            loop {
                match output.stream.recv().await {
                    Ok(Some(ConverseStreamOutput::ContentBlockDelta(event))) => {
                        if let Some(ContentBlockDelta::Text(text)) = event.delta
                            && !text.is_empty()
                        {
                            yield Ok(StreamEvent::Delta(text));
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
