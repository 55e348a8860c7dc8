//! Cap counters in Postgres: one row per organization and window
//! (`ai_token_windows`) and one per in-flight reservation
//! (`ai_token_reservations`).
//!
//! Reserve and settle are one statement each, so the database is the only
//! coordinator and no lock is held across the upstream call: the reserve
//! statement's conditional upsert (`… WHERE used + reserved + amount <= cap`)
//! re-checks the condition on the latest row version under the row lock, so
//! concurrent reservations from any number of instances serialize on it.
//! Windows follow the database's clock, so instances with skewed clocks agree.
//!
//! Expiry: a reservation whose instance died before settling is released
//! after `reservation_expiry_seconds` (longer than every provider timeout) and
//! its tokens are **forgiven**, not counted. Only a crash leaves a reservation
//! unsettled: a client that goes away is settled as spent by the live
//! instance, and a deploy's SIGTERM lets in-flight requests finish. A crash is
//! not something a caller can trigger at will, the provider stops generating
//! when the dead instance's connection drops (so most of the reserved output
//! allowance was never produced), and counting the whole reservation would
//! take budget the org never spent for the rest of a window that may be a
//! month long. The bound is one reservation per crashed request. A request
//! that outlives its expiry (a stream longer than the expiry) still settles:
//! its real usage is added to `used` then.
//!
//! Expired reservations are released lazily, by the first reservation of the
//! same org and window that would otherwise be refused; the common path stays
//! one round trip.

use std::time::{Duration, Instant};

use pg_credentials::{CredentialedPool, PoolError};
use prometheus::HistogramVec;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::OnceCell;

use crate::config::{CapsConfig, DatabaseSettings};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A malformed `DATABASE_URL`, or a database secret that could not be
    /// read or holds no user and password (named, its value never shown).
    #[error(transparent)]
    Connect(#[from] PoolError),
    #[error("database call failed: {0}")]
    Database(#[from] sqlx::Error),
}

/// Opens the pool the cap store uses, through `pg-credentials` as the api
/// does: `DATABASE_URL`, or host, port and name with user and password from
/// an RDS-managed secret, read again when Postgres refuses them (a rotation
/// needs no restart). Lazy: the service starts while the database is away,
/// and reconnects by itself when it returns. With a secret, the secret is
/// read once now, so a missing or malformed one stops start-up.
pub async fn connect(
    database: &DatabaseSettings,
    secrets: Option<aws_sdk_secretsmanager::Client>,
    caps: &CapsConfig,
) -> Result<CredentialedPool, StoreError> {
    let pool_options = PgPoolOptions::new()
        .max_connections(caps.pool_max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_millis(caps.pool_acquire_timeout_ms))
        .idle_timeout(Duration::from_secs(300));
    Ok(
        CredentialedPool::connect_lazy(&database.source, secrets, pool_options, session_settings)
            .await?,
    )
}

fn session_settings(options: PgConnectOptions) -> PgConnectOptions {
    options
        .application_name("ai")
        // Each statement touches one or two rows; anything longer is a stuck lock.
        .options([("statement_timeout", "5s")])
}

/// Idempotent; run under a transaction-scoped advisory lock so instances
/// starting together do not race on `CREATE TABLE IF NOT EXISTS`. Its own
/// statements, not sqlx's migrator: the api's `_sqlx_migrations` table lives
/// in the same database and would see our versions as unknown.
const SCHEMA: &[&str] = &[
    "SELECT pg_advisory_xact_lock(7242390118)",
    "CREATE TABLE IF NOT EXISTS ai_token_windows (
        org text NOT NULL,
        window_start bigint NOT NULL,
        window_secs bigint NOT NULL,
        used bigint NOT NULL DEFAULT 0,
        reserved bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (org, window_start)
    )",
    "CREATE TABLE IF NOT EXISTS ai_token_reservations (
        id uuid PRIMARY KEY,
        org text NOT NULL,
        window_start bigint NOT NULL,
        amount bigint NOT NULL,
        expires_at timestamptz NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS ai_token_reservations_expiry
        ON ai_token_reservations (org, window_start, expires_at)",
];

