//! `spawn_app()`: the real application, built by `Application::build` from a
//! `Config` (as `main` does), on 127.0.0.1:0, against a fresh database on the
//! shared test Postgres, a JWKS server whose keys the test made, and a
//! stand-in ai service speaking `POST /v1/generate`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use api::{Application, Config};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sqlx::PgPool;

pub const ISSUER: &str = "https://clerk.foundry.test";
pub const AUDIENCE: &str = "foundry-api";
pub const AI_KEY: &str = "test-internal-key";

/// A signing key the test controls, published by [`JwksServer`].
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: Value,
    /// Public key bytes (for the HS256-with-public-key attack).
    pub public_der: Vec<u8>,
}

impl SigningKey {
    pub fn rsa(kid: &str) -> Self {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("rsa keygen");
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).expect("pkcs8");
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD
                .encode(pkcs8.as_ref())
                .as_bytes()
                .chunks(64)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect::<Vec<_>>()
                .join("\n")
        );
        let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let jwk = json!({
            "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(&components.n), "e": URL_SAFE_NO_PAD.encode(&components.e),
        });
        let public_der = pair.public_key().as_ref().to_vec();
        Self {
            kid: kid.into(),
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
            jwk,
            public_der,
        }
    }

    pub fn ec(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("ec keygen");
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let point = pair.public_key().as_ref().to_vec(); // 0x04 || x || y
        let jwk = json!({
            "kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        Self {
            kid: kid.into(),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk,
            public_der: point,
        }
    }

    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims of a valid Clerk session token for `sub` in `org`.
pub fn claims(sub: &str, org: &str) -> Value {
    json!({
        "sub": sub, "org_id": org, "org_role": "org:admin", "email": format!("{sub}@example.com"),
        "iss": ISSUER, "aud": AUDIENCE, "iat": now(), "nbf": now() - 5, "exp": now() + 600,
    })
}

#[derive(Default)]
struct JwksState {
    keys: Mutex<Vec<Value>>,
    failing: AtomicBool,
    fetches: AtomicUsize,
}

/// Serves the JWKS of the keys the test publishes; can be made to fail.
pub struct JwksServer {
    pub url: String,
    state: Arc<JwksState>,
}

impl JwksServer {
    pub async fn start(keys: &[&SigningKey]) -> Self {
        let state = Arc::new(JwksState::default());
        *state.keys.lock().unwrap() = keys.iter().map(|k| k.jwk.clone()).collect();
        let app = axum::Router::new()
            .route(
                "/.well-known/jwks.json",
                get(|State(s): State<Arc<JwksState>>| async move {
                    s.fetches.fetch_add(1, Ordering::SeqCst);
                    if s.failing.load(Ordering::SeqCst) {
                        return Err(StatusCode::INTERNAL_SERVER_ERROR);
                    }
                    Ok(Json(json!({ "keys": *s.keys.lock().unwrap() })))
                }),
            )
            .with_state(state.clone());
        let addr = serve(app).await;
        Self {
            url: format!("http://{addr}/.well-known/jwks.json"),
            state,
        }
    }

    pub fn publish(&self, key: &SigningKey) {
        self.state.keys.lock().unwrap().push(key.jwk.clone());
    }

    /// Removes the key with this `kid` from the published set (revocation).
    pub fn unpublish(&self, kid: &str) {
        self.state
            .keys
            .lock()
            .unwrap()
            .retain(|jwk| jwk["kid"] != kid);
    }

    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    pub fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }
}

/// What the stand-in ai service saw.
#[derive(Debug, Clone)]
pub struct AiCall {
    pub headers: HashMap<String, String>,
    pub body: Value,
}

#[derive(Default)]
struct AiState {
    calls: Mutex<Vec<AiCall>>,
    down: AtomicBool,
    capped: AtomicBool,
    delay_ms: std::sync::atomic::AtomicU64,
    arrivals: AtomicUsize,
}

/// Speaks the ai service's `POST /v1/generate` contract.
pub struct AiStub {
    pub url: String,
    state: Arc<AiState>,
}

