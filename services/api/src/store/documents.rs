use crate::db::Db;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::pagination::{Cursor, Keyed, Page, PageRequest};
use super::users::UserRow;
use super::{Tenant, audit, new_id};
use crate::error::ApiError;
use crate::ids::{self, NodeKind};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DocumentRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub owner_id: Uuid,
    pub project_id: Option<Uuid>,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Keyed for DocumentRow {
    fn cursor(&self) -> Cursor {
        Cursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

const COLUMNS: &str = "id, org_id, owner_id, project_id, title, created_at, updated_at";
pub const MAX_TITLE_CHARS: usize = 500;

/// Which documents a list shows, beyond the organization.
#[derive(Debug, Clone, Copy, Default)]
pub struct DocumentFilter {
    pub owner_id: Option<Uuid>,
    pub project_id: Option<Uuid>,
}

pub async fn page(
    db: &Db,
    tenant: &Tenant,
    filter: DocumentFilter,
    req: &PageRequest,
) -> Result<Page<DocumentRow>, ApiError> {
    let mut extra = Vec::new();
    if let Some(owner) = filter.owner_id {
        extra.push(("owner_id", owner));
    }
    if let Some(project) = filter.project_id {
        extra.push(("project_id", project));
    }
    super::fetch_page(db, tenant, "documents", COLUMNS, &extra, req).await
}

/// A document with its owner as a member of the document's organization
/// (None when the owner is no longer a member).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DocumentWithOwnerRow {
    #[sqlx(flatten)]
    pub document: DocumentRow,
    pub owner_email: Option<String>,
    pub owner_role: Option<String>,
    pub owner_created_at: Option<DateTime<Utc>>,
}

impl DocumentWithOwnerRow {
    pub fn owner(&self) -> Option<UserRow> {
        self.owner_created_at.map(|created_at| UserRow {
            id: self.document.owner_id,
            email: self.owner_email.clone(),
            role: self.owner_role.clone(),
            created_at,
        })
    }
}

impl Keyed for DocumentWithOwnerRow {
    fn cursor(&self) -> Cursor {
        self.document.cursor()
    }
}

/// [`page`] with each document's owner, in one statement: the page is a
/// subquery, owners join it laterally (what the DataLoader would fetch, the
/// same membership rule), so a page with owners costs one round trip.
pub async fn page_with_owners(
    db: &Db,
    tenant: &Tenant,
    filter: DocumentFilter,
    req: &PageRequest,
) -> Result<Page<DocumentWithOwnerRow>, ApiError> {
    let mut extra = Vec::new();
    if let Some(owner) = filter.owner_id {
        extra.push(("owner_id", owner));
    }
    if let Some(project) = filter.project_id {
        extra.push(("project_id", project));
    }
    let order = if req.backward { "ASC" } else { "DESC" };
    super::fetch_page_around(db, tenant, "documents", COLUMNS, &extra, req, |page| {
        format!(
            "SELECT d.*, o.email AS owner_email, o.role AS owner_role, o.created_at AS owner_created_at \
             FROM ({page}) d LEFT JOIN LATERAL (SELECT u.email, m.role, u.created_at FROM users u \
             JOIN memberships m ON m.user_id = u.id AND m.org_id = d.org_id WHERE u.id = d.owner_id) o ON true \
             ORDER BY d.created_at {order}, d.id {order}"
        )
    })
    .await
}

pub async fn get(db: &Db, tenant: &Tenant, id: Uuid) -> Result<Option<DocumentRow>, ApiError> {
    super::fetch_one(db, tenant, "documents", COLUMNS, id).await
}

pub async fn create(
    db: &Db,
    tenant: &Tenant,
    title: &str,
    project_id: Option<Uuid>,
) -> Result<(DocumentRow, Uuid), ApiError> {
    let title = super::checked_text("title", title, MAX_TITLE_CHARS)?;
    let mut tx = db.begin().await?;
    if let Some(project) = project_id {
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM projects WHERE org_id = $1 AND id = $2)",
        )
        .bind(tenant.org_id)
        .bind(project)
        .fetch_one(&mut *tx)
        .await?;
        if !exists {
            return Err(ApiError::InvalidInput(
                "`projectId` does not name a project".into(),
            ));
        }
    }
    let row: DocumentRow = sqlx::query_as(&format!(
        "INSERT INTO documents (id, org_id, owner_id, project_id, title) VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    ))
    .bind(new_id())
    .bind(tenant.org_id)
    .bind(tenant.user_id)
    .bind(project_id)
    .bind(&title)
    .fetch_one(&mut *tx)
    .await?;
    let audit = audit::record(
        &mut tx,
        tenant,
        "document.create",
        &ids::encode(NodeKind::Document, row.id),
    )
    .await?;
    tx.commit().await?;
    Ok((row, audit))
}

pub async fn update(
    db: &Db,
    tenant: &Tenant,
    id: Uuid,
    title: &str,
) -> Result<Option<(DocumentRow, Uuid)>, ApiError> {
    let title = super::checked_text("title", title, MAX_TITLE_CHARS)?;
    let mut tx = db.begin().await?;
    let row: Option<DocumentRow> = sqlx::query_as(&format!(
        "UPDATE documents SET title = $3, updated_at = now() WHERE org_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(tenant.org_id)
    .bind(id)
    .bind(&title)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let audit = audit::record(
        &mut tx,
        tenant,
        "document.update",
        &ids::encode(NodeKind::Document, row.id),
    )
    .await?;
    tx.commit().await?;
    Ok(Some((row, audit)))
}

/// Deletes the document; `None` when the organization has no such document.
pub async fn delete(db: &Db, tenant: &Tenant, id: Uuid) -> Result<Option<Uuid>, ApiError> {
    let mut tx = db.begin().await?;
    let deleted = sqlx::query("DELETE FROM documents WHERE org_id = $1 AND id = $2")
        .bind(tenant.org_id)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Ok(None);
    }
    let audit = audit::record(
        &mut tx,
        tenant,
        "document.delete",
        &ids::encode(NodeKind::Document, id),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(audit))
}
