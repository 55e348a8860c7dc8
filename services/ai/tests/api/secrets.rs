//! The internal API key read from Secrets Manager at start-up (moto server
//! standing in for AWS, as everywhere in Foundry's tests).

use ai::config::Config;
use ai::startup::Application;
use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager::config::{Credentials, Region};
use serde_json::json;

use crate::helpers::{KEY, spawn_app};

const SECRET_VALUE: &str = "key-from-secrets-manager-0123";

#[tokio::test]
async fn the_internal_key_can_come_from_secrets_manager() {
    let moto = tokio::task::spawn_blocking(localenv::moto::MotoServer::start)
        .await
        .unwrap()
        .expect("moto starts");
    let endpoint = moto.endpoint();
    // The secret is created with an independent SDK client, as an operator would.
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    secrets
        .create_secret()
        .name("ai/internal-key")
        .secret_string(SECRET_VALUE)
        .send()
        .await
        .unwrap();

    let aws_env = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint.as_str()),
    ];
    let mut env = aws_env.to_vec();
    env.push(("AI_INTERNAL_API_KEY_SECRET_ID", "ai/internal-key"));
    let app = spawn_app(&env, "[providers.echo]\nkind = \"echo\"\n").await;

    let url = format!("{}/v1/generate", app.address);
    let with_secret = app
        .client
        .post(&url)
        .header("x-internal-api-key", SECRET_VALUE)
        .json(&json!({ "model": "echo/echo-1", "prompt": "hi" }));
    assert_eq!(with_secret.send().await.unwrap().status(), 200);
    let with_other = app
        .client
        .post(&url)
        .header("x-internal-api-key", KEY)
        .json(&json!({ "model": "echo/echo-1", "prompt": "hi" }));
    assert_eq!(with_other.send().await.unwrap().status(), 401);

    // A secret that does not exist stops start-up with a line naming the variable.
    let mut vars: std::collections::HashMap<&str, &str> = aws_env.into_iter().collect();
    vars.insert("AI_INTERNAL_API_KEY_SECRET_ID", "ai/missing");
    vars.insert("PORT", "0");
    let config = Config::load(&|name| vars.get(name).map(|v| v.to_string())).unwrap();
    let err = Application::build(config)
        .await
        .err()
        .expect("start-up fails");
    let message = format!("{err:#}");
    assert!(
        message.contains("AI_INTERNAL_API_KEY_SECRET_ID") && message.contains("ai/missing"),
        "{message}"
    );
}
