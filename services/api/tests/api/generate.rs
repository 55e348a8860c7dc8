use serde_json::json;

use crate::helpers::{Options, error_code, spawn_app, spawn_app_with};

const GENERATE: &str = "mutation($p: String!) { generate(input: { prompt: $p, maxTokens: 64 }) {
    text latencyMs model provider usage { inputTokens outputTokens } job { id status latencyMs inputTokens outputTokens requestId } auditEventId } }";

#[tokio::test]
async fn generate_returns_text_and_latency_and_writes_a_job() {
    let app = spawn_app().await;
    let token = app.token("alice", "org_a");
    let client_trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let response = app
        .http
        .post(format!("{}/graphql", app.base))
        .bearer_auth(&token)
        .header("traceparent", client_trace)
        .json(&json!({ "query": GENERATE, "variables": { "p": "hello there world" } }))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    let out = &body["data"]["generate"];
    assert_eq!(out["text"], "echo: hello there world", "{body}");
    assert_eq!(out["latencyMs"], 42);
    assert_eq!(out["usage"], json!({ "inputTokens": 3, "outputTokens": 7 }));
    assert_eq!(out["job"]["status"], "SUCCEEDED");
    assert_eq!(out["job"]["requestId"], "req-123");

    let (status, tokens_in, tokens_out, latency): (String, i32, i32, i32) =
        sqlx::query_as("SELECT status, input_tokens, output_tokens, latency_ms FROM jobs")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), tokens_in, tokens_out, latency),
        ("SUCCEEDED", 3, 7, 42)
    );

    // The ai service got ids (not emails), the key, and the caller's trace.
    let calls = app.ai.calls();
    assert_eq!(calls.len(), 1);
    let headers = &calls[0].headers;
    let (org, user): (uuid::Uuid, uuid::Uuid) =
        sqlx::query_as("SELECT org_id, user_id FROM memberships")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(headers["x-org-id"], org.to_string());
    assert_eq!(headers["x-user-id"], user.to_string());
    assert!(headers["traceparent"].starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    assert_eq!(calls[0].body["max_tokens"], 64);
    assert!(!calls[0].body.to_string().contains("example.com"));
}

#[tokio::test]
async fn when_the_ai_service_is_down_generate_fails_typed_and_everything_else_works() {
    let app = spawn_app().await;
    let token = app.token("alice", "org_a");
    app.ai.set_down(true);
    let (_, body) = app.gql(&token, GENERATE, json!({ "p": "hi" })).await;
    assert_eq!(error_code(&body), "AI_UNAVAILABLE", "{body}");
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status = 'FAILED'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(failed, 1);
    // The rest of the API is unaffected.
    app.create_document(&token, "still works").await;
    // After repeated failures the breaker opens: fast failures, same code.
    for _ in 0..5 {
        let (_, body) = app.gql(&token, GENERATE, json!({ "p": "hi" })).await;
        assert_eq!(error_code(&body), "AI_UNAVAILABLE");
    }
    let before = app.ai.calls().len();
    app.ai.set_down(false);
    let (_, body) = app.gql(&token, GENERATE, json!({ "p": "hi" })).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("circuit open"),
        "{body}"
    );
    assert_eq!(
        app.ai.calls().len(),
        before,
        "an open circuit makes no call"
    );
}

#[tokio::test]
async fn a_slow_ai_service_times_out_with_a_typed_error() {
    let app = crate::helpers::spawn_app_with(crate::helpers::Options {
        env: vec![("AI_TIMEOUT_MS", "300".into())],
        ..Default::default()
    })
    .await;
    let token = app.token("alice", "org_a");
    app.ai.set_delay_ms(2_000);
    let started = std::time::Instant::now();
    let (_, body) = app.gql(&token, GENERATE, json!({ "p": "hi" })).await;
    assert_eq!(error_code(&body), "AI_TIMEOUT", "{body}");
    assert!(
        started.elapsed() < std::time::Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let server = tokio::task::spawn_blocking(localenv::postgres::shared)
        .await
        .unwrap()
        .unwrap();
    let db = crate::helpers::TestDb::create(&server).await;
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    api::db::MIGRATOR.run(&pool).await.unwrap();
    let rsa = crate::helpers::SigningKey::rsa("rsa-1");
    let jwks = crate::helpers::JwksServer::start(&[&rsa]).await;
    let ai = crate::helpers::AiStub::start().await;
    ai.set_delay_ms(500);
    let env = crate::helpers::base_env(&db.url, &jwks.url, &ai.url, "http://127.0.0.1:9");
    let app = api::Application::build(api::Config::from_map(&env).unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));

    let token = rsa.sign(&crate::helpers::claims("alice", "org_a"));
    let in_flight = tokio::spawn({
        let (base, token) = (base.clone(), token.clone());
        async move {
            reqwest::Client::new()
                .post(format!("{base}/graphql"))
                .bearer_auth(token)
                .json(&json!({ "query": GENERATE, "variables": { "p": "slow" } }))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    });
    // Let the request reach the ai stub, then ask the server to stop.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while ai.arrivals() == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(ai.arrivals(), 1);
    assert!(ai.calls().is_empty(), "the request is still in flight");
    stop.send(()).unwrap();
    let body = in_flight.await.unwrap();
    assert_eq!(body["data"]["generate"]["text"], "echo: slow", "{body}");
    tokio::time::timeout(std::time::Duration::from_secs(5), server)
        .await
        .expect("server stopped")
        .unwrap()
        .unwrap();
    assert!(
        reqwest::Client::new()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn an_org_over_its_ai_token_cap_gets_a_limit_error_that_never_opens_the_breaker() {
    let app = spawn_app().await;
    let token = app.token("alice", "org_a");
    app.ai.set_capped(true);
    for _ in 0..7 {
        let (_, body) = app.gql(&token, GENERATE, json!({ "p": "hi" })).await;
        assert_eq!(error_code(&body), "AI_LIMIT_REACHED", "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("token cap"),
            "{body}"
        );
    }
    // Seven limit answers are not seven failures: the next call goes through.
    app.ai.set_capped(false);
    let (_, body) = app.gql(&token, GENERATE, json!({ "p": "hi" })).await;
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn the_model_allowlist_refuses_other_models_before_the_ai_service_is_called() {
    let app = spawn_app_with(Options {
        env: vec![("AI_ALLOWED_MODELS", "fast, openai/gpt-4o-mini".into())],
        ..Default::default()
    })
    .await;
    let token = app.token("alice", "org_a");
    let query = "mutation($m: String) { generate(input: { prompt: \"hi\", model: $m }) { text } }";

    for model in [
        "openai/o3-pro",
        "azure/../../../../admin",
        "gemini/x#frag",
        "FAST",
    ] {
        let (_, body) = app.gql(&token, query, json!({ "m": model })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{model}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("is not allowed"), "{message}");
    }
    assert_eq!(app.ai.arrivals(), 0, "the ai service was never called");
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(jobs, 0);

    // Listed models and the ai service's default (no model) pass.
    for model in [json!("fast"), json!("openai/gpt-4o-mini"), json!(null)] {
        let data = app.data(&token, query, json!({ "m": model })).await;
        assert_eq!(data["generate"]["text"], "echo: hi");
        assert_eq!(
            app.ai.calls().last().unwrap().body.get("model"),
            model.as_str().map(|m| json!(m)).as_ref()
        );
    }
}
