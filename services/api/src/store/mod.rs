//! All SQL lives here, and every query is scoped to the caller's organization.
//!
//! Invariant: a function that reads or writes tenant data takes a [`Tenant`]
//! and puts `org_id = <tenant.org_id>` in its WHERE clause (or insert). A
//! [`Tenant`] only comes from [`identity::resolve`], i.e. from a verified
//! token. A row of another organization is therefore indistinguishable from a
//! row that does not exist.

pub mod audit;
pub mod documents;
pub mod identity;
pub mod jobs;
pub mod pagination;
pub mod projects;
pub mod uploads;
pub mod users;

use crate::db::Db;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::error::ApiError;
use pagination::{Keyed, Page, PageRequest, keyset_sql};

/// The caller, as far as data access is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub role: Option<String>,
}

/// Time-ordered ids (UUIDv7) keep inserts at the right edge of the indexes.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// One page of `table` rows of the tenant's organization, optionally narrowed
/// by equality on `extra` columns (static names from this module).
pub(crate) async fn fetch_page<T>(
    db: &Db,
    tenant: &Tenant,
    table: &'static str,
    columns: &'static str,
    extra: &[(&'static str, Uuid)],
    req: &PageRequest,
) -> Result<Page<T>, ApiError>
where
    T: for<'r> sqlx::FromRow<'r, PgRow> + Keyed + Send + Unpin,
{
    fetch_page_around(db, tenant, table, columns, extra, req, |page| page).await
}

/// [`fetch_page`] whose page statement is wrapped by `around` (static SQL
/// that selects from the page as a subquery, e.g. to join related rows into
/// the same statement); the wrapper keeps the page's order.
pub(crate) async fn fetch_page_around<T>(
    db: &Db,
    tenant: &Tenant,
    table: &'static str,
    columns: &'static str,
    extra: &[(&'static str, Uuid)],
    req: &PageRequest,
    around: impl FnOnce(String) -> String,
) -> Result<Page<T>, ApiError>
where
    T: for<'r> sqlx::FromRow<'r, PgRow> + Keyed + Send + Unpin,
{
    let mut filter = String::from("org_id = $1");
    for (i, (column, _)) in extra.iter().enumerate() {
        filter.push_str(&format!(" AND {column} = ${}", i + 2));
    }
    let sql = keyset_sql(columns, table, &filter, 1 + extra.len(), req);
    let page_sql = around(sql.page);

    let mut page = sqlx::query_as::<_, T>(&page_sql).bind(tenant.org_id);
    for (_, value) in extra {
        page = page.bind(*value);
    }
    if let Some(cursor) = req.cursor {
        page = page.bind(cursor.created_at).bind(cursor.id);
    }
    let mut rows = page.bind(req.limit + 1).fetch_all(db).await?;
    let more = rows.len() as i64 > req.limit;
    rows.truncate(req.limit as usize);

    let beyond = match (&sql.beyond_cursor, req.cursor) {
        (Some(exists), Some(cursor)) => {
            let mut q = sqlx::query_scalar::<_, bool>(exists).bind(tenant.org_id);
            for (_, value) in extra {
                q = q.bind(*value);
            }
            q.bind(cursor.created_at)
                .bind(cursor.id)
                .fetch_one(db)
                .await?
        }
        _ => false,
    };
    if req.backward {
        rows.reverse();
        Ok(Page {
            rows,
            has_next_page: beyond,
            has_previous_page: more,
        })
    } else {
        Ok(Page {
            rows,
            has_next_page: more,
            has_previous_page: beyond,
        })
    }
}

/// One row of `table` by id, within the tenant's organization.
pub(crate) async fn fetch_one<T>(
    db: &Db,
    tenant: &Tenant,
    table: &'static str,
    columns: &'static str,
    id: Uuid,
) -> Result<Option<T>, ApiError>
where
    T: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
{
    let sql = format!("SELECT {columns} FROM {table} WHERE org_id = $1 AND id = $2");
    Ok(sqlx::query_as::<_, T>(&sql)
        .bind(tenant.org_id)
        .bind(id)
        .fetch_optional(db)
        .await?)
}

/// Text input checks shared by mutations: trimmed, non-empty, bounded.
pub fn checked_text(field: &str, value: &str, max_chars: usize) -> Result<String, ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::InvalidInput(format!(
            "`{field}` must not be blank"
        )));
    }
    if value.chars().count() > max_chars {
        return Err(ApiError::InvalidInput(format!(
            "`{field}` must be at most {max_chars} characters"
        )));
    }
    if value.contains('\0') {
        return Err(ApiError::InvalidInput(format!(
            "`{field}` must not contain NUL characters"
        )));
    }
    Ok(value.to_string())
}
