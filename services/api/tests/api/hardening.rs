use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::{Options, error_code, spawn_app, spawn_app_with};

/// Nothing reached the database on behalf of this caller: a user is created
/// on first use of the database, so none exists.
async fn assert_untouched(app: &crate::helpers::TestApp) {
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(users, 0, "the request reached the database");
}

#[tokio::test]
async fn depth_and_complexity_bombs_and_oversized_bodies_are_refused_before_the_database() {
    let app = spawn_app().await;
    let token = app.token("bomber", "org_a");

    // Depth: documents → owner → documents → owner … (default limit 10).
    let mut deep = String::from("id");
    for _ in 0..3 {
        deep = format!("edges {{ node {{ owner {{ documents(first: 1) {{ {deep} }} }} }} }}");
    }
    let (status, body) = app
        .gql(
            &token,
            &format!("{{ documents(first: 1) {{ {deep} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{body}"
    );
    assert!(body["data"].is_null());

    // Complexity: connection `first` multiplies.
    let wide: String = (0..12)
        .map(|i| format!("a{i}: documents(first: 100) {{ edges {{ node {{ id title owner {{ email }} }} }} }} "))
        .collect();
    let (_, body) = app.gql(&token, &format!("{{ {wide} }}"), json!({})).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("too complex"),
        "{body}"
    );

    // Complexity: a generate weighs as much as 100 plain fields, so ten of
    // them (within the mutation-field cap) are too complex, and none runs.
    let generates: String = (0..10)
        .map(|i| format!("g{i}: generate(input: {{ prompt: \"hi\" }}) {{ text }} "))
        .collect();
    let (_, body) = app
        .gql(&token, &format!("mutation {{ {generates} }}"), json!({}))
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("too complex"),
        "{body}"
    );
    assert_eq!(app.ai.arrivals(), 0);

    // Body over MAX_BODY_BYTES (64 KiB by default).
    let huge = format!("{{ me {{ id }} }} # {}", "x".repeat(100 * 1024));
    let response = app
        .post_graphql(Some(&token), json!({ "query": huge }))
        .await;
    assert_eq!(response.status().as_u16(), 413);

    assert_untouched(&app).await;
}

