use crate::db::Db;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Tenant, audit};
use crate::error::ApiError;
use crate::ids::{self, NodeKind};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub document_id: Option<Uuid>,
    pub object_key: String,
    pub filename: String,
    pub content_type: String,
    pub declared_size: i64,
    pub size_bytes: Option<i64>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub finalized_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, org_id, user_id, document_id, object_key, filename, content_type, declared_size, \
                       size_bytes, status, created_at, finalized_at";

pub struct NewUpload<'a> {
    pub id: Uuid,
    pub document_id: Option<Uuid>,
    pub object_key: &'a str,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub declared_size: i64,
}

pub async fn create(
    db: &Db,
    tenant: &Tenant,
    new: NewUpload<'_>,
) -> Result<(UploadRow, Uuid), ApiError> {
    let mut tx = db.begin().await?;
    if let Some(document) = new.document_id {
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM documents WHERE org_id = $1 AND id = $2)",
        )
        .bind(tenant.org_id)
        .bind(document)
        .fetch_one(&mut *tx)
        .await?;
        if !exists {
            return Err(ApiError::InvalidInput(
                "`documentId` does not name a document".into(),
            ));
        }
    }
    let row: UploadRow = sqlx::query_as(&format!(
        "INSERT INTO uploads (id, org_id, user_id, document_id, object_key, filename, content_type, declared_size) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(new.id)
    .bind(tenant.org_id)
    .bind(tenant.user_id)
    .bind(new.document_id)
    .bind(new.object_key)
    .bind(new.filename)
    .bind(new.content_type)
    .bind(new.declared_size)
    .fetch_one(&mut *tx)
    .await?;
    let audit = audit::record(
        &mut tx,
        tenant,
        "upload.request",
        &ids::encode(NodeKind::Upload, row.id),
    )
    .await?;
    tx.commit().await?;
    Ok((row, audit))
}

pub async fn get(db: &Db, tenant: &Tenant, id: Uuid) -> Result<Option<UploadRow>, ApiError> {
    super::fetch_one(db, tenant, "uploads", COLUMNS, id).await
}

/// Records what S3 holds for a pending upload.
pub async fn finalize(
    db: &Db,
    tenant: &Tenant,
    id: Uuid,
    size_bytes: i64,
    content_type: &str,
) -> Result<(UploadRow, Uuid), ApiError> {
    let mut tx = db.begin().await?;
    let row: Option<UploadRow> = sqlx::query_as(&format!(
        "UPDATE uploads SET status = 'FINALIZED', size_bytes = $3, content_type = $4, finalized_at = now() \
         WHERE org_id = $1 AND id = $2 AND status = 'PENDING' RETURNING {COLUMNS}"
    ))
    .bind(tenant.org_id)
    .bind(id)
    .bind(size_bytes)
    .bind(content_type)
    .fetch_optional(&mut *tx)
    .await?;
    let row =
        row.ok_or_else(|| ApiError::UploadRejected("the upload is already finalized".into()))?;
    let audit = audit::record(
        &mut tx,
        tenant,
        "upload.finalize",
        &ids::encode(NodeKind::Upload, row.id),
    )
    .await?;
    tx.commit().await?;
    Ok((row, audit))
}
