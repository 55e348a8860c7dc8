//! `[state]` resolution: local files or an S3 bucket.

use super::buckets::is_bucket_name;
use super::file::{self, StateBackendKind};
use super::{Diagnostic, Locator, StateBackend};

pub(super) fn resolve_state(
    spec: &file::StateSpec,
    locator: &Locator,
    diags: &mut Vec<Diagnostic>,
) -> StateBackend {
    match spec.backend.unwrap_or(StateBackendKind::Local) {
        StateBackendKind::Local => {
            if spec.bucket.is_some() {
                diags.push(
                    Diagnostic::new("state.bucket is set but the state backend is local")
                        .at(locator.span(&["state", "bucket"]))
                        .help("add backend = \"s3\" to [state], or remove bucket"),
                );
            }
            StateBackend::Local
        }
        StateBackendKind::S3 => {
            let bucket = spec.bucket.clone().unwrap_or_default();
            if bucket.is_empty() {
                diags.push(
                    Diagnostic::new("backend = \"s3\" needs a bucket")
                        .at(locator.span(&["state"]))
                        .help("add bucket = \"<an existing S3 bucket>\" to [state]"),
                );
            } else if !is_bucket_name(&bucket) {
                diags.push(
                    Diagnostic::new(format!("`{bucket}` is not a valid S3 bucket name"))
                        .at(locator.span(&["state", "bucket"]))
                        .help("use 3 to 63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit"),
                );
            }
            let prefix = spec
                .prefix
                .clone()
                .unwrap_or_else(|| "foundry".into())
                .trim_matches('/')
                .to_string();
            StateBackend::S3 { bucket, prefix }
        }
    }
}
