//! App Runner service. `up` owns its shape, `deploy` owns what runs (design
//! §7): the shape keys (port, cpu, memory, health check, ingress, egress,
//! auto scaling, observability, roles) are observed, diffed and updated with
//! `UpdateService`; what runs — `create:image`, `create:env` and
//! `create:secrets` — is create-only: used for the first instance, never
//! diffed, and never changed by `update` (the release layer's deploy does
//! that). Physical id: the service ARN. Found by the name foundry gives
//! (`aws::apprunner::name`), owned by its tags.
//!
//! Attributes (`Observed::attrs`): `url` (App Runner's `ServiceUrl`, a host
//! name without scheme), `arn`, `status`, `image` (the running image
//! identifier) and `operation_id` (the latest operation), when known.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_apprunner::types::{
    AuthenticationConfiguration, EgressConfiguration, EgressType, HealthCheckConfiguration,
    HealthCheckProtocol, ImageConfiguration, ImageRepository, ImageRepositoryType,
    IngressConfiguration, InstanceConfiguration, NetworkConfiguration, Service,
    ServiceObservabilityConfiguration, SourceConfiguration,
};

use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_bool, prop_int, prop_str};
use crate::aws::apprunner::{self, NAME_MAX, SERVICE_TIMEOUT};
use crate::aws::{Aws, AwsError, SdkResultExt, wait};
use crate::vocab::{PropError, PropSpec, Props, Schema, Ty, Value};

pub struct ApprunnerService;

/// The image that runs first: `<registry>/<repository>@sha256:…`.
pub const IMAGE: &str = "create:image";
/// Environment variables of the first instance: name → text.
pub const ENV: &str = "create:env";
/// Runtime secrets of the first instance: name → secret ARN.
pub const SECRETS: &str = "create:secrets";

fn props_of(s: &Service) -> Props {
    let image = s.source_configuration().and_then(|c| c.image_repository());
    let instance = s.instance_configuration();
    let network = s.network_configuration();
    let egress = network.and_then(|n| n.egress_configuration());
    let observability = s.observability_configuration();
    let text = |v: Option<&str>| Value::str(v.unwrap_or_default());
    Props::from([
        ("name".to_string(), Value::str(s.service_name())),
        (
            "port".to_string(),
            Value::Int(
                image
                    .and_then(|i| i.image_configuration())
                    .and_then(|c| c.port())
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_default(),
            ),
        ),
        ("cpu".to_string(), text(instance.and_then(|i| i.cpu()))),
        ("memory".to_string(), text(instance.and_then(|i| i.memory()))),
        (
            "instance_role_arn".to_string(),
            text(instance.and_then(|i| i.instance_role_arn())),
        ),
        (
            "health_path".to_string(),
            text(
                s.health_check_configuration()
                    .filter(|h| h.protocol() == Some(&HealthCheckProtocol::Http))
                    .and_then(|h| h.path()),
            ),
        ),
        (
            "publicly_accessible".to_string(),
            Value::Bool(
                network
                    .and_then(|n| n.ingress_configuration())
                    .is_none_or(|i| i.is_publicly_accessible()),
            ),
        ),
        (
            "vpc_connector_arn".to_string(),
            text(
                egress
                    .filter(|e| e.egress_type() == Some(&EgressType::Vpc))
                    .and_then(|e| e.vpc_connector_arn()),
            ),
        ),
        (
            "auto_scaling_configuration_arn".to_string(),
            text(
                s.auto_scaling_configuration_summary()
                    .and_then(|a| a.auto_scaling_configuration_arn()),
            ),
        ),
        (
            "observability_configuration_arn".to_string(),
            text(
                observability
                    .filter(|o| o.observability_enabled())
                    .and_then(|o| o.observability_configuration_arn()),
            ),
        ),
        (
            "access_role_arn".to_string(),
            text(
                s.source_configuration()
                    .and_then(|c| c.authentication_configuration())
                    .and_then(|a| a.access_role_arn()),
            ),
        ),
    ])
}

fn observed(id: String, s: &Service) -> Observed {
    let mut o = Observed::new(id, Kind::ApprunnerService, s.service_arn());
    o.props = props_of(s);
    o.attrs.insert("arn".into(), s.service_arn().to_string());
    o.attrs
        .insert("status".into(), s.status().as_str().to_string());
    if let Some(url) = s.service_url() {
        o.attrs.insert("url".into(), url.to_string());
    }
    if let Some(image) = s
        .source_configuration()
        .and_then(|c| c.image_repository())
        .map(|i| i.image_identifier())
    {
        o.attrs.insert("image".into(), image.to_string());
    }
    o
}

