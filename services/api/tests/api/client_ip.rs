//! The per-IP limit behind CloudFront and App Runner: every request reaches
//! the api from the same proxy address (here 127.0.0.1), so the viewer must
//! come from what the proxies wrote, and nothing a client adds may move it to
//! another bucket.

use serde_json::json;

use crate::helpers::{Options, TestApp, spawn_app_with};

async fn app_with(source: &str) -> TestApp {
    spawn_app_with(Options {
        env: vec![
            ("RATE_LIMIT_IP_PER_MINUTE", "2".into()),
            ("CLIENT_IP_SOURCE", source.into()),
        ],
        ..Default::default()
    })
    .await
}

/// The status of an unauthenticated request with these headers: 401 while
/// the bucket has tokens, 429 once it is empty.
async fn status(app: &TestApp, headers: &[(&str, &str)]) -> u16 {
    let mut request = app
        .http
        .post(format!("{}/graphql", app.base))
        .json(&json!({ "query": "{ me { id } }" }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn behind_cloudfront_each_viewer_has_its_own_bucket_and_forged_forwarding_is_ignored() {
    let app = app_with("cloudfront-viewer-address").await;
    let viewer_a = [("cloudfront-viewer-address", "198.51.100.1:40001")];
    assert_eq!(status(&app, &viewer_a).await, 401);
    assert_eq!(status(&app, &viewer_a).await, 401);
    assert_eq!(status(&app, &viewer_a).await, 429);
    // Another viewer behind the same edge and App Runner: its own bucket.
    let viewer_b = [("cloudfront-viewer-address", "2001:db8::b:40002")];
    assert_eq!(status(&app, &viewer_b).await, 401);
    // Viewer A from another source port, or with X-Forwarded-For entries of
    // its own making, is still viewer A.
    assert_eq!(
        status(&app, &[("cloudfront-viewer-address", "198.51.100.1:50123")]).await,
        429
    );
    assert_eq!(
        status(
            &app,
            &[
                ("x-forwarded-for", "203.0.113.99, 203.0.113.98"),
                ("cloudfront-viewer-address", "198.51.100.1:40001"),
            ]
        )
        .await,
        429
    );
}

#[tokio::test]
async fn with_two_trusted_hops_viewers_are_apart_and_prepended_entries_change_nothing() {
    let app = app_with("x-forwarded-for:2").await;
    // CloudFront appends the viewer, App Runner appends the edge.
    let edge = "130.176.10.1";
    let viewer_a = format!("198.51.100.1, {edge}");
    let viewer_b = format!("198.51.100.2, {edge}");
    assert_eq!(status(&app, &[("x-forwarded-for", &viewer_a)]).await, 401);
    assert_eq!(status(&app, &[("x-forwarded-for", &viewer_b)]).await, 401);
    // Viewer A sends its own X-Forwarded-For with a fresh fake address each
    // time; CloudFront appends to it, so the fakes sit left of the real one.
    for fake in ["10.1.1.1", "10.2.2.2", "10.3.3.3"] {
        let forged = format!("{fake}, 198.51.100.1, {edge}");
        let expected = if fake == "10.1.1.1" { 401 } else { 429 };
        assert_eq!(
            status(&app, &[("x-forwarded-for", &forged)]).await,
            expected,
            "{forged}"
        );
    }
    // Viewer B was not charged for any of it.
    assert_eq!(status(&app, &[("x-forwarded-for", &viewer_b)]).await, 401);
    assert_eq!(status(&app, &[("x-forwarded-for", &viewer_b)]).await, 429);
}

#[tokio::test]
async fn without_a_proxy_setting_forwarding_headers_are_not_read() {
    let app = app_with("peer").await;
    assert_eq!(status(&app, &[("x-forwarded-for", "10.0.0.1")]).await, 401);
    assert_eq!(
        status(&app, &[("cloudfront-viewer-address", "10.0.0.2:1")]).await,
        401
    );
    assert_eq!(status(&app, &[("x-forwarded-for", "10.0.0.3")]).await, 429);
}
