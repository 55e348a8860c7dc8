//! The web client (web/) in a real browser against the real app: web/dist is
//! served on one origin with `/graphql` routed to the api, as the stack's
//! CloudFront does; the api runs with the client's persisted-query allowlist
//! and uploads go to moto. `web/e2e/run.mjs` drives Debian's chromium through
//! sign-in, pagination, create, rename, upload and an AI answer; this test
//! then checks what the browser did against the database.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::helpers::{Options, TestApp, spawn_app_with};

const BUCKET: &str = "foundry-uploads-test";
const CHROMIUM: &str = "/usr/bin/chromium";
/// Documents made before the browser arrives: more than one page of ten.
const SEEDED_DOCUMENTS: usize = 11;

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web")
}

/// Everything the run needs that a machine may lack, each with its fix.
fn check_prerequisites(web: &Path) {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!("{CHROMIUM} (apt-get install -y chromium)"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node (apt-get install -y nodejs npm)".to_string());
    }
    let build = "cd web && npm ci && npm run build";
    if !web.join("node_modules/playwright-core").is_dir() {
        missing.push(format!("web/node_modules ({build})"));
    }
    for built in ["dist/index.html", "persisted-queries.json"] {
        if !web.join(built).is_file() {
            missing.push(format!("web/{built} ({build})"));
        }
    }
    assert!(
        missing.is_empty(),
        "the web client's browser test cannot run; missing: {}",
        missing.join(", ")
    );
}

