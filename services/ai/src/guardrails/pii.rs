//! PII redaction applied to every text sent upstream (per route, configurable).
//! Each kind is replaced by a `[REDACTED_<KIND>]` marker; only counts leave this
//! module (for metrics), never the matched text.

use std::borrow::Cow;

use regex::{Captures, Regex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PiiKind {
    BearerToken,
    ApiKey,
    AwsAccessKey,
    Email,
    CardNumber,
    Ssn,
    Phone,
}

impl PiiKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::BearerToken => "bearer_token",
            PiiKind::ApiKey => "api_key",
            PiiKind::AwsAccessKey => "aws_access_key",
            PiiKind::Email => "email",
            PiiKind::CardNumber => "card_number",
            PiiKind::Ssn => "ssn",
            PiiKind::Phone => "phone",
        }
    }

    fn marker(self) -> &'static str {
        match self {
            PiiKind::BearerToken => "[REDACTED_BEARER_TOKEN]",
            PiiKind::ApiKey => "[REDACTED_API_KEY]",
            PiiKind::AwsAccessKey => "[REDACTED_AWS_ACCESS_KEY]",
            PiiKind::Email => "[REDACTED_EMAIL]",
            PiiKind::CardNumber => "[REDACTED_CARD_NUMBER]",
            PiiKind::Ssn => "[REDACTED_SSN]",
            PiiKind::Phone => "[REDACTED_PHONE]",
        }
    }
}

/// Counts of redacted spans per kind.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Redactions(pub Vec<(PiiKind, u32)>);

impl Redactions {
    fn add(&mut self, kind: PiiKind, count: u32) {
        if count == 0 {
            return;
        }
        match self.0.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += count,
            None => self.0.push((kind, count)),
        }
    }

    pub fn merge(&mut self, other: Redactions) {
        for (kind, count) in other.0 {
            self.add(kind, count);
        }
    }

    pub fn total(&self) -> u32 {
        self.0.iter().map(|(_, n)| n).sum()
    }
}

struct Rule {
    kind: PiiKind,
    pattern: Regex,
    /// Extra check on a match (Luhn, SSN area rules); None accepts every match.
    validate: Option<fn(&str) -> bool>,
    /// Capture group to replace; 0 = the whole match. Lets "api_key=" keep its label.
    group: usize,
}

pub struct Redactor {
    rules: Vec<Rule>,
}

impl Redactor {
    pub fn new() -> Self {
        let rule = |kind, pattern: &str, validate, group| Rule {
            kind,
            pattern: Regex::new(pattern).expect("static PII pattern compiles"),
            validate,
            group,
        };
        // Order matters: secrets first (they can contain digit runs that look like
        // phone numbers), then cards and SSNs before the looser phone pattern.
        Redactor {
            rules: vec![
                rule(
                    PiiKind::BearerToken,
                    r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{8,}=*",
                    None,
                    0,
                ),
                rule(
                    PiiKind::ApiKey,
                    r"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}|AIza[0-9A-Za-z_\-]{35}|gh[pousr]_[A-Za-z0-9]{36,}|xox[abprs]-[A-Za-z0-9\-]{10,})",
                    None,
                    0,
                ),
                rule(
                    PiiKind::ApiKey,
                    r#"(?i)\b(?:api[_-]?key|secret[_-]?key|access[_-]?token|auth[_-]?token)\b["']?\s*[:=]\s*["']?([A-Za-z0-9_\-./+]{12,})"#,
                    None,
                    1,
                ),
                rule(
                    PiiKind::AwsAccessKey,
                    r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b",
                    None,
                    0,
                ),
                rule(
                    PiiKind::Email,
                    r"(?i)\b[A-Z0-9._%+\-]+@[A-Z0-9.\-]+\.[A-Z]{2,}\b",
                    None,
                    0,
                ),
                rule(
                    PiiKind::CardNumber,
                    r"\b\d(?:[ \-]?\d){12,18}\b",
                    Some(passes_luhn),
                    0,
                ),
                rule(
                    PiiKind::Ssn,
                    r"\b\d{3}-\d{2}-\d{4}\b",
                    Some(plausible_ssn),
                    0,
                ),
                rule(
                    PiiKind::Phone,
                    r"(?:\+\d{1,3}(?:[ .\-]?\d{2,4}){2,5}|(?:\(\d{3}\)|\b\d{3})[ .\-]?\d{3}[ .\-]?\d{4})\b",
                    None,
                    0,
                ),
            ],
        }
    }

