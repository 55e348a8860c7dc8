//! Errors as App Runner gives them: the model's error shapes, through the
//! real client and on the wire; failed creations and their recovery.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use aws_sdk_apprunner::error::ProvideErrorMetadata;
use aws_sdk_apprunner::types::{ImageRepositoryType, OperationStatus, ServiceStatus};

use crate::support::{AppOptions, ECR_HOST, get_body, healthz_check, image_source, spawn_app};

#[tokio::test]
async fn a_service_whose_operation_is_under_way_refuses_changes_with_invalid_state() {
    let app = spawn_app(AppOptions {
        delay: Duration::from_secs(3),
        ..Default::default()
    });
    let image = format!("{ECR_HOST}/acme/api:v1");
    let created = app
        .client
        .create_service()
        .service_name("acme-busy")
        .source_configuration(image_source(&image, &[], &[]))
        .send()
        .await
        .unwrap();
    let arn = created.service().unwrap().service_arn();
    let listed = app
        .client
        .list_operations()
        .service_arn(arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.operation_summary_list()[0].status(),
        Some(&OperationStatus::InProgress)
    );

    let update = app
        .client
        .update_service()
        .service_arn(arn)
        .source_configuration(image_source(&image, &[], &[]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(update.code(), Some("InvalidStateException"), "{update:?}");
    assert!(
        update
            .as_service_error()
            .unwrap()
            .is_invalid_state_exception()
    );
    let delete = app
        .client
        .delete_service()
        .service_arn(arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(delete.code(), Some("InvalidStateException"));
}

#[tokio::test]
async fn unknown_resources_and_invalid_input_are_refused_as_the_model_says() {
    let app = spawn_app(AppOptions::default());
    let unknown =
        "arn:aws:apprunner:us-east-1:123456789012:service/nope/0123456789abcdef0123456789abcdef";
    let error = app
        .client
        .describe_service()
        .service_arn(unknown)
        .send()
        .await
        .unwrap_err();
    assert!(
        error
            .as_service_error()
            .unwrap()
            .is_resource_not_found_exception(),
        "{error:?}"
    );
    let error = app
        .client
        .list_operations()
        .service_arn(unknown)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ResourceNotFoundException"));

    // An enum value the model does not have.
    let mut source = image_source(&format!("{ECR_HOST}/acme/api:v1"), &[], &[]);
    let repository = source.image_repository.as_mut().unwrap();
    repository.image_repository_type = ImageRepositoryType::from("DOCKERHUB");
    let error = app
        .client
        .create_service()
        .service_name("acme-api")
        .source_configuration(source)
        .send()
        .await
        .unwrap_err();
    assert!(
        error
            .as_service_error()
            .unwrap()
            .is_invalid_request_exception(),
        "{error:?}"
    );
    assert!(
        error.message().unwrap().contains("ImageRepositoryType"),
        "{error:?}"
    );

    // A private ECR image without the access role App Runner needs to pull it.
    let mut source = image_source(&format!("{ECR_HOST}/acme/api:v1"), &[], &[]);
    source.authentication_configuration = None;
    let error = app
        .client
        .create_service()
        .service_name("acme-api")
        .source_configuration(source)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("InvalidRequestException"));
    assert!(
        app.client
            .list_services()
            .send()
            .await
            .unwrap()
            .service_summary_list()
            .is_empty()
    );
}

/// One awsJson 1.0 request; (status line, body).
fn post(endpoint: &str, target: &str, body: &str) -> (String, serde_json::Value) {
    let host = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: {target}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (
        head.lines().next().unwrap().to_owned(),
        serde_json::from_str(body).unwrap(),
    )
}

#[tokio::test]
async fn errors_on_the_wire_are_aws_json_with_type_and_message() {
    let app = spawn_app(AppOptions::default());
    let endpoint = app.emulator.endpoint();
    let cases = [
        (
            "AppRunner.CreateService",
            "{}",
            "InvalidRequestException",
            "ServiceName is required",
        ),
        (
            "AppRunner.ListServices",
            r#"{"MaxResults": 21}"#,
            "InvalidRequestException",
            "at most 20",
        ),
        (
            "AppRunner.Teleport",
            "{}",
            "UnknownOperationException",
            "Teleport",
        ),
        (
            "AppRunner.ListServices",
            "{not json",
            "SerializationException",
            "not JSON",
        ),
        (
            "AppRunner.DescribeService",
            r#"{"ServiceArn": "arn:aws:apprunner:us-east-1:123456789012:service/x/y"}"#,
            "ResourceNotFoundException",
            "does not exist",
        ),
    ];
    for (target, body, kind, fragment) in cases {
        let (status, error) = post(&endpoint, target, body);
        assert_eq!(status, "HTTP/1.1 400 Bad Request", "{target} {body}");
        assert_eq!(error["__type"], kind, "{target} {body}");
        assert!(
            error["Message"].as_str().unwrap().contains(fragment),
            "{error}"
        );
    }
    let (status, listed) = post(&endpoint, "AppRunner.ListServices", "{}");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(listed, serde_json::json!({ "ServiceSummaryList": [] }));
}

#[tokio::test]
async fn an_image_that_cannot_be_pulled_or_exits_fails_the_creation_and_an_update_recovers_it() {
    let app = spawn_app(AppOptions::default());
    let exits = app
        .registry
        .push_probe("acme/api", "exits", &[("PROBE_EXIT_AT_START", "1")])
        .await;
    let good = app
        .registry
        .push_probe("acme/api", "v1", &[("PROBE_VERSION", "1")])
        .await;

    let missing = format!("{ECR_HOST}/acme/api:no-such-tag");
    for (name, image, reason) in [
        ("acme-missing", missing.as_str(), "cannot pull"),
        (
            "acme-exits",
            exits.as_str(),
            "exited during its health check",
        ),
    ] {
        let created = app
            .client
            .create_service()
            .service_name(name)
            .source_configuration(image_source(image, &[], &[]))
            .health_check_configuration(healthz_check())
            .send()
            .await
            .unwrap();
        let arn = created.service().unwrap().service_arn().to_owned();
        let operation = app.settled(&arn, created.operation_id()).await;
        assert_eq!(operation.status(), Some(&OperationStatus::Failed), "{name}");
        let service = app
            .client
            .describe_service()
            .service_arn(&arn)
            .send()
            .await
            .unwrap()
            .service
            .unwrap();
        assert_eq!(service.status(), &ServiceStatus::CreateFailed, "{name}");
        let logs = app.emulator.service_logs(&arn).unwrap();
        let events = std::fs::read_to_string(&logs.events).unwrap();
        assert!(events.contains(reason), "{name}: {events}");
        assert_eq!(logs.stdout, None, "{name}: no instance serves");

        // App Runner's way out of CREATE_FAILED: UpdateService.
        let update = app
            .client
            .update_service()
            .service_arn(&arn)
            .source_configuration(image_source(&good, &[], &[]))
            .send()
            .await
            .unwrap();
        let operation = app.settled(&arn, update.operation_id()).await;
        assert_eq!(
            operation.status(),
            Some(&OperationStatus::Succeeded),
            "{name}"
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
        assert_eq!(service.status(), &ServiceStatus::Running);
        assert_eq!(
            get_body(service.service_url().unwrap(), "/version").unwrap(),
            "1\n"
        );
    }
    let instances = std::fs::read_dir(app.emulator.state_dir().join("services"))
        .unwrap()
        .count();
    assert_eq!(instances, 2);
}
