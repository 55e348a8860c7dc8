//! The `api` binary itself: `api migrate`, and start-up refusing bad config.

use std::process::Command;

use crate::helpers::{TestDb, base_env};

fn api() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_api"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

#[tokio::test]
async fn api_migrate_prepares_a_database_the_server_then_accepts() {
    let server = tokio::task::spawn_blocking(localenv::postgres::shared)
        .await
        .unwrap()
        .unwrap();
    let db = TestDb::create(&server).await;
    let url = db.url.clone();
    let output = tokio::task::spawn_blocking(move || {
        api()
            .arg("migrate")
            .env("DATABASE_URL", url)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let env = base_env(
        &db.url,
        "http://127.0.0.1:9/jwks",
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
    );
    let app = api::Application::build(api::Config::from_map(&env).unwrap()).await;
    assert!(app.is_ok(), "a migrated database must be accepted");
}

#[test]
fn missing_or_malformed_config_stops_start_up_with_one_line_naming_the_variable() {
    let env = base_env(
        "postgres://u@127.0.0.1:9/db",
        "http://127.0.0.1:9/jwks",
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
    );
    for (name, value) in [
        ("CLERK_ISSUER", None),
        ("PORT", Some("eighty")),
        ("AI_SERVICE_URL", Some("ftp://x")),
    ] {
        let mut cmd = api();
        for (k, v) in &env {
            if k != name {
                cmd.env(k, v);
            }
        }
        if let Some(value) = value {
            cmd.env(name, value);
        }
        let output = cmd.output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(name), "{stderr}");
    }
}
