//! Object types of the Relay schema (seed 003 §6, seed 001 entities).
//!
//! Resolvers that reach the database box their futures (`.boxed()`): an
//! object's fields resolve through one future type sized for its largest
//! field, so an unboxed query future would be allocated and copied for
//! every `id` and `title` of every row.

use async_graphql::{Context, ID, Interface, Object, SimpleObject};
use futures::FutureExt;
use uuid::Uuid;

use async_graphql::dataloader::{DataLoader, HashMapCache};

use super::context::{MemberKey, MemberLoader, member, services, tenant};
use super::scalars::Time;
use crate::error::{ApiError, GqlResultExt};
use crate::ids::{self, NodeKind};
use crate::store::audit::AuditEventRow;
use crate::store::documents::{DocumentFilter, DocumentRow};
use crate::store::jobs::JobRow;
use crate::store::pagination::{Cursor, Keyed, Page, PageRequest};
use crate::store::projects::ProjectRow;
use crate::store::uploads::UploadRow;
use crate::store::users::{OrganizationRow, UserRow};
use crate::store::{self};

#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global id"))]
pub enum Node {
    User(User),
    Organization(Organization),
    Project(Project),
    Document(Document),
    Upload(Upload),
    Job(Job),
    AuditEvent(AuditEvent),
}

pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start: Option<Cursor>,
    pub end: Option<Cursor>,
}

#[Object]
impl PageInfo {
    async fn has_next_page(&self) -> bool {
        self.has_next_page
    }
    async fn has_previous_page(&self) -> bool {
        self.has_previous_page
    }
    async fn start_cursor(&self) -> Option<String> {
        self.start.map(|c| c.encode())
    }
    async fn end_cursor(&self) -> Option<String> {
        self.end.map(|c| c.encode())
    }
}

/// A Relay connection type and its edge type, named as seed 003 names them.
/// Cursors are kept as positions and encoded only when a client asks for
/// them (most pages are read without).
macro_rules! connection {
    ($connection:ident, $edge:ident, $node:ty) => {
        pub struct $edge {
            pub node: $node,
            pub cursor: Cursor,
        }

        #[Object]
        impl $edge {
            async fn node(&self) -> &$node {
                &self.node
            }
            async fn cursor(&self) -> String {
                self.cursor.encode()
            }
        }

        #[derive(SimpleObject)]
        pub struct $connection {
            pub edges: Vec<$edge>,
            pub page_info: PageInfo,
        }

        impl $connection {
            pub fn from_page<R: Keyed>(page: Page<R>, wrap: impl Fn(R) -> $node) -> Self {
                let edges: Vec<$edge> = page
                    .rows
                    .into_iter()
                    .map(|row| $edge {
                        cursor: row.cursor(),
                        node: wrap(row),
                    })
                    .collect();
                let page_info = PageInfo {
                    has_next_page: page.has_next_page,
                    has_previous_page: page.has_previous_page,
                    start: edges.first().map(|e| e.cursor),
                    end: edges.last().map(|e| e.cursor),
                };
                Self { edges, page_info }
            }
        }
    };
}

connection!(DocumentConnection, DocumentEdge, Document);
connection!(ProjectConnection, ProjectEdge, Project);

/// Decodes an id argument of a known kind; a bad id reads as "no such object".
pub fn id_of(kind: NodeKind, id: &ID) -> Option<Uuid> {
    ids::decode_as(kind, id)
}

/// A required id argument of a known kind.
pub fn require_id(kind: NodeKind, id: &ID, field: &str) -> async_graphql::Result<Uuid> {
    id_of(kind, id).ok_or_else(|| {
        ApiError::InvalidInput(format!("`{field}` is not a {} id", kind.name())).into_gql()
    })
}

