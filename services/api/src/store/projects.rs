use crate::db::Db;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::pagination::{Cursor, Keyed, Page, PageRequest};
use super::{Tenant, audit, new_id};
use crate::error::ApiError;
use crate::ids::{self, NodeKind};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProjectRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub created_by: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Keyed for ProjectRow {
    fn cursor(&self) -> Cursor {
        Cursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

const COLUMNS: &str = "id, org_id, created_by, name, created_at, updated_at";
pub const MAX_NAME_CHARS: usize = 200;

pub async fn page(
    db: &Db,
    tenant: &Tenant,
    req: &PageRequest,
) -> Result<Page<ProjectRow>, ApiError> {
    super::fetch_page(db, tenant, "projects", COLUMNS, &[], req).await
}

pub async fn get(db: &Db, tenant: &Tenant, id: Uuid) -> Result<Option<ProjectRow>, ApiError> {
    super::fetch_one(db, tenant, "projects", COLUMNS, id).await
}

pub async fn create(db: &Db, tenant: &Tenant, name: &str) -> Result<(ProjectRow, Uuid), ApiError> {
    let name = super::checked_text("name", name, MAX_NAME_CHARS)?;
    let mut tx = db.begin().await?;
    let row: ProjectRow = sqlx::query_as(&format!(
        "INSERT INTO projects (id, org_id, created_by, name) VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"
    ))
    .bind(new_id())
    .bind(tenant.org_id)
    .bind(tenant.user_id)
    .bind(&name)
    .fetch_one(&mut *tx)
    .await?;
    let audit = audit::record(
        &mut tx,
        tenant,
        "project.create",
        &ids::encode(NodeKind::Project, row.id),
    )
    .await?;
    tx.commit().await?;
    Ok((row, audit))
}
