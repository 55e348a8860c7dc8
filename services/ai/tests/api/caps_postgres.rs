//! Token caps kept in Postgres (issue 21): they hold across instances,
//! restarts and crashes, and an unreachable database behaves as configured.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::accounting::{bill_like_openai, openai_input_tokens, reservation};
use crate::helpers::{KEY, TestApp, TestDb, metric, spawn_app};
use crate::openai::completion;
use crate::upstream::{Reply, Upstream};

/// A gateway whose caps live in `db`: acme's cap is `cap` per year-long window.
async fn instance(db_url: &str, upstream: &Upstream, cap: u64, caps_section: &str) -> TestApp {
    let config = format!(
        "[providers.openai]\nbase_url = \"{}/v1\"\ntimeout_ms = 2000\n\n\
         [limits]\nwindow_seconds = 31536000\n\n[limits.orgs]\nacme = {cap}\n\n[caps]\n{caps_section}\n",
        upstream.url
    );
    spawn_app(
        &[("OPENAI_API_KEY", "sk-o"), ("DATABASE_URL", db_url)],
        &config,
    )
    .await
}

pub(crate) async fn generate_as_acme(app: &TestApp, prompt: &str, max_tokens: u64) -> (u16, Value) {
    let response = app
        .post(
            "/v1/generate",
            &json!({ "prompt": prompt, "max_tokens": max_tokens }),
        )
        .header("x-org-id", "acme")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub(crate) fn billed(body: &Value) -> u64 {
    body["usage"]["input_tokens"].as_u64().unwrap()
        + body["usage"]["output_tokens"].as_u64().unwrap()
}

/// (used, reserved, open reservations) of acme's current window, read directly.
async fn acme_row(db: &TestDb) -> (i64, i64, i64) {
    let pool = db.pool().await;
    let (used, reserved): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(used), 0)::bigint, COALESCE(SUM(reserved), 0)::bigint FROM ai_token_windows WHERE org = 'acme'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let open: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM ai_token_reservations WHERE org = 'acme'")
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    (used, reserved, open)
}

