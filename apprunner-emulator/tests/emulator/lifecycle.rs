//! A service's life as foundry drives it: create with env, a runtime secret
//! and tags; a deploy of an unhealthy image that rolls back while the old
//! instance keeps serving; a good deploy; delete.

use std::time::{Duration, Instant};

use aws_sdk_apprunner::types::{OperationStatus, OperationType, ServiceStatus, Tag};

use crate::support::{
    AppOptions, get_body, healthz_check, image_source, process_exists, spawn_app,
};

#[tokio::test]
async fn a_service_runs_its_image_rolls_back_a_failed_deploy_and_stops_when_deleted() {
    let app = spawn_app(AppOptions {
        with_moto: true,
        ..Default::default()
    });
    let v1 = app
        .registry
        .push_probe("acme/api", "v1", &[("PROBE_VERSION", "1")])
        .await;
    let unhealthy = app
        .registry
        .push_probe(
            "acme/api",
            "broken",
            &[("PROBE_VERSION", "broken"), ("PROBE_FAIL_HEALTH", "1")],
        )
        .await;
    let v2 = app
        .registry
        .push_probe("acme/api", "v2", &[("PROBE_VERSION", "2")])
        .await;
    let secret = app
        .secrets_client()
        .create_secret()
        .name("acme/db")
        .secret_string(r#"{"username":"acme","password":"s3cretValue"}"#)
        .send()
        .await
        .unwrap();
    let secret_arn = secret.arn().unwrap();

    // Create: RUNNING, tags from the first describe, env and secret inside.
    let created = app
        .client
        .create_service()
        .service_name("acme-api")
        .source_configuration(image_source(
            &v1,
            &[("APP_MODE", "staging")],
            &[("DB_PASSWORD", &format!("{secret_arn}:password::"))],
        ))
        .health_check_configuration(healthz_check())
        .tags(Tag::builder().key("foundry:stack").value("acme").build())
        .send()
        .await
        .unwrap();
    let service = created.service().unwrap();
    let arn = service.service_arn().to_owned();
    assert!(
        arn.starts_with("arn:aws:apprunner:us-east-1:123456789012:service/acme-api/"),
        "{arn}"
    );
    assert_eq!(service.service_id().len(), 32);
    let service_id = service.service_id().to_owned();
    assert_eq!(service.status(), &ServiceStatus::OperationInProgress);
    let tags = app
        .client
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags()[0].key(), Some("foundry:stack"));

    let create = app.settled(&arn, created.operation_id()).await;
    assert_eq!(create.r#type(), Some(&OperationType::CreateService));
    assert_eq!(create.status(), Some(&OperationStatus::Succeeded));
    let described = app
        .client
        .describe_service()
        .service_arn(&arn)
        .send()
        .await
        .unwrap();
    let service = described.service().unwrap();
    assert_eq!(service.status(), &ServiceStatus::Running);
    let url = service.service_url().unwrap().to_owned();
    assert!(
        url.starts_with("127.0.0.1:"),
        "no scheme, as App Runner answers: {url}"
    );
    assert_eq!(get_body(&url, "/healthz").unwrap(), "ok\n");
    assert_eq!(get_body(&url, "/version").unwrap(), "1\n");
    let env_names = get_body(&url, "/env").unwrap();
    for name in ["APP_MODE", "DB_PASSWORD", "PORT", "PATH"] {
        assert!(
            env_names.lines().any(|l| l == name),
            "{name} missing from {env_names}"
        );
    }
    assert_eq!(
        get_body(&url, "/matches/DB_PASSWORD/s3cretValue").unwrap(),
        "yes\n"
    );
    assert_eq!(
        get_body(&url, "/matches/APP_MODE/staging").unwrap(),
        "yes\n"
    );
    let first_pid = app.emulator.instance_pid(&arn).unwrap();

    // The instance's output is captured; no secret value in any log.
    let logs = app.emulator.service_logs(&arn).unwrap();
    let stdout = std::fs::read_to_string(logs.stdout.as_ref().unwrap()).unwrap();
    assert!(stdout.contains("probe-http listening on"), "{stdout}");
    let events = std::fs::read_to_string(&logs.events).unwrap();
    assert!(events.contains("Health check passed"), "{events}");
    for log in [
        &logs.events,
        logs.stdout.as_ref().unwrap(),
        logs.stderr.as_ref().unwrap(),
    ] {
        assert!(
            !std::fs::read_to_string(log)
                .unwrap()
                .contains("s3cretValue"),
            "{}",
            log.display()
        );
    }

    // An unhealthy image: the deploy rolls back, v1 serves on the same URL
    // throughout, and the described configuration is v1's again.
    let update = app
        .client
        .update_service()
        .service_arn(&arn)
        .source_configuration(image_source(&unhealthy, &[("APP_MODE", "staging")], &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        update
            .service()
            .unwrap()
            .source_configuration()
            .unwrap()
            .image_repository()
            .unwrap()
            .image_identifier(),
        unhealthy,
        "UpdateService answers the configuration being applied"
    );
    let in_flight = get_body(&url, "/version");
    let failed = app.settled(&arn, update.operation_id()).await;
    assert_eq!(
        in_flight.unwrap(),
        "1\n",
        "the old instance serves while the new one is checked"
    );
    assert_eq!(failed.r#type(), Some(&OperationType::UpdateService));
    assert_eq!(failed.status(), Some(&OperationStatus::RollbackSucceeded));
    assert_eq!(get_body(&url, "/version").unwrap(), "1\n");
    assert_eq!(app.emulator.instance_pid(&arn), Some(first_pid));
    let service = app
        .client
        .describe_service()
        .service_arn(&arn)
        .send()
        .await
        .unwrap()
        .service
        .unwrap();
    assert_eq!(service.status(), &ServiceStatus::Running);
    assert_eq!(
        service
            .source_configuration()
            .unwrap()
            .image_repository()
            .unwrap()
            .image_identifier(),
        v1
    );
    let events = std::fs::read_to_string(&logs.events).unwrap();
    assert!(
        events.contains("Health check failed on HTTP path /healthz"),
        "{events}"
    );

    // A good image: it serves on the same URL, the old process is gone.
    let update = app
        .client
        .update_service()
        .service_arn(&arn)
        .source_configuration(image_source(&v2, &[], &[]))
        .send()
        .await
        .unwrap();
    let deployed = app.settled(&arn, update.operation_id()).await;
    assert_eq!(deployed.status(), Some(&OperationStatus::Succeeded));
    assert_eq!(get_body(&url, "/version").unwrap(), "2\n");
    wait_until(|| !process_exists(first_pid), "the replaced instance stops");

    // Every instance's output reached CloudWatch Logs where App Runner puts
    // it: one stream per instance (v1, the refused one, v2), no secret value.
    let group = format!("/aws/apprunner/acme-api/{service_id}/application");
    let deadline = Instant::now() + Duration::from_secs(20);
    let events = loop {
        let events = app.log_events(&group).await;
        let streams: std::collections::BTreeSet<&str> =
            events.iter().map(|(s, _)| s.as_str()).collect();
        if streams.len() == 3 || Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let streams: std::collections::BTreeSet<&str> =
        events.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(streams.len(), 3, "{events:?}");
    assert!(
        streams.iter().all(|s| s.starts_with("instance/")),
        "{streams:?}"
    );
    let listening = events
        .iter()
        .filter(|(_, m)| m.starts_with("probe-http listening on"))
        .count();
    assert_eq!(listening, 3, "each instance's start-up line: {events:?}");
    assert!(
        events.iter().all(|(_, m)| !m.contains("s3cretValue")),
        "{events:?}"
    );

    let operations = app
        .client
        .list_operations()
        .service_arn(&arn)
        .send()
        .await
        .unwrap();
    let history: Vec<(Option<&OperationType>, Option<&OperationStatus>)> = operations
        .operation_summary_list()
        .iter()
        .map(|o| (o.r#type(), o.status()))
        .collect();
    assert_eq!(
        history,
        [
            (
                Some(&OperationType::UpdateService),
                Some(&OperationStatus::Succeeded)
            ),
            (
                Some(&OperationType::UpdateService),
                Some(&OperationStatus::RollbackSucceeded)
            ),
            (
                Some(&OperationType::CreateService),
                Some(&OperationStatus::Succeeded)
            ),
        ],
        "newest first"
    );

    // Delete: the process stops and the URL no longer answers.
    let second_pid = app.emulator.instance_pid(&arn).unwrap();
    let deleted = app
        .client
        .delete_service()
        .service_arn(&arn)
        .send()
        .await
        .unwrap();
    let delete = app.settled(&arn, deleted.operation_id()).await;
    assert_eq!(delete.r#type(), Some(&OperationType::DeleteService));
    assert_eq!(delete.status(), Some(&OperationStatus::Succeeded));
    wait_until(
        || !process_exists(second_pid),
        "the deleted service's process stops",
    );
    wait_until(
        || get_body(&url, "/healthz").is_err(),
        "the URL stops answering",
    );
    let service = app
        .client
        .describe_service()
        .service_arn(&arn)
        .send()
        .await
        .unwrap()
        .service
        .unwrap();
    assert_eq!(service.status(), &ServiceStatus::Deleted);
    assert!(service.deleted_at().is_some());
    let listed = app.client.list_services().send().await.unwrap();
    assert!(listed.service_summary_list().is_empty());
}

#[tokio::test]
async fn a_deployment_repulls_the_tag_and_pause_and_resume_stop_and_restart_the_instance() {
    let app = spawn_app(AppOptions::default());
    app.registry
        .push_probe("acme/ai", "latest", &[("PROBE_VERSION", "1")])
        .await;
    let by_tag = format!("{}/acme/ai:latest", crate::support::ECR_HOST);
    let created = app
        .client
        .create_service()
        .service_name("acme-ai")
        .source_configuration(image_source(&by_tag, &[], &[]))
        .health_check_configuration(healthz_check())
        .network_configuration(
            aws_sdk_apprunner::types::NetworkConfiguration::builder()
                .ingress_configuration(
                    aws_sdk_apprunner::types::IngressConfiguration::builder()
                        .is_publicly_accessible(false)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let arn = created.service().unwrap().service_arn().to_owned();
    app.settled(&arn, created.operation_id()).await;
    let service = app
        .client
        .describe_service()
        .service_arn(&arn)
        .send()
        .await
        .unwrap()
        .service
        .unwrap();
    let url = service.service_url().unwrap().to_owned();
    let ingress = service
        .network_configuration()
        .unwrap()
        .ingress_configuration()
        .unwrap();
    assert!(
        !ingress.is_publicly_accessible(),
        "a private service stays recorded as private"
    );
    assert_eq!(
        get_body(&url, "/version").unwrap(),
        "1\n",
        "a private service still runs locally"
    );

    // The tag moves; StartDeployment pulls it again.
    app.registry
        .push_probe("acme/ai", "latest", &[("PROBE_VERSION", "2")])
        .await;
    let started = app
        .client
        .start_deployment()
        .service_arn(&arn)
        .send()
        .await
        .unwrap();
    let deployment = app.settled(&arn, started.operation_id()).await;
    assert_eq!(deployment.r#type(), Some(&OperationType::StartDeployment));
    assert_eq!(deployment.status(), Some(&OperationStatus::Succeeded));
    assert_eq!(get_body(&url, "/version").unwrap(), "2\n");

    let paused = app
        .client
        .pause_service()
        .service_arn(&arn)
        .send()
        .await
        .unwrap();
    app.settled(&arn, paused.operation_id().unwrap()).await;
    let service = app
        .client
        .describe_service()
        .service_arn(&arn)
        .send()
        .await
        .unwrap()
        .service
        .unwrap();
    assert_eq!(service.status(), &ServiceStatus::Paused);
    assert!(
        get_body(&url, "/version").is_err(),
        "a paused service serves nothing"
    );
    let resumed = app
        .client
        .resume_service()
        .service_arn(&arn)
        .send()
        .await
        .unwrap();
    let resume = app.settled(&arn, resumed.operation_id().unwrap()).await;
    assert_eq!(resume.status(), Some(&OperationStatus::Succeeded));
    assert_eq!(get_body(&url, "/version").unwrap(), "2\n");
}

pub fn wait_until(mut condition: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
