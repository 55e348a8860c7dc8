//! The resources services refer to: VPC connectors, auto scaling and
//! observability configurations, VPC ingress connections, and tags.

use aws_sdk_apprunner::error::ProvideErrorMetadata;
use aws_sdk_apprunner::types::{
    EgressConfiguration, EgressType, IngressVpcConfiguration, NetworkConfiguration,
    ServiceObservabilityConfiguration, Tag, TraceConfiguration, TracingVendor,
    VpcIngressConnectionStatus,
};

use crate::support::{AppOptions, ECR_HOST, image_source, spawn_app};

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

#[tokio::test]
async fn configurations_connectors_and_ingress_connections_are_kept_as_app_runner_keeps_them() {
    let app = spawn_app(AppOptions::default());
    let client = &app.client;

    // VPC connectors need subnets and security groups.
    let error = client
        .create_vpc_connector()
        .vpc_connector_name("acme-private")
        .subnets("subnet-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("InvalidRequestException"), "{error:?}");
    let connector = client
        .create_vpc_connector()
        .vpc_connector_name("acme-private")
        .subnets("subnet-1")
        .subnets("subnet-2")
        .security_groups("sg-1")
        .tags(tag("foundry:stack", "acme"))
        .send()
        .await
        .unwrap()
        .vpc_connector
        .unwrap();
    let connector_arn = connector.vpc_connector_arn().unwrap().to_owned();
    assert!(
        connector_arn
            .starts_with("arn:aws:apprunner:us-east-1:123456789012:vpcconnector/acme-private/1/")
    );
    assert_eq!(connector.subnets(), ["subnet-1", "subnet-2"]);
    let tags = client
        .list_tags_for_resource()
        .resource_arn(&connector_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags(), [tag("foundry:stack", "acme")]);

    // Auto scaling: the account's default exists; names get revisions.
    let listed = client
        .list_auto_scaling_configurations()
        .send()
        .await
        .unwrap();
    let names: Vec<_> = listed
        .auto_scaling_configuration_summary_list()
        .iter()
        .map(|c| c.auto_scaling_configuration_name().unwrap())
        .collect();
    assert_eq!(names, ["DefaultConfiguration"]);
    let mut revisions = Vec::new();
    for max_size in [4, 6] {
        let created = client
            .create_auto_scaling_configuration()
            .auto_scaling_configuration_name("acme-api")
            .min_size(1)
            .max_size(max_size)
            .max_concurrency(100)
            .send()
            .await
            .unwrap()
            .auto_scaling_configuration
            .unwrap();
        revisions.push(created);
    }
    assert_eq!(revisions[1].auto_scaling_configuration_revision(), Some(2));
    let error = client
        .create_auto_scaling_configuration()
        .auto_scaling_configuration_name("acme-bad")
        .min_size(5)
        .max_size(2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("InvalidRequestException"));
    let by_name = "arn:aws:apprunner:us-east-1:123456789012:autoscalingconfiguration/acme-api";
    let latest = client
        .describe_auto_scaling_configuration()
        .auto_scaling_configuration_arn(by_name)
        .send()
        .await
        .unwrap()
        .auto_scaling_configuration
        .unwrap();
    assert_eq!(latest.max_size(), Some(6));
    assert_eq!(latest.latest(), Some(true));

    // Observability with tracing.
    let observability = client
        .create_observability_configuration()
        .observability_configuration_name("acme-tracing")
        .trace_configuration(
            TraceConfiguration::builder()
                .vendor(TracingVendor::Awsxray)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .observability_configuration
        .unwrap();
    let observability_arn = observability
        .observability_configuration_arn()
        .unwrap()
        .to_owned();

    // A service in the VPC, with all three.
    let created = client
        .create_service()
        .service_name("acme-api")
        .source_configuration(image_source(&format!("{ECR_HOST}/acme/api:v1"), &[], &[]))
        .auto_scaling_configuration_arn(revisions[0].auto_scaling_configuration_arn().unwrap())
        .network_configuration(
            NetworkConfiguration::builder()
                .egress_configuration(
                    EgressConfiguration::builder()
                        .egress_type(EgressType::Vpc)
                        .vpc_connector_arn(&connector_arn)
                        .build(),
                )
                .build(),
        )
        .observability_configuration(
            ServiceObservabilityConfiguration::builder()
                .observability_enabled(true)
                .observability_configuration_arn(&observability_arn)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let service = created.service().unwrap();
    let service_arn = service.service_arn().to_owned();
    assert_eq!(
        service
            .auto_scaling_configuration_summary()
            .unwrap()
            .auto_scaling_configuration_revision(),
        1
    );
    let egress = service
        .network_configuration()
        .unwrap()
        .egress_configuration()
        .unwrap();
    assert_eq!(egress.vpc_connector_arn(), Some(connector_arn.as_str()));
    let error = client
        .delete_vpc_connector()
        .vpc_connector_arn(&connector_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error.code(),
        Some("InvalidRequestException"),
        "a connector in use stays"
    );
    let unknown_connector = format!("{connector_arn}0");
    let error = client
        .create_service()
        .service_name("acme-other")
        .source_configuration(image_source(&format!("{ECR_HOST}/acme/api:v1"), &[], &[]))
        .network_configuration(
            NetworkConfiguration::builder()
                .egress_configuration(
                    EgressConfiguration::builder()
                        .egress_type(EgressType::Vpc)
                        .vpc_connector_arn(unknown_connector)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("InvalidRequestException"));

    // A VPC ingress connection becomes AVAILABLE after the operation delay.
    let connection = client
        .create_vpc_ingress_connection()
        .service_arn(&service_arn)
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
    let connection_arn = connection.vpc_ingress_connection_arn().unwrap().to_owned();
    let mut status = connection.status().cloned();
    for _ in 0..500 {
        if status == Some(VpcIngressConnectionStatus::Available) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let described = client
            .describe_vpc_ingress_connection()
            .vpc_ingress_connection_arn(&connection_arn)
            .send()
            .await
            .unwrap();
        status = described.vpc_ingress_connection.unwrap().status;
    }
    assert_eq!(status, Some(VpcIngressConnectionStatus::Available));
    let listed = client.list_vpc_ingress_connections().send().await.unwrap();
    assert_eq!(listed.vpc_ingress_connection_summary_list().len(), 1);

    // Tags: added, replaced by key, removed.
    client
        .tag_resource()
        .resource_arn(&service_arn)
        .tags(tag("team", "api"))
        .tags(tag("env", "dev"))
        .send()
        .await
        .unwrap();
    client
        .tag_resource()
        .resource_arn(&service_arn)
        .tags(tag("env", "prod"))
        .send()
        .await
        .unwrap();
    client
        .untag_resource()
        .resource_arn(&service_arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = client
        .list_tags_for_resource()
        .resource_arn(&service_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags(), [tag("env", "prod")]);
    let error = client
        .tag_resource()
        .resource_arn("arn:aws:apprunner:us-east-1:123456789012:service/x/y")
        .tags(tag("a", "b"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ResourceNotFoundException"));

    // Deleting a revision leaves the others; the deleted one is INACTIVE.
    let deleted = client
        .delete_auto_scaling_configuration()
        .auto_scaling_configuration_arn(revisions[1].auto_scaling_configuration_arn().unwrap())
        .send()
        .await
        .unwrap()
        .auto_scaling_configuration
        .unwrap();
    assert_eq!(deleted.status().map(|s| s.as_str()), Some("INACTIVE"));
    let latest = client
        .describe_auto_scaling_configuration()
        .auto_scaling_configuration_arn(by_name)
        .send()
        .await
        .unwrap()
        .auto_scaling_configuration
        .unwrap();
    assert_eq!(latest.auto_scaling_configuration_revision(), Some(1));
}
