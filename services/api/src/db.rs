//! The connection pool and the embedded migrations.
//!
//! The pool comes from `pg-credentials`: `DATABASE_URL`, or host, port and
//! name plus an RDS-managed secret that is read again when Postgres refuses
//! the password (a rotation needs no restart). Store functions take `&Db`,
//! which runs queries like `&Db` does.

use std::time::Duration;

use pg_credentials::{CredentialedPool, DatabaseSource, PoolError};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The service's database handle.
pub type Db = CredentialedPool;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Connect(#[from] PoolError),
    #[error("database unreachable: {0}")]
    Unreachable(#[source] sqlx::Error),
    #[error("{0} database migration(s) not applied; run `api migrate`")]
    NotMigrated(usize),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A lazy pool: connections open on demand, so the process starts (and
/// `/readyz` can say why it is not ready) while the database is away, and
/// recovers by itself when it returns. With a secret, the secret is read
/// once at start-up (a missing or malformed secret stops start-up).
pub async fn connect(
    source: &DatabaseSource,
    secrets: Option<aws_sdk_secretsmanager::Client>,
    max_connections: u32,
) -> Result<Db, DbError> {
    let pool_options = PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(3))
        .idle_timeout(Duration::from_secs(300))
        // No ping before each acquire (a round trip per query): a connection
        // that died while idle fails its first statement, and `Db` then
        // drops the idle ones and runs a SELECT or BEGIN once more.
        .test_before_acquire(false);
    Ok(CredentialedPool::connect_lazy(source, secrets, pool_options, session_settings).await?)
}

fn session_settings(options: PgConnectOptions) -> PgConnectOptions {
    options
        .application_name("api")
        // A runaway query must not hold a connection for long.
        .options([("statement_timeout", "10s")])
}

pub async fn migrate(db: &Db) -> Result<(), DbError> {
    // A connection through the credential-refreshing path first, so that a
    // rotated password is picked up before the migrator takes its own.
    drop(db.acquire().await.map_err(DbError::Unreachable)?);
    MIGRATOR.run(db.pool()).await?;
    Ok(())
}

/// How many embedded migrations the database lacks.
pub async fn pending_migrations(db: &Db) -> Result<usize, DbError> {
    let applied: Vec<i64> =
        match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(db)
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
pub async fn check_ready(db: &Db) -> Result<(), DbError> {
    match pending_migrations(db).await? {
        0 => Ok(()),
        n => Err(DbError::NotMigrated(n)),
    }
}
