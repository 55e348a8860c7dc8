//! What happens to a GraphQL request before its resolvers run: persisted
//! queries (Apollo's automatic ones, or an allowlist), parsing through a
//! cache, the caller's rate limit and the cap on root mutation fields, and
//! validation through a cache. A request refused here runs none of its
//! resolvers and never reaches the database.
//!
//! These steps used to be async-graphql extensions. An extension, even one
//! that only looks at the request, puts every field of every response
//! through async-graphql's slow path (a `ResolveInfo` with schema lookups
//! and one boxed future per extension per field): the schemas here have no
//! extensions, and the steps run in [`Pipeline::execute`] in the order the
//! extensions ran them.
//!
//! The caches, both per pipeline (so per schema and its limits):
//! - parsed documents, keyed by the SHA-256 of the document text, bounded by
//!   the text they hold. A hit hands out a copy (execution edits its copy:
//!   `@skip`/`@include` are applied per request); async-graphql still checks
//!   the copy's recursive depth and directives on every request. Apollo's
//!   persisted queries use the same digest, so a document registered by
//!   `{query, sha256Hash}` is this cache's entry, found again by hash alone.
//! - validations that passed, keyed by the SHA-256 of (document digest,
//!   operation name, variables), because validation reads all three (a
//!   variable can decide a connection's `first`, hence the complexity). A
//!   request whose key is known runs on the `trusted` schema, which is the
//!   same schema with async-graphql's `ValidationMode::Fast`: the rules that
//!   already passed for exactly this input are skipped, while depth and
//!   complexity are computed and their limits enforced on every request as
//!   before. A request that fails validation is never cached, so it is
//!   checked, and refused, every time.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::Arc;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{ErrorExtensionValues, Request, Response, ServerError, Value, Variables};
use moka::sync::Cache;
use prometheus::IntCounter;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::ApiSchema;
use super::context::RequestContext;
use crate::metrics::Metrics;
use crate::ratelimit::{OperationKind, RateLimits, Refusal, retry_after_secs};
use crate::store::identity::clerk_org_key;

pub const RATE_LIMITED: &str = "RATE_LIMITED";
/// More root mutation fields in one request than it may hold.
pub const TOO_MANY_MUTATIONS: &str = "TOO_MANY_MUTATIONS";

/// How much document text the parse cache holds. Parsed, a document takes
/// a few times its text, so this bounds the cache to a few tens of MiB.
const PARSED_TEXT_BYTES: u64 = 4 * 1024 * 1024;
/// Validation keys are 32 bytes each.
const VALIDATED_ENTRIES: u64 = 20_000;

type Digest32 = [u8; 32];

/// How `/graphql` treats persisted queries (see `PERSISTED_QUERIES`).
pub enum PersistedQueries {
    Off,
    /// Apollo's automatic persisted queries: a client may send a document's
    /// SHA-256 instead of its text once the server has seen the text.
    Automatic,
    /// Only the listed documents run (SHA-256 hex → text).
    Allowlist(Arc<HashMap<String, String>>),
}

/// A parsed document and the length of the text it came from (its weight).
struct ParsedDocument {
    text_len: usize,
    document: ExecutableDocument,
}

/// Hits and misses of the caches (`api_graphql_document_cache_total`).
struct CacheCounters {
    parse_hit: IntCounter,
    parse_miss: IntCounter,
    validation_hit: IntCounter,
    validation_miss: IntCounter,
}

pub struct Pipeline {
    /// Validates every request in full (`ValidationMode::Strict`).
    strict: ApiSchema,
    /// The same schema with `ValidationMode::Fast`: only for inputs that
    /// passed `strict`.
    trusted: ApiSchema,
    persisted: PersistedQueries,
    limits: Arc<RateLimits>,
    max_mutation_fields: usize,
    parsed: Cache<Digest32, Arc<ParsedDocument>>,
    validated: Cache<Digest32, ()>,
    counters: CacheCounters,
}

