//! A deterministic offline provider: answers with the last user message,
//! streams it word by word, embeds by hashing. Only present when the config
//! file names it, so it can never answer production traffic by accident.

use std::hash::{Hash, Hasher};

use async_trait::async_trait;

use super::{
    ChatRequest, Completion, EmbedRequest, Embeddings, EventStream, Provider, ProviderError, Role,
    StreamEvent, Usage,
};
use crate::accounting::tokens::estimate_tokens;

pub const DEFAULT_MODEL: &str = "echo-1";
const EMBEDDING_DIMENSIONS: usize = 8;

pub struct Echo;

impl Echo {
    fn answer(request: &ChatRequest) -> String {
        let last = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.as_str());
        let words: Vec<&str> = last.unwrap_or_default().split_whitespace().collect();
        // Respect max_tokens the way a real model would: at most that many words.
        let limit = usize::try_from(request.max_tokens).unwrap_or(usize::MAX);
        words.into_iter().take(limit).collect::<Vec<_>>().join(" ")
    }

    fn usage(request: &ChatRequest, text: &str) -> Usage {
        let input: u64 = request
            .messages
            .iter()
            .map(|m| estimate_tokens(&m.content))
            .sum();
        Usage {
            input_tokens: input,
            output_tokens: estimate_tokens(text),
        }
    }
}

#[async_trait]
impl Provider for Echo {
    fn kind(&self) -> &'static str {
        "echo"
    }

    async fn generate(&self, request: &ChatRequest) -> Result<Completion, ProviderError> {
        let text = Self::answer(request);
        let usage = Self::usage(request, &text);
        Ok(Completion {
            text,
            tool_calls: Vec::new(),
            usage: Some(usage),
        })
    }

    async fn stream(&self, request: &ChatRequest) -> Result<EventStream, ProviderError> {
        let text = Self::answer(request);
        let usage = Self::usage(request, &text);
        let mut events: Vec<Result<StreamEvent, ProviderError>> = Vec::new();
        for (i, word) in text.split(' ').enumerate() {
            let delta = if i == 0 {
                word.to_string()
            } else {
                format!(" {word}")
            };
            if !delta.is_empty() {
                events.push(Ok(StreamEvent::Delta(delta)));
            }
        }
        events.push(Ok(StreamEvent::Usage {
            input_tokens: Some(usage.input_tokens),
            output_tokens: Some(usage.output_tokens),
        }));
        events.push(Ok(StreamEvent::Finished));
        Ok(Box::pin(futures::stream::iter(events)))
    }

    async fn embed(&self, request: &EmbedRequest) -> Result<Embeddings, ProviderError> {
        let vectors = request
            .inputs
            .iter()
            .map(|text| {
                (0..EMBEDDING_DIMENSIONS)
                    .map(|dim| {
                        let mut hasher = std::collections::hash_map::DefaultHasher::new();
                        (dim, text).hash(&mut hasher);
                        (hasher.finish() % 2000) as f32 / 1000.0 - 1.0
                    })
                    .collect()
            })
            .collect();
        let tokens = request.inputs.iter().map(|t| estimate_tokens(t)).sum();
        Ok(Embeddings {
            vectors,
            input_tokens: Some(tokens),
        })
    }
}
