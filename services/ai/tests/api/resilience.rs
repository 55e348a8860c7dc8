//! Retries, Retry-After, circuit breaker with fallback, truncated streams,
//! malformed upstream answers, timeouts and client disconnects.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;

use crate::helpers::{FAST_RETRY, metric, spawn_app};
use crate::openai::{completion, openai_app, stream_events};
use crate::upstream::{Reply, Upstream};

#[tokio::test]
async fn a_503_is_retried_and_the_retry_succeeds() {
    let upstream = Upstream::start(Reply::json(completion("recovered", 3, 1))).await;
    upstream.then(Reply::status(
        503,
        json!({ "error": { "type": "server_error", "message": "overloaded" } }),
    ));
    let app = openai_app(&upstream, FAST_RETRY).await;

    let (status, body) = app.generate(json!({ "prompt": "hi" })).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["text"], "recovered");
    assert_eq!(upstream.received().len(), 2);
    assert_eq!(
        metric(
            &app.metrics().await,
            "ai_upstream_retries_total",
            &[("provider", "openai")]
        ),
        1.0
    );
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_for() {
    let upstream = Upstream::start(Reply::json(completion("after the pause", 3, 1))).await;
    upstream.then(Reply::Json {
        status: 429,
        body: json!({ "error": { "type": "rate_limit_exceeded", "message": "slow down" } }),
        headers: vec![("retry-after", "1".into())],
    });
    let app = openai_app(&upstream, FAST_RETRY).await;

    let started = Instant::now();
    let (status, body) = app.generate(json!({ "prompt": "hi" })).await;
    let elapsed = started.elapsed();

    assert_eq!(status, 200, "{body}");
    assert_eq!(upstream.received().len(), 2);
    // Backoff alone would retry after ~5 ms; Retry-After says one second.
    assert!(
        elapsed >= Duration::from_millis(990),
        "retried after {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn repeated_failures_open_the_breaker_and_the_fallback_answers() {
    let openai = Upstream::start(Reply::status(
        500,
        json!({ "error": { "type": "server_error" } }),
    ))
    .await;
    let anthropic = Upstream::start(Reply::json(crate::anthropic::message(
        "from the fallback",
        5,
        3,
    )))
    .await;
    let config = format!(
        "[providers.openai]\nbase_url = \"{}/v1\"\n\n[providers.anthropic]\nbase_url = \"{}\"\n\n\
         [models.smart]\ntargets = [\"openai/gpt-4o-mini\", \"anthropic/claude-sonnet-4-5\"]\n\n\
         [breaker]\nfailure_threshold = 2\nopen_ms = 60000\n\n[retry]\nmax_attempts = 1\n",
        openai.url, anthropic.url
    );
    let app = spawn_app(
        &[("OPENAI_API_KEY", "sk-o"), ("ANTHROPIC_API_KEY", "sk-a")],
        &config,
    )
    .await;

    for _ in 0..3 {
        let (status, body) = app
            .generate(json!({ "model": "smart", "prompt": "hi" }))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["provider"], "anthropic");
        assert_eq!(body["model"], "claude-sonnet-4-5");
        assert_eq!(body["text"], "from the fallback");
    }

    assert_eq!(
        openai.received().len(),
        2,
        "the third request skips the open breaker"
    );
    assert_eq!(anthropic.received().len(), 3);
    let ready: serde_json::Value = app.get("/readyz").await.json().await.unwrap();
    let openai_health = ready["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "openai")
        .unwrap();
    assert_eq!(openai_health["circuit_open"], true);
    let metrics = app.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "ai_circuit_breaker_open",
            &[("provider", "openai")]
        ),
        1.0
    );
    assert_eq!(
        metric(
            &metrics,
            "ai_fallbacks_total",
            &[("from", "openai"), ("to", "anthropic")]
        ),
        3.0
    );
}

#[tokio::test]
async fn budget_exhaustion_is_not_retried_and_opens_the_breaker_at_once() {
    let upstream = Upstream::start(Reply::status(
        429,
        json!({ "error": { "type": "insufficient_quota", "code": "insufficient_quota", "message": "You exceeded your current quota" } }),
    ))
    .await;
    let app = openai_app(&upstream, FAST_RETRY).await;

    let (status, body) = app.generate(json!({ "prompt": "hi" })).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "upstream_budget_exhausted");

    let (status, body) = app.generate(json!({ "prompt": "hi" })).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "circuit_open");
    assert_eq!(upstream.received().len(), 1);
}

#[tokio::test]
async fn a_truncated_stream_ends_with_an_error_event() {
    // Two deltas, then the connection closes: no finish chunk, no [DONE].
    let upstream = Upstream::start(Reply::sse(stream_events(
        &["Once upon", " a time"],
        None,
        false,
    )))
    .await;
    let app = openai_app(&upstream, FAST_RETRY).await;

    let events = app.stream(json!({ "prompt": "tell a story" })).await;

    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, ["delta", "delta", "error"]);
    assert_eq!(events[2].data["error"]["code"], "stream_truncated");
    assert!(events[2].data["request_id"].is_string());
    let metrics = app.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "ai_stream_outcomes_total",
            &[("outcome", "truncated")]
        ),
        1.0
    );
}

