//! Every PII kind is redacted in what the provider receives, and counted.

use serde_json::json;

use crate::helpers::metric;
use crate::openai::{completion, openai_app};
use crate::upstream::{Reply, Upstream};

const PII: [(&str, &str, &str); 9] = [
    ("email", "jane.doe@example.com", "[REDACTED_EMAIL]"),
    ("phone", "(415) 555-2671", "[REDACTED_PHONE]"),
    ("phone", "+44 20 7946 0958", "[REDACTED_PHONE]"),
    (
        "card_number",
        "4111 1111 1111 1111",
        "[REDACTED_CARD_NUMBER]",
    ),
    ("ssn", "123-45-6789", "[REDACTED_SSN]"),
    (
        "aws_access_key",
        "AKIAIOSFODNN7EXAMPLE",
        "[REDACTED_AWS_ACCESS_KEY]",
    ),
    (
        "bearer_token",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
        "[REDACTED_BEARER_TOKEN]",
    ),
    (
        "api_key",
        "sk-proj-Abcdefghijklmnop123456",
        "[REDACTED_API_KEY]",
    ),
    ("api_key", "api_key=Zx81kPq02LmNb7Yt", "[REDACTED_API_KEY]"),
];

#[tokio::test]
async fn each_pii_kind_is_redacted_before_generate_leaves() {
    let upstream = Upstream::start(Reply::json(completion("noted", 50, 1))).await;
    let app = openai_app(&upstream, "").await;
    let prompt: String = PII
        .iter()
        .map(|(kind, value, _)| format!("my {kind} is {value}. "))
        .collect();

    let (status, body) = app
        .generate(json!({ "messages": [{ "role": "user", "content": prompt }] }))
        .await;
    assert_eq!(status, 200, "{body}");

    let sent = upstream.last().json()["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    for (kind, value, marker) in PII {
        assert!(
            !sent.contains(value),
            "{kind} `{value}` reached the provider: {sent}"
        );
        assert!(sent.contains(marker), "{kind} marker missing: {sent}");
    }
    assert!(
        sent.contains("my email is"),
        "surrounding text is kept: {sent}"
    );

    let metrics = app.metrics().await;
    for kind in [
        "email",
        "card_number",
        "ssn",
        "aws_access_key",
        "bearer_token",
    ] {
        assert_eq!(
            metric(
                &metrics,
                "ai_pii_redactions_total",
                &[("kind", kind), ("route", "generate")]
            ),
            1.0,
            "{kind}"
        );
    }
    assert_eq!(
        metric(&metrics, "ai_pii_redactions_total", &[("kind", "phone")]),
        2.0
    );
    assert_eq!(
        metric(&metrics, "ai_pii_redactions_total", &[("kind", "api_key")]),
        2.0
    );
}

#[tokio::test]
async fn embed_inputs_are_redacted_too_and_can_be_turned_off_per_route() {
    let embedding = json!({ "object": "list", "model": "text-embedding-3-small",
        "data": [{ "object": "embedding", "index": 0, "embedding": [0.1] }],
        "usage": { "prompt_tokens": 3, "total_tokens": 3 } });
    let upstream = Upstream::start(Reply::json(embedding)).await;
    let app = openai_app(&upstream, "").await;
    let (status, _) = app
        .call(
            "/v1/embed",
            &json!({ "input": "contact jane.doe@example.com" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        upstream.last().json()["input"],
        json!(["contact [REDACTED_EMAIL]"])
    );

    let app = openai_app(&upstream, "[redact]\nembed = false\n").await;
    let (status, _) = app
        .call(
            "/v1/embed",
            &json!({ "input": "contact jane.doe@example.com" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        upstream.last().json()["input"],
        json!(["contact jane.doe@example.com"])
    );
}
