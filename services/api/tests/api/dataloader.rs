use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{Options, TestApp, spawn_app_with};

/// Statements the server logged for the test database since `offset`.
fn statements_since(app: &TestApp, offset: u64) -> Vec<String> {
    let log = std::fs::read(app.server_log.as_ref().expect("server log")).unwrap();
    let marker = format!("db={} LOG:  ", app.db_name());
    String::from_utf8_lossy(&log[offset as usize..])
        .lines()
        .filter(|line| {
            line.contains(&marker) && (line.contains("statement: ") || line.contains("execute "))
        })
        .map(str::to_string)
        .collect()
}

fn log_len(app: &TestApp) -> u64 {
    std::fs::metadata(app.server_log.as_ref().unwrap())
        .unwrap()
        .len()
}

/// Runs `query` and returns the statements Postgres executed for it.
async fn statements_for(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let offset = log_len(app);
    app.data(token, query, json!({})).await;
    // The server writes its log synchronously; wait until it stops growing.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut last = log_len(app);
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = log_len(app);
        if now == last || Instant::now() > deadline {
            break;
        }
        last = now;
    }
    statements_since(app, offset)
}

#[tokio::test]
async fn a_page_of_documents_with_owners_costs_a_fixed_number_of_queries() {
    let pg = tokio::task::spawn_blocking(localenv::postgres::PostgresServer::start)
        .await
        .unwrap()
        .expect("private postgres");
    let app = spawn_app_with(Options {
        server: Some(pg.info()),
        log_statements: true,
        ..Default::default()
    })
    .await;
    let tokens: Vec<String> = (0..5)
        .map(|i| app.token(&format!("member{i}"), "org_a"))
        .collect();
    for (i, token) in tokens.iter().enumerate() {
        for j in 0..6 {
            app.create_document(token, &format!("doc {i}-{j}")).await;
        }
    }
    let page = |n: usize| {
        format!(
            "{{ documents(first: {n}) {{ edges {{ node {{ id title owner {{ email }} }} }} }} }}"
        )
    };
    let token = &tokens[0];
    // Warm up: prepared statements and pool connections exist afterwards.
    statements_for(&app, token, &page(20)).await;

    let small = statements_for(&app, token, &page(2)).await;
    let large = statements_for(&app, token, &page(25)).await;
    assert!(!large.is_empty(), "statement logging is not working");
    assert_eq!(
        small.len(),
        large.len(),
        "query count grew with page size:\n{}",
        large.join("\n")
    );
    assert!(
        large.len() <= 2,
        "one query for the page, one for all owners:\n{}",
        large.join("\n")
    );
    assert_eq!(
        large.iter().filter(|s| s.contains("FROM users")).count(),
        1,
        "{}",
        large.join("\n")
    );
}

#[tokio::test]
async fn the_benchmark_query_is_one_statement_owners_included() {
    let pg = tokio::task::spawn_blocking(localenv::postgres::PostgresServer::start)
        .await
        .unwrap()
        .expect("private postgres");
    let app = spawn_app_with(Options {
        server: Some(pg.info()),
        log_statements: true,
        ..Default::default()
    })
    .await;
    let tokens: Vec<String> = (0..5)
        .map(|i| app.token(&format!("member{i}"), "org_a"))
        .collect();
    for (i, token) in tokens.iter().enumerate() {
        for j in 0..5 {
            app.create_document(token, &format!("doc {i}-{j}")).await;
        }
    }
    let query = "{ documents(first: 20) { edges { node { id title owner { email } } } } }";
    // Warm up: the caller's tenant is known and connections are open.
    statements_for(&app, &tokens[0], query).await;

    let statements = statements_for(&app, &tokens[0], query).await;
    assert_eq!(statements.len(), 1, "{}", statements.join("\n"));
    // ...and it answered with every owner.
    let data = app.data(&tokens[0], query, json!({})).await;
    let edges = data["documents"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 20);
    let owners: std::collections::BTreeSet<&str> = edges
        .iter()
        .map(|e| e["node"]["owner"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(owners.len(), 4, "{owners:?}");
}