impl AiStub {
    pub async fn start() -> Self {
        let state = Arc::new(AiState::default());
        let app = axum::Router::new()
            .route(
                "/v1/generate",
                post(|State(s): State<Arc<AiState>>, headers: HeaderMap, Json(body): Json<Value>| async move {
                    s.arrivals.fetch_add(1, Ordering::SeqCst);
                    let delay = s.delay_ms.load(Ordering::SeqCst);
                    if delay > 0 {
                        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                    }
                    if s.down.load(Ordering::SeqCst) {
                        return Err((StatusCode::BAD_GATEWAY, Json(json!({"error": {"message": "upstream down"}}))));
                    }
                    if s.capped.load(Ordering::SeqCst) {
                        // The ai service's own answer when an org's token cap is reached.
                        let error = json!({"error": {"code": "token_cap_exceeded", "message": "token cap for organization `o` reached for this window", "retry_after_secs": 42}});
                        return Err((StatusCode::TOO_MANY_REQUESTS, Json(error)));
                    }
                    let headers: HashMap<String, String> = headers
                        .iter()
                        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                        .collect();
                    if headers.get("x-internal-api-key").map(String::as_str) != Some(AI_KEY) {
                        return Err((StatusCode::UNAUTHORIZED, Json(json!({"error": {"message": "bad key"}}))));
                    }
                    s.calls.lock().unwrap().push(AiCall { headers, body: body.clone() });
                    let prompt = body["prompt"].as_str().unwrap_or("");
                    Ok(Json(json!({
                        "text": format!("echo: {prompt}"),
                        "model": "echo-1",
                        "provider": "echo",
                        "usage": { "input_tokens": prompt.split_whitespace().count(), "output_tokens": 7 },
                        "latency_ms": 42,
                        "upstream_latency_ms": 40,
                        "cost_usd": 0.0,
                        "request_id": "req-123",
                    })))
                }),
            )
            .with_state(state.clone());
        let addr = serve(app).await;
        Self {
            url: format!("http://{addr}"),
            state,
        }
    }

    /// Answer 429 `token_cap_exceeded`, as the ai service does over a cap.
    pub fn set_capped(&self, capped: bool) {
        self.state.capped.store(capped, Ordering::SeqCst);
    }

    pub fn calls(&self) -> Vec<AiCall> {
        self.state.calls.lock().unwrap().clone()
    }

    /// Requests received, including those still being answered.
    pub fn arrivals(&self) -> usize {
        self.state.arrivals.load(Ordering::SeqCst)
    }

    /// Answers only after `ms` milliseconds.
    pub fn set_delay_ms(&self, ms: u64) {
        self.state.delay_ms.store(ms, Ordering::SeqCst);
    }

    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }
}

async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A fresh database on the shared test server, dropped with this value.
pub struct TestDb {
    pub url: String,
    admin_url: String,
    pub name: String,
}

impl TestDb {
    pub async fn create(server: &localenv::postgres::ServerInfo) -> Self {
        let name = format!("api_test_{}", uuid::Uuid::new_v4().simple());
        let admin = PgPool::connect(&server.admin_url)
            .await
            .expect("connect to test postgres");
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&admin)
            .await
            .expect("create database");
        admin.close().await;
        Self {
            url: server.database_url(&name),
            admin_url: server.admin_url.clone(),
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime; use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(admin) = PgPool::connect(&admin_url).await {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .execute(&admin)
                            .await;
                }
            });
        })
        .join();
    }
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub db: PgPool,
    pub jwks: JwksServer,
    pub rsa: SigningKey,
    pub ec: SigningKey,
    pub ai: AiStub,
    /// The Postgres server log, when the test started the server.
    pub server_log: Option<std::path::PathBuf>,
    /// Dropped with the app: the test database goes away.
    _database: TestDb,
}

