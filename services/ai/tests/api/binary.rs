//! The real `ai` binary: start-up errors are one line naming the variable;
//! JSON logs carry request, org, user and trace ids but never prompts or keys.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::openai::completion;
use crate::upstream::{Reply, Upstream};

const BINARY: &str = env!("CARGO_BIN_EXE_ai");

#[tokio::test]
async fn missing_or_malformed_config_stops_start_up_with_one_line() {
    let cases: [(&[(&str, &str)], &str); 3] = [
        (&[], "AI_INTERNAL_API_KEY"),
        (
            &[
                ("AI_INTERNAL_API_KEY", "0123456789abcdef0123"),
                ("PORT", "http"),
            ],
            "PORT",
        ),
        (
            &[
                ("AI_INTERNAL_API_KEY", "0123456789abcdef0123"),
                ("AZURE_OPENAI_API_KEY", "k"),
            ],
            "AZURE_OPENAI_ENDPOINT",
        ),
    ];
    for (env, variable) in cases {
        let output = Command::new(BINARY)
            .env_clear()
            .envs(env.iter().copied())
            .output()
            .await
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{env:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(variable), "{stderr}");
    }
}

#[tokio::test]
async fn logs_carry_ids_but_never_prompts_or_keys() {
    let upstream = Upstream::start(Reply::json(completion("fine", 3, 1))).await;
    let internal_key = "binary-test-internal-key-42";
    let mut child = Command::new(BINARY)
        .env_clear()
        .env("PORT", "0")
        .env("AI_BIND_ADDRESS", "127.0.0.1")
        .env("AI_INTERNAL_API_KEY", internal_key)
        .env("OPENAI_API_KEY", "sk-log-test-provider-key")
        .env("OPENAI_BASE_URL", format!("{}/v1", upstream.url))
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut log = Vec::new();
    let mut next_line = async || -> Value {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        log.push(line.clone());
        serde_json::from_str(&line).expect("every log line is JSON")
    };

    let address = loop {
        let line = next_line().await;
        if line["fields"]["message"] == "ai gateway listening" {
            break line["fields"]["address"].as_str().unwrap().to_string();
        }
    };
    let response = reqwest::Client::new()
        .post(format!("http://{address}/v1/generate"))
        .header("x-internal-api-key", internal_key)
        .header("x-org-id", "org_77")
        .header("x-user-id", "user_88")
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .json(&json!({ "prompt": "my private prompt about jane@example.com", "metadata": { "ticket": "T-1" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let generated = loop {
        let line = next_line().await;
        if line["fields"]["message"] == "generated" {
            break line;
        }
    };
    let span = &generated["span"];
    assert_eq!(span["org_id"], "org_77");
    assert_eq!(span["user_id"], "user_88");
    assert_eq!(span["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert!(span["request_id"].as_str().is_some_and(|id| !id.is_empty()));

    let all = log.join("\n");
    for secret in [
        "private prompt",
        "jane@example.com",
        "sk-log-test-provider-key",
        internal_key,
        "T-1",
    ] {
        assert!(
            !all.contains(secret),
            "`{secret}` leaked into the logs:\n{all}"
        );
    }
    child.kill().await.unwrap();
}
