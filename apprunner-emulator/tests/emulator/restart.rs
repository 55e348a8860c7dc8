//! An emulator stopped and started again on the same state directory (what
//! `foundry local stop` then `start` does) loses nothing: services come back
//! with the same ARN, id, URL and port, configuration, operations and tags,
//! their instances run again from the image they ran; deleted ones stay
//! deleted; an operation (or an ingress connection) the stop interrupted is
//! settled.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use apprunner_emulator::StartError;
use aws_sdk_apprunner::types::{
    AutoScalingConfigurationSummary, IngressVpcConfiguration, OperationStatus, OperationSummary,
    Service, ServiceStatus, Tag, VpcIngressConnectionStatus,
};

use crate::support::{
    AppOptions, ECR_HOST, TestApp, get_body, healthz_check, http_get_waiting, image_source,
    process_exists, spawn_app,
};

async fn describe(app: &TestApp, arn: &str) -> Service {
    app.client
        .describe_service()
        .service_arn(arn)
        .send()
        .await
        .unwrap()
        .service
        .unwrap()
}

async fn operations(app: &TestApp, arn: &str) -> Vec<OperationSummary> {
    app.client
        .list_operations()
        .service_arn(arn)
        .send()
        .await
        .unwrap()
        .operation_summary_list
        .unwrap_or_default()
}

/// Creates a service of `image` and waits until it runs; its ARN and URL.
async fn running_service(app: &TestApp, name: &str, image: &str) -> (String, String) {
    let created = app
        .client
        .create_service()
        .service_name(name)
        .source_configuration(image_source(image, &[("APP_MODE", "staging")], &[]))
        .health_check_configuration(healthz_check())
        .tags(Tag::builder().key("foundry:stack").value("acme").build())
        .send()
        .await
        .unwrap();
    let arn = created.service().unwrap().service_arn().to_owned();
    let create = app.settled(&arn, created.operation_id()).await;
    assert_eq!(create.status(), Some(&OperationStatus::Succeeded));
    let url = describe(app, &arn).await.service_url.unwrap();
    (arn, url)
}

