use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::helpers::spawn_app;

/// Log output captured in memory (install with `api::telemetry::init_with_writer`).
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Every line written so far, as JSON.
    pub fn lines(&self) -> Vec<serde_json::Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON log line"))
            .collect()
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

/// Writes out every line logged so far: the writer is non-blocking, and
/// dropping its guard is what waits for it.
pub async fn flushed(telemetry: api::telemetry::Telemetry) {
    tokio::task::spawn_blocking(move || drop(telemetry))
        .await
        .unwrap();
}

#[tokio::test]
async fn json_logs_carry_request_user_and_org_ids_and_never_tokens_or_emails() {
    let captured = Captured::default();
    let telemetry = api::telemetry::init_with_writer(captured.clone(), None).unwrap();
    let app = spawn_app().await;
    let token = app.token("alice", "org_a");
    let data = app.data(&token, "{ me { email } }", json!({})).await;
    assert_eq!(data["me"]["email"], "alice@example.com");
    let expired = app.rsa.sign(&{
        let mut c = crate::helpers::claims("alice", "org_a");
        c["exp"] = json!(crate::helpers::now() - 3600);
        c
    });
    assert_eq!(
        app.gql(&expired, "{ me { id } }", json!({}))
            .await
            .0
            .as_u16(),
        401
    );

    flushed(telemetry).await;
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON log line"))
        .collect();
    let (user, org): (uuid::Uuid, uuid::Uuid) =
        sqlx::query_as("SELECT user_id, org_id FROM memberships")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let served = lines
        .iter()
        .find(|l| l["span"]["user_id"] == user.to_string())
        .unwrap_or_else(|| panic!("no line with the user id:\n{logs}"));
    assert_eq!(served["span"]["org_id"], org.to_string());
    assert!(
        served["span"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{served}"
    );
    for secret in [
        token.as_str(),
        expired.as_str(),
        "alice@example.com",
        token.split('.').nth(2).unwrap(),
    ] {
        assert!(!logs.contains(secret), "logs leak {secret}:\n{logs}");
    }
}

#[tokio::test]
async fn traces_are_exported_over_otlp_and_the_ai_call_joins_the_callers_trace() {
    type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
    let received: Received = Arc::default();
    let collector = axum::Router::new()
        .route(
            "/v1/traces",
            axum::routing::post(
                |axum::extract::State(r): axum::extract::State<Received>,
                 headers: axum::http::HeaderMap,
                 body: axum::body::Bytes| async move {
                    let content_type = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    r.lock().unwrap().push((content_type, body.to_vec()));
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, collector).await.unwrap() });
    let telemetry = api::telemetry::init_with_writer(std::io::sink(), Some(&endpoint)).unwrap();

    let app = spawn_app().await;
    let token = app.token("alice", "org_a");
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = app
        .http
        .post(format!("{}/graphql", app.base))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&json!({ "query": "mutation { generate(input: { prompt: \"hi\" }) { text } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    // The ai service saw the caller's trace, with the API's own span as parent.
    let sent = app.ai.calls()[0].headers["traceparent"].clone();
    assert!(sent.starts_with(&format!("00-{trace_id}-")), "{sent}");
    assert!(!sent.contains("00f067aa0ba902b7"), "{sent}");

    let telemetry = tokio::task::spawn_blocking(move || {
        telemetry.flush();
        telemetry
    })
    .await
    .unwrap();
    let batches = received.lock().unwrap().clone();
    assert!(!batches.is_empty(), "no spans were exported");
    assert_eq!(batches[0].0, "application/x-protobuf");
    let trace_bytes = hex::decode(trace_id).unwrap();
    let api_span_id = hex::decode(&sent[36..52]).unwrap();
    let all: Vec<u8> = batches.iter().flat_map(|(_, b)| b.clone()).collect();
    let contains = |needle: &[u8]| all.windows(needle.len()).any(|w| w == needle);
    assert!(
        contains(&trace_bytes),
        "the request span is not in the caller's trace"
    );
    assert!(
        contains(&api_span_id),
        "the span passed to the ai service was not exported"
    );
    assert!(contains(b"request"));
    tokio::task::spawn_blocking(move || drop(telemetry))
        .await
        .unwrap();
}

/// The binary's stdout up to its exit after SIGTERM holds the last request's
/// line and the shutdown line: the non-blocking writer is flushed on exit.
#[tokio::test]
async fn the_last_lines_before_exit_are_written() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let server = tokio::task::spawn_blocking(localenv::postgres::shared)
        .await
        .unwrap()
        .unwrap();
    let db = crate::helpers::TestDb::create(&server).await;
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    api::db::MIGRATOR.run(&pool).await.unwrap();
    let env = crate::helpers::base_env(
        &db.url,
        "http://127.0.0.1:9/jwks",
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_api"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(&env)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let addr = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        loop {
            line.clear();
            assert!(stdout.read_line(&mut line).unwrap() > 0, "exited early");
            let parsed: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
            if parsed["message"] == "listening" {
                return (parsed["addr"].as_str().unwrap().to_string(), stdout);
            }
        }
    })
    .await
    .unwrap();
    let (addr, mut stdout) = addr;

    // One refused request, then SIGTERM at once: both lines are logged in
    // the process's last moments.
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .json(&serde_json::json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest = tokio::task::spawn_blocking(move || {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
        assert!(child.wait().unwrap().success());
        rest
    })
    .await
    .unwrap();
    let lines: Vec<serde_json::Value> = rest
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON log line"))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["span"]["request_id"] == request_id.as_str() && l["status"] == 401),
        "no line for the last request:\n{rest}"
    );
    assert_eq!(
        lines.last().map(|l| l["message"].clone()),
        Some(serde_json::json!("shutting down")),
        "{rest}"
    );
}
