use std::time::{Duration, Instant};

use crate::support::{REFERENCE, TestEnv, reference_census};

async fn object(s3: &aws_sdk_s3::Client, key: &str) -> Option<String> {
    let out = s3
        .get_object()
        .bucket("acme-state")
        .key(key)
        .send()
        .await
        .ok()?;
    Some(String::from_utf8(out.body.collect().await.ok()?.to_vec()).unwrap())
}

/// S3 state: shared cache and journal, a conditional-write lock that names
/// its holder, survives the holder's crash, and is cleared by `foundry unlock`.
#[tokio::test]
async fn s3_state_locks_across_runs_and_a_crashed_holder_needs_unlock() {
    let env = TestEnv::start().await;
    let s3 = env.s3().await;
    s3.create_bucket()
        .bucket("acme-state")
        .send()
        .await
        .unwrap();
    let text = REFERENCE.replace(
        "[env.dev]",
        "[state]\nbackend = \"s3\"\nbucket = \"acme-state\"\n\n[env.dev]",
    );
    env.write("foundry.toml", &text);

    env.foundry(&["up", "--env", "dev", "--yes"]).success();
    let state = object(&s3, "foundry/acme/dev/state.json")
        .await
        .expect("state.json in the bucket");
    assert!(state.contains("\"vpc\""), "{state}");
    assert!(
        object(&s3, "foundry/acme/dev/lock.json").await.is_none(),
        "the lock is released after a run"
    );
    assert!(
        !env.path().join(".foundry").exists(),
        "nothing is written locally"
    );
    let outputs = env
        .foundry(&["outputs", "--env", "dev", "--json"])
        .success();
    assert!(outputs.stdout().contains("vpc_id"), "{}", outputs.stdout());

    let mut first = env.spawn(
        &["up", "--env", "staging", "--yes"],
        Some("stall@after-journal:vpc"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !object(&s3, "foundry/acme/staging/journal.jsonl")
        .await
        .is_some_and(|j| j.contains("\"created\""))
    {
        assert!(
            Instant::now() < deadline,
            "the first up never journaled its VPC"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = env.foundry(&["up", "--env", "staging", "--yes"]);
    assert_eq!(second.code(), Some(1));
    let err = second.stderr();
    assert!(
        err.contains("another foundry run holds the lock s3://acme-state/foundry/acme/staging"),
        "{err}"
    );
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");

    // SIGKILL: the remote lock outlives its holder until unlocked by hand.
    first.kill().unwrap();
    first.wait().unwrap();
    let stale = env.foundry(&["up", "--env", "staging", "--yes"]);
    assert_eq!(stale.code(), Some(1));
    assert!(
        stale.stderr().contains("foundry unlock --env staging"),
        "{}",
        stale.stderr()
    );

    let unlock = env.foundry(&["unlock", "--env", "staging"]).success();
    assert!(
        unlock.stdout().contains(
            "Removed the lock on s3://acme-state/foundry/acme/staging held by `foundry up`"
        ),
        "{}",
        unlock.stdout()
    );
    let nothing = env.foundry(&["unlock", "--env", "staging"]);
    assert_eq!(nothing.code(), Some(1));
    assert!(
        nothing.stderr().contains("no lock is held"),
        "{}",
        nothing.stderr()
    );

    env.foundry(&["up", "--env", "staging", "--yes"]).success();
    assert_eq!(env.census("acme", "staging").await, reference_census(1));
    let plan = env.foundry(&["plan", "--env", "staging", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(0), "{}", plan.stdout());
}

#[test]
fn a_missing_state_bucket_name_is_a_located_error() {
    let env = tempfile::tempdir().unwrap();
    let text = REFERENCE.replace("[env.dev]", "[state]\nbackend = \"s3\"\n\n[env.dev]");
    std::fs::write(env.path().join("foundry.toml"), text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_foundry"))
        .current_dir(env.path())
        .arg("validate")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("foundry.toml:24:1: backend = \"s3\" needs a bucket"),
        "{err}"
    );
}