/// The body of `GET path` once the URL answers (an instance started again
/// answers after its health check).
async fn answer_within(url: &str, path: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        match get_body(url, path) {
            Ok(body) => return body,
            Err(e) => assert!(Instant::now() < deadline, "{url}{path} never answered: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_restarted_emulator_has_every_service_back_and_runs_it_again() {
    let app = spawn_app(AppOptions::default());
    let v1 = app
        .registry
        .push_probe("acme/api", "v1", &[("PROBE_VERSION", "1")])
        .await;
    let v2 = app
        .registry
        .push_probe("acme/api", "v2", &[("PROBE_VERSION", "2")])
        .await;
    let (arn, url) = running_service(&app, "acme-api", &v1).await;
    // A second deployment, so the history has more than the create.
    let updated = app
        .client
        .update_service()
        .service_arn(&arn)
        .source_configuration(image_source(&v2, &[("APP_MODE", "production")], &[]))
        .send()
        .await
        .unwrap();
    app.settled(&arn, updated.operation_id()).await;
    let (gone, gone_url) = running_service(&app, "acme-old", &v1).await;
    let deleted = app
        .client
        .delete_service()
        .service_arn(&gone)
        .send()
        .await
        .unwrap();
    app.settled(&gone, deleted.operation_id()).await;
    let scaling = app
        .client
        .create_auto_scaling_configuration()
        .auto_scaling_configuration_name("acme-small")
        .max_size(2)
        .send()
        .await
        .unwrap()
        .auto_scaling_configuration
        .unwrap();

    let before = describe(&app, &arn).await;
    let history = operations(&app, &arn).await;
    assert_eq!(history.len(), 2);
    let old_pid: u32 = get_body(&url, "/pid").unwrap().trim().parse().unwrap();
    assert_eq!(get_body(&url, "/version").unwrap(), "2\n");

    // The registry is out of reach after the restart: the instance runs
    // from the layers the state directory keeps, not from a new pull.
    let mut stopped = app.stop();
    assert!(!process_exists(old_pid), "the stop stops the instance");
    stopped
        .config
        .registry_map
        .insert(ECR_HOST.into(), "127.0.0.1:9".into());
    let app = stopped.start().expect("the emulator starts again");

    assert_eq!(describe(&app, &arn).await, before);
    assert_eq!(operations(&app, &arn).await, history);
    let tags = app
        .client
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags()[0].value(), Some("acme"));
    let listed = app.client.list_services().send().await.unwrap();
    let names: Vec<&str> = listed
        .service_summary_list()
        .iter()
        .filter_map(|s| s.service_name())
        .collect();
    assert_eq!(names, ["acme-api"], "the deleted service stays deleted");
    assert_eq!(
        describe(&app, &gone).await.status(),
        &ServiceStatus::Deleted
    );
    let again = app
        .client
        .describe_auto_scaling_configuration()
        .auto_scaling_configuration_arn(scaling.auto_scaling_configuration_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(again.auto_scaling_configuration.unwrap(), scaling);

    // Same URL, same port, the same image (v2) with the same configuration.
    // The first request, sent while the instance is still starting, waits
    // for it instead of being refused: the service is RUNNING.
    let first = http_get_waiting(&url, "/version", Duration::from_secs(30))
        .expect("the URL answers once the instance serves again");
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(first.ends_with("\r\n\r\n2\n"), "{first}");
    assert_eq!(
        get_body(&url, "/matches/APP_MODE/production").unwrap(),
        "yes\n"
    );
    let new_pid: u32 = get_body(&url, "/pid").unwrap().trim().parse().unwrap();
    assert_ne!(new_pid, old_pid);
    assert_eq!(app.emulator.instance_pid(&arn), Some(new_pid));
    assert!(
        get_body(&gone_url, "/healthz").is_err(),
        "a deleted service's URL stays closed"
    );

    // The restored service takes new operations as before.
    let paused = app
        .client
        .pause_service()
        .service_arn(&arn)
        .send()
        .await
        .unwrap();
    let pause = app.settled(&arn, paused.operation_id().unwrap()).await;
    assert_eq!(pause.status(), Some(&OperationStatus::Succeeded));
    assert!(!process_exists(new_pid));
    assert_eq!(operations(&app, &arn).await.len(), 3);

    // A paused service comes back paused, its URL held but closed.
    let app = app.restart();
    let service = describe(&app, &arn).await;
    assert_eq!(service.status(), &ServiceStatus::Paused);
    assert_eq!(service.service_url(), Some(url.as_str()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.emulator.instance_pid(&arn), None);
    assert!(get_body(&url, "/healthz").is_err());
    assert!(
        TcpListener::bind(&url).is_err(),
        "the paused service's port stays its own"
    );
}

#[tokio::test]
async fn an_update_the_stop_interrupted_rolls_back_to_what_ran_before() {
    let app = spawn_app(AppOptions::default());
    let v1 = app
        .registry
        .push_probe("acme/api", "v1", &[("PROBE_VERSION", "1")])
        .await;
    let v2 = app
        .registry
        .push_probe("acme/api", "v2", &[("PROBE_VERSION", "2")])
        .await;
    let (arn, url) = running_service(&app, "acme-api", &v1).await;
    let before = describe(&app, &arn).await;

    // Operations now take long enough for the stop to come first.
    let mut stopped = app.stop();
    stopped.config.operation_delay = Duration::from_secs(30);
    let app = stopped.start().unwrap();
    answer_within(&url, "/healthz", Duration::from_secs(20)).await;
    let updated = app
        .client
        .update_service()
        .service_arn(&arn)
        .source_configuration(image_source(&v2, &[("APP_MODE", "production")], &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        describe(&app, &arn).await.status(),
        &ServiceStatus::OperationInProgress
    );
    let connection = app
        .client
        .create_vpc_ingress_connection()
        .service_arn(&arn)
        .vpc_ingress_connection_name("acme-api-private")
        .ingress_vpc_configuration(
            IngressVpcConfiguration::builder()
                .vpc_id("vpc-1")
                .vpc_endpoint_id("vpce-1")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .vpc_ingress_connection
        .unwrap();
    assert_eq!(
        connection.status(),
        Some(&VpcIngressConnectionStatus::PendingCreation)
    );

    let mut stopped = app.stop();
    stopped.config.operation_delay = Duration::from_millis(20);
    let app = stopped.start().unwrap();
    let operation = operations(&app, &arn)
        .await
        .into_iter()
        .find(|o| o.id() == Some(updated.operation_id()))
        .unwrap();
    assert_eq!(
        operation.status(),
        Some(&OperationStatus::RollbackSucceeded)
    );
    assert!(operation.ended_at().is_some());
    let after = describe(&app, &arn).await;
    assert_eq!(after.status(), &ServiceStatus::Running);
    assert_eq!(after.source_configuration(), before.source_configuration());
    assert_eq!(
        answer_within(&url, "/version", Duration::from_secs(20)).await,
        "1\n"
    );
    assert_eq!(
        get_body(&url, "/matches/APP_MODE/staging").unwrap(),
        "yes\n"
    );
    let connection = app
        .client
        .describe_vpc_ingress_connection()
        .vpc_ingress_connection_arn(connection.vpc_ingress_connection_arn().unwrap())
        .send()
        .await
        .unwrap()
        .vpc_ingress_connection
        .unwrap();
    assert_eq!(
        connection.status(),
        Some(&VpcIngressConnectionStatus::Available),
        "a connection pending at the stop settles at the start"
    );

    // A create the stop interrupted fails; the service can be deleted.
    let mut stopped = app.stop();
    stopped.config.operation_delay = Duration::from_secs(30);
    let app = stopped.start().unwrap();
    let created = app
        .client
        .create_service()
        .service_name("acme-late")
        .source_configuration(image_source(&v1, &[], &[]))
        .send()
        .await
        .unwrap();
    let late = created.service().unwrap().service_arn().to_owned();
    let mut stopped = app.stop();
    stopped.config.operation_delay = Duration::from_millis(20);
    let app = stopped.start().unwrap();
    assert_eq!(
        describe(&app, &late).await.status(),
        &ServiceStatus::CreateFailed
    );
    let create = &operations(&app, &late).await[0];
    assert_eq!(create.status(), Some(&OperationStatus::Failed));
    let deleted = app
        .client
        .delete_service()
        .service_arn(&late)
        .send()
        .await
        .unwrap();
    let delete = app.settled(&late, deleted.operation_id()).await;
    assert_eq!(delete.status(), Some(&OperationStatus::Succeeded));
}

#[tokio::test]
async fn a_service_port_held_by_another_process_fails_the_start() {
    let app = spawn_app(AppOptions::default());
    let v1 = app.registry.push_probe("acme/api", "v1", &[]).await;
    let (arn, url) = running_service(&app, "acme-api", &v1).await;
    let stopped = app.stop();
    let squatter = TcpListener::bind(&url).unwrap();
    let port = squatter.local_addr().unwrap().port();
    match stopped.start() {
        Err(error @ StartError::ServicePort { .. }) => {
            let message = error.to_string();
            assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
            assert!(message.contains(&arn), "{message}");
        }
        Err(other) => panic!("expected ServicePort, got {other}"),
        Ok(_) => panic!("the emulator started without its service's port"),
    }
}

#[test]
fn an_unreadable_saved_state_fails_the_start() {
    let state = tempfile::tempdir().unwrap();
    let path = state.path().join("state.json");
    std::fs::write(
        &path,
        "{\"format\": \"apprunner-emulator-state/1\", \"servi",
    )
    .unwrap();
    match apprunner_emulator::Emulator::start(apprunner_emulator::Config::new(state.path())) {
        Err(error @ StartError::SavedState { .. }) => {
            let message = error.to_string();
            assert!(message.contains(&path.display().to_string()), "{message}");
        }
        Err(other) => panic!("expected SavedState, got {other}"),
        Ok(_) => panic!("the emulator started empty over its saved state"),
    }
    assert!(std::fs::read_to_string(&path).unwrap().ends_with("servi"));
}

/// The default auto scaling configuration keeps its ARN, which every
/// service's summary names.
#[tokio::test]
async fn the_default_auto_scaling_configuration_keeps_its_arn() {
    let app = spawn_app(AppOptions::default());
    let default_of = |app: &TestApp| {
        let client = app.client.clone();
        async move {
            client
                .list_auto_scaling_configurations()
                .send()
                .await
                .unwrap()
                .auto_scaling_configuration_summary_list
                .into_iter()
                .filter(|c| c.is_default() == Some(true))
                .collect::<Vec<AutoScalingConfigurationSummary>>()
        }
    };
    let before = default_of(&app).await;
    assert_eq!(before.len(), 1);
    let app = app.restart();
    assert_eq!(default_of(&app).await, before);
}
