//! The append-only audit trail every mutation writes, in its own transaction.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};

use crate::db::Db;
use uuid::Uuid;

use super::{Tenant, new_id};
use crate::error::ApiError;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditEventRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub actor_id: Uuid,
    pub action: String,
    pub subject_id: String,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, org_id, actor_id, action, subject_id, created_at";

/// Records `action` on `subject_id` (a global id) by the tenant's user.
pub async fn record(
    tx: &mut Transaction<'_, Postgres>,
    tenant: &Tenant,
    action: &str,
    subject_id: &str,
) -> Result<Uuid, ApiError> {
    let id = new_id();
    sqlx::query("INSERT INTO audit_events (id, org_id, actor_id, action, subject_id) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(tenant.org_id)
        .bind(tenant.user_id)
        .bind(action)
        .bind(subject_id)
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

pub async fn get(db: &Db, tenant: &Tenant, id: Uuid) -> Result<Option<AuditEventRow>, ApiError> {
    super::fetch_one(db, tenant, "audit_events", COLUMNS, id).await
}
