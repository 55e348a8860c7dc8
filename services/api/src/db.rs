//! The connection pool and the embedded migrations.

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::Config;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL could not be parsed: {0}")]
    BadUrl(String),
    #[error("database unreachable: {0}")]
    Unreachable(#[source] sqlx::Error),
    #[error("{0} database migration(s) not applied; run `api migrate`")]
    NotMigrated(usize),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A lazy pool: connections open on demand, so the process starts (and
/// `/readyz` can say why it is not ready) while the database is away, and
/// recovers by itself when it returns.
pub fn pool(config: &Config) -> Result<PgPool, DbError> {
    pool_for(config.database_url.expose(), config.db_max_connections)
}

pub fn pool_for(database_url: &str, max_connections: u32) -> Result<PgPool, DbError> {
    let options = PgConnectOptions::from_str(database_url)
        .map_err(|e| DbError::BadUrl(e.to_string()))?
        .application_name("api")
        // A runaway query must not hold a connection for long.
        .options([("statement_timeout", "10s")]);
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(3))
        .idle_timeout(Duration::from_secs(300))
        .connect_lazy_with(options))
}

pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// How many embedded migrations the database lacks.
pub async fn pending_migrations(pool: &PgPool) -> Result<usize, DbError> {
    let applied: Vec<i64> =
        match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await
        {
            Ok(v) => v,
            // No bookkeeping table: nothing applied yet.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => Vec::new(),
            Err(e) => return Err(DbError::Unreachable(e)),
        };
    Ok(MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
        .count())
}

/// Ready = reachable and fully migrated.
pub async fn check_ready(pool: &PgPool) -> Result<(), DbError> {
    match pending_migrations(pool).await? {
        0 => Ok(()),
        n => Err(DbError::NotMigrated(n)),
    }
}
