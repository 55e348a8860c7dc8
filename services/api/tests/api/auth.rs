use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::helpers::{Options, SigningKey, claims, error_code, now, spawn_app, spawn_app_with};

const ME: &str = "{ me { id email } }";

#[tokio::test]
async fn me_answers_200_with_valid_rs256_and_es256_tokens() {
    let app = spawn_app().await;
    for token in [
        app.rsa.sign(&claims("user_a", "org_a")),
        app.ec.sign(&claims("user_a", "org_a")),
    ] {
        let data = app.data(&token, ME, json!({})).await;
        assert_eq!(data["me"]["email"], "user_a@example.com");
    }
    // First sight created exactly one user, one organization, one membership.
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let orgs: i64 = sqlx::query_scalar("SELECT count(*) FROM organizations")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!((users, orgs), (1, 1));
}

#[tokio::test]
async fn every_kind_of_bad_token_gets_401_with_a_json_error() {
    let app = spawn_app().await;
    let good = claims("user_a", "org_a");
    let with = |key: &str, value: serde_json::Value| {
        let mut c = good.clone();
        c[key] = value;
        c
    };
    let stranger = SigningKey::rsa("rsa-1"); // same kid, different key
    let unknown_kid = SigningKey::ec("never-published");

    // alg "none": header and claims, empty signature.
    let none_token = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"rsa-1"}"#),
        URL_SAFE_NO_PAD.encode(good.to_string())
    );
    // HS256 "signed" with the RSA public key (key confusion attack).
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some("rsa-1".into());
    let hs_token = jsonwebtoken::encode(
        &hs_header,
        &good,
        &EncodingKey::from_secret(&app.rsa.public_der),
    )
    .unwrap();
    let mut missing_sub = good.clone();
    missing_sub.as_object_mut().unwrap().remove("sub");

    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing header", None),
        ("not a bearer", Some("Basic dXNlcjpwYXNz".into())),
        ("garbage", Some("Bearer not-a-jwt".into())),
        ("alg none", Some(format!("Bearer {none_token}"))),
        ("HS256 with public key", Some(format!("Bearer {hs_token}"))),
        (
            "expired",
            Some(format!(
                "Bearer {}",
                app.rsa.sign(&with("exp", json!(now() - 3600)))
            )),
        ),
        (
            "not yet valid",
            Some(format!(
                "Bearer {}",
                app.rsa.sign(&with("nbf", json!(now() + 3600)))
            )),
        ),
        (
            "wrong issuer",
            Some(format!(
                "Bearer {}",
                app.rsa.sign(&with("iss", json!("https://evil.example")))
            )),
        ),
        (
            "wrong audience",
            Some(format!(
                "Bearer {}",
                app.rsa.sign(&with("aud", json!("someone-else")))
            )),
        ),
        (
            "missing subject",
            Some(format!("Bearer {}", app.rsa.sign(&missing_sub))),
        ),
        (
            "forged signature",
            Some(format!("Bearer {}", stranger.sign(&good))),
        ),
        (
            "unknown kid",
            Some(format!("Bearer {}", unknown_kid.sign(&good))),
        ),
        (
            "tampered payload",
            Some({
                let token = app.rsa.sign(&good);
                let parts: Vec<&str> = token.split('.').collect();
                let forged = URL_SAFE_NO_PAD.encode(with("org_id", json!("org_b")).to_string());
                format!("Bearer {}.{}.{}", parts[0], forged, parts[2])
            }),
        ),
    ];
    for (name, header) in cases {
        let mut req = app
            .http
            .post(format!("{}/graphql", app.base))
            .json(&json!({ "query": ME }));
        if let Some(h) = header {
            req = req.header("authorization", h);
        }
        let response = req.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{name}");
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{name}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{name}: {body}");
    }
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(users, 0, "no bad token may create a user");
}

