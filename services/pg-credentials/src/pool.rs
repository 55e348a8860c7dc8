//! A Postgres pool whose credentials follow a rotating secret.
//!
//! sqlx 0.8 has no hook before a connection opens, but a pool's connect
//! options can be replaced at any time (`Pool::set_connect_options`). So
//! [`CredentialedPool::acquire`] watches for Postgres refusing the password
//! (SQLSTATE 28P01, or 28000 for a role or pg_hba refusal), reads the secret
//! again (one read in flight; the others wait for it), installs the new
//! options and tries once more. Connections already open keep working: a
//! password change only concerns new sessions.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, TryStreamExt};
use sqlx::Either;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{
    PgArguments, PgConnectOptions, PgPoolOptions, PgQueryResult, PgRow, PgStatement,
};
use sqlx::{Execute, Executor, PgPool, Postgres, Transaction};

use crate::secret::{Credentials, CredentialsError, SecretReader};
use crate::source::{DatabaseSource, SecretSource};

/// The least time between two reads of the secret: a password that is still
/// wrong after a read (a rotation half done) must not turn every request into
/// a Secrets Manager call.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("DATABASE_URL could not be parsed: {0}")]
    BadUrl(String),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error(
        "DATABASE_SECRET_ARN is set but no Secrets Manager client was given (a bug in the service's start-up)"
    )]
    NoSecretsClient,
}

/// Postgres refused who we are: a wrong password (28P01) or a role or
/// pg_hba refusal (28000, class 28 "invalid authorization specification").
pub fn is_auth_failure(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.code().is_some_and(|code| code.starts_with("28")),
        _ => false,
    }
}

#[derive(Clone)]
pub struct CredentialedPool {
    pool: PgPool,
    rotation: Option<Arc<Rotation>>,
}

/// Shows where credentials come from, never what they are.
impl std::fmt::Debug for CredentialedPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialedPool")
            .field("size", &self.pool.size())
            .field(
                "secret",
                &self.rotation.as_ref().map(|r| r.reader.arn().to_string()),
            )
            .finish()
    }
}

struct Rotation {
    reader: SecretReader,
    /// Host, port, database and the caller's settings; no user or password.
    base: PgConnectOptions,
    /// Bumped after each successful read, so that a caller that waited for
    /// another's read does not read again.
    generation: AtomicU64,
    /// Held while reading: one read in flight. Holds the time of the last
    /// read after a refusal.
    last_read: tokio::sync::Mutex<Option<Instant>>,
    min_interval: Duration,
}