/// The service `arn` as this scope's resource (with its latest operation),
/// `None` when it is gone or not ours.
async fn find_ours(aws: &Aws, scope: &Scope, arn: &str) -> Result<Option<Observed>, AwsError> {
    let Some(service) = apprunner::describe_service(aws, arn).await? else {
        return Ok(None);
    };
    if !apprunner::may_be_ours(scope, service.service_name(), NAME_MAX) {
        return Ok(None);
    }
    let Some(id) = apprunner::logical_id(aws, scope, arn).await? else {
        return Ok(None);
    };
    let mut o = observed(id, &service);
    if let Some(operation) = apprunner::latest_operation(aws, arn).await? {
        o.attrs.insert("operation_id".into(), operation);
    }
    Ok(Some(o))
}

/// A map of strings (`create:env`, `create:secrets`), resolved.
fn string_map(props: &Props, key: &str) -> Result<HashMap<String, String>, PropError> {
    let problem = || PropError {
        key: key.to_string(),
        problem: "not a map of known strings",
    };
    match props.get(key) {
        None => Ok(HashMap::new()),
        Some(Value::Map(m)) => m
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.as_str().ok_or_else(problem)?.to_string())))
            .collect(),
        Some(_) => Err(problem()),
    }
}

fn instance(props: &Props) -> Result<InstanceConfiguration, PropError> {
    Ok(InstanceConfiguration::builder()
        .cpu(prop_str(props, "cpu")?)
        .memory(prop_str(props, "memory")?)
        .instance_role_arn(prop_str(props, "instance_role_arn")?)
        .build())
}

fn health(props: &Props) -> Result<HealthCheckConfiguration, PropError> {
    Ok(HealthCheckConfiguration::builder()
        .protocol(HealthCheckProtocol::Http)
        .path(prop_str(props, "health_path")?)
        .build())
}

fn network(props: &Props) -> Result<NetworkConfiguration, PropError> {
    let connector = prop_str(props, "vpc_connector_arn")?;
    let egress = if connector.is_empty() {
        EgressConfiguration::builder()
            .egress_type(EgressType::Default)
            .build()
    } else {
        EgressConfiguration::builder()
            .egress_type(EgressType::Vpc)
            .vpc_connector_arn(connector)
            .build()
    };
    Ok(NetworkConfiguration::builder()
        .egress_configuration(egress)
        .ingress_configuration(
            IngressConfiguration::builder()
                .is_publicly_accessible(prop_bool(props, "publicly_accessible")?)
                .build(),
        )
        .build())
}

fn observability(props: &Props) -> Result<ServiceObservabilityConfiguration, PropError> {
    let arn = prop_str(props, "observability_configuration_arn")?;
    Ok(ServiceObservabilityConfiguration::builder()
        .observability_enabled(!arn.is_empty())
        .set_observability_configuration_arn((!arn.is_empty()).then(|| arn.to_string()))
        .build())
}

fn source(
    props: &Props,
    image: &str,
    image_configuration: ImageConfiguration,
) -> Result<SourceConfiguration, PropError> {
    Ok(SourceConfiguration::builder()
        .image_repository(
            ImageRepository::builder()
                .image_identifier(image)
                .image_repository_type(ImageRepositoryType::Ecr)
                .image_configuration(image_configuration)
                .build()
                .expect("identifier and type are set"),
        )
        // What runs changes only through a deploy, never on a push.
        .auto_deployments_enabled(false)
        .authentication_configuration(
            AuthenticationConfiguration::builder()
                .access_role_arn(prop_str(props, "access_role_arn")?)
                .build(),
        )
        .build())
}

/// Waits until the service has no operation in progress, whatever it ended
/// in (before an update or delete, which App Runner refuses meanwhile).
async fn until_idle(aws: &Aws, arn: &str) -> Result<(), AwsError> {
    wait::until(
        &format!("App Runner service {arn}"),
        &[
            "RUNNING",
            "PAUSED",
            "CREATE_FAILED",
            "DELETE_FAILED",
            "gone",
        ],
        &[],
        SERVICE_TIMEOUT,
        || async {
            Ok(apprunner::describe_service(aws, arn)
                .await?
                .map(|s| (s.status().as_str().to_string(), String::new())))
        },
    )
    .await
}