impl Pipeline {
    /// `strict` and `trusted` must be the same schema (types, limits, data)
    /// built with `ValidationMode::Strict` and `ValidationMode::Fast`; see
    /// `graphql::build_pipeline`.
    pub fn new(
        strict: ApiSchema,
        trusted: ApiSchema,
        persisted: PersistedQueries,
        limits: Arc<RateLimits>,
        max_mutation_fields: usize,
        metrics: &Metrics,
    ) -> Self {
        let counter = |cache: &str, outcome: &str| {
            metrics
                .graphql_document_cache
                .with_label_values(&[cache, outcome])
        };
        Self {
            strict,
            trusted,
            persisted,
            limits,
            max_mutation_fields,
            parsed: Cache::builder()
                .weigher(|_, parsed: &Arc<ParsedDocument>| {
                    u32::try_from(parsed.text_len.max(1)).unwrap_or(u32::MAX)
                })
                .max_capacity(PARSED_TEXT_BYTES)
                .build(),
            validated: Cache::builder().max_capacity(VALIDATED_ENTRIES).build(),
            counters: CacheCounters {
                parse_hit: counter("parse", "hit"),
                parse_miss: counter("parse", "miss"),
                validation_hit: counter("validation", "hit"),
                validation_miss: counter("validation", "miss"),
            },
        }
    }

    /// The schema (the strict one), for SDL and tests.
    pub fn schema(&self) -> &ApiSchema {
        &self.strict
    }

    /// Runs `request` for `caller`: persisted query, parse, limits,
    /// validation, execution. A refusal is a response with one error.
    pub async fn execute(&self, mut request: Request, caller: &RequestContext) -> Response {
        let (digest, document) = match self.prepare(&mut request, caller) {
            Ok(prepared) => prepared,
            Err(error) => return Response::from_errors(vec![error]),
        };
        request.set_parsed_query(document);
        let key = validation_key(
            &digest,
            request.operation_name.as_deref(),
            &request.variables,
        );
        if let Some(key) = key
            && self.validated.contains_key(&key)
        {
            self.counters.validation_hit.inc();
            return self.trusted.execute(request).await;
        }
        self.counters.validation_miss.inc();
        let response = self.strict.execute(request).await;
        // Validation refuses with no data at all, so data means it passed.
        if let Some(key) = key
            && response.data != Value::Null
        {
            self.validated.insert(key, ());
        }
        response
    }

    /// Everything before validation; the document's digest and the document.
    fn prepare(
        &self,
        request: &mut Request,
        caller: &RequestContext,
    ) -> Result<(Digest32, ExecutableDocument), ServerError> {
        let (digest, document) = match self.persisted_query(request)? {
            Some(found) => found,
            None => self.parse(&request.query)?,
        };
        self.check_caller(&document, request.operation_name.as_deref(), caller)?;
        Ok((digest, document))
    }