#[tokio::test]
async fn rotated_keys_are_picked_up_and_the_last_good_set_survives_a_jwks_outage() {
    let app = spawn_app().await;
    let token = app.token("user_a", "org_a");
    assert_eq!(app.gql(&token, ME, json!({})).await.0, StatusCode::OK);

    // Rotation: a new kid appears; the unknown kid triggers a refetch.
    let rotated = SigningKey::ec("ec-2");
    app.jwks.publish(&rotated);
    let before = app.jwks.fetches();
    let (status, body) = app
        .gql(&rotated.sign(&claims("user_a", "org_a")), ME, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(app.jwks.fetches() > before);

    // Outage: an unknown kid forces a fetch that fails; known keys keep working.
    app.jwks.set_failing(true);
    let (status, _) = app
        .gql(
            &SigningKey::rsa("rsa-9").sign(&claims("user_a", "org_a")),
            ME,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = app.gql(&token, ME, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn an_unreachable_jwks_with_no_last_good_set_is_503_not_401() {
    let app = spawn_app().await;
    app.jwks.set_failing(true);
    let (status, body) = app.gql(&app.token("user_a", "org_a"), ME, json!({})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_code(&body), "AUTH_UNAVAILABLE");
}

#[tokio::test]
async fn a_token_requested_by_another_origin_is_refused_when_authorized_parties_are_set() {
    let app = spawn_app_with(Options {
        env: vec![(
            "CLERK_AUTHORIZED_PARTIES",
            "https://app.foundry.test, http://localhost:3000".into(),
        )],
        ..Default::default()
    })
    .await;
    let with_azp = |azp: Option<&str>| {
        let mut c = claims("user_a", "org_a");
        if let Some(azp) = azp {
            c["azp"] = json!(azp);
        }
        app.rsa.sign(&c)
    };
    for outsider in [
        "https://evil.test",
        "https://app.foundry.test.evil.test",
        "http://app.foundry.test",
        "",
    ] {
        let response = app
            .post_graphql(Some(&with_azp(Some(outsider))), json!({ "query": ME }))
            .await;
        assert_eq!(response.status(), 401, "azp {outsider:?}");
    }
    // Inside the list (a trailing slash is the same origin), and, as in
    // Clerk's own check, a token without azp (the browser sent no Origin).
    for azp in [
        Some("https://app.foundry.test"),
        Some("http://localhost:3000/"),
        None,
    ] {
        let data = app.data(&with_azp(azp), ME, json!({})).await;
        assert_eq!(data["me"]["email"], "user_a@example.com", "azp {azp:?}");
    }
}

/// Verified tokens are cached by digest; the cache must not outlive the
/// token's `exp` (with the same 30 s leeway the full check allows).
#[tokio::test]
async fn a_cached_token_is_refused_once_it_expires() {
    let app = spawn_app().await;
    let mut c = claims("user_a", "org_a");
    // Expired 27 s ago: still inside the leeway, so accepted and cached.
    let exp = crate::helpers::now() - 27;
    c["exp"] = json!(exp);
    c["iat"] = json!(exp - 60);
    c["nbf"] = json!(exp - 60);
    let token = app.rsa.sign(&c);
    let (status, body) = app.gql(&token, ME, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.gql(&token, ME, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Past exp + leeway, the cached entry must not answer for it.
    while crate::helpers::now() <= exp + 30 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (status, body) = app.gql(&token, ME, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.to_string().contains("expired"), "{body}");
}

/// A key removed from the JWKS stops being accepted, cached tokens included,
/// once the key set is fetched again: within `JWKS_CACHE_TTL_SECS`.
#[tokio::test]
async fn a_key_removed_from_the_jwks_stops_being_accepted_within_the_cache_ttl() {
    let app = spawn_app_with(Options {
        env: vec![("JWKS_CACHE_TTL_SECS", "1".into())],
        ..Default::default()
    })
    .await;
    let token = app.token("user_a", "org_a");
    let other = app.ec.sign(&claims("user_b", "org_a"));
    for t in [&token, &token, &other] {
        let (status, body) = app.gql(t, ME, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    app.jwks.unpublish("rsa-1");
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    let (status, body) = app.gql(&token, ME, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // The key that is still published keeps working.
    let (status, body) = app.gql(&other, ME, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
