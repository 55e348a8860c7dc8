//! `[buckets.*]` resolution: names that fit S3's rules, lifecycle order.

use super::services::is_key_name;
use super::{Bucket, Diagnostic, Locator, StackFile};

pub(super) fn resolve_buckets(
    file: &StackFile,
    env: &str,
    locator: &Locator,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Bucket> {
    let mut out = Vec::new();
    for (name, spec) in &file.buckets {
        // `<stack>-<env>-<name>-<12-digit account>` must fit S3's 63 characters.
        let len = file.name.len() + env.len() + name.len() + 15;
        if !is_key_name(name) || name.contains('_') || len > 63 {
            diags.push(
                Diagnostic::new(format!("bucket name `{name}` cannot form a valid S3 bucket name for {}/{env}", file.name))
                    .at(locator.span(&["buckets", name]))
                    .help("use lowercase letters, digits and `-`, short enough that <stack>-<env>-<name>-<account id> stays within 63 characters"),
            );
        }
        if let (Some(ia), Some(glacier)) = (spec.ia_after_days, spec.glacier_after_days)
            && glacier <= ia
        {
            diags.push(
                Diagnostic::new(format!(
                    "glacier_after_days ({glacier}) must come after ia_after_days ({ia})"
                ))
                .at(locator.span(&["buckets", name, "glacier_after_days"]))
                .help("objects move to Infrequent Access first, then to Glacier"),
            );
        }
        if spec.ia_after_days.is_some_and(|d| d < 30) {
            diags.push(
                Diagnostic::new(
                    "S3 moves objects to Infrequent Access after 30 days at the earliest",
                )
                .at(locator.span(&["buckets", name, "ia_after_days"]))
                .help("use 30 or more"),
            );
        }
        out.push(Bucket {
            name: name.clone(),
            versioning: spec.versioning.unwrap_or(true),
            ia_after_days: spec.ia_after_days,
            glacier_after_days: spec.glacier_after_days,
            cors_origins: spec.cors_origins.clone(),
        });
    }
    out
}

pub(super) fn is_bucket_name(s: &str) -> bool {
    (3..=63).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}
