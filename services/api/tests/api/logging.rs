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

#[tokio::test]
async fn json_logs_carry_request_user_and_org_ids_and_never_tokens_or_emails() {
    let captured = Captured::default();
    let writer = captured.clone();
    let _telemetry = api::telemetry::init_with_writer(move || writer.clone(), None).unwrap();
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
    let telemetry = api::telemetry::init_with_writer(std::io::sink, Some(&endpoint)).unwrap();

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
