use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, error_code, spawn_app_with};

const BUCKET: &str = "foundry-uploads-test";

/// The app wired to a moto server that the test owns, so that the server
/// stops with the test (a static one would outlive the test process).
async fn app_with_s3() -> (TestApp, localenv::moto::MotoServer) {
    let moto =
        tokio::task::spawn_blocking(|| localenv::moto::MotoServer::start().expect("moto server"))
            .await
            .unwrap();
    let endpoint = moto.endpoint();
    let creds = aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test");
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(creds)
        .force_path_style(true)
        .build();
    let _ = aws_sdk_s3::Client::from_conf(conf)
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await;
    let app = spawn_app_with(Options {
        s3_endpoint: Some(endpoint),
        ..Default::default()
    })
    .await;
    (app, moto)
}

const REQUEST: &str = "mutation($input: RequestUploadInput!) { requestUpload(input: $input) {
    upload { id status objectKey } uploadUrl uploadHeaders { name value } expiresAt auditEventId } }";
const FINALIZE: &str = "mutation($id: ID!) { finalizeUpload(uploadId: $id) {
    upload { id status sizeBytes contentType finalizedAt } auditEventId } }";

async fn put(app: &TestApp, grant: &Value, body: &[u8], content_type: &str) -> u16 {
    let mut req = app
        .http
        .put(grant["uploadUrl"].as_str().unwrap())
        .body(body.to_vec());
    for h in grant["uploadHeaders"].as_array().unwrap() {
        req = req.header(h["name"].as_str().unwrap(), h["value"].as_str().unwrap());
    }
    req = req.header("content-type", content_type);
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn request_upload_gives_a_url_a_plain_put_succeeds_against_and_finalize_records_it() {
    let (app, _moto) = app_with_s3().await;
    let token = app.token("alice", "org_a");
    let file = b"%PDF-1.7 hello world";
    let input = json!({ "filename": "report 2026.pdf", "contentType": "application/pdf", "sizeBytes": file.len() });
    let grant = app.data(&token, REQUEST, json!({ "input": input })).await["requestUpload"].clone();
    assert_eq!(grant["upload"]["status"], "PENDING");
    let org: uuid::Uuid = sqlx::query_scalar("SELECT id FROM organizations")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(
        grant["upload"]["objectKey"]
            .as_str()
            .unwrap()
            .starts_with(&format!("orgs/{org}/uploads/")),
        "{grant}"
    );
    assert!(
        grant["upload"]["objectKey"]
            .as_str()
            .unwrap()
            .ends_with("/report_2026.pdf")
    );
    let url = grant["uploadUrl"].as_str().unwrap();
    assert!(
        url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires=300"),
        "{url}"
    );

    assert_eq!(put(&app, &grant, file, "application/pdf").await, 200);
    let done = app
        .data(&token, FINALIZE, json!({ "id": grant["upload"]["id"] }))
        .await["finalizeUpload"]
        .clone();
    assert_eq!(done["upload"]["status"], "FINALIZED");
    assert_eq!(done["upload"]["sizeBytes"], file.len());
    assert_eq!(done["upload"]["contentType"], "application/pdf");
    let (size, status): (i64, String) = sqlx::query_as("SELECT size_bytes, status FROM uploads")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!((size, status.as_str()), (file.len() as i64, "FINALIZED"));
}

#[tokio::test]
async fn finalize_rejects_missing_or_mismatched_objects_and_request_checks_limits() {
    let (app, moto) = app_with_s3().await;
    let token = app.token("alice", "org_a");
    let grant = |size: usize| json!({ "input": { "filename": "a.txt", "contentType": "text/plain", "sizeBytes": size } });

    // Nothing uploaded.
    let g = app.data(&token, REQUEST, grant(5)).await["requestUpload"].clone();
    let (_, body) = app
        .gql(&token, FINALIZE, json!({ "id": g["upload"]["id"] }))
        .await;
    assert_eq!(error_code(&body), "UPLOAD_REJECTED", "{body}");

    // A different size than announced (sent without the signed length header).
    let g = app.data(&token, REQUEST, grant(5)).await["requestUpload"].clone();
    let key = g["upload"]["objectKey"].as_str().unwrap();
    let endpoint = moto.endpoint();
    let direct = app
        .http
        .put(format!("{endpoint}/{BUCKET}/{key}"))
        .header("content-type", "text/plain")
        .body("longer than five")
        .send()
        .await
        .unwrap();
    assert!(direct.status().is_success());
    let (_, body) = app
        .gql(&token, FINALIZE, json!({ "id": g["upload"]["id"] }))
        .await;
    assert_eq!(error_code(&body), "UPLOAD_REJECTED", "{body}");

    // Limits on the request itself.
    for input in [
        json!({ "filename": "a.exe", "contentType": "application/x-msdownload", "sizeBytes": 10 }),
        json!({ "filename": "a.txt", "contentType": "text/plain", "sizeBytes": 0 }),
        json!({ "filename": "a.txt", "contentType": "text/plain", "sizeBytes": 1_000_000_000i64 }),
    ] {
        let (_, body) = app.gql(&token, REQUEST, json!({ "input": input })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    }
    let finalized: i64 =
        sqlx::query_scalar("SELECT count(*) FROM uploads WHERE status = 'FINALIZED'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(finalized, 0);
}