pub async fn documents_connection(
    ctx: &Context<'_>,
    filter: DocumentFilter,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> async_graphql::Result<DocumentConnection> {
    let req = PageRequest::from_args(first, after.as_deref(), last, before.as_deref()).gql()?;
    let tenant = tenant(ctx).await?;
    let db = &services(ctx).db;
    let wants_owners = ctx
        .look_ahead()
        .field("edges")
        .field("node")
        .field("owner")
        .exists();
    if !wants_owners {
        let page = store::documents::page(db, tenant, filter, &req)
            .await
            .gql()?;
        return Ok(DocumentConnection::from_page(page, Document));
    }
    // The owners come in the page's own statement; the request's loader is
    // primed with them, so `owner` resolves without another round trip.
    let page = store::documents::page_with_owners(db, tenant, filter, &req)
        .await
        .gql()?;
    let owners: Vec<(MemberKey, UserRow)> = page
        .rows
        .iter()
        .filter_map(|row| row.owner())
        .map(|owner| ((tenant.org_id, owner.id), owner))
        .collect();
    ctx.data_unchecked::<DataLoader<MemberLoader, HashMapCache>>()
        .feed_many(owners)
        .await;
    Ok(DocumentConnection::from_page(
        page.map(|row| row.document),
        Document,
    ))
}

pub struct User(pub UserRow);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ids::encode(NodeKind::User, self.0.id)
    }
    /// Empty when the identity provider did not share it.
    async fn email(&self) -> &str {
        self.0.email.as_deref().unwrap_or("")
    }
    /// Role in the caller's organization, as the identity provider reports it.
    async fn role(&self) -> Option<&str> {
        self.0.role.as_deref()
    }
    async fn created_at(&self) -> Time {
        Time(self.0.created_at)
    }
    /// Documents this user owns in the caller's organization.
    #[graphql(
        complexity = "crate::store::pagination::PageRequest::size_hint(first, last) * child_complexity + 1"
    )]
    async fn documents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<DocumentConnection> {
        let filter = DocumentFilter {
            owner_id: Some(self.0.id),
            project_id: None,
        };
        documents_connection(ctx, filter, first, after, last, before)
            .boxed()
            .await
    }
}

pub struct Organization(pub OrganizationRow);

#[Object]
impl Organization {
    async fn id(&self) -> ID {
        ids::encode(NodeKind::Organization, self.0.id)
    }
    /// The identity provider's organization id.
    async fn external_id(&self) -> &str {
        &self.0.clerk_org_id
    }
    async fn created_at(&self) -> Time {
        Time(self.0.created_at)
    }
}

pub struct Project(pub ProjectRow);

#[Object]
impl Project {
    async fn id(&self) -> ID {
        ids::encode(NodeKind::Project, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(member(ctx, self.0.created_by).boxed().await?.map(User))
    }
    async fn created_at(&self) -> Time {
        Time(self.0.created_at)
    }
    async fn updated_at(&self) -> Time {
        Time(self.0.updated_at)
    }
    #[graphql(
        complexity = "crate::store::pagination::PageRequest::size_hint(first, last) * child_complexity + 1"
    )]
    async fn documents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<DocumentConnection> {
        let filter = DocumentFilter {
            owner_id: None,
            project_id: Some(self.0.id),
        };
        documents_connection(ctx, filter, first, after, last, before)
            .boxed()
            .await
    }
}

pub struct Document(pub DocumentRow);

