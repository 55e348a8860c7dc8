//! The api, seeded for the `documents(first: 20)` benchmark (bench/run.sh).
//!
//! Builds the app exactly as the tests do (`spawn_app`: real Postgres, a JWKS
//! server with a generated key), seeds 1,000 documents owned by 5 members of
//! one organization, prints `API_URL=`, `API_TOKEN=`, `DATABASE_URL=`,
//! `POSTMASTER_PID=` and `DOCUMENTS=` lines, and serves until SIGTERM or
//! Ctrl-C. Rate limits are raised so the load tool measures the API, not the
//! limiter (they are still checked on every request); the JSON request log is
//! written to stderr.
//!
//! The Postgres cluster is a private one, started here and stopped on exit, so
//! the Postgres CPU that run.sh reads from the postmaster and its children is
//! the bench's alone, not that of tests sharing the machine's test cluster.

#[allow(dead_code)]
#[path = "../tests/api/helpers.rs"]
mod helpers;

use serde_json::json;

#[tokio::main]
async fn main() {
    // The request log line on, as in production (JSON, INFO), to stderr:
    // stdout carries the lines run.sh reads.
    let telemetry = api::telemetry::init_with_writer(std::io::stderr(), None).expect("telemetry");
    let postgres = tokio::task::spawn_blocking(localenv::postgres::PostgresServer::start)
        .await
        .expect("start postgres")
        .expect("private postgres cluster");
    let high = "100000000".to_string();
    let mut env = vec![
        ("RATE_LIMIT_IP_PER_MINUTE", high.clone()),
        ("RATE_LIMIT_USER_QUERIES_PER_MINUTE", high.clone()),
        ("RATE_LIMIT_ORG_PER_MINUTE", high),
    ];
    // The pool size can be tried out: DB_MAX_CONNECTIONS=8 bench_server.
    if let Ok(size) = std::env::var("DB_MAX_CONNECTIONS") {
        env.push(("DB_MAX_CONNECTIONS", size));
    }
    let app = helpers::spawn_app_with(helpers::Options {
        env,
        server: Some(postgres.info()),
        ..Default::default()
    })
    .await;
    for i in 0..5 {
        app.data(
            &app.token(&format!("member{i}"), "org_bench"),
            "{ me { id } }",
            json!({}),
        )
        .await;
    }
    sqlx::query(
        "INSERT INTO documents (id, org_id, owner_id, title, created_at, updated_at)
         SELECT gen_random_uuid(), m.org_id, (array_agg(m.user_id))[1 + (g % 5)], 'Document ' || g,
                now() - g * interval '1 second', now()
         FROM memberships m, generate_series(1, 1000) g GROUP BY m.org_id, g",
    )
    .execute(&app.db)
    .await
    .expect("seed documents");
    sqlx::query("ANALYZE")
        .execute(&app.db)
        .await
        .expect("analyze");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM documents")
        .fetch_one(&app.db)
        .await
        .unwrap();
    // A backend's parent is the postmaster: run.sh sums the CPU of it and of
    // all its children (backends, background workers).
    let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let postmaster = parent_pid(backend).expect("the backend's parent process");
    // Tokens live 10 minutes: plenty for a bounded run.
    println!("API_URL={}", app.base);
    println!("API_TOKEN={}", app.token("member0", "org_bench"));
    println!("DATABASE_URL={}", app.database_url());
    println!("POSTMASTER_PID={postmaster}");
    println!("DOCUMENTS={count}");

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    drop(app);
    drop(telemetry);
    // Stops the cluster and deletes its directory (blocking: pg_ctl stop).
    tokio::task::spawn_blocking(move || drop(postgres))
        .await
        .ok();
}

/// `PPid` of a process, from /proc.
fn parent_pid(pid: i32) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("PPid:"))?
        .trim()
        .parse()
        .ok()
}
