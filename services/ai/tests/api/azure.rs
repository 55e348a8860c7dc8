//! Azure OpenAI: deployment URLs, api-version, api-key header; same bodies as OpenAI.

use serde_json::json;

use crate::helpers::{TestApp, spawn_app, streamed_text};
use crate::openai::{completion, stream_events};
use crate::upstream::{Reply, Upstream, data};

pub async fn azure_app(upstream: &Upstream) -> TestApp {
    spawn_app(
        &[
            ("AZURE_OPENAI_API_KEY", "azure-test-key"),
            ("AZURE_OPENAI_ENDPOINT", &upstream.url),
            ("AZURE_OPENAI_DEPLOYMENT", "prod-gpt4o"),
            ("AZURE_OPENAI_EMBEDDING_DEPLOYMENT", "prod-embed"),
        ],
        "",
    )
    .await
}

#[tokio::test]
async fn generate_goes_to_the_deployment_with_api_version_and_api_key() {
    let upstream = Upstream::start(Reply::json(completion("Hi from Azure", 6, 4))).await;
    let app = azure_app(&upstream).await;

    let (status, body) = app
        .generate(json!({ "prompt": "hello", "max_tokens": 10 }))
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["provider"], "azure");
    assert_eq!(body["model"], "prod-gpt4o");
    assert_eq!(
        body["usage"],
        json!({ "input_tokens": 6, "output_tokens": 4, "estimated": false })
    );
    let sent = upstream.last();
    assert_eq!(
        sent.path_and_query,
        "/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(sent.header("api-key"), Some("azure-test-key"));
    assert!(sent.header("authorization").is_none());
    let sent = sent.json();
    assert!(
        sent.get("model").is_none(),
        "Azure addresses the model through the deployment"
    );
    assert_eq!(sent["max_tokens"], 10);
}

#[tokio::test]
async fn stream_skips_the_content_filter_chunk_and_reads_final_usage() {
    // Azure opens with a chunk that has no choices, only prompt filter results.
    let mut events = vec![data(
        &json!({ "id": "", "object": "", "created": 0, "model": "", "choices": [],
        "prompt_filter_results": [{ "prompt_index": 0, "content_filter_results": {} }] }),
    )];
    events.extend(stream_events(&["Az", "ure"], Some((5, 2)), true));
    let upstream = Upstream::start(Reply::sse(events)).await;
    let app = azure_app(&upstream).await;

    let events = app.stream(json!({ "prompt": "hello" })).await;

    assert_eq!(streamed_text(&events), "Azure");
    assert_eq!(
        events.last().unwrap().data["usage"],
        json!({ "input_tokens": 5, "output_tokens": 2, "estimated": false })
    );
    assert_eq!(
        upstream.last().json()["stream_options"],
        json!({ "include_usage": true })
    );
}

#[tokio::test]
async fn embed_uses_the_embedding_deployment() {
    let upstream = Upstream::start(Reply::json(json!({
        "object": "list", "model": "text-embedding-3-small",
        "data": [{ "object": "embedding", "index": 0, "embedding": [0.5, 0.25] }],
        "usage": { "prompt_tokens": 3, "total_tokens": 3 }
    })))
    .await;
    let app = azure_app(&upstream).await;

    let (status, body) = app.call("/v1/embed", &json!({ "input": "abc" })).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["embeddings"], json!([[0.5, 0.25]]));
    assert_eq!(body["usage"]["input_tokens"], 3);
    assert_eq!(
        upstream.last().path_and_query,
        "/openai/deployments/prod-embed/embeddings?api-version=2024-10-21"
    );
}
