//! Local moderation rules, used by `/v1/moderate` when no provider with a
//! moderation API is configured. Deliberately small and conservative: a
//! keyword screen, not a classifier; categories follow OpenAI's names so the
//! response shape is the same either way.

use std::collections::BTreeMap;

use regex::Regex;

use crate::providers::ModerationResult;

pub struct LocalModerator {
    categories: Vec<(&'static str, Regex)>,
}

impl LocalModerator {
    pub fn new() -> Self {
        let rule = |name, pattern: &str| {
            (
                name,
                Regex::new(pattern).expect("static moderation pattern compiles"),
            )
        };
        LocalModerator {
            categories: vec![
                rule(
                    "violence",
                    r"(?i)\b(kill|murder|shoot|stab)\s+(you|him|her|them|everyone)\b",
                ),
                rule(
                    "self-harm",
                    r"(?i)\b(kill myself|suicide|self[- ]harm|end my life)\b",
                ),
                rule(
                    "harassment",
                    r"(?i)\b(you are|you're)\s+(worthless|stupid|an idiot|pathetic)\b",
                ),
                rule(
                    "illicit",
                    r"(?i)\b(how to|help me)\s+(make|build)\s+(a\s+)?(bomb|explosive|meth)\b",
                ),
            ],
        }
    }

    pub fn moderate(&self, input: &str) -> ModerationResult {
        let categories: BTreeMap<String, bool> = self
            .categories
            .iter()
            .map(|(name, re)| (name.to_string(), re.is_match(input)))
            .collect();
        ModerationResult {
            flagged: categories.values().any(|&hit| hit),
            categories,
        }
    }
}

impl Default for LocalModerator {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_matching_category_only() {
        let m = LocalModerator::new();
        let hit = m.moderate("I will kill you");
        assert!(hit.flagged);
        assert!(hit.categories["violence"]);
        assert!(!hit.categories["self-harm"]);
        assert!(
            !m.moderate("the process was killed by the OOM killer")
                .flagged
        );
    }
}