/// web/dist plus `/graphql` forwarded to the api: one origin, like CloudFront.
struct Front {
    files: HashMap<String, (&'static str, Vec<u8>)>,
    api: String,
    http: reqwest::Client,
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

fn read_tree(root: &Path, dir: &Path, files: &mut HashMap<String, (&'static str, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_tree(root, &path, files);
        } else {
            let url = format!("/{}", path.strip_prefix(root).unwrap().display());
            files.insert(
                url.clone(),
                (content_type(&url), std::fs::read(&path).unwrap()),
            );
        }
    }
}

async fn static_file(State(front): State<Arc<Front>>, uri: Uri) -> Response {
    // Unknown paths get the entry document (the SPA fallback of the stack).
    let (content_type, body) = front
        .files
        .get(uri.path())
        .unwrap_or_else(|| &front.files["/index.html"]);
    ([(header::CONTENT_TYPE, *content_type)], body.clone()).into_response()
}

async fn forward_graphql(
    State(front): State<Arc<Front>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = front.http.post(format!("{}/graphql", front.api)).body(body);
    for name in [header::AUTHORIZATION, header::CONTENT_TYPE] {
        if let Some(value) = headers.get(&name) {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(response) => {
            let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
            let content_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_string();
            let body = response.bytes().await.unwrap_or_default();
            (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

/// Serves on a listener bound earlier, so that the origin was known before the api.
fn serve_front(listener: tokio::net::TcpListener, web: &Path, api: &str) {
    let mut files = HashMap::new();
    let dist = web.join("dist");
    read_tree(&dist, &dist, &mut files);
    let front = Arc::new(Front {
        files,
        api: api.to_string(),
        http: reqwest::Client::new(),
    });
    let app = axum::Router::new()
        .route("/graphql", post(forward_graphql))
        .fallback(static_file)
        .with_state(front);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

/// moto with the uploads bucket, which lets the client's origin PUT to it
/// (the browser sends the file straight to S3, cross-origin).
async fn s3_for(origin: &str) -> localenv::moto::MotoServer {
    let moto =
        tokio::task::spawn_blocking(|| localenv::moto::MotoServer::start().expect("moto server"))
            .await
            .unwrap();
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .force_path_style(true)
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(conf);
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    let rule = aws_sdk_s3::types::CorsRule::builder()
        .allowed_origins(origin)
        .allowed_methods("PUT")
        .allowed_headers("*")
        .max_age_seconds(600)
        .build()
        .unwrap();
    s3.put_bucket_cors()
        .bucket(BUCKET)
        .cors_configuration(
            aws_sdk_s3::types::CorsConfiguration::builder()
                .cors_rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    moto
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.db).await.unwrap()
}

/// The client's persisted operation whose text starts with `prefix`: (hash, text).
fn persisted(web: &Path, prefix: &str) -> (String, String) {
    let text = std::fs::read_to_string(web.join("persisted-queries.json")).unwrap();
    let map: HashMap<String, String> = serde_json::from_str(&text).unwrap();
    map.into_iter()
        .find(|(_, query)| query.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` in web/persisted-queries.json"))
}

#[tokio::test]
async fn the_built_client_signs_in_pages_creates_renames_uploads_and_asks_in_chromium() {
    let web = web_dir();
    check_prerequisites(&web);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let moto = s3_for(&origin).await;
    let app = spawn_app_with(Options {
        s3_endpoint: Some(moto.endpoint()),
        env: vec![
            // Only the operations the client was built with may run.
            ("PERSISTED_QUERIES", "allowlist".to_string()),
            (
                "PERSISTED_QUERIES_ALLOWLIST",
                web.join("persisted-queries.json").display().to_string(),
            ),
        ],
        ..Default::default()
    })
    .await;
    serve_front(listener, &web, &app.base);
    let token = app.token("alice", "org_web");

    // Ad-hoc text is refused; the client's own mutation, by hash, is not.
    let (create_hash, _) = persisted(&web, "mutation CreateDocumentMutation");
    let (_, body) = app
        .gql(&token, "{ me { id } }", serde_json::json!({}))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_ALLOWED",
        "{body}"
    );
    for n in 1..=SEEDED_DOCUMENTS {
        let (_, body) = app
            .gql_raw(
                &token,
                serde_json::json!({
                    "variables": { "title": format!("Seeded {n}") },
                    "extensions": { "persistedQuery": { "version": 1, "sha256Hash": create_hash } },
                }),
            )
            .await;
        assert!(body.get("errors").is_none(), "{body}");
    }

    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-client/documents.png");
    let _ = std::fs::remove_file(&screenshot);
    let run = {
        let (web, front, token, screenshot) = (
            web.clone(),
            origin.clone(),
            token.clone(),
            screenshot.clone(),
        );
        tokio::task::spawn_blocking(move || {
            Command::new("node")
                .arg("e2e/run.mjs")
                .current_dir(&web)
                .env("WEB_URL", format!("{front}/"))
                .env("FOUNDRY_TOKEN", token)
                .env("SCREENSHOT", &screenshot)
                .env("EXPECT_DOCUMENTS", SEEDED_DOCUMENTS.to_string())
                .output()
                .expect("run node")
        })
    };
    let output = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("the browser run took over 90 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "node web/e2e/run.mjs failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    for step in [
        "ok: signed in",
        &format!("ok: paginated: 10 then {SEEDED_DOCUMENTS} documents"),
        "ok: created: Made in the browser",
        "ok: listed after reload",
        "ok: renamed",
        "ok: uploaded: notes.txt",
        "ok: answered: echo: What does Foundry deploy?",
        "e2e: all steps passed",
    ] {
        assert!(stdout.contains(step), "no `{step}` in:\n{stdout}\n{stderr}");
    }

    // What the browser did is what the api stored.
    let renamed: String =
        sqlx::query_scalar("SELECT title FROM documents WHERE title LIKE 'Made in the browser %'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(renamed.ends_with(" (renamed)"), "{renamed}");
    assert_eq!(
        count(&app, "SELECT count(*) FROM documents").await,
        SEEDED_DOCUMENTS as i64 + 1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM uploads WHERE status = 'FINALIZED' AND filename = 'notes.txt'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM jobs WHERE status = 'SUCCEEDED'").await,
        1
    );
    assert_eq!(
        app.ai.calls()[0].body["prompt"],
        "What does Foundry deploy?"
    );

    let png = std::fs::read(&screenshot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    println!("screenshot of the documents list: {}", screenshot.display());
    drop(moto);
}

/// In the api's default `automatic` mode the client's hash-only request is
/// answered as `src/relay/network.ts` expects (`PersistedQueryNotFound`), and
/// its retry with hash and text runs; afterwards the hash alone does.
#[tokio::test]
async fn the_clients_persisted_operations_work_in_automatic_mode_through_its_fallback() {
    let web = web_dir();
    check_prerequisites(&web);
    let app = crate::helpers::spawn_app().await;
    let token = app.token("alice", "org_web");
    let (hash, text) = persisted(&web, "query DocumentsPageQuery");
    let by_hash = serde_json::json!({
        "operationName": "DocumentsPageQuery",
        "variables": {},
        "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } },
    });

    let (_, body) = app.gql_raw(&token, by_hash.clone()).await;
    assert_eq!(
        body["errors"][0]["message"], "PersistedQueryNotFound",
        "{body}"
    );

    let mut with_text = by_hash.clone();
    with_text["query"] = text.into();
    let (_, body) = app.gql_raw(&token, with_text).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body["data"]["documents"]["edges"].is_array(), "{body}");

    let (_, body) = app.gql_raw(&token, by_hash).await;
    assert!(body.get("errors").is_none(), "{body}");
}
