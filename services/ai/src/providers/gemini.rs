//! Google Gemini API (generativelanguage): `models/{m}:generateContent`,
//! `:streamGenerateContent?alt=sse` (each SSE event is a whole
//! GenerateContentResponse; there is no `[DONE]`, the final chunk carries a
//! `finishReason` and the full `usageMetadata`) and `:batchEmbedContents`.

use async_trait::async_trait;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use reqwest::Url;

use super::http::{endpoint, parse_event, read_json, send, sse};
use super::{
    ChatRequest, Completion, EmbedRequest, Embeddings, EventStream, Provider, ProviderError, Role,
    StreamEvent, Usage,
};
use crate::config::Secret;

pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";
const KIND: &str = "gemini";

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

    fn body(request: &ChatRequest) -> GenerateBody<'_> {
        GenerateBody {
            contents: request
                .conversation()
                .map(|m| Content {
                    role: Some(if m.role == Role::Assistant {
                        "model"
                    } else {
                        "user"
                    }),
                    parts: vec![Part {
                        text: m.content.as_str().into(),
                    }],
                })
                .collect(),
            system_instruction: request.system_prompt().map(|text| Content {
                role: None,
                parts: vec![Part { text: text.into() }],
            }),
            generation_config: GenerationConfig {
                max_output_tokens: request.max_tokens,
                temperature: request.temperature,
            },
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerateBody<'a> {
    contents: Vec<Content<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<Content<'a>>,
    generation_config: GenerationConfig,
}

#[derive(Serialize)]
struct Content<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    parts: Vec<Part<'a>>,
}

#[derive(Serialize)]
struct Part<'a> {
    text: std::borrow::Cow<'a, str>,
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
struct ResponsePart {
    text: Option<String>,
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
                .json(&Self::body(request)),
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
            tool_calls: Vec::new(),
            usage,
        })
    }

    async fn stream(&self, request: &ChatRequest) -> Result<EventStream, ProviderError> {
        let builder = self
            .post(&request.model, "streamGenerateContent")
            .query(&[("alt", "sse")]);
        let response = send(KIND, builder.json(&Self::body(request))).await?;
        let mut events = Box::pin(sse(KIND, response));
        Ok(Box::pin(async_stream::stream! {
            let mut finished = false;
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
                        parts: vec![Part {
                            text: text.as_str().into(),
                        }],
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
}