    /// A document named by its hash alone (`Some`), or `None` when the
    /// request's text is to be parsed (after the allowlist admitted it, or
    /// after Apollo's hash was checked against it).
    fn persisted_query(
        &self,
        request: &mut Request,
    ) -> Result<Option<(Digest32, ExecutableDocument)>, ServerError> {
        match &self.persisted {
            PersistedQueries::Off => Ok(None),
            PersistedQueries::Allowlist(list) => {
                let sent_hash = request
                    .extensions
                    .get("persistedQuery")
                    .and_then(|v| match v {
                        Value::Object(o) => o.get("sha256Hash").cloned(),
                        _ => None,
                    })
                    .and_then(|v| match v {
                        Value::String(s) => Some(s.to_ascii_lowercase()),
                        _ => None,
                    });
                if request.query.trim().is_empty() {
                    match sent_hash.as_ref().and_then(|h| list.get(h)) {
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
                    if !list.contains_key(&hash) {
                        return Err(error_with_code(
                            "this query is not in the persisted query allowlist",
                            "PERSISTED_QUERY_NOT_ALLOWED",
                            None,
                        ));
                    }
                }
                // Apollo's marker is handled here; nothing else acts on it.
                request.extensions.remove("persistedQuery");
                Ok(None)
            }
            PersistedQueries::Automatic => {
                let Some(value) = request.extensions.remove("persistedQuery") else {
                    return Ok(None);
                };
                // Apollo's protocol and messages, as async-graphql's
                // `ApolloPersistedQueries` extension answers them.
                let persisted: ApolloPersistedQuery =
                    async_graphql::from_value(value).map_err(|_| {
                        ServerError::new(
                            "Invalid \"PersistedQuery\" extension configuration.",
                            None,
                        )
                    })?;
                if persisted.version != 1 {
                    return Err(ServerError::new(
                        format!(
                            "Only the \"PersistedQuery\" extension of version \"1\" is supported, and the current version is \"{}\".",
                            persisted.version
                        ),
                        None,
                    ));
                }
                if request.query.is_empty() {
                    let digest = hex_digest(&persisted.sha256_hash)
                        .ok_or_else(|| ServerError::new("PersistedQueryNotFound", None))?;
                    match self.parsed.get(&digest) {
                        Some(parsed) => {
                            self.counters.parse_hit.inc();
                            Ok(Some((digest, parsed.document.clone())))
                        }
                        None => Err(ServerError::new("PersistedQueryNotFound", None)),
                    }
                } else if persisted.sha256_hash
                    != hex::encode(Sha256::digest(request.query.as_bytes()))
                {
                    Err(ServerError::new("provided sha does not match query", None))
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// The document of `query`, from the cache or parsed (and then cached).
    fn parse(&self, query: &str) -> Result<(Digest32, ExecutableDocument), ServerError> {
        let digest: Digest32 = Sha256::digest(query.as_bytes()).into();
        if let Some(parsed) = self.parsed.get(&digest) {
            self.counters.parse_hit.inc();
            return Ok((digest, parsed.document.clone()));
        }
        self.counters.parse_miss.inc();
        let document = async_graphql::parser::parse_query(query)?;
        self.parsed.insert(
            digest,
            Arc::new(ParsedDocument {
                text_len: query.len(),
                document: document.clone(),
            }),
        );
        Ok((digest, document))
    }

    /// The cap on root mutation fields, then the user's and organization's
    /// rate limits.
    fn check_caller(
        &self,
        document: &ExecutableDocument,
        operation_name: Option<&str>,
        caller: &RequestContext,
    ) -> Result<(), ServerError> {
        let kind = operation_kind(document, operation_name);
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
        let org = clerk_org_key(&caller.identity);
        match self
            .limits
            .check_caller(&caller.identity.subject, &org, kind)
        {
            Ok(()) => Ok(()),
            Err(Refusal::Wait(wait)) => Err(error_with_code(
                "rate limit exceeded; retry later",
                RATE_LIMITED,
                Some(("retryAfter", retry_after_secs(wait))),
            )),
            Err(Refusal::TooLarge { needed, capacity }) => Err(error_with_code(
                &format!(
                    "this request holds {needed} mutations; the rate limit allows {capacity} a minute"
                ),
                TOO_MANY_MUTATIONS,
                None,
            )),
        }
    }
}

#[derive(Deserialize)]
struct ApolloPersistedQuery {
    version: i32,
    #[serde(rename = "sha256Hash")]
    sha256_hash: String,
}

/// The digest a lowercase SHA-256 hex string names (APQ hashes are compared
/// with the lowercase hex of the text, so only that form can match).
fn hex_digest(hash: &str) -> Option<Digest32> {
    if hash.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    hex::decode(hash).ok()?.try_into().ok()
}

/// A `Write` that feeds a hasher, so variables are hashed without building
/// their JSON text.
struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What validation reads besides the schema: the document, the operation
/// picked, the variables. The operation name is length-prefixed and the
/// variables are self-delimiting JSON, so no two inputs share a key.
fn validation_key(
    document: &Digest32,
    operation: Option<&str>,
    variables: &Variables,
) -> Option<Digest32> {
    let mut hasher = Sha256::new();
    hasher.update(document);
    match operation {
        Some(name) => {
            hasher.update([1]);
            hasher.update((name.len() as u64).to_le_bytes());
            hasher.update(name.as_bytes());
        }
        None => hasher.update([0]),
    }
    serde_json::to_writer(HashWriter(&mut hasher), variables).ok()?;
    Some(hasher.finalize().into())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_keys_tell_operations_and_variables_apart() {
        let doc = [7u8; 32];
        let vars = |json: serde_json::Value| Variables::from_json(json);
        let empty = vars(serde_json::json!({}));
        let keys = [
            validation_key(&doc, None, &empty),
            validation_key(&doc, Some("A"), &empty),
            validation_key(&doc, Some("B"), &empty),
            validation_key(&doc, None, &vars(serde_json::json!({ "n": 1 }))),
            validation_key(&doc, None, &vars(serde_json::json!({ "n": 100 }))),
            validation_key(&[8u8; 32], None, &empty),
        ];
        let distinct: HashSet<_> = keys.iter().map(|k| k.unwrap()).collect();
        assert_eq!(distinct.len(), keys.len());
        assert_eq!(
            validation_key(&doc, Some("A"), &empty),
            validation_key(&doc, Some("A"), &vars(serde_json::json!({})))
        );
    }

    #[test]
    fn apollo_hashes_name_digests_only_in_lowercase_hex() {
        let digest: Digest32 = Sha256::digest(b"{ me { id } }").into();
        let hex = hex::encode(digest);
        assert_eq!(hex_digest(&hex), Some(digest));
        assert_eq!(hex_digest(&hex.to_ascii_uppercase()), None);
        assert_eq!(hex_digest("abc"), None);
        assert_eq!(hex_digest(&format!("{hex}00")), None);
    }
}
