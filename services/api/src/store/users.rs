//! Users and organizations, as members of the tenant's organization see them.

use std::collections::HashMap;

use crate::db::Db;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Tenant;
use crate::error::ApiError;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: Option<String>,
    pub role: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrganizationRow {
    pub id: Uuid,
    pub clerk_org_id: String,
    pub created_at: DateTime<Utc>,
}

/// Members of `org_id` among `ids`, in one query (the DataLoader's batch).
pub async fn members_by_ids(
    db: &Db,
    org_id: Uuid,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, UserRow>, ApiError> {
    let rows: Vec<UserRow> = sqlx::query_as(
        "SELECT u.id, u.email, m.role, u.created_at FROM users u \
         JOIN memberships m ON m.user_id = u.id AND m.org_id = $1 WHERE u.id = ANY($2)",
    )
    .bind(org_id)
    .bind(ids)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r)).collect())
}

pub async fn get(db: &Db, tenant: &Tenant, id: Uuid) -> Result<Option<UserRow>, ApiError> {
    Ok(members_by_ids(db, tenant.org_id, &[id]).await?.remove(&id))
}

/// The tenant's own organization; any other id is "not found".
pub async fn organization(
    db: &Db,
    tenant: &Tenant,
    id: Uuid,
) -> Result<Option<OrganizationRow>, ApiError> {
    if id != tenant.org_id {
        return Ok(None);
    }
    Ok(
        sqlx::query_as("SELECT id, clerk_org_id, created_at FROM organizations WHERE id = $1")
            .bind(id)
            .fetch_optional(db)
            .await?,
    )
}
