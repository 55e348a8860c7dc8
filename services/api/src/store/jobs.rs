use crate::db::Db;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Tenant, audit, new_id};
use crate::error::ApiError;
use crate::ids::{self, NodeKind};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    pub status: String,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub input_tokens: Option<i32>,
    pub output_tokens: Option<i32>,
    pub latency_ms: Option<i32>,
    pub request_id: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, org_id, user_id, kind, status, model, provider, input_tokens, output_tokens, latency_ms, \
                       request_id, error, created_at, finished_at";

/// What an AI call produced (or why it failed).
pub struct JobOutcome<'a> {
    pub status: &'a str,
    pub model: Option<&'a str>,
    pub provider: Option<&'a str>,
    pub input_tokens: Option<i32>,
    pub output_tokens: Option<i32>,
    pub latency_ms: Option<i32>,
    pub request_id: Option<&'a str>,
    pub error: Option<&'a str>,
}

pub async fn record(
    db: &Db,
    tenant: &Tenant,
    kind: &str,
    outcome: JobOutcome<'_>,
) -> Result<(JobRow, Uuid), ApiError> {
    let mut tx = db.begin().await?;
    let row: JobRow = sqlx::query_as(&format!(
        "INSERT INTO jobs (id, org_id, user_id, kind, status, model, provider, input_tokens, output_tokens, \
         latency_ms, request_id, error, finished_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now()) RETURNING {COLUMNS}"
    ))
    .bind(new_id())
    .bind(tenant.org_id)
    .bind(tenant.user_id)
    .bind(kind)
    .bind(outcome.status)
    .bind(outcome.model)
    .bind(outcome.provider)
    .bind(outcome.input_tokens)
    .bind(outcome.output_tokens)
    .bind(outcome.latency_ms)
    .bind(outcome.request_id)
    .bind(outcome.error)
    .fetch_one(&mut *tx)
    .await?;
    let audit = audit::record(
        &mut tx,
        tenant,
        "job.generate",
        &ids::encode(NodeKind::Job, row.id),
    )
    .await?;
    tx.commit().await?;
    Ok((row, audit))
}

pub async fn get(db: &Db, tenant: &Tenant, id: Uuid) -> Result<Option<JobRow>, ApiError> {
    super::fetch_one(db, tenant, "jobs", COLUMNS, id).await
}