#[tokio::test]
async fn malformed_upstream_json_is_a_502_with_a_clear_error() {
    let upstream = Upstream::start(Reply::Raw {
        status: 200,
        content_type: "application/json",
        body: b"{\"choices\": [ {\"message\": ".to_vec(),
    })
    .await;
    let app = openai_app(&upstream, FAST_RETRY).await;

    let (status, body) = app.generate(json!({ "prompt": "hi" })).await;

    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "upstream_malformed_response");
    assert_eq!(body["error"]["provider"], "openai");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not parse"),
        "{body}"
    );
    assert_eq!(
        upstream.received().len(),
        1,
        "a malformed answer is not retried"
    );
}

#[tokio::test]
async fn a_slow_provider_times_out_with_504() {
    let upstream =
        Upstream::start(Reply::json(completion("too late", 1, 1)).after(Duration::from_secs(3)))
            .await;
    let config = format!(
        "[providers.openai]\nbase_url = \"{}/v1\"\ntimeout_ms = 150\n\n{FAST_RETRY}",
        upstream.url
    );
    let app = spawn_app(&[("OPENAI_API_KEY", "sk-o")], &config).await;

    let started = Instant::now();
    let (status, body) = app.generate(json!({ "prompt": "hi" })).await;

    assert_eq!(status, 504, "{body}");
    assert_eq!(body["error"]["code"], "upstream_timeout");
    assert_eq!(upstream.received().len(), 3, "timeouts are retried");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_the_upstream_stream() {
    let upstream = Upstream::start(Reply::Sse {
        events: stream_events(&["first words"], None, false),
        gap: Duration::ZERO,
        hang: true,
    })
    .await;
    let app = openai_app(&upstream, FAST_RETRY).await;

    let response = app
        .post(
            "/v1/generate",
            &json!({ "prompt": "go on forever", "stream": true }),
        )
        .send()
        .await
        .unwrap();
    let mut body = response.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(5), body.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("first words"));
    assert_eq!(upstream.open_streams(), 1);

    drop(body);

    let deadline = Instant::now() + Duration::from_secs(5);
    while upstream.open_streams() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        upstream.open_streams(),
        0,
        "the upstream stream is still being read"
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut disconnects = 0.0;
    while disconnects == 0.0 && Instant::now() < deadline {
        disconnects = metric(
            &app.metrics().await,
            "ai_stream_outcomes_total",
            &[("outcome", "client_disconnected")],
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(disconnects, 1.0);
}

#[tokio::test]
async fn connect_errors_are_retried_then_the_chain_falls_back() {
    // A port that was bound and released: nothing listens there.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let config = format!(
        "[providers.openai]\nbase_url = \"{dead}/v1\"\n\n[providers.echo]\nkind = \"echo\"\n\n\
         [models.resilient]\ntargets = [\"openai/gpt-4o-mini\", \"echo/echo-1\"]\n\n{FAST_RETRY}"
    );
    let app = spawn_app(&[("OPENAI_API_KEY", "sk-o")], &config).await;

    let (status, body) = app
        .generate(json!({ "model": "resilient", "prompt": "still here" }))
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["provider"], "echo");
    assert_eq!(body["text"], "still here");
    let metrics = app.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "ai_upstream_retries_total",
            &[("provider", "openai"), ("reason", "upstream_unavailable")]
        ),
        2.0
    );

    let (status, body) = app
        .generate(json!({ "model": "openai/gpt-4o-mini", "prompt": "hi" }))
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "upstream_unavailable");
}

#[tokio::test]
async fn a_stream_that_goes_silent_ends_with_a_timeout_error_event() {
    // Headers arrive at once; then each event takes longer than the provider's timeout.
    let upstream = Upstream::start(Reply::Sse {
        events: stream_events(&["never", "arrives"], Some((1, 1)), true),
        gap: Duration::from_millis(600),
        hang: false,
    })
    .await;
    let config = format!(
        "[providers.openai]\nbase_url = \"{}/v1\"\ntimeout_ms = 150\n",
        upstream.url
    );
    let app = spawn_app(&[("OPENAI_API_KEY", "sk-o")], &config).await;

    let events = app.stream(json!({ "prompt": "hello?" })).await;

    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event, "error");
    assert_eq!(events[0].data["error"]["code"], "upstream_timeout");
    let metrics = app.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "ai_stream_outcomes_total",
            &[("outcome", "idle_timeout")]
        ),
        1.0
    );
}

#[tokio::test]
async fn a_client_that_gives_up_cancels_a_plain_upstream_call() {
    let upstream =
        Upstream::start(Reply::json(completion("too late", 1, 1)).after(Duration::from_secs(10)))
            .await;
    let app = openai_app(&upstream, FAST_RETRY).await;

    let impatient = app
        .post("/v1/generate", &json!({ "prompt": "hi" }))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(impatient.unwrap_err().is_timeout());
    assert_eq!(
        upstream.received().len(),
        1,
        "the call reached the upstream before the client gave up"
    );

    let deadline = Instant::now() + Duration::from_secs(5);
    while upstream.open_streams() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(upstream.received().len(), 1);
    assert_eq!(
        upstream.open_streams(),
        0,
        "the upstream call outlived its client"
    );
}
