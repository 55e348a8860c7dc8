//! `foundry status` and `foundry logs` on the App Runner emulator and moto:
//! the release, digest and a healthy probe after `up`; a service whose
//! health check fails and a firing alarm make status say which and exit 3;
//! logs come from moto's CloudWatch Logs (the emulator ships the instances'
//! output there, as App Runner does), in time order, filtered by CloudWatch,
//! and followed until Ctrl-C.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::deploy::ComputeEnv;
use crate::runbooks::put_metric;

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("--json prints JSON ({e}):\n{stdout}"))
}

/// `logs api --json` until `done` holds of its events (the emulator ships
/// every 200 ms; moto answers at once).
fn logs_until(app: &ComputeEnv, args: &[&str], done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut all = vec!["logs", "api", "--env", "dev", "--json"];
        all.extend_from_slice(args);
        let run = app.foundry(&all).success();
        let events: Vec<Value> = run.stdout().lines().map(json).collect();
        if done(&events) || Instant::now() > deadline {
            return events;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn message(event: &Value) -> &str {
    event["message"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn status_reports_releases_and_health_and_logs_read_filter_and_follow() {
    let app = ComputeEnv::start(Duration::from_millis(200)).await;
    app.foundry(&["up", "--env", "dev", "--yes", "--profile", "dev"])
        .success();
    let release = &app.releases()[0];

    // status: the release, each service's digest, a healthy probe; exit 0.
    let run = app.foundry(&["status", "--env", "dev", "--json"]);
    assert_eq!(run.code(), Some(0), "{}\n{}", run.stdout(), run.stderr());
    let report = json(&run.stdout());
    assert_eq!(report["healthy"], true, "{report:#}");
    assert_eq!(report["target"], "App Runner");
    assert_eq!(report["release"]["number"], 1);
    assert_eq!(report["release"]["outcome"], "succeeded");
    assert_eq!(report["release"]["by"], release["by"], "who deployed");
    for service in report["services"].as_array().unwrap() {
        let name = service["name"].as_str().unwrap();
        let image = release["services"][name]["image"].as_str().unwrap();
        assert_eq!(service["image"], image, "{name}");
        assert_eq!(
            service["digest"].as_str().unwrap(),
            image.rsplit_once('@').unwrap().1,
            "{name}"
        );
        assert_eq!(service["platform"]["status"], "RUNNING", "{name}");
        assert_eq!(
            service["platform"]["last_operation"]["kind"], "CREATE_SERVICE",
            "{name}"
        );
        assert_eq!(service["health"]["state"], "probed", "{name}");
        assert_eq!(service["health"]["status"], 200, "{name}");
        assert!(service["health"]["latency_ms"].is_u64(), "{name}");
        assert_eq!(service["scaling"]["min"], 1, "{name}: {service}");
        assert_eq!(service["healthy"], true, "{name}");
    }
    let text = app.foundry(&["status", "--env", "dev"]).success().stdout();
    assert!(text.contains("all healthy"), "{text}");
    assert!(text.contains("/healthz → 200"), "{text}");

    // logs: the start-up line, then a request's line, in time order.
    let (code, _) = app.get("api", "/version").await;
    assert_eq!(code, 200);
    let events = logs_until(&app, &["--since", "5m"], |events| {
        events
            .iter()
            .any(|e| message(e).contains(r#""path":"/version""#))
    });
    let start = events
        .iter()
        .position(|e| message(e).contains("listening on"))
        .unwrap_or_else(|| panic!("the start-up line: {events:#?}"));
    let request = events
        .iter()
        .position(|e| message(e).contains(r#""path":"/version""#))
        .unwrap_or_else(|| panic!("the request's line: {events:#?}"));
    assert!(start < request, "{events:#?}");
    let times: Vec<i64> = events
        .iter()
        .map(|e| e["timestamp"].as_i64().unwrap())
        .collect();
    assert!(times.is_sorted(), "{times:?}");
    assert!(
        events
            .iter()
            .all(|e| e["stream"].as_str().unwrap().starts_with("instance/")),
        "{events:#?}"
    );
    // Readable without --json: level and message, not the JSON line.
    let text = app
        .foundry(&["logs", "api", "--env", "dev", "--since", "5m"])
        .success()
        .stdout();
    assert!(
        text.contains("INFO  request path=/version status=200"),
        "{text}"
    );

    // --filter: CloudWatch returns only the matching events.
    let filtered = app
        .foundry(&[
            "logs",
            "api",
            "--env",
            "dev",
            "--json",
            "--filter",
            "listening",
        ])
        .success()
        .stdout();
    let filtered: Vec<Value> = filtered.lines().map(json).collect();
    assert_eq!(
        filtered.len(),
        1,
        "one instance, one start-up line: {filtered:#?}"
    );
    assert!(message(&filtered[0]).contains("listening on"));
    assert!(events.len() > filtered.len());

    // --follow: prints what arrives after it started; Ctrl-C ends it cleanly.
    let mut follow = app
        .command(&[
            "logs", "api", "--env", "dev", "--json", "--follow", "--since", "1s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follow.stdout.take().unwrap();
    let (send, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    std::thread::sleep(Duration::from_secs(2));
    let (code, _) = app.get("api", "/env/FOLLOWED").await;
    assert_eq!(code, 404);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains("/env/FOLLOWED") => break,
            Ok(line) => seen.push(line),
            Err(_) => panic!("--follow did not print the new line; printed:\n{seen:#?}"),
        }
    }
    // SAFETY: signalling a child process we spawned.
    unsafe { libc::kill(follow.id() as libc::pid_t, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(status) = follow.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "--follow did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(exit.code(), Some(0), "Ctrl-C ends --follow cleanly");

    // A failing health check and a firing alarm: status says which, exits 3.
    let (code, _) = app.get("api", "/break").await;
    assert_eq!(code, 200);
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&app.env.sdk_config().await);
    let alarms = cloudwatch
        .describe_alarms()
        .alarm_name_prefix("shop-dev")
        .send()
        .await
        .unwrap();
    let alarm = alarms.metric_alarms()[0].alarm_name().unwrap().to_owned();
    cloudwatch
        .set_alarm_state()
        .alarm_name(&alarm)
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("egress over the threshold (set by the test)")
        .send()
        .await
        .unwrap();
    let run = app.foundry(&["status", "--env", "dev", "--json"]);
    assert_eq!(run.code(), Some(3), "{}", run.stderr());
    let report = json(&run.stdout());
    assert_eq!(report["healthy"], false);
    let by_name = |name: &str| {
        report["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_name("api")["healthy"], false);
    assert_eq!(by_name("api")["health"]["status"], 503);
    assert_eq!(by_name("ai")["healthy"], true);
    assert_eq!(report["alarms"][0]["name"], alarm.as_str());
    let problems: Vec<&str> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].starts_with("api is not healthy"),
        "{problems:#?}"
    );
    assert!(problems[1].contains(&alarm), "{problems:#?}");
    let run = app.foundry(&["status", "api", "--env", "dev"]);
    assert_eq!(run.code(), Some(3));
    assert!(
        run.stdout().contains("api: NOT HEALTHY"),
        "{}",
        run.stdout()
    );
    assert!(run.stdout().contains("HTTP 503"), "{}", run.stdout());
}

/// `runbook crashloop`: a service whose env was changed outside foundry runs
/// what no release says; `--fix` rolls back to the current release.
#[tokio::test(flavor = "multi_thread")]
async fn crashloop_finds_env_changed_outside_foundry_and_fix_rolls_back() {
    use aws_sdk_apprunner::types::{
        ImageConfiguration, ImageRepository, OperationStatus, SourceConfiguration,
    };

    let app = ComputeEnv::start(Duration::from_millis(100)).await;
    app.foundry(&["up", "--env", "dev", "--yes", "--profile", "dev"])
        .success();
    let healthy = app.foundry(&["runbook", "crashloop", "--env", "dev", "--json"]);
    assert_eq!(
        healthy.code(),
        Some(0),
        "{}\n{}",
        healthy.stdout(),
        healthy.stderr()
    );

    // Someone edits the api's env in the console.
    let service = app.service("api").await;
    let repository = service
        .source_configuration()
        .and_then(|s| s.image_repository())
        .unwrap();
    let config = repository.image_configuration().unwrap();
    let mut env = config
        .runtime_environment_variables()
        .cloned()
        .unwrap_or_default();
    env.insert("GREETING".into(), "changed by hand".into());
    let source = SourceConfiguration::builder()
        .auto_deployments_enabled(false)
        .set_authentication_configuration(
            service
                .source_configuration()
                .and_then(|s| s.authentication_configuration())
                .cloned(),
        )
        .image_repository(
            ImageRepository::builder()
                .image_identifier(repository.image_identifier())
                .image_repository_type(repository.image_repository_type().clone())
                .image_configuration(
                    ImageConfiguration::builder()
                        .set_port(config.port().map(str::to_owned))
                        .set_runtime_environment_variables(Some(env))
                        .set_runtime_environment_secrets(
                            config.runtime_environment_secrets().cloned(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .build();
    let update = app
        .apprunner
        .update_service()
        .service_arn(service.service_arn())
        .source_configuration(source)
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let operations = app
            .apprunner
            .list_operations()
            .service_arn(service.service_arn())
            .send()
            .await
            .unwrap();
        let status = operations
            .operation_summary_list()
            .iter()
            .find(|o| o.id() == Some(update.operation_id()))
            .and_then(|o| o.status().cloned());
        if status == Some(OperationStatus::Succeeded) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the manual update ends: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.get("api", "/env/GREETING").await.1, "changed by hand");

    let run = app.foundry(&["runbook", "crashloop", "--env", "dev", "--json"]);
    assert_eq!(run.code(), Some(3), "{}", run.stderr());
    let report = json(&run.stdout());
    let check = &report["checks"][0];
    assert_eq!(check["status"], "fail", "{check:#}");
    assert!(
        check["evidence"][0]
            .as_str()
            .unwrap()
            .contains("api runs what release 1 does not say: env GREETING"),
        "{check:#}"
    );
    assert_eq!(check["fix"]["kind"], "rollback");
    assert_eq!(check["fix"]["to"], 1);

    // --fix rolls back to release 1: the env it recorded serves again.
    let fixed = app.foundry(&["runbook", "crashloop", "--env", "dev", "--fix", "--yes"]);
    assert_eq!(
        fixed.code(),
        Some(0),
        "{}\n{}",
        fixed.stdout(),
        fixed.stderr()
    );
    assert_eq!(app.get("api", "/env/GREETING").await.1, "hello");
    let again = app.foundry(&["runbook", "crashloop", "--env", "dev"]);
    assert_eq!(again.code(), Some(0), "{}", again.stdout());
}

/// `runbook cloudfront-502`: the origin is the api's URL and the api
/// answers; then the api stops answering and the 5xx rate climbs.
#[tokio::test(flavor = "multi_thread")]
async fn cloudfront_502_checks_origin_health_and_the_5xx_rate() {
    let app = ComputeEnv::start(Duration::from_millis(100)).await;
    app.foundry(&["up", "--env", "dev", "--yes", "--profile", "dev"])
        .success();
    let run = app.foundry(&["runbook", "cloudfront-502", "--env", "dev", "--json"]);
    assert_eq!(run.code(), Some(0), "{}\n{}", run.stdout(), run.stderr());
    let report = json(&run.stdout());
    let url = app.service("api").await.service_url().unwrap().to_owned();
    let origin = report["checks"][0]["evidence"][0].as_str().unwrap();
    assert!(
        origin.contains(&format!("sends /graphql to {url}")),
        "{origin}"
    );

    let (code, _) = app.get("api", "/break").await;
    assert_eq!(code, 200);
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&app.env.sdk_config().await);
    let distribution = origin.split_whitespace().nth(1).unwrap().to_owned();
    put_metric(
        &cloudwatch,
        "AWS/CloudFront",
        "5xxErrorRate",
        &[("DistributionId", &distribution), ("Region", "Global")],
        12.5,
    )
    .await;
    let run = app.foundry(&["runbook", "cloudfront-502", "--env", "dev", "--json"]);
    assert_eq!(run.code(), Some(3), "{}", run.stderr());
    let report = json(&run.stdout());
    let statuses: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["pass", "fail", "warn"], "{report:#}");
    assert!(
        report["checks"][1]["evidence"][0]
            .as_str()
            .unwrap()
            .contains("HTTP 503"),
        "{report:#}"
    );
    assert!(
        report["checks"][2]["evidence"][0]
            .as_str()
            .unwrap()
            .contains("peaked at 12.5%"),
        "{report:#}"
    );
}

/// `runbook ai-private-dns`: the private ai's ingress connection, its
/// endpoint, and the api's URL for it; then the connection is deleted by hand.
#[tokio::test(flavor = "multi_thread")]
async fn ai_private_dns_follows_the_private_service_path_and_finds_a_missing_connection() {
    let app = ComputeEnv::start(Duration::from_millis(100)).await;
    app.foundry(&["up", "--env", "dev", "--yes", "--profile", "dev"])
        .success();
    let run = app.foundry(&["runbook", "ai-private-dns", "--env", "dev", "--json"]);
    assert_eq!(run.code(), Some(0), "{}\n{}", run.stdout(), run.stderr());
    let report = json(&run.stdout());
    let evidence = report["checks"][0]["evidence"].to_string();
    assert!(evidence.contains("AVAILABLE, domain "), "{evidence}");
    assert!(
        evidence.contains("api: AI_SERVICE_URL=https://"),
        "{evidence}"
    );
    assert!(
        evidence.contains("api's VPC connector uses 2 of the stack's subnets"),
        "{evidence}"
    );

    let connections = app
        .apprunner
        .list_vpc_ingress_connections()
        .send()
        .await
        .unwrap();
    let arn = connections.vpc_ingress_connection_summary_list()[0]
        .vpc_ingress_connection_arn()
        .unwrap()
        .to_owned();
    app.apprunner
        .delete_vpc_ingress_connection()
        .vpc_ingress_connection_arn(&arn)
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let report = loop {
        let run = app.foundry(&["runbook", "ai-private-dns", "--env", "dev", "--json"]);
        if run.code() == Some(3) || Instant::now() > deadline {
            assert_eq!(run.code(), Some(3), "{}\n{}", run.stdout(), run.stderr());
            break json(&run.stdout());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let check = &report["checks"][0];
    assert_eq!(check["status"], "fail", "{check:#}");
    assert!(
        check["summary"]
            .as_str()
            .unwrap()
            .starts_with("ai has no VPC ingress connection")
            || check["summary"].as_str().unwrap().contains("not AVAILABLE"),
        "{check:#}"
    );
    assert_eq!(check["fix"]["kind"], "apply");
}

/// `runbook secrets-rotation`: after `foundry secret rotate` the api still
/// runs with the old value; `--fix` restarts it on its image (a release
/// that reads the new version, health-gated), and the next run passes.
/// `runbook ai-timeouts`: App Runner's request metrics and the ai's
/// "upstream call failed" lines (seeded as the service writes them) turn a
/// healthy run into warnings that count them by error code.
#[tokio::test(flavor = "multi_thread")]
async fn secrets_rotation_restarts_stale_readers_and_ai_timeouts_reads_metrics_and_log() {
    use aws_sdk_cloudwatchlogs::types::InputLogEvent;

    let app = ComputeEnv::start(Duration::from_millis(100)).await;
    app.foundry(&["up", "--env", "dev", "--yes", "--profile", "dev"])
        .success();
    let run = app.foundry(&["runbook", "secrets-rotation", "--env", "dev", "--json"]);
    assert_eq!(run.code(), Some(0), "{}\n{}", run.stdout(), run.stderr());
    let report = json(&run.stdout());
    let readers = report["checks"][1]["evidence"].to_string();
    assert!(
        readers.contains("api reads shop/dev/internal_api_key"),
        "{readers}"
    );
    assert!(readers.contains(", current"), "{readers}");

    let rotated = app
        .foundry(&["secret", "rotate", "internal_api_key", "--env", "dev"])
        .success();
    assert!(
        rotated
            .stdout()
            .contains("api keep(s) the old value until restarted"),
        "{}",
        rotated.stdout()
    );
    let refused = app.foundry(&["secret", "rotate", "nope", "--env", "dev"]);
    assert_eq!(refused.code(), Some(1));
    assert!(
        refused.stderr().contains("declares no secret `nope`"),
        "{}",
        refused.stderr()
    );

    let run = app.foundry(&["runbook", "secrets-rotation", "--env", "dev", "--json"]);
    assert_eq!(run.code(), Some(3), "{}\n{}", run.stdout(), run.stderr());
    let report = json(&run.stdout());
    let readers = &report["checks"][1];
    assert_eq!(readers["status"], "fail", "{readers:#}");
    assert_eq!(
        readers["summary"],
        "api run(s) with a secret value that is no longer current"
    );
    assert!(
        readers["evidence"][0]
            .as_str()
            .unwrap()
            .contains("at release 1: version "),
        "{readers:#}"
    );
    assert_eq!(readers["fix"]["kind"], "restart");
    assert_eq!(readers["fix"]["services"], serde_json::json!(["api"]));

    let before = app.releases();
    let fixed = app.foundry(&[
        "runbook",
        "secrets-rotation",
        "--env",
        "dev",
        "--fix",
        "--yes",
    ]);
    assert_eq!(
        fixed.code(),
        Some(0),
        "{}\n{}",
        fixed.stdout(),
        fixed.stderr()
    );
    let after = app.releases();
    assert_eq!(after.len(), before.len() + 1, "{after:#?}");
    assert_eq!(app.get("api", "/healthz").await.0, 200);
    let again = app.foundry(&["runbook", "secrets-rotation", "--env", "dev"]);
    assert_eq!(again.code(), Some(0), "{}", again.stdout());

    // ai-timeouts: healthy first.
    let run = app.foundry(&["runbook", "ai-timeouts", "--env", "dev", "--json"]);
    assert_eq!(run.code(), Some(0), "{}\n{}", run.stdout(), run.stderr());

    let ai = app.service("ai").await;
    let (name, id) = (ai.service_name().to_owned(), ai.service_id().to_owned());
    let config = app.env.sdk_config().await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
    for (metric, value) in [
        ("Requests", 1000.0),
        ("5xxStatusResponses", 50.0),
        ("RequestLatency", 45_000.0),
    ] {
        put_metric(
            &cloudwatch,
            "AWS/AppRunner",
            metric,
            &[("ServiceName", &name), ("ServiceID", &id)],
            value,
        )
        .await;
    }
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let group = format!("/aws/apprunner/{name}/{id}/application");
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name("instance/seeded")
        .send()
        .await
        .unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let line = |code: &str| {
        serde_json::json!({
            "timestamp": "2026-12-03T06:00:00Z",
            "level": "WARN",
            "fields": { "message": "upstream call failed", "provider": "openai", "attempt": 1, "code": code },
            "target": "ai::gateway",
        })
        .to_string()
    };
    let events: Vec<InputLogEvent> = ["upstream_timeout", "upstream_timeout", "rate_limited"]
        .iter()
        .enumerate()
        .map(|(i, code)| {
            InputLogEvent::builder()
                .timestamp(now_ms - 60_000 + i as i64)
                .message(line(code))
                .build()
                .unwrap()
        })
        .collect();
    logs.put_log_events()
        .log_group_name(&group)
        .log_stream_name("instance/seeded")
        .set_log_events(Some(events))
        .send()
        .await
        .unwrap();

    let run = app.foundry(&["runbook", "ai-timeouts", "--env", "dev", "--json"]);
    assert_eq!(run.code(), Some(3), "{}\n{}", run.stdout(), run.stderr());
    let report = json(&run.stdout());
    let requests = &report["checks"][0];
    assert_eq!(requests["status"], "warn", "{requests:#}");
    assert_eq!(
        requests["summary"],
        "ai: 5.0% of requests answered 5xx, latency peaked at 45000 ms"
    );
    assert!(
        requests["evidence"][0].as_str().unwrap().contains(&format!(
            "AWS/AppRunner ServiceName={name} ServiceID={id}): 1000 requests, 50 answered 5xx"
        )),
        "{requests:#}"
    );
    let upstream = &report["checks"][1];
    assert_eq!(upstream["status"], "warn", "{upstream:#}");
    assert_eq!(
        upstream["evidence"][1],
        "by fields.code: upstream_timeout × 2, rate_limited × 1"
    );
    assert_eq!(report["checks"][2]["status"], "pass");
}
