//! Per-organization token caps over fixed time windows.
//!
//! Invariant: a request is admitted only if `used + reserved + estimate <= cap`,
//! where `estimate` is reserved before the upstream call and replaced by the
//! real usage afterwards. So concurrent requests can overspend only by how far
//! a real usage exceeds its estimate, which is bounded by one reservation
//! (output is capped by `max_tokens`; input estimates err on the high side).
//!
//! Two stores keep the counters: [`memory`] (one process; right for a single
//! instance and for tests of the pure logic) and [`postgres`] (one row per
//! organization and window in the stack's database, so the invariant holds
//! across every instance, restart and deploy). With Postgres, reserve and
//! settle are one statement each; the database is the only coordinator.

pub mod memory;
pub mod postgres;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::accounting::metrics::Metrics;
use crate::config::OnDatabaseUnavailable;
use memory::MemoryStore;
use postgres::{PgCapStore, StoreError};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CapError {
    #[error("token cap reached; the window renews in {retry_after_secs} s")]
    Exceeded { retry_after_secs: u64 },
    /// The database that keeps the caps is unreachable and the configuration
    /// says to refuse rather than admit unaccounted spend.
    #[error("the token cap store is unavailable")]
    StoreUnavailable,
}

/// Who counts tokens for capped organizations.
enum Store {
    Memory(MemoryStore),
    Postgres {
        db: Arc<PgCapStore>,
        on_unavailable: OnDatabaseUnavailable,
        /// Fail-open only: what this instance admits on its own per org and
        /// window while the database is away. Never merged back into the
        /// database, so it bounds the outage's unaccounted spend per instance.
        allowance: MemoryStore,
        allowance_tokens: u64,
    },
}

pub struct TokenCaps {
    window_secs: u64,
    default_cap: u64,
    overrides: HashMap<String, u64>,
    store: Store,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for TokenCaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCaps")
            .field("store", &self.store_name())
            .field("window_secs", &self.window_secs)
            .finish_non_exhaustive()
    }
}

/// What `/readyz` reports about the caps.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CapsHealth {
    pub store: &'static str,
    /// None for the memory store, which has nothing to lose.
    pub on_database_unavailable: Option<&'static str>,
    pub database_reachable: Option<bool>,
    /// Whether capped requests can be admitted right now.
    pub admitting: bool,
}

impl TokenCaps {
    /// Caps kept in this process's memory.
    pub fn in_memory(
        window_secs: u64,
        default_cap: u64,
        overrides: HashMap<String, u64>,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Self::with_store(
            window_secs,
            default_cap,
            overrides,
            Store::Memory(MemoryStore::default()),
            metrics,
        )
    }

    /// Caps kept in Postgres, with the given behaviour while it is unreachable.
    pub fn in_postgres(
        window_secs: u64,
        default_cap: u64,
        overrides: HashMap<String, u64>,
        db: Arc<PgCapStore>,
        on_unavailable: OnDatabaseUnavailable,
        allowance_tokens: u64,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let store = Store::Postgres {
            db,
            on_unavailable,
            allowance: MemoryStore::default(),
            allowance_tokens,
        };
        Self::with_store(window_secs, default_cap, overrides, store, metrics)
    }

    fn with_store(
        window_secs: u64,
        default_cap: u64,
        overrides: HashMap<String, u64>,
        store: Store,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let caps = TokenCaps {
            window_secs: window_secs.max(1),
            default_cap,
            overrides,
            store,
            metrics,
        };
        caps.metrics
            .caps_mode
            .with_label_values(&[
                caps.store_name(),
                caps.on_unavailable().map_or("none", |o| o.as_str()),
            ])
            .set(1);
        caps.metrics.caps_store_up.set(1);
        Arc::new(caps)
    }

