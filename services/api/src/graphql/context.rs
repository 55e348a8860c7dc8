//! What a GraphQL request carries: the verified identity, the tenant resolved
//! from it (lazily, so requests refused by validation never reach the
//! database), and the per-request DataLoader.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use crate::db::Db;
use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::auth::Identity;
use crate::error::{ApiError, GqlResultExt};
use crate::services::Services;
use crate::store::users::UserRow;
use crate::store::{self, Tenant};

pub struct RequestContext {
    pub identity: Identity,
    /// The request's span and the caller's `traceparent` header, from which
    /// the traceparent of a call to the ai service is made when one is made.
    span: tracing::Span,
    incoming_traceparent: Option<String>,
    traceparent: OnceLock<String>,
    tenant: OnceCell<Tenant>,
}

impl RequestContext {
    pub fn new(
        identity: Identity,
        span: tracing::Span,
        incoming_traceparent: Option<&str>,
    ) -> Self {
        Self {
            identity,
            span,
            incoming_traceparent: incoming_traceparent.map(str::to_string),
            traceparent: OnceLock::new(),
            tenant: OnceCell::new(),
        }
    }

    /// The W3C traceparent for a call to the ai service (made on first use:
    /// most requests call nothing).
    pub fn traceparent(&self) -> &str {
        self.traceparent.get_or_init(|| {
            crate::telemetry::child_traceparent(&self.span, self.incoming_traceparent.as_deref())
        })
    }

    /// The tenant, once some resolver has needed it.
    pub fn resolved_tenant(&self) -> Option<&Tenant> {
        self.tenant.get()
    }
}

pub fn services<'a>(ctx: &Context<'a>) -> &'a Services {
    ctx.data_unchecked::<Arc<Services>>()
}

/// The caller's tenant: users/organizations are created on first sight here.
pub async fn tenant<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Tenant> {
    let request = ctx.data_unchecked::<Arc<RequestContext>>();
    let services = services(ctx);
    request
        .tenant
        // Boxed: the first-sight transaction's future is large, and every
        // resolver that awaits `tenant` would otherwise carry its size.
        .get_or_try_init(|| {
            Box::pin(store::identity::resolve(
                &services.db,
                &services.identities,
                &request.identity,
            ))
        })
        .await
        .gql()
}

/// Members of an organization by id, batched: a page of documents with their
/// owners costs one query for the owners, whatever the page size.
pub struct MemberLoader {
    db: Db,
}

impl MemberLoader {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

/// (organization id, user id)
pub type MemberKey = (Uuid, Uuid);

impl Loader<MemberKey> for MemberLoader {
    type Value = UserRow;
    type Error = Arc<ApiError>;

    async fn load(&self, keys: &[MemberKey]) -> Result<HashMap<MemberKey, UserRow>, Self::Error> {
        let mut by_org: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for (org, user) in keys {
            by_org.entry(*org).or_default().push(*user);
        }
        let mut found = HashMap::new();
        for (org, users) in by_org {
            let rows = store::users::members_by_ids(&self.db, org, &users)
                .await
                .map_err(Arc::new)?;
            found.extend(rows.into_iter().map(|(id, row)| ((org, id), row)));
        }
        Ok(found)
    }
}

/// One per request, with a cache: owners fetched with a page of documents
/// are fed into it, and a member is loaded at most once per request.
pub fn new_member_loader(db: Db) -> DataLoader<MemberLoader, HashMapCache> {
    DataLoader::with_cache(MemberLoader::new(db), tokio::spawn, HashMapCache::default())
}

/// Loads a member of the tenant's organization through the request's loader.
pub async fn member(ctx: &Context<'_>, user_id: Uuid) -> async_graphql::Result<Option<UserRow>> {
    let tenant = tenant(ctx).await?;
    let loader = ctx.data_unchecked::<DataLoader<MemberLoader, HashMapCache>>();
    loader
        .load_one((tenant.org_id, user_id))
        .await
        .map_err(|e| match Arc::try_unwrap(e) {
            Ok(err) => err.into_gql(),
            Err(shared) => async_graphql::ErrorExtensions::extend(&*shared),
        })
}
