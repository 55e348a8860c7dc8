//! `spawn_app`: the application built exactly as `main` builds it, from an
//! environment map (and optional TOML file) instead of the process env.

use std::collections::HashMap;
use std::time::Duration;

use ai::config::Config;
use ai::startup::Application;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::Value;

pub const KEY: &str = "test-internal-key-0123456789";

/// Retries fast enough for tests; everything else at its production default.
pub const FAST_RETRY: &str = "[retry]\nmax_attempts = 3\nbase_delay_ms = 5\nmax_delay_ms = 20\n";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    _config_dir: tempfile::TempDir,
}

pub async fn spawn_app(env: &[(&str, &str)], config_toml: &str) -> TestApp {
    let config_dir = tempfile::tempdir().unwrap();
    let mut vars: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    vars.insert("PORT".into(), "0".into());
    vars.insert("AI_BIND_ADDRESS".into(), "127.0.0.1".into());
    if !vars.contains_key("AI_INTERNAL_API_KEY_SECRET_ID") {
        vars.insert("AI_INTERNAL_API_KEY".into(), KEY.into());
    }
    if !config_toml.is_empty() {
        let path = config_dir.path().join("ai.toml");
        std::fs::write(&path, config_toml).unwrap();
        vars.insert("AI_CONFIG_FILE".into(), path.to_str().unwrap().into());
    }
    let config = Config::load(&|name| vars.get(name).cloned()).expect("test config is valid");
    let app = Application::build(config).await.expect("app builds");
    let address = format!("http://{}", app.local_addr());
    let server = tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        server,
        _config_dir: config_dir,
    }
}

/// A fresh database on the machine's shared test cluster (or on `server`),
/// dropped with this value.
pub struct TestDb {
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        let server = tokio::task::spawn_blocking(localenv::postgres::shared)
            .await
            .unwrap()
            .expect("test postgres");
        TestDb::create_on(&server).await
    }

    pub async fn create_on(server: &localenv::postgres::ServerInfo) -> TestDb {
        let name = format!("ai_test_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&server.admin_url)
            .await
            .expect("connect to test postgres");
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&admin)
            .await
            .expect("create database");
        admin.close().await;
        TestDb {
            url: server.database_url(&name),
            admin_url: server.admin_url.clone(),
            name,
        }
    }

    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.url).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime; use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(admin) = sqlx::PgPool::connect(&admin_url).await {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .execute(&admin)
                            .await;
                }
            });
        })
        .join();
    }
}

#[derive(Debug)]
pub struct SseEvent {
    pub event: String,
    pub data: Value,
}

impl TestApp {
    /// Stops serving, as if the process had exited: the listener closes and
    /// the application's state (its in-memory counters included) is dropped.
    pub async fn stop(self) {
        self.server.abort();
        let _ = self.server.await;
    }

    pub fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.address))
            .header("x-internal-api-key", KEY)
            .json(body)
    }

    pub async fn call(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self.post(path, body).send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    pub async fn generate(&self, body: Value) -> (u16, Value) {
        self.call("/v1/generate", &body).await
    }

    /// Sends a streaming generate and collects every SSE event (bounded in time).
    pub async fn stream(&self, mut body: Value) -> Vec<SseEvent> {
        body["stream"] = Value::Bool(true);
        let response = self.post("/v1/generate", &body).send().await.unwrap();
        assert_eq!(response.status(), 200, "stream request refused");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream"),
            "streams answer with SSE"
        );
        let events = response.bytes_stream().eventsource();
        let collected = tokio::time::timeout(Duration::from_secs(20), events.collect::<Vec<_>>())
            .await
            .expect("stream ends");
        collected
            .into_iter()
            .map(|e| e.expect("valid SSE from the gateway"))
            .map(|e| SseEvent {
                event: e.event,
                data: serde_json::from_str(&e.data).expect("event data is JSON"),
            })
            .collect()
    }

    /// Sends a streaming `/v1/chat/completions` and returns its chunks, the
    /// `[DONE]` sentinel (asserted last) left out.
    pub async fn chat_stream(&self, mut body: Value) -> Vec<Value> {
        body["stream"] = Value::Bool(true);
        let response = self
            .post("/v1/chat/completions", &body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "stream request refused");
        let events = response.bytes_stream().eventsource();
        let mut data: Vec<String> =
            tokio::time::timeout(Duration::from_secs(20), events.collect::<Vec<_>>())
                .await
                .expect("stream ends")
                .into_iter()
                .map(|e| e.expect("valid SSE from the gateway").data)
                .collect();
        assert_eq!(data.pop().as_deref(), Some("[DONE]"), "{data:?}");
        data.iter()
            .map(|d| serde_json::from_str(d).expect("chunk is JSON"))
            .collect()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .header("x-internal-api-key", KEY)
            .send()
            .await
            .unwrap()
    }

    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.text().await.unwrap()
    }
}

/// The tool calls of OpenAI-shaped chunks, assembled as a client does:
/// `[index, id, name, arguments]` in index order, and the finish reason.
pub fn streamed_calls(chunks: &[Value]) -> (Vec<Value>, Option<String>) {
    let mut calls: Vec<(u64, Option<String>, String, String)> = Vec::new();
    let mut finish = None;
    for choice in chunks.iter().flat_map(|c| c["choices"].as_array().unwrap()) {
        if let Some(reason) = choice["finish_reason"].as_str() {
            finish = Some(reason.to_string());
        }
        for piece in choice["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let index = piece["index"].as_u64().unwrap();
            let position = match calls.iter().position(|c| c.0 == index) {
                Some(position) => position,
                None => {
                    calls.push((index, None, String::new(), String::new()));
                    calls.len() - 1
                }
            };
            let entry = &mut calls[position];
            if let Some(id) = piece["id"].as_str() {
                entry.1 = Some(id.to_string());
            }
            entry.2 += piece["function"]["name"].as_str().unwrap_or_default();
            entry.3 += piece["function"]["arguments"].as_str().unwrap_or_default();
        }
    }
    calls.sort_by_key(|c| c.0);
    let calls = calls
        .into_iter()
        .map(|(index, id, name, arguments)| serde_json::json!([index, id, name, arguments]))
        .collect();
    (calls, finish)
}

/// The text of every `delta` event, joined; asserts the stream ended with `done`.
pub fn streamed_text(events: &[SseEvent]) -> String {
    let last = events.last().expect("at least one event");
    assert_eq!(last.event, "done", "stream must end with done: {events:?}");
    events
        .iter()
        .filter(|e| e.event == "delta")
        .map(|e| e.data["text"].as_str().unwrap())
        .collect()
}

/// Sum of a metric's samples whose label set contains every `labels` pair.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .filter(|line| {
            labels
                .iter()
                .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
