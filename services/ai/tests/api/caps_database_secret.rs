//! The cap store's database reached the way AWS hands it over (issue 21),
//! as the api reaches its own: host, port and name in the environment, user
//! and password in an RDS-managed Secrets Manager secret (moto) that is
//! rotated while the gateway runs. A private Postgres that checks passwords:
//! the shared test cluster trusts everyone. Modelled on the api's
//! `tests/api/database_secret.rs`; `PasswordPostgres` is a small copy of its
//! helper (without the api's migrations: the gateway creates its own tables).

use std::collections::HashMap;
use std::io::Write;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ai::config::Config;
use ai::startup::Application;
use aws_sdk_secretsmanager::Client as SecretsClient;
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use crate::caps_postgres::{billed, generate_as_acme};
use crate::helpers::{TestApp, metric, spawn_app};
use crate::openai::completion;
use crate::upstream::{Reply, Upstream};

const ROLE: &str = "ai_rotated";
const DATABASE: &str = "caps";
const REFRESHES: &str = "ai_caps_database_credential_refreshes_total";

/// A private cluster where `ROLE` logs in with a SCRAM password and owns
/// `DATABASE`, while `postgres` stays trusted for the test itself.
struct PasswordPostgres {
    server: localenv::postgres::PostgresServer,
    /// Superuser on `DATABASE`, statements not logged (some carry passwords).
    admin: PgPool,
}

impl PasswordPostgres {
    async fn start(password: &str) -> Self {
        let server = tokio::task::spawn_blocking(localenv::postgres::PostgresServer::start)
            .await
            .unwrap()
            .expect("private postgres");
        let superuser = |database: &str| {
            PgConnectOptions::from_str(&server.info().database_url(database))
                .unwrap()
                .disable_statement_logging()
        };
        let maintenance = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(superuser("postgres"))
            .await
            .unwrap();
        let hba_file: String = sqlx::query_scalar("SHOW hba_file")
            .fetch_one(&maintenance)
            .await
            .unwrap();
        // Written by the server itself (it owns the file): trust for the
        // test's superuser, passwords for everyone else.
        for statement in [
            format!(
                "COPY (VALUES ('host all postgres 127.0.0.1/32 trust'), \
                              ('host all all 127.0.0.1/32 scram-sha-256')) TO '{hba_file}'"
            ),
            "SELECT pg_reload_conf()".to_string(),
            format!("CREATE ROLE {ROLE} LOGIN PASSWORD '{password}'"),
            format!("CREATE DATABASE {DATABASE} OWNER {ROLE}"),
        ] {
            sqlx::query(&statement).execute(&maintenance).await.unwrap();
        }
        maintenance.close().await;
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(superuser(DATABASE))
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
        this.connect_as_role(password)
            .await
            .expect("role login")
            .close()
            .await;
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

    /// (used, reserved, open reservations) of acme, read as the superuser.
    async fn acme_row(&self) -> (i64, i64, i64) {
        sqlx::query_as(
            "SELECT (SELECT COALESCE(SUM(used), 0)::bigint FROM ai_token_windows WHERE org = 'acme'),
                    (SELECT COALESCE(SUM(reserved), 0)::bigint FROM ai_token_windows WHERE org = 'acme'),
                    (SELECT COUNT(*) FROM ai_token_reservations WHERE org = 'acme')",
        )
        .fetch_one(&self.admin)
        .await
        .unwrap()
    }
}

fn rds_secret(password: &str) -> String {
    json!({ "username": ROLE, "password": password, "engine": "postgres", "port": 5432 })
        .to_string()
}

async fn start_moto() -> (localenv::moto::MotoServer, SecretsClient) {
    let moto = tokio::task::spawn_blocking(localenv::moto::MotoServer::start)
        .await
        .unwrap()
        .expect("moto starts");
    // An independent SDK client, as an operator (or RDS) would use.
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    (moto, SecretsClient::new(&config))
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

/// The secret form of the database, instead of `DATABASE_URL`. The generic
/// `AWS_ENDPOINT_URL` points at a closed port: the secret must be read
/// through `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
fn secret_env(port: &str, arn: &str, moto: &str) -> Vec<(String, String)> {
    [
        ("DATABASE_HOST", "127.0.0.1"),
        ("DATABASE_PORT", port),
        ("DATABASE_NAME", DATABASE),
        ("DATABASE_SECRET_ARN", arn),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .to_vec()
}

/// A gateway whose caps live in the secret-form database: acme's cap is
/// `CAP` per year-long window; every request bills 8 + 40 tokens.
const CAP: u64 = 1_000;
const BILLED: u64 = 48;

async fn instance(env: &[(String, String)], upstream: &Upstream) -> TestApp {
    let config = format!(
        // The AWS variables also configure Bedrock: pin the model.
        "default_model = \"openai/gpt-4o-mini\"\n\n[providers.openai]\nbase_url = \"{}/v1\"\ntimeout_ms = 2000\n\n\
         [limits]\nwindow_seconds = 31536000\n\n[limits.orgs]\nacme = {CAP}\n",
        upstream.url
    );
    let mut vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    vars.push(("OPENAI_API_KEY", "sk-o"));
    spawn_app(&vars, &config).await
}

/// Every log line of the test's thread (the runtime is single-threaded, so
/// the gateway's tasks run on it), at DEBUG, the SDK's and sqlx's included.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn caps_keep_counting_while_the_database_password_rotates_and_it_is_never_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    let _logs = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .finish(),
    );

    let first = format!("first-{}", uuid::Uuid::new_v4().simple());
    let second = format!("second-{}", uuid::Uuid::new_v4().simple());
    let pg = PasswordPostgres::start(&first).await;
    let (moto, secrets) = start_moto().await;
    let arn = create_secret(&secrets, "rds!db-caps", &rds_secret(&first)).await;
    let upstream = Upstream::start(Reply::json(completion("ok", 8, 40))).await;
    let env = secret_env(&pg.port().to_string(), &arn, &moto.endpoint());
    assert!(!env.iter().any(|(k, _)| k == "DATABASE_URL"));
    let app = instance(&env, &upstream).await;

    // Admitted, settled, and in the table.
    let (status, body) = generate_as_acme(&app, "hi", 40).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(billed(&body), BILLED);
    assert_eq!(pg.acme_row().await, (BILLED as i64, 0, 0));

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
    assert!(pg.end_sessions().await > 0, "the gateway held no session");
    assert!(
        pg.connect_as_role(&first).await.is_err(),
        "the old password must no longer work"
    );
    assert_eq!(metric(&app.metrics().await, REFRESHES, &[]), 0.0);

    // Concurrent requests need new connections at once: one read of the
    // secret serves them all, and each is reserved and settled in Postgres.
    let answers = futures::future::join_all((0..6).map(|_| generate_as_acme(&app, "hi", 40))).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
    }
    let used = 7 * BILLED;
    assert_eq!(pg.acme_row().await, (used as i64, 0, 0));

