//! Token estimates for when a provider reports no usage (and for cap
//! reservations before a call). Deliberately on the high side: about one token
//! per three bytes of UTF-8, which over-counts English (≈4 bytes/token) and so
//! keeps reservations from being smaller than the real spend.

pub fn estimate_tokens(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    (text.len() as u64).div_ceil(3)
}

/// Per-message framing tokens that chat APIs add (role markers etc.).
pub const MESSAGE_OVERHEAD_TOKENS: u64 = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_are_positive_and_monotonic() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("a"), 1);
        assert!(estimate_tokens("hello world, how are you") >= 6);
        assert!(estimate_tokens("ab") <= estimate_tokens("abcdef"));
    }
}