#[async_trait]
impl ResourceType for ApprunnerService {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("port", Ty::Int),
            PropSpec::required("cpu", Ty::Str),
            PropSpec::required("memory", Ty::Str),
            PropSpec::required("health_path", Ty::Str),
            PropSpec::required("publicly_accessible", Ty::Bool),
            // "" = App Runner's default egress (the internet, not the VPC).
            PropSpec::required("vpc_connector_arn", Ty::Str),
            PropSpec::required("auto_scaling_configuration_arn", Ty::Str),
            // "" = no tracing.
            PropSpec::required("observability_configuration_arn", Ty::Str),
            PropSpec::required("instance_role_arn", Ty::Str),
            PropSpec::required("access_role_arn", Ty::Str),
            PropSpec::required(IMAGE, Ty::Str),
            PropSpec::required(ENV, Ty::Map),
            PropSpec::required(SECRETS, Ty::Map),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let mut out = Vec::new();
        for (arn, name) in apprunner::list_services(aws).await? {
            if apprunner::may_be_ours(scope, &name, NAME_MAX) {
                out.extend(find_ours(aws, scope, &arn).await?);
            }
        }
        Ok(out)
    }

    async fn create(
        &self,
        aws: &Aws,
        scope: &Scope,
        id: &str,
        props: &Props,
        _token: &str,
    ) -> Result<String, AwsError> {
        let name = prop_str(props, "name")?;
        // CreateService has no idempotency token: a service left by a run
        // that stopped after this call is found by its name and tags instead.
        for (arn, listed) in apprunner::list_services(aws).await? {
            if listed == name
                && let Some(existing) = find_ours(aws, scope, &arn).await?
                && existing.id == id
            {
                apprunner::wait_service_settled(aws, &arn).await?;
                return Ok(arn);
            }
        }
        let image_configuration = ImageConfiguration::builder()
            .port(prop_int(props, "port")?.to_string())
            .set_runtime_environment_variables(Some(string_map(props, ENV)?))
            .set_runtime_environment_secrets(Some(string_map(props, SECRETS)?))
            .build();
        let out = aws
            .apprunner
            .create_service()
            .service_name(name)
            .source_configuration(source(props, prop_str(props, IMAGE)?, image_configuration)?)
            .instance_configuration(instance(props)?)
            .health_check_configuration(health(props)?)
            .network_configuration(network(props)?)
            .auto_scaling_configuration_arn(prop_str(props, "auto_scaling_configuration_arn")?)
            .observability_configuration(observability(props)?)
            .set_tags(Some(apprunner::tags(scope, id)))
            .send()
            .await
            .or_aws("CreateService")?;
        let arn = out
            .service()
            .map(|s| s.service_arn().to_string())
            .unwrap_or_default();
        apprunner::wait_service_settled(aws, &arn).await?;
        Ok(arn)
    }

    /// One `UpdateService` with the parts of the shape that differ, then a
    /// wait for its operation. The port and the ECR access role live in the
    /// source configuration, beside the image: they are sent with the image,
    /// env and secrets the service runs now, read back just before, so an
    /// update never changes what runs.
    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        let arn = &current.physical_id;
        until_idle(aws, arn).await?;
        let differs = |keys: &[&str]| {
            keys.iter()
                .any(|k| current.props.get(*k) != desired.get(*k))
        };
        let mut call = aws.apprunner.update_service().service_arn(arn);
        if differs(&["cpu", "memory", "instance_role_arn"]) {
            call = call.instance_configuration(instance(desired)?);
        }
        if differs(&["health_path"]) {
            call = call.health_check_configuration(health(desired)?);
        }
        if differs(&["publicly_accessible", "vpc_connector_arn"]) {
            call = call.network_configuration(network(desired)?);
        }
        if differs(&["auto_scaling_configuration_arn"]) {
            call = call.auto_scaling_configuration_arn(prop_str(
                desired,
                "auto_scaling_configuration_arn",
            )?);
        }
        if differs(&["observability_configuration_arn"]) {
            call = call.observability_configuration(observability(desired)?);
        }
        if differs(&["port", "access_role_arn"]) {
            let running = apprunner::describe_service(aws, arn)
                .await?
                .and_then(|s| s.source_configuration)
                .and_then(|c| c.image_repository)
                .ok_or_else(|| AwsError::Api {
                    operation: "DescribeService",
                    code: None,
                    message: format!("App Runner service {arn} reports no image"),
                })?;
            let runs = running.image_configuration.clone().unwrap_or_else(|| {
                ImageConfiguration::builder().build()
            });
            let image_configuration = ImageConfiguration::builder()
                .set_runtime_environment_variables(runs.runtime_environment_variables)
                .set_runtime_environment_secrets(runs.runtime_environment_secrets)
                .set_start_command(runs.start_command)
                .port(prop_int(desired, "port")?.to_string())
                .build();
            call = call.source_configuration(source(
                desired,
                running.image_identifier(),
                image_configuration,
            )?);
        }
        call.send().await.or_aws("UpdateService")?;
        apprunner::wait_service_settled(aws, arn).await
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        let arn = &current.physical_id;
        until_idle(aws, arn).await?;
        // Deleted already: App Runner refuses a second DeleteService
        // (InvalidState) while it still describes the service as DELETED.
        if apprunner::describe_service(aws, arn).await?.is_none() {
            return Ok(());
        }
        let deleted = aws
            .apprunner
            .delete_service()
            .service_arn(arn)
            .send()
            .await
            .map(drop)
            .or_aws("DeleteService");
        gone_ok(deleted)?;
        apprunner::wait_service_deleted(aws, arn).await
    }

    async fn find(
        &self,
        aws: &Aws,
        scope: &Scope,
        physical_id: &str,
    ) -> Result<Option<Observed>, AwsError> {
        find_ours(aws, scope, physical_id).await
    }
}
