use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::helpers::{error_code, spawn_app};
use crate::logging::Captured;

const FORWARD: &str = "query($n: Int, $after: String) { documents(first: $n, after: $after) {
    edges { cursor node { title } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
const BACKWARD: &str = "query($n: Int, $before: String) { documents(last: $n, before: $before) {
    edges { cursor node { title } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

fn titles(conn: &Value) -> Vec<String> {
    conn["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn documents_paginate_both_ways_with_cursors_that_stay_stable_while_rows_arrive() {
    let app = spawn_app().await;
    let token = app.token("alice", "org_a");
    for i in 0..7 {
        app.create_document(&token, &format!("doc-{i}")).await;
    }
    // Newest first: doc-6 … doc-0.
    let page1 = app.data(&token, FORWARD, json!({ "n": 3 })).await["documents"].clone();
    assert_eq!(titles(&page1), ["doc-6", "doc-5", "doc-4"]);
    assert_eq!(page1["pageInfo"]["hasNextPage"], true);
    assert_eq!(page1["pageInfo"]["hasPreviousPage"], false);

    // New rows arrive at the head; the cursor still continues where it was.
    for i in 7..10 {
        app.create_document(&token, &format!("doc-{i}")).await;
    }
    let after = page1["pageInfo"]["endCursor"].clone();
    let page2 = app
        .data(&token, FORWARD, json!({ "n": 3, "after": after }))
        .await["documents"]
        .clone();
    assert_eq!(titles(&page2), ["doc-3", "doc-2", "doc-1"]);
    assert_eq!(page2["pageInfo"]["hasNextPage"], true);
    assert_eq!(page2["pageInfo"]["hasPreviousPage"], true);
    let page3 = app
        .data(
            &token,
            FORWARD,
            json!({ "n": 3, "after": page2["pageInfo"]["endCursor"] }),
        )
        .await["documents"]
        .clone();
    assert_eq!(titles(&page3), ["doc-0"]);
    assert_eq!(page3["pageInfo"]["hasNextPage"], false);

    // Backward from page 2's start: the rows just before it, now including the new ones.
    let back = app
        .data(
            &token,
            BACKWARD,
            json!({ "n": 4, "before": page2["pageInfo"]["startCursor"] }),
        )
        .await["documents"]
        .clone();
    assert_eq!(titles(&back), ["doc-7", "doc-6", "doc-5", "doc-4"]);
    assert_eq!(back["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(back["pageInfo"]["hasNextPage"], true);
    let back2 = app
        .data(
            &token,
            BACKWARD,
            json!({ "n": 4, "before": back["pageInfo"]["startCursor"] }),
        )
        .await["documents"]
        .clone();
    assert_eq!(titles(&back2), ["doc-9", "doc-8"]);
    assert_eq!(back2["pageInfo"]["hasPreviousPage"], false);

    // `last` alone: the oldest rows, in list order.
    let tail = app.data(&token, BACKWARD, json!({ "n": 2 })).await["documents"].clone();
    assert_eq!(titles(&tail), ["doc-1", "doc-0"]);

    // Each edge's cursor equals the page's start/end cursors.
    assert_eq!(
        page2["edges"][0]["cursor"],
        page2["pageInfo"]["startCursor"]
    );
    assert_eq!(page2["edges"][2]["cursor"], page2["pageInfo"]["endCursor"]);
}

#[tokio::test]
async fn bad_pagination_arguments_are_client_errors() {
    let app = spawn_app().await;
    let token = app.token("alice", "org_a");
    for (query, vars) in [
        (FORWARD, json!({ "n": 1000 })),
        (FORWARD, json!({ "n": -1 })),
        (FORWARD, json!({ "n": 2, "after": "not-a-cursor" })),
        (
            "{ documents(first: 1, last: 1) { edges { cursor } } }",
            json!({}),
        ),
    ] {
        let (_, body) = app.gql(&token, query, vars).await;
        assert_eq!(
            crate::helpers::error_code(&body),
            "BAD_USER_INPUT",
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_cursor_outside_postgres_time_is_bad_input_not_an_internal_error() {
    let captured = Captured::default();
    let telemetry = api::telemetry::init_with_writer(captured.clone(), None).unwrap();
    let app = spawn_app().await;
    let token = app.token("alice", "org_a");
    app.create_document(&token, "doc").await;
    let cursor = |micros: i64| URL_SAFE_NO_PAD.encode(format!("k1:{micros}:{}", "0".repeat(32)));

    // Issue 20's probe: a time chrono represents and Postgres does not.
    for micros in [-262_000_000_000_000_000, -210_866_803_200_000_001] {
        for query in [FORWARD, BACKWARD] {
            let arg = if query == FORWARD { "after" } else { "before" };
            let (status, body) = app
                .gql(&token, query, json!({ "n": 2, arg: cursor(micros) }))
                .await;
            assert_eq!(status, 200);
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{micros}: {body}");
        }
    }
    // Postgres' earliest time is a cursor like any other: nothing is older.
    let earliest = app
        .data(
            &token,
            FORWARD,
            json!({ "n": 2, "after": cursor(-210_866_803_200_000_000) }),
        )
        .await;
    assert_eq!(titles(&earliest["documents"]), Vec::<String>::new());

    crate::logging::flushed(telemetry).await;
    let lines = captured.lines();
    assert!(!lines.is_empty(), "the logs were not captured");
    let errors: Vec<Value> = lines
        .into_iter()
        .filter(|line| line["level"] == "ERROR")
        .collect();
    assert!(
        errors.is_empty(),
        "forged cursors fill the error log: {errors:?}"
    );
}
