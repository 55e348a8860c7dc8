//! What the Postgres cap store adds to a request: one reserve and one settle
//! through the real `TokenCaps`, timed one after the other (`ROUNDS`, default
//! 5,000, after 200 discarded) and with `CONCURRENCY` tasks at once (default 8).
//! Uses `DATABASE_URL` if set, else the machine's shared test cluster
//! (`localenv::postgres`), in a scratch database it creates.
//!
//!     cargo run --release -p ai --example caps_latency

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ai::accounting::caps::TokenCaps;
use ai::accounting::caps::postgres::{self, PgCapStore};
use ai::accounting::metrics::Metrics;
use ai::config::{CapsConfig, DatabaseSettings, OnDatabaseUnavailable};
use pg_credentials::DatabaseSource;
use sqlx::PgPool;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = env_or("ROUNDS", 5_000);
    let concurrency: usize = env_or("CONCURRENCY", 8);
    let admin_url = match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        Err(_) => {
            tokio::task::spawn_blocking(localenv::postgres::shared)
                .await??
                .admin_url
        }
    };
    let name = format!("ai_caps_bench_{}", std::process::id());
    let admin = PgPool::connect(&admin_url).await?;
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&admin)
        .await?;
    let url = localenv::postgres::with_database(&admin_url, &name);

    let result = run(&url, rounds, concurrency).await;

    sqlx::query(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .execute(&admin)
        .await?;
    result
}

async fn run(url: &str, rounds: usize, concurrency: usize) -> anyhow::Result<()> {
    let settings = CapsConfig {
        pool_max_connections: concurrency.max(1) as u32,
        ..CapsConfig::default()
    };
    let database = DatabaseSettings {
        source: DatabaseSource::Url(url.to_string()),
        aws: None,
    };
    let pool = postgres::connect(&database, None, &settings).await?;
    let metrics = Arc::new(Metrics::new());
    let baseline_pool = pool.clone();
    let store = Arc::new(PgCapStore::new(
        pool,
        Duration::from_secs(900),
        metrics.caps_store_seconds.clone(),
    ));
    store.migrate().await?;
    let caps = TokenCaps::in_postgres(
        3600,
        u64::MAX / 4,
        HashMap::new(),
        store,
        OnDatabaseUnavailable::FailClosed,
        0,
        metrics,
    );

    // Warm the pool and Postgres's plan cache.
    for _ in 0..200 {
        caps.reserve("org_warm", 100).await?.settle(80).await;
    }

    // The floor on this machine: two empty round trips through the same pool.
    let mut floor = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        for _ in 0..2 {
            sqlx::query("SELECT 1").execute(&baseline_pool).await?;
        }
        floor.push(started.elapsed());
    }
    report("floor: two `SELECT 1` round trips", &mut floor);

    let mut one_at_a_time = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        caps.reserve("org_seq", 100).await?.settle(80).await;
        one_at_a_time.push(started.elapsed());
    }
    report("reserve+settle, one at a time, one org", &mut one_at_a_time);

    let per_task = rounds / concurrency.max(1);
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let caps = caps.clone();
            tokio::spawn(async move {
                let mut times = Vec::with_capacity(per_task);
                for _ in 0..per_task {
                    let started = Instant::now();
                    // All tasks on one org: the worst case, every statement on one row.
                    caps.reserve("org_hot", 100).await?.settle(80).await;
                    times.push(started.elapsed());
                }
                Ok::<_, ai::accounting::caps::CapError>(times)
            })
        })
        .collect();
    let mut concurrent = Vec::new();
    for task in tasks {
        concurrent.extend(task.await??);
    }
    report(
        &format!("reserve+settle, {concurrency} at once, one org (one hot row)"),
        &mut concurrent,
    );
    Ok(())
}

fn report(what: &str, times: &mut [Duration]) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "{what}: {} rounds, p50 {:.0} µs, p90 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        times.len(),
        at(0.50).as_secs_f64() * 1e6,
        at(0.90).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        times[times.len() - 1].as_secs_f64() * 1e6,
    );
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
