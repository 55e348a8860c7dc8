//! Token estimates for when a provider reports no usage, and for cap
//! reservations before a call. Both must be upper bounds of what the provider
//! will bill, or concurrent requests overspend a cap by their summed errors.
//!
//! Text: about one token per three bytes of UTF-8, which over-counts English
//! (≈4 bytes per token in OpenAI's and Anthropic's tokenizers). Framing: chat
//! APIs bill tokens around each message (role markers, separators) and around
//! the request (the priming of the reply); [`Framing::of`] gives an allowance
//! per provider kind that is at least what each provider adds.

use crate::providers::Message;

pub fn estimate_tokens(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    (text.len() as u64).div_ceil(3)
}

/// Tokens a chat API adds around the text of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    pub per_request: u64,
    pub per_message: u64,
}

impl Framing {
    /// The allowance for a provider kind (`openai`, `gemini`…). Unknown kinds
    /// get the largest allowance.
    pub fn of(kind: &str) -> Framing {
        let (per_request, per_message) = match kind {
            // OpenAI documents 3 per message + the role + 3 to prime the reply
            // (openai-cookbook, "How to count tokens with tiktoken"); one
            // spare token each for formats newer models may use.
            "openai" | "azure" => (4, 6),
            // Anthropic's Messages framing is undocumented; a one-word user
            // message is billed about 8 input tokens.
            "anthropic" => (10, 6),
            // Gemini bills the text parts; a role costs about a token.
            "gemini" => (2, 4),
            // Model-specific chat templates (Llama 3's headers are ~5 tokens
            // a message plus ~6 around the request).
            "bedrock" => (16, 8),
            // The echo provider bills exactly `estimate_tokens` of each text.
            "echo" => (0, 0),
            _ => (16, 8),
        };
        Framing {
            per_request,
            per_message,
        }
    }

    /// Upper bound of the input tokens `messages` cost with this framing.
    pub fn input_estimate(self, messages: &[Message]) -> u64 {
        self.per_request
            + messages
                .iter()
                .map(|m| estimate_tokens(&m.content) + self.per_message)
                .sum::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Role;

    #[test]
    fn estimates_are_positive_and_monotonic() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("a"), 1);
        assert!(estimate_tokens("hello world, how are you") >= 6);
        assert!(estimate_tokens("ab") <= estimate_tokens("abcdef"));
    }

    #[test]
    fn framing_covers_openais_documented_count() {
        // "hi" as one user message: OpenAI bills 3 + 1 (role) + 1 (text) + 3 = 8.
        let hi = [Message::text(Role::User, "hi")];
        assert!(Framing::of("openai").input_estimate(&hi) >= 8);
        assert_eq!(Framing::of("echo").input_estimate(&hi), 1);
        assert_eq!(Framing::of("something-new"), Framing::of("bedrock"));
    }
}
