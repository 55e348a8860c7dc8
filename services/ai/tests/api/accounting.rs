//! Per-organization token caps under concurrency, and accounting metrics.

use std::time::Duration;

use ai::accounting::tokens::Framing;
use ai::providers::{Message, Role};
use serde_json::json;
use tiktoken_rs::ChatCompletionRequestMessage;

use crate::helpers::{metric, spawn_app};
use crate::openai::completion;
use crate::upstream::{Received, Reply, Upstream};

/// What OpenAI bills for a chat request: its tokenizer (o200k_base, the
/// gpt-4o family's) over each message plus the documented framing, 3 tokens a
/// message + the role + 3 to prime the reply (openai-cookbook, "How to count
/// tokens with tiktoken"). Output is `max_tokens`, the most a call can cost.
pub fn bill_like_openai(received: &Received) -> Reply {
    let sent = received.json();
    let input = openai_input_tokens(sent["messages"].as_array().unwrap());
    let output = sent["max_completion_tokens"].as_u64().unwrap();
    Reply::json(completion("billed", input, output))
}

/// OpenAI's input tokens for chat `messages` (see [`bill_like_openai`]).
pub fn openai_input_tokens(messages: &[serde_json::Value]) -> u64 {
    let messages: Vec<ChatCompletionRequestMessage> = messages
        .iter()
        .map(|m| ChatCompletionRequestMessage {
            role: m["role"].as_str().unwrap().to_string(),
            content: m["content"].as_str().map(str::to_owned),
            ..Default::default()
        })
        .collect();
    tiktoken_rs::num_tokens_from_messages("gpt-4o-mini", &messages).unwrap() as u64
}

/// What the gateway reserves for `prompt` on an OpenAI provider.
pub fn reservation(prompt: &str, max_tokens: u64) -> u64 {
    let message = Message::text(Role::User, prompt);
    Framing::of("openai").input_estimate(&[message]) + max_tokens
}

/// 50 requests at once for `prompt` against a cap of `cap`; returns the tokens
/// the provider billed for the admitted ones and how many were admitted.
async fn spend_concurrently(prompt: &str, max_tokens: u64, cap: u64) -> (u64, usize) {
    // Slow enough that all 50 requests are in flight together.
    let upstream =
        Upstream::start(Reply::computed(bill_like_openai).after(Duration::from_millis(150))).await;
    let config = format!(
        "[providers.openai]\nbase_url = \"{}/v1\"\n\n[limits]\nwindow_seconds = 31536000\n\n[limits.orgs]\nacme = {cap}\n",
        upstream.url
    );
    let app = spawn_app(&[("OPENAI_API_KEY", "sk-o")], &config).await;

    let requests = (0..50).map(|_| {
        app.post(
            "/v1/generate",
            &json!({ "prompt": prompt, "max_tokens": max_tokens }),
        )
        .header("x-org-id", "acme")
        .send()
    });
    let responses = futures::future::join_all(requests).await;

    let reserved = reservation(prompt, max_tokens);
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
                let billed = body["usage"]["input_tokens"].as_u64().unwrap()
                    + body["usage"]["output_tokens"].as_u64().unwrap();
                assert_eq!(body["usage"]["estimated"], false);
                // The root of the promise: no request costs more than it reserved.
                assert!(billed <= reserved, "billed {billed} > reserved {reserved}");
                spent += billed;
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
    assert!(
        admitted > 0 && refused > 0,
        "admitted {admitted}, refused {refused}"
    );
    assert_eq!(
        upstream.received().len(),
        admitted,
        "refused requests never reach the provider"
    );

    // Other organizations are not affected by acme's cap.
    let (status, _) = app
        .generate(json!({ "prompt": prompt, "max_tokens": max_tokens }))
        .await;
    assert_eq!(status, 200);
    (spent, admitted)
}

#[tokio::test]
async fn fifty_concurrent_short_prompts_never_overspend_beyond_one_reservation() {
    // Issue 20's probe: "hi" costs OpenAI 8 input tokens, mostly framing,
    // where the old estimate (bytes/3 + 4) reserved 5.
    let (cap, max_tokens) = (300, 8);
    let (spent, admitted) = spend_concurrently("hi", max_tokens, cap).await;
    let one = reservation("hi", max_tokens);
    assert!(
        spent <= cap + one,
        "spent {spent} > cap {cap} + one reservation {one}"
    );
    assert!(admitted < 50, "the cap admitted everything");
}

#[tokio::test]
async fn fifty_concurrent_long_prompts_never_overspend_beyond_one_reservation() {
    let prompt = "Summarise the quarterly report: revenue grew 12% on strong \
                  subscription sales, costs rose 3%, and the board approved a new \
                  data centre in Frankfurt. "
        .repeat(8);
    let (cap, max_tokens) = (4_000, 64);
    let (spent, admitted) = spend_concurrently(&prompt, max_tokens, cap).await;
    let one = reservation(&prompt, max_tokens);
    assert!(
        spent <= cap + one,
        "spent {spent} > cap {cap} + one reservation {one}"
    );
    assert!(admitted < 50, "the cap admitted everything");
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