    /// The text with every PII span replaced, and what was replaced.
    pub fn redact<'a>(&self, text: &'a str) -> (Cow<'a, str>, Redactions) {
        let mut current: Cow<'a, str> = Cow::Borrowed(text);
        let mut found = Redactions::default();
        for rule in &self.rules {
            let mut count = 0u32;
            let replaced = rule.pattern.replace_all(&current, |caps: &Captures<'_>| {
                let whole = caps.get(0).map_or("", |m| m.as_str());
                let Some(target) = caps.get(rule.group) else {
                    return whole.to_string();
                };
                if rule.validate.is_some_and(|ok| !ok(target.as_str())) {
                    return whole.to_string();
                }
                count += 1;
                let start = target.start() - caps.get(0).map_or(0, |m| m.start());
                let end = start + target.as_str().len();
                format!("{}{}{}", &whole[..start], rule.kind.marker(), &whole[end..])
            });
            if count > 0 {
                current = Cow::Owned(replaced.into_owned());
                found.add(rule.kind, count);
            }
        }
        (current, found)
    }
}

impl Default for Redactor {
    fn default() -> Self {
        Self::new()
    }
}

fn passes_luhn(candidate: &str) -> bool {
    let digits: Vec<u32> = candidate.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// SSA rules: area not 000, 666 or 9xx; group not 00; serial not 0000.
fn plausible_ssn(candidate: &str) -> bool {
    let mut parts = candidate.split('-');
    let (Some(area), Some(group), Some(serial)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(text: &str) -> (String, Redactions) {
        let (out, found) = Redactor::new().redact(text);
        (out.into_owned(), found)
    }

    #[test]
    fn each_kind_is_redacted() {
        let cases = [
            (
                "mail jane.doe@example.com now",
                "[REDACTED_EMAIL]",
                PiiKind::Email,
            ),
            (
                "call (415) 555-2671 today",
                "[REDACTED_PHONE]",
                PiiKind::Phone,
            ),
            ("call +44 20 7946 0958", "[REDACTED_PHONE]", PiiKind::Phone),
            (
                "card 4111 1111 1111 1111 ok",
                "[REDACTED_CARD_NUMBER]",
                PiiKind::CardNumber,
            ),
            ("ssn 123-45-6789.", "[REDACTED_SSN]", PiiKind::Ssn),
            (
                "key AKIAIOSFODNN7EXAMPLE here",
                "[REDACTED_AWS_ACCESS_KEY]",
                PiiKind::AwsAccessKey,
            ),
            (
                "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc",
                "[REDACTED_BEARER_TOKEN]",
                PiiKind::BearerToken,
            ),
            (
                "use sk-proj-abcdefghijklmnop1234",
                "[REDACTED_API_KEY]",
                PiiKind::ApiKey,
            ),
            (
                "api_key=Zx81kPq02LmNb7Yt",
                "api_key=[REDACTED_API_KEY]",
                PiiKind::ApiKey,
            ),
        ];
        for (input, marker, kind) in cases {
            let (out, found) = redact(input);
            assert!(out.contains(marker), "{input} -> {out}");
            assert_eq!(found.0, vec![(kind, 1)], "{input} -> {out}");
        }
    }

    #[test]
    fn card_numbers_must_pass_luhn_and_ssns_must_be_plausible() {
        let (out, found) = redact("order 4111 1111 1111 1112 and 000-12-3456");
        assert_eq!(found.total(), 0, "{out}");
        assert!(out.contains("4111 1111 1111 1112"));
    }

    #[test]
    fn ordinary_text_is_untouched_and_borrowed() {
        let text = "Summarise the 2024 report in 3 bullet points, version 1.2.3.";
        let (out, found) = Redactor::new().redact(text);
        assert!(matches!(out, Cow::Borrowed(_)));
        assert_eq!(found.total(), 0);
    }

    #[test]
    fn counts_several_matches() {
        let (_, found) = redact("a@b.io, c@d.io and 415-555-2671");
        assert_eq!(found.0, vec![(PiiKind::Email, 2), (PiiKind::Phone, 1)]);
    }
}
