//! The database reached the way AWS hands it over: host, port and name in the
//! environment, user and password in an RDS-managed Secrets Manager secret
//! (moto) that is rotated while the api runs (a private Postgres that checks
//! passwords: the shared test cluster trusts everyone).

use std::str::FromStr;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client as SecretsClient;
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use crate::helpers::{AiStub, JwksServer, SigningKey, base_env, claims};
use crate::logging::Captured;

const ROLE: &str = "app_rotated";
const DATABASE: &str = "app";

/// A private cluster where `ROLE` logs in with a SCRAM password and owns
/// `DATABASE` (migrated), while `postgres` stays trusted for the test itself.
struct PasswordPostgres {
    server: localenv::postgres::PostgresServer,
    /// Superuser, statements not logged (they carry the passwords).
    admin: PgPool,
}

impl PasswordPostgres {
    async fn start(password: &str) -> Self {
        let server = tokio::task::spawn_blocking(localenv::postgres::PostgresServer::start)
            .await
            .unwrap()
            .expect("private postgres");
        let options = PgConnectOptions::from_str(&server.info().admin_url)
            .unwrap()
            .disable_statement_logging();
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .unwrap();
        let hba_file: String = sqlx::query_scalar("SHOW hba_file")
            .fetch_one(&admin)
            .await
            .unwrap();
        // Written by the server itself (it owns the file): trust for the
        // test's superuser, passwords for everyone else.
        sqlx::query(&format!(
            "COPY (VALUES ('host all postgres 127.0.0.1/32 trust'), \
                          ('host all all 127.0.0.1/32 scram-sha-256')) TO '{hba_file}'"
        ))
        .execute(&admin)
        .await
        .unwrap();
        sqlx::query("SELECT pg_reload_conf()")
            .execute(&admin)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE ROLE {ROLE} LOGIN PASSWORD '{password}'"))
            .execute(&admin)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {DATABASE} OWNER {ROLE}"))
            .execute(&admin)
            .await
            .unwrap();
        let this = Self { server, admin };
        // The reload is asynchronous: wait until a wrong password is refused,
        // which is also what makes this test able to fail.
        let deadline = Instant::now() + Duration::from_secs(10);
        while this.connect_as_role("wrong").await.is_ok() {
            assert!(Instant::now() < deadline, "pg_hba.conf was not reloaded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let owner = this.connect_as_role(password).await.expect("role login");
        api::db::MIGRATOR.run(&owner).await.expect("migrate");
        owner.close().await;
        this
    }

    fn port(&self) -> u16 {
        self.server.port()
    }

    async fn connect_as_role(&self, password: &str) -> Result<PgPool, sqlx::Error> {
        let options = PgConnectOptions::new_without_pgpass()
            .host("127.0.0.1")
            .port(self.port())
            .username(ROLE)
            .password(password)
            .database(DATABASE)
            .disable_statement_logging();
        PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
    }

    async fn set_password(&self, password: &str) {
        sqlx::query(&format!("ALTER ROLE {ROLE} PASSWORD '{password}'"))
            .execute(&self.admin)
            .await
            .unwrap();
    }

    /// Ends every session of the role: the pool's open connections are gone,
    /// as after an idle timeout or a failover.
    async fn end_sessions(&self) -> i64 {
        sqlx::query_scalar(&format!(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE usename = '{ROLE}') t"
        ))
        .fetch_one(&self.admin)
        .await
        .unwrap()
    }
}

fn rds_secret(password: &str) -> String {
    json!({ "username": ROLE, "password": password, "engine": "postgres", "port": 5432 })
        .to_string()
}

async fn secrets_client(endpoint: &str) -> SecretsClient {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    SecretsClient::new(&config)
}

async fn create_secret(client: &SecretsClient, name: &str, value: &str) -> String {
    client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("create secret")
        .arn()
        .unwrap()
        .to_string()
}

/// The app's environment with the secret form instead of `DATABASE_URL`.
/// `AWS_ENDPOINT_URL` (S3) points at a closed port: the secret must be read
/// through `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
fn secret_env(
    port: u16,
    arn: &str,
    moto: &str,
    jwks: &JwksServer,
    ai: &AiStub,
) -> std::collections::HashMap<String, String> {
    let mut env = base_env("unused", &jwks.url, &ai.url, "http://127.0.0.1:9");
    env.remove("DATABASE_URL");
    env.extend(
        [
            ("DATABASE_HOST", "127.0.0.1".to_string()),
            ("DATABASE_PORT", port.to_string()),
            ("DATABASE_NAME", DATABASE.to_string()),
            ("DATABASE_SECRET_ARN", arn.to_string()),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.to_string()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    env
}

async fn documents(base: &str, token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": "{ documents(first: 5) { edges { node { title owner { email } } } } }" }))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn the_api_keeps_answering_while_the_password_rotates_and_never_logs_it() {
    // Everything at DEBUG, the SDK's and sqlx's own lines included.
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .init();

    let first = format!("first-{}", uuid::Uuid::new_v4().simple());
    let second = format!("second-{}", uuid::Uuid::new_v4().simple());
    let pg = PasswordPostgres::start(&first).await;
    let moto = tokio::task::spawn_blocking(|| localenv::moto::MotoServer::start().expect("moto"))
        .await
        .unwrap();
    let secrets = secrets_client(&moto.endpoint()).await;
    let arn = create_secret(&secrets, "rds!db-test", &rds_secret(&first)).await;

    let rsa = SigningKey::rsa("rsa-1");
    let jwks = JwksServer::start(&[&rsa]).await;
    let ai = AiStub::start().await;
    let env = secret_env(pg.port(), &arn, &moto.endpoint(), &jwks, &ai);
    let app = api::Application::build(api::Config::from_map(&env).expect("config"))
        .await
        .expect("the api starts with host, port, name and secret ARN");
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let token = rsa.sign(&claims("alice", "org_a"));
    let created = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": "mutation { createDocument(title: \"before rotation\") { document { id } } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 200);
    let (status, body) = documents(&base, &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["documents"]["edges"][0]["node"]["title"], "before rotation",
        "{body}"
    );

    // Rotate as RDS does: the password in Postgres, then the secret; the
    // pool's open sessions end.
    pg.set_password(&second).await;
    secrets
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(rds_secret(&second))
        .send()
        .await
        .expect("put secret value");
    assert!(pg.end_sessions().await > 0, "the api held no session");
    assert!(
        pg.connect_as_role(&first).await.is_err(),
        "the old password must no longer work"
    );

    // Concurrent requests need new connections at once: one read of the
    // secret serves them all.
    let answers = futures::future::join_all((0..6).map(|_| documents(&base, &token))).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(
            body["data"]["documents"]["edges"][0]["node"]["owner"]["email"],
            "alice@example.com"
        );
    }
    // And again later, on the connections opened with the new password.
    let (status, body) = documents(&base, &token).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");

    let lines = captured.text();
    let rereads = lines
        .lines()
        .filter(|l| l.contains("read them again from Secrets Manager"))
        .count();
    assert_eq!(
        rereads, 1,
        "expected exactly one read after the rotation:\n{lines}"
    );
    assert!(
        lines.contains("sqlx"),
        "sqlx's debug lines were not captured"
    );
    for password in [&first, &second] {
        assert!(
            !lines.contains(password.as_str()),
            "a log line holds the database password"
        );
    }
}

#[tokio::test]
async fn a_secret_without_username_and_password_stops_start_up_without_showing_it() {
    let moto = tokio::task::spawn_blocking(|| localenv::moto::MotoServer::start().expect("moto"))
        .await
        .unwrap();
    let secrets = secrets_client(&moto.endpoint()).await;
    let jwks = JwksServer::start(&[]).await;
    let ai = AiStub::start().await;
    let cases = [
        ("not-json", "hunter2-plain-text", "not JSON"),
        (
            "no-password",
            r#"{"username":"app","pass":"hunter2-wrong-key"}"#,
            "\"password\"",
        ),
        (
            "no-username",
            r#"{"password":"hunter2-alone"}"#,
            "\"username\"",
        ),
    ];
    for (name, value, expected) in cases {
        let arn = create_secret(&secrets, name, value).await;
        let env = secret_env(5432, &arn, &moto.endpoint(), &jwks, &ai);
        let err = api::Application::build(api::Config::from_map(&env).unwrap())
            .await
            .err()
            .expect("start-up must fail");
        let message = err.to_string();
        assert!(message.contains(expected), "{message}");
        assert!(message.contains(&arn), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
    // A secret that does not exist is named too.
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent-AbCdEf";
    let env = secret_env(5432, missing, &moto.endpoint(), &jwks, &ai);
    let err = api::Application::build(api::Config::from_map(&env).unwrap())
        .await
        .err()
        .expect("start-up must fail");
    assert!(err.to_string().contains(missing), "{err}");
}
