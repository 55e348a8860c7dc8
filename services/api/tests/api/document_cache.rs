//! The pipeline's parse and validation caches: repeated documents are parsed
//! and validated once, and every limit still holds on every request.

use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, spawn_app, spawn_app_with};

/// `api_graphql_document_cache_total{cache, outcome}`.
async fn cache_count(app: &TestApp, cache: &str, outcome: &str) -> u64 {
    let metrics = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series =
        format!("api_graphql_document_cache_total{{cache=\"{cache}\",outcome=\"{outcome}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .map(|n| n.parse().unwrap())
        .unwrap_or(0)
}

/// Twelve aliased pages of `$n` documents with owners: complexity grows with
/// `$n` (about 12 × 5 × n), so the same text is fine with small `n` and too
/// complex with large `n`.
fn wide_query() -> String {
    let pages: String = (0..12)
        .map(|i| format!("a{i}: documents(first: $n) {{ edges {{ node {{ id title owner {{ email }} }} }} }} "))
        .collect();
    format!("query Wide($n: Int) {{ {pages} }}")
}

fn first_message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_repeated_document_is_parsed_and_validated_once_and_its_limits_hold_for_every_input() {
    let app = spawn_app().await;
    let token = app.token("alice", "org_a");
    app.create_document(&token, "one").await;
    let query = wide_query();

    for _ in 0..3 {
        let data = app.data(&token, &query, json!({ "n": 1 })).await;
        assert_eq!(data["a11"]["edges"][0]["node"]["title"], "one");
    }
    // createDocument's mutation was parsed once; the wide query once, and
    // validated once for n = 1.
    assert_eq!(cache_count(&app, "parse", "miss").await, 2);
    assert_eq!(cache_count(&app, "parse", "hit").await, 2);
    assert_eq!(cache_count(&app, "validation", "hit").await, 2);

    // The same text with a variable that makes it too complex: refused, and
    // refused again (a refusal is never cached), though the text is cached.
    for _ in 0..2 {
        let (_, body) = app.gql(&token, &query, json!({ "n": 100 })).await;
        assert!(first_message(&body).contains("too complex"), "{body}");
        assert!(body["data"].is_null(), "{body}");
    }
    assert_eq!(cache_count(&app, "validation", "hit").await, 2);
    assert_eq!(cache_count(&app, "parse", "miss").await, 2);

    // Another variable value is another validation; the first one still hits.
    app.data(&token, &query, json!({ "n": 2 })).await;
    app.data(&token, &query, json!({ "n": 1 })).await;
    assert_eq!(cache_count(&app, "validation", "hit").await, 3);
}

#[tokio::test]
async fn documents_refused_by_validation_are_refused_every_time() {
    let app = spawn_app().await;
    let token = app.token("alice", "org_a");
    let mut deep = String::from("id");
    for _ in 0..3 {
        deep = format!("edges {{ node {{ owner {{ documents(first: 1) {{ {deep} }} }} }} }}");
    }
    let deep = format!("{{ documents(first: 1) {{ {deep} }} }}");
    let unknown = "{ me { id password } }";
    for _ in 0..3 {
        let (_, body) = app.gql(&token, &deep, json!({})).await;
        assert!(first_message(&body).contains("nested too deep"), "{body}");
        let (_, body) = app.gql(&token, unknown, json!({})).await;
        assert!(
            first_message(&body).contains("Unknown field \"password\""),
            "{body}"
        );
        assert!(body["data"].is_null(), "{body}");
    }
    assert_eq!(cache_count(&app, "validation", "hit").await, 0);
    // A syntax error is never cached either.
    for _ in 0..2 {
        let (_, body) = app.gql(&token, "{ me { id }", json!({})).await;
        assert!(!first_message(&body).is_empty(), "{body}");
    }
    assert_eq!(cache_count(&app, "parse", "miss").await, 4);
}

#[tokio::test]
async fn each_schema_validates_against_its_own_limits() {
    let lenient = spawn_app().await;
    let strict = spawn_app_with(Options {
        env: vec![("GRAPHQL_MAX_COMPLEXITY", "50".into())],
        ..Default::default()
    })
    .await;
    let query = wide_query();
    // Validated, and cached, on the lenient app first...
    for _ in 0..2 {
        let token = lenient.token("alice", "org_a");
        lenient.data(&token, &query, json!({ "n": 3 })).await;
    }
    // ...which does not make it pass where the limit is lower.
    let token = strict.token("alice", "org_a");
    for _ in 0..2 {
        let (_, body) = strict.gql(&token, &query, json!({ "n": 3 })).await;
        assert!(first_message(&body).contains("too complex"), "{body}");
    }
}