#[tokio::test]
async fn a_burst_over_the_rate_limit_gets_429_with_retry_after() {
    let app = spawn_app_with(Options {
        env: vec![("RATE_LIMIT_USER_MUTATIONS_PER_MINUTE", "3".into())],
        ..Default::default()
    })
    .await;
    let token = app.token("alice", "org_a");
    let create = "mutation { createDocument(title: \"t\") { document { id } } }";
    for _ in 0..3 {
        let (status, body) = app.gql(&token, create, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let response = app
        .post_graphql(Some(&token), json!({ "query": create }))
        .await;
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "RATE_LIMITED");
    // The refused mutation did not run; queries draw from another bucket.
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM documents")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 3);
    let (status, _) = app.gql(&token, "{ me { id } }", json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn per_ip_limit_applies_before_authentication() {
    let app = spawn_app_with(Options {
        env: vec![("RATE_LIMIT_IP_PER_MINUTE", "2".into())],
        ..Default::default()
    })
    .await;
    for _ in 0..2 {
        assert_eq!(
            app.post_graphql(None, json!({ "query": "{ me { id } }" }))
                .await
                .status()
                .as_u16(),
            401
        );
    }
    let response = app
        .post_graphql(None, json!({ "query": "{ me { id } }" }))
        .await;
    assert_eq!(response.status().as_u16(), 429);
    assert!(response.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn introspection_is_off_outside_dev_and_responses_carry_request_ids() {
    let app = spawn_app().await;
    let token = app.token("alice", "org_a");
    let response = app
        .post_graphql(
            Some(&token),
            json!({ "query": "{ __schema { types { name } } }" }),
        )
        .await;
    assert!(response.headers().contains_key("x-request-id"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["data"]["__schema"].is_null(), "{body}");
}

#[tokio::test]
async fn allowlist_mode_refuses_unknown_queries_and_runs_listed_ones_by_hash() {
    use sha2::{Digest, Sha256};
    let listed = "{ me { email } }";
    let hash = hex::encode(Sha256::digest(listed.as_bytes()));
    let dir = std::env::temp_dir().join(format!("api-allowlist-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("allowlist.json");
    std::fs::write(&file, json!({ &hash: listed }).to_string()).unwrap();
    let app = spawn_app_with(Options {
        env: vec![
            ("PERSISTED_QUERIES", "allowlist".into()),
            ("PERSISTED_QUERIES_ALLOWLIST", file.display().to_string()),
        ],
        ..Default::default()
    })
    .await;
    let token = app.token("alice", "org_a");
    let (_, body) = app.gql(&token, "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&body), "PERSISTED_QUERY_NOT_ALLOWED", "{body}");
    assert_eq!(
        app.data(&token, listed, json!({})).await["me"]["email"],
        "alice@example.com"
    );
    // By hash alone, over GET (cacheable persisted queries).
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } }).to_string();
    let response = app
        .http
        .get(format!("{}/graphql", app.base))
        .query(&[("extensions", extensions.as_str())])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["data"]["me"]["email"], "alice@example.com", "{body}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn cors_allows_only_listed_origins() {
    let app = spawn_app_with(Options {
        env: vec![("CORS_ALLOWED_ORIGINS", "https://app.foundry.test".into())],
        ..Default::default()
    })
    .await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let allowed = preflight("https://app.foundry.test").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.foundry.test"
    );
    assert!(
        !allowed
            .headers()
            .contains_key("access-control-allow-credentials")
    );
    let denied = preflight("https://evil.example").await.unwrap();
    assert!(!denied.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn graphiql_is_served_only_when_the_playground_is_enabled() {
    let off = spawn_app().await;
    let response = off
        .http
        .get(format!("{}/graphql", off.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let on = spawn_app_with(Options {
        env: vec![("GRAPHQL_PLAYGROUND", "true".into())],
        ..Default::default()
    })
    .await;
    let response = on
        .http
        .get(format!("{}/graphql", on.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("graphiql")
    );
}

#[tokio::test]
async fn automatic_persisted_queries_register_then_run_by_hash() {
    use sha2::{Digest, Sha256};
    let app = spawn_app().await;
    let token = app.token("alice", "org_a");
    let query = "{ me { email } }";
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hex::encode(Sha256::digest(query.as_bytes())) } });
    // Unknown hash first: the client is told to send the text.
    let (_, body) = app.gql_raw(&token, json!({ "extensions": ext })).await;
    assert_eq!(
        body["errors"][0]["message"], "PersistedQueryNotFound",
        "{body}"
    );
    let (_, body) = app
        .gql_raw(&token, json!({ "query": query, "extensions": ext }))
        .await;
    assert_eq!(body["data"]["me"]["email"], "alice@example.com", "{body}");
    let (_, body) = app.gql_raw(&token, json!({ "extensions": ext })).await;
    assert_eq!(body["data"]["me"]["email"], "alice@example.com", "{body}");
}

async fn count_documents(app: &crate::helpers::TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM documents")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// `n` aliased root fields of `field` in one mutation.
fn aliased(n: usize, field: &str) -> String {
    let fields: String = (0..n).map(|i| format!("m{i}: {field} ")).collect();
    format!("mutation {{ {fields} }}")
}

const CREATE: &str = "createDocument(title: \"t\") { document { id } }";
const GENERATE: &str = "generate(input: { prompt: \"hi\" }) { text }";

#[tokio::test]
async fn each_root_mutation_field_draws_from_the_limit_and_a_request_over_it_runs_none() {
    let app = spawn_app_with(Options {
        env: vec![("RATE_LIMIT_USER_MUTATIONS_PER_MINUTE", "5".into())],
        ..Default::default()
    })
    .await;
    let token = app.token("alice", "org_a");

    // Issue 20's probe: 300 aliased generate fields in one request.
    let (status, body) = app.gql(&token, &aliased(300, GENERATE), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(error_code(&body), "TOO_MANY_MUTATIONS", "{body}");
    assert!(body["data"].is_null(), "{body}");
    assert_eq!(app.ai.arrivals(), 0, "no ai call was made");
    assert_untouched(&app).await;

    // Ten aliased creates fit the field cap (10) but not the 5 a minute.
    let (_, body) = app.gql(&token, &aliased(10, CREATE), json!({})).await;
    assert_eq!(error_code(&body), "TOO_MANY_MUTATIONS", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("allows 5 a minute"),
        "{body}"
    );
    assert_untouched(&app).await;

    // Five single mutations pass; the sixth is limited.
    let single = aliased(1, CREATE);
    for _ in 0..5 {
        let (status, body) = app.gql(&token, &single, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
    }
    let (status, body) = app.gql(&token, &single, json!({})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_code(&body), "RATE_LIMITED");
    assert_eq!(count_documents(&app).await, 5);

    // Aliases draw one token each: 3 pass, then 3 more find 2 tokens and
    // are refused whole, and 2 still fit.
    let bob = app.token("bob", "org_a");
    let (_, body) = app.gql(&bob, &aliased(3, CREATE), json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let (status, body) = app.gql(&bob, &aliased(3, CREATE), json!({})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(count_documents(&app).await, 8, "no partial effects");
    let (_, body) = app.gql(&bob, &aliased(2, CREATE), json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(count_documents(&app).await, 10);
}

#[tokio::test]
async fn fragments_at_the_root_count_and_the_mutation_field_cap_is_configurable() {
    let app = spawn_app_with(Options {
        env: vec![("GRAPHQL_MAX_MUTATION_FIELDS", "3".into())],
        ..Default::default()
    })
    .await;
    let token = app.token("alice", "org_a");
    // Four creates hidden in a fragment and an inline fragment.
    let query = format!(
        "mutation {{ ...Two ... on MutationRoot {{ c: {CREATE} d: {CREATE} }} }} \
         fragment Two on MutationRoot {{ a: {CREATE} b: {CREATE} }}"
    );
    let (_, body) = app.gql(&token, &query, json!({})).await;
    assert_eq!(error_code(&body), "TOO_MANY_MUTATIONS", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at most 3 mutation fields; this one holds 4"),
        "{body}"
    );
    assert_untouched(&app).await;
    let (_, body) = app.gql(&token, &aliased(3, CREATE), json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
}
