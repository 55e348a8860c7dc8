use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::helpers::spawn_app;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn json_logs_carry_request_user_and_org_ids_and_never_tokens_or_emails() {
    let captured = Captured::default();
    let writer = captured.clone();
    api::telemetry::init_with_writer(move || writer.clone());
    let app = spawn_app().await;
    let token = app.token("alice", "org_a");
    let data = app.data(&token, "{ me { email } }", json!({})).await;
    assert_eq!(data["me"]["email"], "alice@example.com");
    let expired = app.rsa.sign(&{
        let mut c = crate::helpers::claims("alice", "org_a");
        c["exp"] = json!(crate::helpers::now() - 3600);
        c
    });
    assert_eq!(
        app.gql(&expired, "{ me { id } }", json!({}))
            .await
            .0
            .as_u16(),
        401
    );

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON log line"))
        .collect();
    let (user, org): (uuid::Uuid, uuid::Uuid) =
        sqlx::query_as("SELECT user_id, org_id FROM memberships")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let served = lines
        .iter()
        .find(|l| l["span"]["user_id"] == user.to_string())
        .unwrap_or_else(|| panic!("no line with the user id:\n{logs}"));
    assert_eq!(served["span"]["org_id"], org.to_string());
    assert!(
        served["span"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{served}"
    );
    for secret in [
        token.as_str(),
        expired.as_str(),
        "alice@example.com",
        token.split('.').nth(2).unwrap(),
    ] {
        assert!(!logs.contains(secret), "logs leak {secret}:\n{logs}");
    }
}