#[Object]
impl Document {
    async fn id(&self) -> ID {
        ids::encode(NodeKind::Document, self.0.id)
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        member(ctx, self.0.owner_id)
            .boxed()
            .await?
            .map(User)
            .ok_or_else(|| ApiError::NotFound.into_gql())
    }
    async fn project(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Project>> {
        let Some(project) = self.0.project_id else {
            return Ok(None);
        };
        async move {
            let tenant = tenant(ctx).await?;
            Ok(store::projects::get(&services(ctx).db, tenant, project)
                .await
                .gql()?
                .map(Project))
        }
        .boxed()
        .await
    }
    async fn created_at(&self) -> Time {
        Time(self.0.created_at)
    }
    async fn updated_at(&self) -> Time {
        Time(self.0.updated_at)
    }
}

pub struct Upload(pub UploadRow);

#[Object]
impl Upload {
    async fn id(&self) -> ID {
        ids::encode(NodeKind::Upload, self.0.id)
    }
    async fn filename(&self) -> &str {
        &self.0.filename
    }
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }
    /// Size announced when the upload URL was requested.
    async fn declared_size_bytes(&self) -> i64 {
        self.0.declared_size
    }
    /// Size S3 reported at finalization; null until then.
    async fn size_bytes(&self) -> Option<i64> {
        self.0.size_bytes
    }
    /// PENDING or FINALIZED.
    async fn status(&self) -> &str {
        &self.0.status
    }
    async fn object_key(&self) -> &str {
        &self.0.object_key
    }
    async fn document(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Document>> {
        let Some(document) = self.0.document_id else {
            return Ok(None);
        };
        async move {
            let tenant = tenant(ctx).await?;
            Ok(store::documents::get(&services(ctx).db, tenant, document)
                .await
                .gql()?
                .map(Document))
        }
        .boxed()
        .await
    }
    async fn created_at(&self) -> Time {
        Time(self.0.created_at)
    }
    async fn finalized_at(&self) -> Option<Time> {
        self.0.finalized_at.map(Time)
    }
}

pub struct Job(pub JobRow);

#[Object]
impl Job {
    async fn id(&self) -> ID {
        ids::encode(NodeKind::Job, self.0.id)
    }
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// SUCCEEDED or FAILED.
    async fn status(&self) -> &str {
        &self.0.status
    }
    async fn model(&self) -> Option<&str> {
        self.0.model.as_deref()
    }
    async fn provider(&self) -> Option<&str> {
        self.0.provider.as_deref()
    }
    async fn input_tokens(&self) -> Option<i32> {
        self.0.input_tokens
    }
    async fn output_tokens(&self) -> Option<i32> {
        self.0.output_tokens
    }
    async fn latency_ms(&self) -> Option<i32> {
        self.0.latency_ms
    }
    async fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    async fn created_at(&self) -> Time {
        Time(self.0.created_at)
    }
    async fn finished_at(&self) -> Option<Time> {
        self.0.finished_at.map(Time)
    }
}

pub struct AuditEvent(pub AuditEventRow);

#[Object]
impl AuditEvent {
    async fn id(&self) -> ID {
        ids::encode(NodeKind::AuditEvent, self.0.id)
    }
    /// For example `document.create`.
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// Global id of the object acted on.
    async fn subject_id(&self) -> ID {
        ID(self.0.subject_id.clone())
    }
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(member(ctx, self.0.actor_id).boxed().await?.map(User))
    }
    async fn created_at(&self) -> Time {
        Time(self.0.created_at)
    }
}

/// Any object by global id, within the caller's organization; `None` both for
/// ids that do not exist and for objects of other organizations.
pub async fn load_node(ctx: &Context<'_>, id: &str) -> async_graphql::Result<Option<Node>> {
    let Some((kind, uuid)) = ids::decode(id) else {
        return Ok(None);
    };
    let tenant = tenant(ctx).await?;
    let db = &services(ctx).db;
    let node = match kind {
        NodeKind::User => member(ctx, uuid).await?.map(|u| Node::User(User(u))),
        NodeKind::Organization => store::users::organization(db, tenant, uuid)
            .await
            .gql()?
            .map(|o| Node::Organization(Organization(o))),
        NodeKind::Project => store::projects::get(db, tenant, uuid)
            .await
            .gql()?
            .map(|p| Node::Project(Project(p))),
        NodeKind::Document => store::documents::get(db, tenant, uuid)
            .await
            .gql()?
            .map(|d| Node::Document(Document(d))),
        NodeKind::Upload => store::uploads::get(db, tenant, uuid)
            .await
            .gql()?
            .map(|u| Node::Upload(Upload(u))),
        NodeKind::Job => store::jobs::get(db, tenant, uuid)
            .await
            .gql()?
            .map(|j| Node::Job(Job(j))),
        NodeKind::AuditEvent => store::audit::get(db, tenant, uuid)
            .await
            .gql()?
            .map(|a| Node::AuditEvent(AuditEvent(a))),
    };
    Ok(node)
}
