//! Per-organization token caps under concurrency, and accounting metrics.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{metric, spawn_app};
use crate::openai::completion;
use crate::upstream::{Reply, Upstream};

const CAP: u64 = 1_000;
const MAX_TOKENS: u64 = 20;

#[tokio::test]
async fn fifty_concurrent_requests_never_overspend_beyond_one_reservation() {
    // Each call really costs 5 + 20 = 25 tokens; the gateway reserves its own
    // estimate (input estimate + max_tokens) before calling. The upstream is slow
    // enough that all 50 requests are in flight together.
    let upstream = Upstream::start(
        Reply::json(completion("twenty tokens of text", 5, MAX_TOKENS))
            .after(Duration::from_millis(150)),
    )
    .await;
    let config = format!(
        "[providers.openai]\nbase_url = \"{}/v1\"\n\n[limits]\nwindow_seconds = 31536000\n\n[limits.orgs]\nacme = {CAP}\n",
        upstream.url
    );
    let app = spawn_app(&[("OPENAI_API_KEY", "sk-o")], &config).await;

    let requests = (0..50).map(|_| {
        app.post(
            "/v1/generate",
            &json!({ "prompt": "hello there", "max_tokens": MAX_TOKENS }),
        )
        .header("x-org-id", "acme")
        .send()
    });
    let responses = futures::future::join_all(requests).await;

    let mut spent = 0;
    let mut admitted = 0;
    let mut refused = 0;
    for response in responses {
        let response = response.unwrap();
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").cloned();
        let body: serde_json::Value = response.json().await.unwrap();
        match status {
            200 => {
                admitted += 1;
                spent += body["usage"]["input_tokens"].as_u64().unwrap()
                    + body["usage"]["output_tokens"].as_u64().unwrap();
            }
            429 => {
                refused += 1;
                assert_eq!(body["error"]["code"], "token_cap_exceeded");
                assert!(body["error"]["message"].as_str().unwrap().contains("acme"));
                assert!(retry_after.is_some());
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    let reservation = 4 + 4 + MAX_TOKENS; // estimate for "hello there" + framing + max_tokens
    assert!(
        admitted > 0 && refused > 0,
        "admitted {admitted}, refused {refused}"
    );
    assert!(
        spent <= CAP + reservation,
        "spent {spent} > cap {CAP} + one reservation {reservation}"
    );
    // Without reservations all 50 (1,250 tokens) would have been admitted.
    assert!(admitted < 50);
    assert_eq!(
        upstream.received().len(),
        admitted,
        "refused requests never reach the provider"
    );

    // Other organizations are not affected by acme's cap.
    let (status, _) = app
        .generate(json!({ "prompt": "hello there", "max_tokens": MAX_TOKENS }))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn metrics_account_tokens_cost_latency_and_overhead_per_org() {
    let upstream = Upstream::start(Reply::json(completion("hi", 100, 50))).await;
    let config = format!(
        "[providers.openai]\nbase_url = \"{}/v1\"\n\n[prices.\"gpt-4o-mini\"]\ninput_per_million = 1.0\noutput_per_million = 2.0\n",
        upstream.url
    );
    let app = spawn_app(&[("OPENAI_API_KEY", "sk-o")], &config).await;

    for _ in 0..2 {
        let response = app
            .post("/v1/generate", &json!({ "prompt": "hi" }))
            .header("x-org-id", "org_42")
            .header("x-user-id", "user_7")
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key("x-request-id"));
    }

    let metrics = app.metrics().await;
    let tokens = |direction| {
        metric(
            &metrics,
            "ai_tokens_total",
            &[
                ("direction", direction),
                ("org", "org_42"),
                ("estimated", "false"),
            ],
        )
    };
    assert_eq!(tokens("input"), 200.0);
    assert_eq!(tokens("output"), 100.0);
    assert_eq!(
        metric(&metrics, "ai_cost_usd_micros_total", &[("org", "org_42")]),
        2.0 * 200.0
    );
    assert_eq!(
        metric(
            &metrics,
            "ai_requests_total",
            &[("route", "generate"), ("code", "ok"), ("org", "org_42")]
        ),
        2.0
    );
    assert_eq!(
        metric(
            &metrics,
            "ai_gateway_overhead_seconds_count",
            &[("route", "generate")]
        ),
        2.0
    );
    assert_eq!(
        metric(
            &metrics,
            "ai_upstream_duration_seconds_count",
            &[("provider", "openai")]
        ),
        2.0
    );
    assert!(
        !metrics.contains("user_7"),
        "user ids stay out of metric labels"
    );
}