    fn store_name(&self) -> &'static str {
        match self.store {
            Store::Memory(_) => "memory",
            Store::Postgres { .. } => "postgres",
        }
    }

    fn on_unavailable(&self) -> Option<OnDatabaseUnavailable> {
        match &self.store {
            Store::Memory(_) => None,
            Store::Postgres { on_unavailable, .. } => Some(*on_unavailable),
        }
    }

    fn cap_for(&self, org: &str) -> u64 {
        self.overrides.get(org).copied().unwrap_or(self.default_cap)
    }

    fn now_secs() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    fn retry_after(&self, window_start: u64, now: u64) -> u64 {
        (window_start + self.window_secs).saturating_sub(now).max(1)
    }

    pub async fn reserve(
        self: &Arc<Self>,
        org: &str,
        estimate: u64,
    ) -> Result<Reservation, CapError> {
        self.reserve_at(org, estimate, Self::now_secs()).await
    }

    /// `now` drives the memory store's windows (tests pass it); the Postgres
    /// store reads the database's clock so that every instance agrees.
    async fn reserve_at(
        self: &Arc<Self>,
        org: &str,
        estimate: u64,
        now: u64,
    ) -> Result<Reservation, CapError> {
        let cap = self.cap_for(org);
        if cap == 0 {
            return Ok(Reservation::unlimited());
        }
        let local_window = now - now % self.window_secs;
        let held = match &self.store {
            Store::Memory(memory) => {
                if !memory.reserve(org, local_window, cap, estimate) {
                    return Err(CapError::Exceeded {
                        retry_after_secs: self.retry_after(local_window, now),
                    });
                }
                Held::Memory {
                    window: local_window,
                }
            }
            Store::Postgres {
                db,
                on_unavailable,
                allowance,
                allowance_tokens,
            } => match db.reserve(org, self.window_secs, cap, estimate).await {
                Ok(outcome) => {
                    self.metrics.caps_store_up.set(1);
                    if let Some(expired) = outcome.expired_released {
                        self.metrics.caps_expired_reservations.inc_by(expired);
                    }
                    match outcome.id {
                        Some(id) => Held::Postgres {
                            id,
                            window: outcome.window_start,
                        },
                        None => {
                            return Err(CapError::Exceeded {
                                retry_after_secs: self
                                    .retry_after(outcome.window_start, outcome.now),
                            });
                        }
                    }
                }
                Err(err) => {
                    self.store_failed("reserve", &err);
                    match on_unavailable {
                        OnDatabaseUnavailable::FailClosed => {
                            return Err(CapError::StoreUnavailable);
                        }
                        OnDatabaseUnavailable::FailOpen => {
                            let bound = cap.min(*allowance_tokens);
                            if !allowance.reserve(org, local_window, bound, estimate) {
                                return Err(CapError::Exceeded {
                                    retry_after_secs: self.retry_after(local_window, now),
                                });
                            }
                            self.metrics
                                .caps_fail_open_admissions
                                .with_label_values(&[org])
                                .inc();
                            Held::Allowance {
                                window: local_window,
                            }
                        }
                    }
                }
            },
        };
        Ok(Reservation {
            caps: Some(Arc::clone(self)),
            org: org.to_string(),
            amount: estimate,
            held,
            settled: false,
        })
    }

    fn store_failed(&self, operation: &str, err: &StoreError) {
        self.metrics.caps_store_up.set(0);
        self.metrics
            .caps_store_errors
            .with_label_values(&[operation])
            .inc();
        tracing::warn!(operation, error = %err, "token cap store call failed");
    }

    async fn settle(&self, org: &str, held: &Held, reserved: u64, actual: u64) {
        match (held, &self.store) {
            (Held::Unlimited, _) => {}
            (Held::Memory { window }, Store::Memory(memory)) => {
                memory.settle(org, *window, reserved, actual)
            }
            (Held::Allowance { window }, Store::Postgres { allowance, .. }) => {
                allowance.settle(org, *window, reserved, actual)
            }
            (Held::Postgres { id, window }, Store::Postgres { db, .. }) => {
                match db.settle(*id, org, *window, actual).await {
                    Ok(()) => self.metrics.caps_store_up.set(1),
                    // The reservation stays until it expires and is released.
                    Err(err) => self.store_failed("settle", &err),
                }
            }
            _ => unreachable!("a reservation is settled by the store that made it"),
        }
    }

    /// Settles from `Drop`, where nothing can be awaited: memory at once,
    /// Postgres on a task of the current runtime (none: left to expire).
    fn settle_detached(self: Arc<Self>, org: String, held: Held, reserved: u64, actual: u64) {
        match held {
            Held::Postgres { .. } => {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move { self.settle(&org, &held, reserved, actual).await });
                }
            }
            _ => futures::executor::block_on(self.settle(&org, &held, reserved, actual)),
        }
    }

    /// Tokens spent by `org` in the current window (settled usage only).
    pub async fn used(&self, org: &str) -> Result<u64, CapError> {
        match &self.store {
            Store::Memory(memory) => {
                let now = Self::now_secs();
                Ok(memory.used(org, now - now % self.window_secs))
            }
            Store::Postgres { db, .. } => db.used(org, self.window_secs).await.map_err(|err| {
                self.store_failed("used", &err);
                CapError::StoreUnavailable
            }),
        }
    }

    /// The store's state for `/readyz`; asks the database when there is one.
    pub async fn health(&self) -> CapsHealth {
        match &self.store {
            Store::Memory(_) => CapsHealth {
                store: "memory",
                on_database_unavailable: None,
                database_reachable: None,
                admitting: true,
            },
            Store::Postgres {
                db, on_unavailable, ..
            } => {
                let reachable = match db.check().await {
                    Ok(()) => {
                        self.metrics.caps_store_up.set(1);
                        true
                    }
                    Err(err) => {
                        self.store_failed("check", &err);
                        false
                    }
                };
                CapsHealth {
                    store: "postgres",
                    on_database_unavailable: Some(on_unavailable.as_str()),
                    database_reachable: Some(reachable),
                    admitting: reachable || *on_unavailable == OnDatabaseUnavailable::FailOpen,
                }
            }
        }
    }
}

