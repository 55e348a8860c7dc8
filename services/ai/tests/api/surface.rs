//! The HTTP contract: auth, validation errors naming the field, unknown models,
//! health, model listing, and the offline echo provider.

use serde_json::json;

use crate::helpers::{KEY, spawn_app, streamed_text};
use crate::openai::{completion, openai_app};
use crate::upstream::{Reply, Upstream};

const ECHO: &str = "[providers.echo]\nkind = \"echo\"\n";

#[tokio::test]
async fn every_v1_request_needs_the_internal_key_but_health_checks_do_not() {
    let app = spawn_app(&[], ECHO).await;
    let url = |path: &str| format!("{}{path}", app.address);

    let missing = app
        .client
        .post(url("/v1/generate"))
        .json(&json!({ "prompt": "hi" }))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");

    let wrong = app
        .client
        .get(url("/v1/models"))
        .header("x-internal-api-key", format!("{KEY}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let metrics = app.client.get(url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 401);

    assert_eq!(
        app.client
            .get(url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.client
            .get(url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn malformed_bodies_are_400s_naming_the_field() {
    let app = spawn_app(&[], ECHO).await;
    let cases = [
        (json!({ "prompt": 5 }), "prompt"),
        (
            json!({ "messages": [{ "role": "robot", "content": "x" }] }),
            "messages[0].role",
        ),
        (json!({ "prompt": "hi", "max_tokens": -1 }), "max_tokens"),
        (json!({ "prompt": "hi", "max_tokens": 0 }), "max_tokens"),
        (json!({ "prompt": "hi", "temperature": 7 }), "temperature"),
        (json!({ "prompt": "hi", "colour": "blue" }), "colour"),
        (json!({ "max_tokens": 5 }), "prompt"),
        (json!({ "prompt": "hi", "messages": [] }), "prompt"),
    ];
    for (body, field) in cases {
        let (status, answer) = app.generate(body.clone()).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert_eq!(answer["error"]["code"], "invalid_request", "{body}");
        assert_eq!(answer["error"]["field"], field, "{body} -> {answer}");
    }
    let raw = app
        .post("/v1/generate", &json!({}))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let answer: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "invalid_request");
}

#[tokio::test]
async fn oversized_input_is_refused_before_any_provider_call() {
    let upstream = Upstream::start(Reply::json(completion("x", 1, 1))).await;
    let app = openai_app(
        &upstream,
        "[limits]\nmax_input_chars = 100\nmax_body_bytes = 2000\n",
    )
    .await;

    let (status, body) = app.generate(json!({ "prompt": "a".repeat(101) })).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "prompt");

    let response = app
        .post("/v1/generate", &json!({ "prompt": "a".repeat(5000) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert!(upstream.received().is_empty());
}

#[tokio::test]
async fn unknown_models_are_404s_listing_the_known_ones() {
    let upstream = Upstream::start(Reply::json(completion("x", 1, 1))).await;
    // gpt-4o is listed, so `openai/gpt-4o` may be asked for directly.
    let config = "[providers.openai]\nmodels = [\"gpt-4o\"]\n\n[models.fast]\ntargets = [\"openai/gpt-4o-mini\"]\n";
    let app = openai_app(&upstream, config).await;

    let (status, body) = app
        .generate(json!({ "model": "gpt-9", "prompt": "hi" }))
        .await;

    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "model_not_found");
    let known = body["error"]["known_models"].as_array().unwrap();
    assert!(
        known.contains(&json!("fast")) && known.contains(&json!("openai/gpt-4o-mini")),
        "{known:?}"
    );
    assert!(upstream.received().is_empty());

    // Aliases and provider/model both resolve.
    let (status, body) = app
        .generate(json!({ "model": "fast", "prompt": "hi" }))
        .await;
    assert_eq!((status, body["model"].as_str()), (200, Some("gpt-4o-mini")));
    let (status, _) = app
        .generate(json!({ "model": "openai/gpt-4o", "prompt": "hi" }))
        .await;
    assert_eq!(status, 200);
    assert_eq!(upstream.last().json()["model"], "gpt-4o");
}

#[tokio::test]
async fn with_two_providers_a_model_is_required() {
    let app = spawn_app(&[("OPENAI_API_KEY", "sk-o")], ECHO).await;
    let (status, body) = app.generate(json!({ "prompt": "hi" })).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "model_required");
    let models: serde_json::Value = app.get("/v1/models").await.json().await.unwrap();
    let ids: Vec<&str> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"echo/echo-1") && ids.contains(&"openai/gpt-4o-mini"),
        "{ids:?}"
    );
}

#[tokio::test]
async fn the_echo_provider_answers_offline_deterministically() {
    let app = spawn_app(&[], ECHO).await;

    let (status, body) = app.generate(json!({ "prompt": "repeat after me" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["text"], "repeat after me");
    assert_eq!(body["provider"], "echo");

    let events = app.stream(json!({ "prompt": "one two three" })).await;
    assert_eq!(streamed_text(&events), "one two three");

    let (status, first) = app.call("/v1/embed", &json!({ "input": "abc" })).await;
    let (_, second) = app.call("/v1/embed", &json!({ "input": "abc" })).await;
    assert_eq!(status, 200);
    assert_eq!(first["embeddings"], second["embeddings"]);

    let (status, body) = app
        .call(
            "/v1/moderate",
            &json!({ "input": ["I will kill you", "hello"] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["provider"], "local");
    assert_eq!(body["results"][0]["flagged"], true);
    assert_eq!(body["results"][1]["flagged"], false);
}