impl CredentialedPool {
    /// A lazy pool (no connection opens until one is needed) for `source`.
    /// For the secret form the secret is read once now, so a missing or
    /// malformed secret stops start-up with a clear message. `configure`
    /// adds the caller's session settings (application name, timeouts);
    /// it must not set user or password.
    pub async fn connect_lazy(
        source: &DatabaseSource,
        secrets: Option<aws_sdk_secretsmanager::Client>,
        pool_options: PgPoolOptions,
        configure: impl Fn(PgConnectOptions) -> PgConnectOptions,
    ) -> Result<Self, PoolError> {
        match source {
            DatabaseSource::Url(url) => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(|e| PoolError::BadUrl(redact_url_error(&e.to_string(), url)))?;
                Ok(Self {
                    pool: pool_options.connect_lazy_with(configure(options)),
                    rotation: None,
                })
            }
            DatabaseSource::Secret(secret) => {
                let client = secrets.ok_or(PoolError::NoSecretsClient)?;
                let reader = SecretReader::new(client, secret.secret_arn.clone());
                Self::from_secret(
                    secret,
                    reader,
                    pool_options,
                    configure,
                    MIN_REFRESH_INTERVAL,
                )
                .await
            }
        }
    }

    /// The secret form with an explicit reader and refresh interval.
    pub async fn from_secret(
        location: &SecretSource,
        reader: SecretReader,
        pool_options: PgPoolOptions,
        configure: impl Fn(PgConnectOptions) -> PgConnectOptions,
        min_interval: Duration,
    ) -> Result<Self, PoolError> {
        let base = configure(
            PgConnectOptions::new_without_pgpass()
                .host(&location.host)
                .port(location.port)
                .database(&location.database),
        );
        let credentials = reader.read().await?;
        let rotation = Rotation {
            reader,
            base,
            generation: AtomicU64::new(0),
            // The start-up read does not count: a rotation may come at once.
            last_read: tokio::sync::Mutex::new(None),
            min_interval,
        };
        let pool = pool_options.connect_lazy_with(rotation.options_with(&credentials));
        tracing::info!(
            secret = %rotation.reader.arn(),
            "database credentials read from Secrets Manager"
        );
        Ok(Self {
            pool,
            rotation: Some(Arc::new(rotation)),
        })
    }

    /// The pool itself, for what needs no connection of its own (sizes,
    /// close) or takes an `Acquire` (migrations).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// How many times the credentials were read again after a refusal.
    pub fn credential_refreshes(&self) -> u64 {
        self.rotation
            .as_ref()
            .map_or(0, |r| r.generation.load(Ordering::Acquire))
    }

    /// A connection; when Postgres refuses the credentials, the secret is
    /// read again (at most once per [`MIN_REFRESH_INTERVAL`], one read in
    /// flight) and the connection tried once more with what it holds.
    pub async fn acquire(&self) -> Result<PoolConnection<Postgres>, sqlx::Error> {
        let Some(rotation) = &self.rotation else {
            return self.pool.acquire().await;
        };
        let seen = rotation.generation.load(Ordering::Acquire);
        match self.pool.acquire().await {
            Err(err) if is_auth_failure(&err) => match rotation.refresh(&self.pool, seen).await {
                Ok(()) => self.pool.acquire().await,
                Err(why) => {
                    tracing::warn!(error = %why, "database refused the credentials");
                    Err(err)
                }
            },
            other => other,
        }
    }

    /// A transaction on a connection from [`acquire`](Self::acquire). A
    /// connection found dead at `BEGIN` (nothing ran on it) is replaced once.
    pub async fn begin(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        // What `Pool::begin` does, on our connection (sqlx's public but
        // doc-hidden entry point).
        match Transaction::begin(self.acquire().await?, None).await {
            Err(err) if is_connection_lost(&err) => {
                tracing::info!(error = %err, "database connection lost; retrying once on a new one");
                self.discard_idle();
                Transaction::begin(self.acquire().await?, None).await
            }
            other => other,
        }
    }
}

impl Rotation {
    fn options_with(&self, credentials: &Credentials) -> PgConnectOptions {
        self.base
            .clone()
            .username(&credentials.username)
            .password(credentials.password.expose())
    }

    async fn refresh(&self, pool: &PgPool, seen: u64) -> Result<(), CredentialsError> {
        let mut last_read = self.last_read.lock().await;
        if self.generation.load(Ordering::Acquire) != seen {
            // Someone read the secret while we waited for the lock.
            return Ok(());
        }
        if let Some(at) = *last_read
            && at.elapsed() < self.min_interval
        {
            return Err(CredentialsError::TooSoon(self.min_interval));
        }
        *last_read = Some(Instant::now());
        let credentials = self.reader.read().await?;
        pool.set_connect_options(self.options_with(&credentials));
        self.generation.fetch_add(1, Ordering::AcqRel);
        tracing::info!(
            secret = %self.reader.arn(),
            "database refused the credentials; read them again from Secrets Manager"
        );
        Ok(())
    }
}

/// sqlx's URL errors may quote the URL, which may hold a password.
fn redact_url_error(message: &str, url: &str) -> String {
    if message.contains(url) || url.split('@').next().is_some_and(|p| message.contains(p)) {
        "not a valid postgres:// URL".to_string()
    } else {
        message.to_string()
    }
}

/// The server ended the session before our statement ran: the connection
/// was already dead when we took it (a restart or failover while it sat
/// idle). Postgres says so with SQLSTATE 57P01/57P02/57P03 or class 08, or
/// the socket is simply closed.
pub fn is_connection_lost(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// A statement that can be sent twice: its SQL and a copy of its arguments.
/// Only plain `SELECT`s are replayed after a lost connection; a write whose
/// answer was lost might have been applied, and runs once.
struct Replay<'q> {
    sql: &'q str,
    arguments: Option<PgArguments>,
    persistent: bool,
}