/// $1 org, $2 window seconds, $3 cap, $4 amount, $5 reservation id, $6 expiry seconds.
const RESERVE: &str = "
WITH clock AS (
    SELECT floor(extract(epoch FROM clock_timestamp()))::bigint AS now
), win AS (
    SELECT now, now - now % $2 AS start FROM clock
), admitted AS (
    INSERT INTO ai_token_windows AS w (org, window_start, window_secs, used, reserved)
    SELECT $1, win.start, $2, 0, $4 FROM win WHERE $4 <= $3
    ON CONFLICT (org, window_start) DO UPDATE
        SET reserved = w.reserved + EXCLUDED.reserved
        WHERE w.used + w.reserved + EXCLUDED.reserved <= $3
    RETURNING 1
), held AS (
    INSERT INTO ai_token_reservations (id, org, window_start, amount, expires_at)
    SELECT $5, $1, win.start, $4, clock_timestamp() + make_interval(secs => $6)
    FROM win, admitted
)
SELECT win.now, win.start,
       EXISTS (SELECT 1 FROM admitted) AS admitted,
       NOT EXISTS (SELECT 1 FROM admitted) AND EXISTS (
           SELECT 1 FROM ai_token_reservations r
           WHERE r.org = $1 AND r.window_start = win.start AND r.expires_at < clock_timestamp()
       ) AS expired_waiting
FROM win";

/// $1 reservation id, $2 org, $3 window start, $4 actual tokens. A reservation
/// already released by expiry has nothing to give back; its usage still counts.
const SETTLE: &str = "
WITH held AS (
    DELETE FROM ai_token_reservations WHERE id = $1 RETURNING amount
)
UPDATE ai_token_windows
SET reserved = reserved - COALESCE((SELECT amount FROM held), 0),
    used = used + $4
WHERE org = $2 AND window_start = $3";

/// $1 org, $2 window start. SKIP LOCKED: a reservation being settled or
/// released by someone else right now is theirs to account.
const RELEASE_EXPIRED: &str = "
WITH expired AS (
    DELETE FROM ai_token_reservations
    WHERE id IN (
        SELECT id FROM ai_token_reservations
        WHERE org = $1 AND window_start = $2 AND expires_at < clock_timestamp()
        ORDER BY id
        FOR UPDATE SKIP LOCKED
    )
    RETURNING amount
)
UPDATE ai_token_windows
SET reserved = reserved - (SELECT COALESCE(SUM(amount), 0) FROM expired)
WHERE org = $1 AND window_start = $2 AND EXISTS (SELECT 1 FROM expired)
RETURNING (SELECT COUNT(*) FROM expired)";

const USED: &str = "
SELECT COALESCE((
    SELECT used FROM ai_token_windows
    WHERE org = $1
      AND window_start = floor(extract(epoch FROM clock_timestamp()))::bigint
                         - floor(extract(epoch FROM clock_timestamp()))::bigint % $2
), 0)";

/// Windows (and their leftover reservations) that ended more than an hour ago.
const PRUNE: &[&str] = &[
    "DELETE FROM ai_token_reservations r USING ai_token_windows w
     WHERE r.org = w.org AND r.window_start = w.window_start
       AND w.window_start + w.window_secs < extract(epoch FROM now()) - 3600",
    "DELETE FROM ai_token_windows
     WHERE window_start + window_secs < extract(epoch FROM now()) - 3600",
];

pub struct PgCapStore {
    /// Runs statements like `&PgPool`; a refused password is read again from
    /// the secret and the connection tried once more.
    pool: CredentialedPool,
    schema: OnceCell<()>,
    expiry: Duration,
    timings: HistogramVec,
}

/// The answer to a reservation.
#[derive(Debug)]
pub struct ReserveOutcome {
    /// Set when admitted.
    pub id: Option<uuid::Uuid>,
    pub window_start: u64,
    /// The database's clock, in Unix seconds.
    pub now: u64,
    /// Expired reservations released on the way (when the first try was refused).
    pub expired_released: Option<u64>,
}

