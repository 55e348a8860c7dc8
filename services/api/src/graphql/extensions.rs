//! Checks that run inside async-graphql's pipeline, before any resolver:
//! the per-user/org rate limit (needs the parsed operation to tell queries
//! from mutations and to count a mutation's root fields) and the
//! persisted-query allowlist. A request refused here runs none of its
//! mutations.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{ErrorExtensionValues, Request, ServerError, ServerResult, Variables};
use sha2::{Digest, Sha256};

use super::context::RequestContext;
use crate::ratelimit::{OperationKind, RateLimits, Refusal, retry_after_secs};
use crate::store::identity::clerk_org_key;

pub const RATE_LIMITED: &str = "RATE_LIMITED";
/// More root mutation fields in one request than it may hold.
pub const TOO_MANY_MUTATIONS: &str = "TOO_MANY_MUTATIONS";

fn error_with_code(message: &str, code: &str, extra: Option<(&str, u64)>) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    if let Some((name, value)) = extra {
        extensions.set(name, value);
    }
    error.extensions = Some(extensions);
    error
}

fn operation_kind(document: &ExecutableDocument, name: Option<&str>) -> OperationKind {
    let mutations = |op: &OperationDefinition| {
        (op.ty == OperationType::Mutation).then(|| root_fields(document, &op.selection_set.node))
    };
    let fields = match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => mutations(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => {
            ops.get(name).and_then(|op| mutations(&op.node))
        }
        // Ambiguous: the most that any of them would draw.
        (DocumentOperations::Multiple(ops), None) => {
            ops.values().filter_map(|op| mutations(&op.node)).max()
        }
    };
    match fields {
        Some(n) => OperationKind::Mutation(u32::try_from(n).unwrap_or(u32::MAX)),
        None => OperationKind::Query,
    }
}

/// Root fields an operation executes: its own, plus those of fragments spread
/// at the root (each alias counts; `__typename` does not). Runs before
/// validation, so a fragment cycle is cut by counting each fragment once.
fn root_fields(document: &ExecutableDocument, selection: &SelectionSet) -> usize {
    fn count<'a>(
        document: &'a ExecutableDocument,
        selection: &'a SelectionSet,
        seen: &mut HashSet<&'a str>,
    ) -> usize {
        selection
            .items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(field) => usize::from(!field.node.name.node.starts_with("__")),
                Selection::InlineFragment(inline) => {
                    count(document, &inline.node.selection_set.node, seen)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    match document.fragments.get(name) {
                        Some(fragment) if seen.insert(name) => {
                            count(document, &fragment.node.selection_set.node, seen)
                        }
                        _ => 0,
                    }
                }
            })
            .sum()
    }
    count(document, selection, &mut HashSet::new())
}

/// The per-user/org rate limit, and the cap on root mutation fields.
pub struct CallerRateLimit {
    pub limits: Arc<RateLimits>,
    pub max_mutation_fields: usize,
}

impl ExtensionFactory for CallerRateLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CallerRateLimitExtension {
            limits: self.limits.clone(),
            max_mutation_fields: self.max_mutation_fields,
        })
    }
}

struct CallerRateLimitExtension {
    limits: Arc<RateLimits>,
    max_mutation_fields: usize,
}

#[async_graphql::async_trait::async_trait]
impl Extension for CallerRateLimitExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if let Some(request) = ctx.data_opt::<Arc<RequestContext>>() {
            let operation_name = ctx.data_opt::<OperationName>().and_then(|n| n.0.as_deref());
            let kind = operation_kind(&document, operation_name);
            if let OperationKind::Mutation(fields) = kind
                && fields as usize > self.max_mutation_fields
            {
                return Err(error_with_code(
                    &format!(
                        "a request may hold at most {} mutation fields; this one holds {fields}",
                        self.max_mutation_fields
                    ),
                    TOO_MANY_MUTATIONS,
                    None,
                ));
            }
            let org = clerk_org_key(&request.identity);
            match self
                .limits
                .check_caller(&request.identity.subject, &org, kind)
            {
                Ok(()) => {}
                Err(Refusal::Wait(wait)) => {
                    return Err(error_with_code(
                        "rate limit exceeded; retry later",
                        RATE_LIMITED,
                        Some(("retryAfter", retry_after_secs(wait))),
                    ));
                }
                Err(Refusal::TooLarge { needed, capacity }) => {
                    return Err(error_with_code(
                        &format!(
                            "this request holds {needed} mutations; the rate limit allows {capacity} a minute"
                        ),
                        TOO_MANY_MUTATIONS,
                        None,
                    ));
                }
            }
        }
        Ok(document)
    }
}

/// The request's operation name, for extensions that need it before execution.
pub struct OperationName(pub Option<String>);

/// Allowlist mode: only queries whose SHA-256 is listed run. Clients may send
/// the full text (checked by hash) or just the hash (Apollo's
/// `extensions.persistedQuery.sha256Hash`), which is looked up.
pub struct PersistedQueryAllowlist(pub Arc<HashMap<String, String>>);

impl ExtensionFactory for PersistedQueryAllowlist {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AllowlistExtension(self.0.clone()))
    }
}

struct AllowlistExtension(Arc<HashMap<String, String>>);

#[async_graphql::async_trait::async_trait]
impl Extension for AllowlistExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let sent_hash = request
            .extensions
            .get("persistedQuery")
            .and_then(|v| match v {
                async_graphql::Value::Object(o) => o.get("sha256Hash").cloned(),
                _ => None,
            })
            .and_then(|v| match v {
                async_graphql::Value::String(s) => Some(s.to_ascii_lowercase()),
                _ => None,
            });
        if request.query.trim().is_empty() {
            match sent_hash.as_ref().and_then(|h| self.0.get(h)) {
                Some(query) => request.query = query.clone(),
                None => {
                    return Err(error_with_code(
                        "PersistedQueryNotFound",
                        "PERSISTED_QUERY_NOT_FOUND",
                        None,
                    ));
                }
            }
        } else {
            let hash = hex::encode(Sha256::digest(request.query.as_bytes()));
            if !self.0.contains_key(&hash) {
                return Err(error_with_code(
                    "this query is not in the persisted query allowlist",
                    "PERSISTED_QUERY_NOT_ALLOWED",
                    None,
                ));
            }
        }
        // Apollo's marker is handled here; do not let anything else act on it.
        request.extensions.remove("persistedQuery");
        next.run(ctx, request).await
    }
}

/// Reads an allowlist file: a JSON object mapping SHA-256 (hex) to query text.
/// Hashes are checked, so a stale file cannot smuggle in other queries.
pub fn load_allowlist(path: &std::path::Path) -> Result<HashMap<String, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let map: HashMap<String, String> = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{} is not a JSON object of hash → query: {e}",
            path.display()
        )
    })?;
    for (hash, query) in &map {
        if hex::encode(Sha256::digest(query.as_bytes())) != hash.to_ascii_lowercase() {
            return Err(format!(
                "{}: hash {hash} does not match its query",
                path.display()
            ));
        }
    }
    Ok(map
        .into_iter()
        .map(|(h, q)| (h.to_ascii_lowercase(), q))
        .collect())
}
