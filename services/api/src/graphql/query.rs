use async_graphql::{Context, ID, Object};

use super::context::{services, tenant};
use super::types::{
    Document, DocumentConnection, Node, Project, ProjectConnection, User, documents_connection,
    id_of, load_node,
};
use crate::error::{ApiError, GqlResultExt};
use crate::ids::NodeKind;
use crate::store::documents::DocumentFilter;
use crate::store::pagination::PageRequest;
use crate::store::{self};

const MAX_NODES: usize = 100;

pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// The caller.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let tenant = tenant(ctx).await?;
        Ok(store::users::get(&services(ctx).db, tenant, tenant.user_id)
            .await
            .gql()?
            .map(User))
    }

    /// Any object by global id; null when it does not exist or belongs to
    /// another organization.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        load_node(ctx, &id).await
    }

    /// Up to 100 objects by global id, in the order asked.
    #[graphql(complexity = "ids.len() * child_complexity")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(ApiError::InvalidInput(format!("at most {MAX_NODES} ids")).into_gql());
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            out.push(load_node(ctx, id).await?);
        }
        Ok(out)
    }

    /// Documents of the caller's organization, newest first.
    #[graphql(complexity = "PageRequest::size_hint(first, last) * child_complexity + 1")]
    async fn documents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        project_id: Option<ID>,
    ) -> async_graphql::Result<DocumentConnection> {
        // An id that names no project of ours (nil uuid) filters everything out.
        let project_id = project_id.map(|id| id_of(NodeKind::Project, &id).unwrap_or_default());
        documents_connection(
            ctx,
            DocumentFilter {
                owner_id: None,
                project_id,
            },
            first,
            after,
            last,
            before,
        )
        .await
    }

    async fn document(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Document>> {
        let Some(uuid) = id_of(NodeKind::Document, &id) else {
            return Ok(None);
        };
        let tenant = tenant(ctx).await?;
        Ok(store::documents::get(&services(ctx).db, tenant, uuid)
            .await
            .gql()?
            .map(Document))
    }

    /// Projects of the caller's organization, newest first.
    #[graphql(complexity = "PageRequest::size_hint(first, last) * child_complexity + 1")]
    async fn projects(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<ProjectConnection> {
        let req = PageRequest::from_args(first, after.as_deref(), last, before.as_deref()).gql()?;
        let tenant = tenant(ctx).await?;
        let page = store::projects::page(&services(ctx).db, tenant, &req)
            .await
            .gql()?;
        Ok(ProjectConnection::from_page(page, Project))
    }
}
