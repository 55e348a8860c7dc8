//! Which models a caller may name: the probes of issue 20 (a model name that
//! rewrote the provider URL, with the provider's key attached) against the
//! Gemini and Azure wire formats, and the operator's list of models.

use serde_json::{Value, json};

use crate::gemini::response as gemini_response;
use crate::helpers::{TestApp, spawn_app};
use crate::openai::completion;
use crate::upstream::{Reply, Upstream};

/// Model names that try to leave their URL path segment.
const PROBES: &[&str] = &[
    "../../../../admin",
    "..",
    "x/../../admin",
    "x?api-version=1999-01-01&",
    "x#frag",
    "x\\..\\admin",
    "x%2f..%2fadmin",
    "x y",
    "x\nHost: evil",
    "x\r\n",
];

async fn gemini_app(upstream: &Upstream, extra: &str) -> TestApp {
    let config = format!(
        "{extra}\n[providers.gemini]\nbase_url = \"{}\"\n",
        upstream.url
    );
    spawn_app(&[("GEMINI_API_KEY", "gemini-test-key")], &config).await
}

async fn azure_app(upstream: &Upstream, extra: &str) -> TestApp {
    spawn_app(
        &[
            ("AZURE_OPENAI_API_KEY", "azure-test-key"),
            ("AZURE_OPENAI_ENDPOINT", &upstream.url),
            ("AZURE_OPENAI_DEPLOYMENT", "prod-gpt4o"),
        ],
        extra,
    )
    .await
}

fn assert_refused_by_the_model_rule(status: u16, body: &Value, model: &str) {
    assert_eq!(status, 400, "{model:?}: {body}");
    assert_eq!(body["error"]["code"], "invalid_request", "{model:?}");
    assert_eq!(body["error"]["field"], "model", "{model:?}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("A-Z a-z 0-9 . _ : -") && message.contains("no `..`"),
        "the 400 names the rule: {message}"
    );
}

#[tokio::test]
async fn hostile_model_names_never_reach_gemini_or_azure() {
    // Even with unlisted models allowed, the character rule holds.
    let hatch = "allow_unlisted_models = true\n";
    let gemini = Upstream::start(Reply::json(gemini_response(
        "x",
        Some("STOP"),
        Some((1, 1)),
    )))
    .await;
    let azure = Upstream::start(Reply::json(completion("x", 1, 1))).await;
    let apps = [
        ("gemini", gemini_app(&gemini, hatch).await, &gemini),
        ("azure", azure_app(&azure, hatch).await, &azure),
    ];
    for (provider, app, upstream) in &apps {
        for probe in PROBES {
            for model in [format!("{provider}/{probe}"), probe.to_string()] {
                let (status, body) = app
                    .generate(json!({ "model": model, "prompt": "hi", "max_tokens": 4 }))
                    .await;
                assert_refused_by_the_model_rule(status, &body, &model);
                let (status, body) = app
                    .call("/v1/embed", &json!({ "model": model, "input": "hi" }))
                    .await;
                assert_refused_by_the_model_rule(status, &body, &model);
            }
        }
        assert!(
            upstream.received().is_empty(),
            "{provider} received {:?}",
            upstream.received()
        );
    }

    // A well-formed unlisted model does get through the hatch, as one path segment.
    let (status, body) = apps[0]
        .1
        .generate(json!({ "model": "gemini/gemini-2.5-pro", "prompt": "hi" }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        gemini.last().path_and_query,
        "/v1beta/models/gemini-2.5-pro:generateContent"
    );
    let (status, body) = apps[1]
        .1
        .generate(json!({ "model": "azure/other-deployment", "prompt": "hi" }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        azure.last().path_and_query,
        "/openai/deployments/other-deployment/chat/completions?api-version=2024-10-21"
    );
}

#[tokio::test]
async fn only_configured_models_are_served_unless_the_operator_allows_any() {
    let upstream = Upstream::start(Reply::json(gemini_response(
        "x",
        Some("STOP"),
        Some((1, 1)),
    )))
    .await;
    let listed = "[models.cheap]\ntargets = [\"gemini/gemini-2.0-flash-lite\"]\n";
    let app = gemini_app(&upstream, listed).await;

    // A model the operator never configured (an expensive one, say): 404, no call.
    for model in ["gemini/gemini-2.5-pro", "gemini-2.5-pro"] {
        let (status, body) = app
            .generate(json!({ "model": model, "prompt": "hi" }))
            .await;
        assert_eq!(status, 404, "{model}: {body}");
        assert_eq!(body["error"]["code"], "model_not_found");
    }
    assert!(upstream.received().is_empty());

    // The provider's default, an alias and an alias's target are configured.
    for (model, served) in [
        ("gemini/gemini-2.5-flash", "gemini-2.5-flash"),
        ("cheap", "gemini-2.0-flash-lite"),
        ("gemini/gemini-2.0-flash-lite", "gemini-2.0-flash-lite"),
    ] {
        let (status, body) = app
            .generate(json!({ "model": model, "prompt": "hi" }))
            .await;
        assert_eq!(status, 200, "{model}: {body}");
        assert_eq!(body["model"], served);
    }

    // An Azure deployment is its model: another deployment is refused too.
    let azure = Upstream::start(Reply::json(completion("x", 1, 1))).await;
    let app = azure_app(&azure, "").await;
    let (status, _) = app
        .generate(json!({ "model": "azure/gpt-4-32k", "prompt": "hi" }))
        .await;
    assert_eq!(status, 404);
    assert!(azure.received().is_empty());
    let (status, body) = app
        .generate(json!({ "model": "azure/prod-gpt4o", "prompt": "hi" }))
        .await;
    assert_eq!(status, 200, "{body}");
}