impl<'q> Replay<'q> {
    /// `None` when `query` must not or cannot be replayed.
    fn of<E: Execute<'q, Postgres>>(query: &mut E) -> Option<Result<Self, sqlx::Error>> {
        let read_only = query
            .sql()
            .trim_start()
            .get(..7)
            .is_some_and(|head| head.eq_ignore_ascii_case("select "));
        if !read_only || query.statement().is_some() {
            return None;
        }
        Some(
            query
                .take_arguments()
                .map(|arguments| Replay {
                    sql: query.sql(),
                    arguments,
                    persistent: query.persistent(),
                })
                .map_err(sqlx::Error::Encode),
        )
    }

    fn attempt(&self) -> Replay<'q> {
        Replay {
            sql: self.sql,
            arguments: self.arguments.clone(),
            persistent: self.persistent,
        }
    }
}

impl<'q> Execute<'q, Postgres> for Replay<'q> {
    fn sql(&self) -> &'q str {
        self.sql
    }

    fn statement(&self) -> Option<&PgStatement<'q>> {
        None
    }

    fn take_arguments(&mut self) -> Result<Option<PgArguments>, sqlx::error::BoxDynError> {
        Ok(self.arguments.take())
    }

    fn persistent(&self) -> bool {
        self.persistent
    }
}

impl CredentialedPool {
    /// Without a ping before each acquire (a round trip per query), a
    /// connection that died while idle is only found out by using it. After
    /// such a loss, every idle connection is suspect (they all died with the
    /// server): they are closed, so the retry opens a fresh one.
    fn discard_idle(&self) {
        for _ in 0..self.pool.num_idle() {
            match self.pool.try_acquire() {
                Some(conn) => drop(conn.detach()),
                None => break,
            }
        }
    }

    async fn fetch_all_rows<'q, E>(
        &self,
        mut query: E,
    ) -> Result<Vec<Either<PgQueryResult, PgRow>>, sqlx::Error>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let Some(replay) = Replay::of(&mut query) else {
            let mut conn = self.acquire().await?;
            return conn.fetch_many(query).try_collect().await;
        };
        let replay = replay?;
        let first = {
            let mut conn = self.acquire().await?;
            conn.fetch_many(replay.attempt()).try_collect().await
        };
        match first {
            Err(err) if is_connection_lost(&err) => {
                tracing::info!(error = %err, "database connection lost; retrying once on a new one");
                self.discard_idle();
                let mut conn = self.acquire().await?;
                conn.fetch_many(replay.attempt()).try_collect().await
            }
            other => other,
        }
    }

    async fn fetch_optional_row<'q, E>(&self, mut query: E) -> Result<Option<PgRow>, sqlx::Error>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let Some(replay) = Replay::of(&mut query) else {
            return self.acquire().await?.fetch_optional(query).await;
        };
        let replay = replay?;
        let first = self.acquire().await?.fetch_optional(replay.attempt()).await;
        match first {
            Err(err) if is_connection_lost(&err) => {
                tracing::info!(error = %err, "database connection lost; retrying once on a new one");
                self.discard_idle();
                self.acquire().await?.fetch_optional(replay.attempt()).await
            }
            other => other,
        }
    }
}

/// `&CredentialedPool` runs queries like `&PgPool` does (`query.fetch_all(&db)`),
/// on a connection from [`CredentialedPool::acquire`]; a `SELECT` that finds
/// its connection dead runs once more on a new one.
impl<'p> Executor<'p> for &'_ CredentialedPool {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let db = self.clone();
        // The rows are collected on the connection, then streamed: the
        // connection cannot live inside the stream without a generator, and
        // the service's queries are pages, not bulk exports.
        let rows = async move { db.fetch_all_rows(query).await };
        Box::pin(
            stream::once(rows)
                .map_ok(|rows| stream::iter(rows.into_iter().map(Ok)))
                .try_flatten(),
        )
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let db = self.clone();
        Box::pin(async move { db.fetch_optional_row(query).await })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [sqlx::postgres::PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement<'q>, sqlx::Error>> {
        let db = self.clone();
        Box::pin(async move { db.acquire().await?.prepare_with(sql, parameters).await })
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<sqlx::Describe<Postgres>, sqlx::Error>> {
        let db = self.clone();
        Box::pin(async move { db.acquire().await?.describe(sql).await })
    }
}
