use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::{Options, error_code, spawn_app, spawn_app_with};

#[tokio::test]
async fn healthz_readyz_and_metrics_answer() {
    let app = spawn_app().await;
    let get = |path: &str| app.http.get(format!("{}{path}", app.base)).send();
    assert_eq!(get("/healthz").await.unwrap().status().as_u16(), 200);
    assert_eq!(get("/readyz").await.unwrap().status().as_u16(), 200);
    let token = app.token("alice", "org_a");
    let body = json!({ "query": "query Me { me { id } }", "operationName": "Me" });
    assert_eq!(
        app.post_graphql(Some(&token), body).await.status().as_u16(),
        200
    );
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("api_graphql_requests_total{operation=\"Me\",outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("api_graphql_request_duration_seconds_bucket{operation=\"Me\""));
    assert!(metrics.contains("api_db_pool_connections"));
}

#[tokio::test]
async fn database_down_gives_503_readiness_and_clear_graphql_errors_then_recovers() {
    let pg = tokio::task::spawn_blocking(localenv::postgres::PostgresServer::start)
        .await
        .unwrap()
        .expect("private postgres");
    let app = spawn_app_with(Options {
        server: Some(pg.info()),
        ..Default::default()
    })
    .await;
    let token = app.token("alice", "org_a");
    app.create_document(&token, "before the outage").await;

    pg.stop().expect("stop postgres");

    let ready = app
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["reason"], "database unreachable");

    // A new caller needs the database at once; a known one as soon as it reads.
    for token in [app.token("newcomer", "org_c"), token.clone()] {
        let (status, body) = app
            .gql(
                &token,
                "{ documents(first: 5) { edges { node { title } } } }",
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(error_code(&body), "DATABASE_UNAVAILABLE", "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("database is unavailable")
        );
    }
    // Liveness does not depend on the database.
    assert_eq!(
        app.http
            .get(format!("{}/healthz", app.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );

    pg.restart().expect("restart postgres");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = app
            .http
            .get(format!("{}/readyz", app.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "readyz did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let data = app
        .data(
            &token,
            "{ documents(first: 5) { edges { node { title } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["documents"]["edges"][0]["node"]["title"],
        "before the outage"
    );
    drop(app);
}

#[tokio::test]
async fn an_unmigrated_database_is_refused_at_start_up_without_migrate_on_start() {
    let server = tokio::task::spawn_blocking(localenv::postgres::shared)
        .await
        .unwrap()
        .unwrap();
    let db = crate::helpers::TestDb::create(&server).await;
    let mut env = crate::helpers::base_env(
        &db.url,
        "http://127.0.0.1:9/jwks",
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
    );
    env.insert("MIGRATE_ON_START".into(), "false".into());
    let config = api::Config::from_map(&env).unwrap();
    let err = api::Application::build(config)
        .await
        .err()
        .expect("must refuse");
    assert!(err.to_string().contains("api migrate"), "{err}");
}

#[tokio::test]
async fn an_unmigrated_database_is_migrated_at_start_up_by_default() {
    let server = tokio::task::spawn_blocking(localenv::postgres::shared)
        .await
        .unwrap()
        .unwrap();
    let db = crate::helpers::TestDb::create(&server).await;
    let env = crate::helpers::base_env(
        &db.url,
        "http://127.0.0.1:9/jwks",
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
    );
    let config = api::Config::from_map(&env).unwrap();
    assert!(config.migrate_on_start);
    let app = api::Application::build(config)
        .await
        .expect("migrates, then starts");
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let pending = api::db::MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .count();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(applied as usize, pending);
    drop(app);
}