fn to_db(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn from_db(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl PgCapStore {
    /// `timings` receives each round trip's duration by operation.
    pub fn new(pool: CredentialedPool, expiry: Duration, timings: HistogramVec) -> Self {
        PgCapStore {
            pool,
            schema: OnceCell::new(),
            expiry,
            timings,
        }
    }

    /// Creates the tables if needed: at start-up, or on first use after a
    /// start while the database was away.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.schema
            .get_or_try_init(|| async {
                let mut tx = self.pool.begin().await?;
                for statement in SCHEMA {
                    sqlx::query(statement).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok::<(), StoreError>(())
            })
            .await?;
        Ok(())
    }

    /// Deletes windows that ended more than an hour ago (run at start-up and hourly).
    pub async fn prune(&self) -> Result<(), StoreError> {
        self.migrate().await?;
        for statement in PRUNE {
            sqlx::query(statement).execute(&self.pool).await?;
        }
        Ok(())
    }

    fn timed(&self, operation: &str, started: Instant) {
        self.timings
            .with_label_values(&[operation])
            .observe(started.elapsed().as_secs_f64());
    }

    pub async fn reserve(
        &self,
        org: &str,
        window_secs: u64,
        cap: u64,
        amount: u64,
    ) -> Result<ReserveOutcome, StoreError> {
        self.migrate().await?;
        let mut outcome = self.try_reserve(org, window_secs, cap, amount).await?;
        if let Some(expired_waiting) = outcome.expired_released.take()
            && expired_waiting > 0
        {
            let released = self.release_expired(org, outcome.window_start).await?;
            outcome = self.try_reserve(org, window_secs, cap, amount).await?;
            outcome.expired_released = Some(released);
        }
        Ok(outcome)
    }

    /// One statement; `expired_released` carries 1 when the reservation was
    /// refused while expired reservations of the same window were waiting.
    async fn try_reserve(
        &self,
        org: &str,
        window_secs: u64,
        cap: u64,
        amount: u64,
    ) -> Result<ReserveOutcome, StoreError> {
        let started = Instant::now();
        let id = uuid::Uuid::new_v4();
        let (now, window_start, admitted, expired_waiting): (i64, i64, bool, bool) =
            sqlx::query_as(RESERVE)
                .bind(org)
                .bind(to_db(window_secs))
                .bind(to_db(cap))
                .bind(to_db(amount))
                .bind(id)
                .bind(self.expiry.as_secs_f64())
                .fetch_one(&self.pool)
                .await?;
        self.timed("reserve", started);
        Ok(ReserveOutcome {
            id: admitted.then_some(id),
            window_start: from_db(window_start),
            now: from_db(now),
            expired_released: expired_waiting.then_some(1),
        })
    }

    async fn release_expired(&self, org: &str, window_start: u64) -> Result<u64, StoreError> {
        let started = Instant::now();
        let released: Option<i64> = sqlx::query_scalar(RELEASE_EXPIRED)
            .bind(org)
            .bind(to_db(window_start))
            .fetch_optional(&self.pool)
            .await?;
        self.timed("release_expired", started);
        let released = from_db(released.unwrap_or(0));
        if released > 0 {
            tracing::warn!(
                released,
                "released expired token reservations (an instance died before settling)"
            );
        }
        Ok(released)
    }

    pub async fn settle(
        &self,
        id: uuid::Uuid,
        org: &str,
        window_start: u64,
        actual: u64,
    ) -> Result<(), StoreError> {
        let started = Instant::now();
        sqlx::query(SETTLE)
            .bind(id)
            .bind(org)
            .bind(to_db(window_start))
            .bind(to_db(actual))
            .execute(&self.pool)
            .await?;
        self.timed("settle", started);
        Ok(())
    }

    pub async fn used(&self, org: &str, window_secs: u64) -> Result<u64, StoreError> {
        self.migrate().await?;
        let used: i64 = sqlx::query_scalar(USED)
            .bind(org)
            .bind(to_db(window_secs))
            .fetch_one(&self.pool)
            .await?;
        Ok(from_db(used))
    }

    /// Reachable and migrated.
    pub async fn check(&self) -> Result<(), StoreError> {
        self.migrate().await?;
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