/// Knobs a test may turn; everything else is as in production.
#[derive(Default)]
pub struct Options {
    pub env: Vec<(&'static str, String)>,
    /// `AWS_ENDPOINT_URL` (moto); a closed port when the test needs no S3.
    pub s3_endpoint: Option<String>,
    /// Use this Postgres instead of the shared one.
    pub server: Option<localenv::postgres::ServerInfo>,
    /// Have Postgres log every statement of the test database (to count them).
    pub log_statements: bool,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub fn base_env(db_url: &str, jwks_url: &str, ai_url: &str, s3: &str) -> HashMap<String, String> {
    [
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("APP_ENV", "staging"),
        ("DATABASE_URL", db_url),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", s3),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("S3_BUCKET_UPLOADS", "foundry-uploads-test"),
        ("S3_FORCE_PATH_STYLE", "true"),
        ("CLERK_JWKS_URL", jwks_url),
        ("CLERK_ISSUER", ISSUER),
        ("CLERK_AUDIENCE", AUDIENCE),
        ("JWKS_MIN_REFRESH_SECS", "0"),
        ("AI_SERVICE_URL", ai_url),
        ("AI_INTERNAL_API_KEY", AI_KEY),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    let server = match options.server {
        Some(server) => server,
        None => tokio::task::spawn_blocking(localenv::postgres::shared)
            .await
            .unwrap()
            .expect("test postgres"),
    };
    let db_info = TestDb::create(&server).await;
    if options.log_statements {
        // Before any session of the app opens, so all of them inherit it.
        let admin = PgPool::connect(&server.admin_url).await.unwrap();
        sqlx::query(&format!(
            "ALTER DATABASE \"{}\" SET log_statement = 'all'",
            db_info.name
        ))
        .execute(&admin)
        .await
        .unwrap();
        admin.close().await;
    }
    let db = PgPool::connect(&db_info.url).await.unwrap();
    // As `api migrate` does before a deploy.
    api::db::MIGRATOR.run(&db).await.expect("migrate");

    let (rsa, ec) = (SigningKey::rsa("rsa-1"), SigningKey::ec("ec-1"));
    let jwks = JwksServer::start(&[&rsa, &ec]).await;
    let ai = AiStub::start().await;
    let s3 = options
        .s3_endpoint
        .unwrap_or_else(|| "http://127.0.0.1:9".into());
    let mut env = base_env(&db_info.url, &jwks.url, &ai.url, &s3);
    for (k, v) in options.env {
        env.insert(k.to_string(), v);
    }
    let config = Config::from_map(&env).expect("config");
    let app = Application::build(config).await.expect("build app");
    let addr = app.local_addr();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestApp {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        db,
        jwks,
        rsa,
        ec,
        ai,
        server_log: server.log.clone(),
        _database: db_info,
    }
}

impl TestApp {
    pub fn db_name(&self) -> &str {
        &self._database.name
    }

    /// The test database's URL (the bench points PostGraphile at it).
    #[allow(dead_code)]
    pub fn database_url(&self) -> &str {
        &self._database.url
    }

    /// A valid RS256 token for `sub` in `org`.
    pub fn token(&self, sub: &str, org: &str) -> String {
        self.rsa.sign(&claims(sub, org))
    }

    pub async fn post_graphql(&self, token: Option<&str>, body: Value) -> reqwest::Response {
        let mut req = self.http.post(format!("{}/graphql", self.base)).json(&body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.unwrap()
    }

    /// POST /graphql; returns (status, body).
    pub async fn gql(&self, token: &str, query: &str, variables: Value) -> (StatusCode, Value) {
        let response = self
            .post_graphql(
                Some(token),
                json!({ "query": query, "variables": variables }),
            )
            .await;
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// POST /graphql with an arbitrary body; returns (status, body).
    pub async fn gql_raw(&self, token: &str, body: Value) -> (StatusCode, Value) {
        let response = self.post_graphql(Some(token), body).await;
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `gql` that must succeed without errors; returns `data`.
    pub async fn data(&self, token: &str, query: &str, variables: Value) -> Value {
        let (status, body) = self.gql(token, query, variables).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    pub async fn create_document(&self, token: &str, title: &str) -> Value {
        let data = self
            .data(
                token,
                "mutation($t: String!) { createDocument(title: $t) { document { id title } auditEventId } }",
                json!({ "t": title }),
            )
            .await;
        data["createDocument"].clone()
    }
}

/// The `extensions.code` of the first error.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}