    // Still enforced from the database: one token more than what is left is
    // refused without reaching the provider, and readiness holds.
    let input = crate::accounting::reservation("hi", 0);
    let (status, body) = generate_as_acme(&app, "hi", CAP - used - input + 1).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "token_cap_exceeded");
    assert_eq!(upstream.received().len(), 7);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["caps"]["database_reachable"], true, "{ready}");

    assert_eq!(metric(&app.metrics().await, REFRESHES, &[]), 1.0);
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
async fn a_database_secret_without_username_and_password_stops_start_up_without_showing_it() {
    let (moto, secrets) = start_moto().await;
    let start = |env: Vec<(String, String)>| async move {
        let mut vars: HashMap<String, String> = env.into_iter().collect();
        vars.insert("AI_INTERNAL_API_KEY".into(), crate::helpers::KEY.into());
        vars.insert("PORT".into(), "0".into());
        vars.insert("AI_BIND_ADDRESS".into(), "127.0.0.1".into());
        let config = Config::load(&|name| vars.get(name).cloned()).expect("config");
        let err = Application::build(config)
            .await
            .err()
            .expect("start-up must fail");
        format!("{err:#}")
    };
    let cases = [
        ("not-json", "hunter2-plain-text", "not JSON"),
        (
            "no-password",
            r#"{"username":"ai","pass":"hunter2-wrong-key"}"#,
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
        let message = start(secret_env("5432", &arn, &moto.endpoint())).await;
        assert!(message.contains(expected), "{message}");
        assert!(message.contains(&arn), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
    // A secret that does not exist is named too.
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent-AbCdEf";
    let message = start(secret_env("5432", missing, &moto.endpoint())).await;
    assert!(message.contains(missing), "{message}");
}