#[tokio::test]
async fn two_instances_sharing_one_database_overspend_by_at_most_one_reservation() {
    let db = TestDb::create().await;
    let (cap, max_tokens) = (300, 8);
    // Billed like OpenAI bills "hi" (tokenized once here: tiktoken in a debug
    // build would stall the test's runtime if run per request). Slow enough
    // that all 50 requests are in flight together.
    let input = openai_input_tokens(&[json!({ "role": "user", "content": "hi" })]);
    let upstream = Upstream::start(
        Reply::json(completion("billed", input, max_tokens)).after(Duration::from_millis(150)),
    )
    .await;
    let a = instance(&db.url, &upstream, cap, "").await;
    let b = instance(&db.url, &upstream, cap, "").await;

    let requests = (0..50).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        generate_as_acme(app, "hi", max_tokens)
    });
    let responses = futures::future::join_all(requests).await;

    let one = reservation("hi", max_tokens);
    let (mut spent, mut admitted, mut refused) = (0, 0, 0);
    for (status, body) in &responses {
        match status {
            200 => {
                admitted += 1;
                spent += billed(body);
            }
            429 => {
                refused += 1;
                assert_eq!(body["error"]["code"], "token_cap_exceeded");
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert!(
        admitted > 0 && refused > 0,
        "admitted {admitted}, refused {refused}"
    );
    assert_eq!(
        upstream.received().len(),
        admitted,
        "refused requests never reach the provider"
    );
    assert!(
        spent <= cap + one,
        "spent {spent} > cap {cap} + one reservation {one}"
    );
    // Each instance alone would have admitted up to the cap: together they did not.
    let by_a = responses
        .iter()
        .step_by(2)
        .filter(|(s, _)| *s == 200)
        .count();
    assert!(by_a < admitted, "both instances admitted requests");

    let (used, reserved, open) = acme_row(&db).await;
    assert_eq!(
        used as u64, spent,
        "the database counted exactly what was billed"
    );
    assert_eq!((reserved, open), (0, 0), "every reservation was settled");
}

#[tokio::test]
async fn usage_survives_a_restart_of_both_instances() {
    let db = TestDb::create().await;
    let upstream = Upstream::start(Reply::computed(bill_like_openai)).await;
    let cap = 1_000;
    let a = instance(&db.url, &upstream, cap, "").await;
    let b = instance(&db.url, &upstream, cap, "").await;
    let mut spent = 0;
    for app in [&a, &b, &a] {
        let (status, body) = generate_as_acme(app, "hi", 100).await;
        assert_eq!(status, 200, "{body}");
        spent += billed(&body);
    }

    a.stop().await;
    b.stop().await;
    let a = instance(&db.url, &upstream, cap, "").await;
    let b = instance(&db.url, &upstream, cap, "").await;

    // One token more than what is left is refused on either instance …
    let input = reservation("hi", 0);
    let left = cap - spent;
    for app in [&a, &b] {
        let (status, body) = generate_as_acme(app, "hi", left - input + 1).await;
        assert_eq!(status, 429, "{body}");
        assert_eq!(body["error"]["code"], "token_cap_exceeded");
    }
    // … and exactly what is left is admitted.
    let (status, body) = generate_as_acme(&b, "hi", left - input).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(upstream.received().len(), 4);
}

#[tokio::test]
async fn a_killed_instances_reservation_is_released_after_its_expiry() {
    let db = TestDb::create().await;
    // The provider never answers in time: the request holds its reservation
    // until the instance is killed.
    let upstream =
        Upstream::start(Reply::json(completion("late", 1, 1)).after(Duration::from_secs(60))).await;
    let cap = 1_000;
    let caps = "reservation_expiry_seconds = 3\n";
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("ai.toml");
    std::fs::write(
        &config_path,
        format!(
            "[providers.openai]\nbase_url = \"{}/v1\"\ntimeout_ms = 2000\n\n\
             [limits]\nwindow_seconds = 31536000\n\n[limits.orgs]\nacme = {cap}\n\n[caps]\n{caps}",
            upstream.url
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ai"))
        .env_clear()
        .env("PORT", "0")
        .env("AI_BIND_ADDRESS", "127.0.0.1")
        .env("AI_INTERNAL_API_KEY", KEY)
        .env("OPENAI_API_KEY", "sk-o")
        .env("DATABASE_URL", &db.url)
        .env("AI_CONFIG_FILE", &config_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = loop {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("the binary logs its address");
        let line: Value = serde_json::from_str(&line).unwrap();
        if line["fields"]["message"] == "ai gateway listening" {
            break line["fields"]["address"].as_str().unwrap().to_string();
        }
    };
    let held = reservation("hi", 800);
    let in_flight = tokio::spawn(
        reqwest::Client::new()
            .post(format!("http://{address}/v1/generate"))
            .header("x-internal-api-key", KEY)
            .header("x-org-id", "acme")
            .json(&json!({ "prompt": "hi", "max_tokens": 800 }))
            .send(),
    );
    let reserved_at = Instant::now();
    while acme_row(&db).await.2 == 0 {
        assert!(
            reserved_at.elapsed() < Duration::from_secs(2),
            "no reservation appeared"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    assert!(
        in_flight.await.unwrap().is_err(),
        "the killed instance never answered"
    );
    assert_eq!(
        acme_row(&db).await,
        (0, held as i64, 1),
        "the dead instance's reservation is held"
    );

    let survivor = instance(&db.url, &upstream, cap, caps).await;
    upstream.then(Reply::json(completion("ok", 8, 100)));
    let needs = 1_000 - held + 1; // does not fit beside the held reservation
    let (status, body) = generate_as_acme(&survivor, "hi", needs - reservation("hi", 0)).await;
    assert_eq!(status, 429, "still held before its expiry: {body}");

    // The reservation was made after `reserved_at`; half a second covers that.
    tokio::time::sleep(Duration::from_millis(3_500).saturating_sub(reserved_at.elapsed())).await;
    let (status, body) = generate_as_acme(&survivor, "hi", needs - reservation("hi", 0)).await;
    assert_eq!(status, 200, "usable again after the expiry: {body}");
    // Forgiven, not counted: only the survivor's request is in `used`.
    assert_eq!(acme_row(&db).await, (108, 0, 0));
    let metrics = survivor.metrics().await;
    assert_eq!(
        metric(&metrics, "ai_caps_expired_reservations_total", &[]),
        1.0
    );
}

async fn readyz(app: &TestApp) -> (u16, Value) {
    let response = app.get("/readyz").await;
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn an_unreachable_database_fails_closed_or_open_as_configured_then_recovers() {
    let pg = tokio::task::spawn_blocking(localenv::postgres::PostgresServer::start)
        .await
        .unwrap()
        .expect("private postgres");
    let db = TestDb::create_on(&pg.info()).await;
    let upstream = Upstream::start(Reply::json(completion("ok", 8, 40))).await;
    let quick = "pool_acquire_timeout_ms = 300\n";
    let closed = instance(&db.url, &upstream, 10_000, quick).await;
    let open = instance(
        &db.url,
        &upstream,
        10_000,
        &format!(
            "{quick}on_database_unavailable = \"fail_open\"\nfail_open_tokens_per_window = 200\n"
        ),
    )
    .await;
    for app in [&closed, &open] {
        assert_eq!(generate_as_acme(app, "hi", 40).await.0, 200);
        let (status, body) = readyz(app).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["caps"]["database_reachable"], true);
    }

    pg.stop().expect("stop postgres");

    // Fail-closed: out of service, capped requests refused with a typed error.
    let (status, body) = readyz(&closed).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["caps"]["store"], "postgres");
    assert_eq!(body["caps"]["on_database_unavailable"], "fail_closed");
    assert_eq!(body["caps"]["database_reachable"], false);
    let (status, body) = generate_as_acme(&closed, "hi", 40).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "caps_unavailable");
    let metrics = closed.metrics().await;
    assert_eq!(metric(&metrics, "ai_caps_store_up", &[]), 0.0);
    assert_eq!(
        metric(
            &metrics,
            "ai_caps_mode",
            &[("store", "postgres"), ("on_unavailable", "fail_closed")]
        ),
        1.0
    );

    // Fail-open: still in service, admitting up to its local allowance.
    let (status, body) = readyz(&open).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["caps"]["on_database_unavailable"], "fail_open");
    assert_eq!(body["caps"]["database_reachable"], false);
    let one = reservation("hi", 40);
    let mut admitted = 0;
    loop {
        let (status, body) = generate_as_acme(&open, "hi", 40).await;
        match status {
            200 => admitted += 1,
            429 => break,
            other => panic!("unexpected {other}: {body}"),
        }
    }
    // Each admitted request holds `one`, then settles as the 48 tokens billed.
    let fits = (0..).take_while(|k| 48 * k + one <= 200).count();
    assert_eq!(admitted, fits, "the allowance bounds what an outage admits");
    let metrics = open.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "ai_caps_fail_open_admissions_total",
            &[("org", "acme")]
        ),
        admitted as f64
    );

    pg.restart().expect("start postgres again");

    // Both work again without a restart of the gateway.
    for app in [&closed, &open] {
        let (status, body) = readyz(app).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["caps"]["database_reachable"], true);
        assert_eq!(generate_as_acme(app, "hi", 40).await.0, 200);
    }
    let (used, _, _) = acme_row(&db).await;
    assert_eq!(
        used,
        4 * 48,
        "only requests admitted through the database are in it"
    );
}
