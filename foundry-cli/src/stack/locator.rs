//! Where a key path stands in the stack file, so that checks made after
//! deserialisation still point at the line; and toml errors as diagnostics
//! with "did you mean" hints.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::Diagnostic;

/// A hint for an unknown `word`: the close candidate as "did you mean", else
/// `otherwise`.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    otherwise: impl FnOnce() -> String,
) -> String {
    closest(word, candidates).map_or_else(otherwise, |s| format!("did you mean `{s}`?"))
}

/// The candidate closest to `word`, if it is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Turns a toml/serde error into a diagnostic, adding a suggestion for
/// misspelt keys and enum values.
pub fn diagnostic_from_toml(err: &toml::de::Error) -> Diagnostic {
    let message = err.message().trim().to_string();
    let mut diag = Diagnostic::new(message.clone()).at(err.span());
    // serde's wording: "unknown field `nats`, expected one of `a`, `b`" and
    // "unknown variant `x`, expected one of ...".
    for what in ["unknown field `", "unknown variant `"] {
        if let Some(rest) = message.strip_prefix(what) {
            let word = rest.split('`').next().unwrap_or("");
            let expected: Vec<&str> = rest
                .split('`')
                .skip(1)
                .enumerate()
                .filter(|(i, _)| i % 2 == 1)
                .map(|(_, s)| s)
                .collect();
            diag = match closest(word, expected.iter().copied()) {
                Some(s) => diag.help(format!("did you mean `{s}`?")),
                None if !expected.is_empty() => {
                    diag.help(format!("expected one of: {}", expected.join(", ")))
                }
                None => diag.help("remove it; `foundry schema` lists every key"),
            };
        }
    }
    if message.starts_with("missing field") {
        diag = diag.help("add it; `foundry schema` documents every key");
    } else if message.starts_with("invalid type") {
        diag = diag.help("check the value's type against `foundry schema`");
    }
    diag
}

/// Finds where a key path (`["env", "prod", "network", "cidr"]`) stands in
/// the source, so that checks made after deserialisation can point at it.
pub struct Locator<'a> {
    root: Option<toml::Spanned<DeTable<'a>>>,
}

impl<'a> Locator<'a> {
    pub fn new(text: &'a str) -> Self {
        Self {
            root: DeTable::parse(text).ok(),
        }
    }

    /// The span of the value at `path`, or of the deepest part of it that exists.
    pub fn span(&self, path: &[&str]) -> Option<Range<usize>> {
        let root = self.root.as_ref()?;
        let mut best = None;
        let mut current: Option<&DeValue<'a>> = None;
        for key in path {
            let next = match current {
                None => find_key(root.get_ref(), key),
                Some(DeValue::Table(t)) => find_key(t, key),
                Some(DeValue::Array(a)) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
                Some(_) => None,
            };
            let Some(next) = next else { break };
            best = Some(next.span());
            current = Some(next.get_ref());
        }
        best
    }
}

fn find_key<'t, 'a>(table: &'t DeTable<'a>, key: &str) -> Option<&'t toml::Spanned<DeValue<'a>>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref() == key)
        .map(|(_, v)| v)
}