/// Where a reservation's tokens are held.
#[derive(Debug, Clone, Copy)]
enum Held {
    /// The org has no cap.
    Unlimited,
    Memory {
        window: u64,
    },
    /// In the fail-open allowance, because the database was unreachable.
    Allowance {
        window: u64,
    },
    Postgres {
        id: uuid::Uuid,
        window: u64,
    },
}

/// Tokens held for one in-flight request. Settle it with the real usage; if it
/// is dropped unsettled (the client went away mid-call) the whole reservation
/// counts as spent, since the provider may well have billed it. (A reservation
/// whose whole instance died is another matter: see [`postgres`].)
#[derive(Debug)]
pub struct Reservation {
    caps: Option<Arc<TokenCaps>>,
    org: String,
    amount: u64,
    held: Held,
    settled: bool,
}

impl Reservation {
    fn unlimited() -> Self {
        Reservation {
            caps: None,
            org: String::new(),
            amount: 0,
            held: Held::Unlimited,
            settled: true,
        }
    }

    pub fn amount(&self) -> u64 {
        self.amount
    }

    /// Replaces the reservation by the real usage (one statement with Postgres).
    pub async fn settle(mut self, actual: u64) {
        if self.settled {
            return;
        }
        self.settled = true;
        if let Some(caps) = &self.caps {
            caps.settle(&self.org, &self.held, self.amount, actual)
                .await;
        }
    }
}

impl Reservation {
    /// [`settle`](Self::settle) where nothing can be awaited (in `Drop`): the
    /// Postgres statement runs on a task of the current runtime.
    pub fn settle_detached(mut self, actual: u64) {
        self.settle_in_background(actual);
    }

    fn settle_in_background(&mut self, actual: u64) {
        if self.settled {
            return;
        }
        self.settled = true;
        if let Some(caps) = self.caps.take() {
            let org = std::mem::take(&mut self.org);
            caps.settle_detached(org, self.held, self.amount, actual);
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let amount = self.amount;
        self.settle_in_background(amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(default_cap: u64, overrides: HashMap<String, u64>) -> Arc<TokenCaps> {
        TokenCaps::in_memory(60, default_cap, overrides, Arc::new(Metrics::new()))
    }

    #[tokio::test]
    async fn admits_until_the_cap_then_refuses_with_time_to_next_window() {
        let caps = caps(100, HashMap::new());
        let a = caps.reserve_at("org", 60, 120).await.unwrap();
        assert_eq!(
            caps.reserve_at("org", 50, 130).await.unwrap_err(),
            CapError::Exceeded {
                retry_after_secs: 50
            }
        );
        a.settle(30).await;
        let b = caps.reserve_at("org", 50, 130).await.unwrap();
        b.settle(50).await;
        assert!(caps.reserve_at("org", 21, 131).await.is_err());
        // Next window starts fresh.
        assert!(caps.reserve_at("org", 100, 180).await.is_ok());
    }

    #[tokio::test]
    async fn unsettled_reservation_counts_as_spent_and_orgs_are_separate() {
        let caps = caps(100, HashMap::from([("big".to_string(), 1000)]));
        drop(caps.reserve_at("org", 80, 0).await.unwrap());
        assert!(caps.reserve_at("org", 21, 1).await.is_err());
        assert!(caps.reserve_at("other", 100, 1).await.is_ok());
        assert!(caps.reserve_at("big", 900, 1).await.is_ok());
    }

    #[tokio::test]
    async fn zero_cap_means_unlimited() {
        let caps = caps(0, HashMap::new());
        for _ in 0..10 {
            caps.reserve_at("org", 1_000_000, 0)
                .await
                .unwrap()
                .settle(1_000_000)
                .await;
        }
    }
}
