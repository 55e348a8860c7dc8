//! The service API: create, describe, update, delete, list, deployments,
//! pause and resume. Handlers validate and record; anything that takes time
//! is an operation (see `operations`) running in the background.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::image::PulledImage;
use crate::model::{
    HealthCheckConfiguration, IngressConfiguration, InstanceConfiguration, NetworkConfiguration,
    OperationSummary, Service, ServiceObservabilityConfiguration, ServiceSummary,
    SourceConfiguration, Tag, now,
};
use crate::operations::{self, OperationType};
use crate::protocol::{ApiError, ApiResult, answer, parse};
use crate::proxy::Proxy;
use crate::runner::{Instance, default_health_check};
use crate::{ServiceLogs, Shared, State, new_resource_id, paginate};

pub(crate) const RUNNING: &str = "RUNNING";
pub(crate) const OPERATION_IN_PROGRESS: &str = "OPERATION_IN_PROGRESS";
pub(crate) const CREATE_FAILED: &str = "CREATE_FAILED";
pub(crate) const PAUSED: &str = "PAUSED";
pub(crate) const DELETED: &str = "DELETED";

pub(crate) struct ServiceEntry {
    pub service: Service,
    /// What served before the operation under way; a failed update or
    /// deployment returns to it.
    pub last_good: Option<Service>,
    /// Newest first, as `ListOperations` answers.
    pub operations: Vec<OperationSummary>,
    /// The stable URL; `None` once deleted.
    pub proxy: Option<Proxy>,
    pub instance: Option<Instance>,
    /// `services/<ServiceId>` under the state directory.
    pub dir: PathBuf,
    /// The image the serving instance runs (kept after it stops, so that
    /// a restarted emulator runs it again).
    pub deployed: Option<PulledImage>,
}

impl ServiceEntry {
    pub fn is_live(&self) -> bool {
        self.service.status != DELETED
    }
}

impl State {
    pub fn service_mut(&mut self, arn: &str) -> Result<&mut ServiceEntry, ApiError> {
        self.services
            .iter_mut()
            .find(|s| s.service.service_arn == arn)
            .ok_or_else(|| ApiError::not_found(format!("Service {arn} does not exist")))
    }

    pub fn take_all_instances(&mut self) -> Vec<Instance> {
        self.stopping = true;
        self.services
            .iter_mut()
            .filter_map(|s| s.instance.take())
            .collect()
    }

    pub fn service_logs(&self, arn: &str) -> Option<ServiceLogs> {
        let entry = self
            .services
            .iter()
            .find(|s| s.service.service_arn == arn)?;
        let instance_dir = entry.instance.as_ref().map(|i| i.dir.clone());
        Some(ServiceLogs {
            events: entry.dir.join("events.log"),
            stdout: instance_dir.as_ref().map(|d| d.join("stdout.log")),
            stderr: instance_dir.as_ref().map(|d| d.join("stderr.log")),
        })
    }

    /// The pid of a service's serving process (for tests and status).
    pub fn instance_pid(&self, arn: &str) -> Option<u32> {
        let entry = self
            .services
            .iter()
            .find(|s| s.service.service_arn == arn)?;
        entry.instance.as_ref().map(Instance::pid)
    }
}

/// The mutable configuration both CreateService and UpdateService carry.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Settings {
    source_configuration: Option<SourceConfiguration>,
    instance_configuration: Option<InstanceConfiguration>,
    health_check_configuration: Option<HealthCheckConfiguration>,
    auto_scaling_configuration_arn: Option<String>,
    network_configuration: Option<NetworkConfiguration>,
    observability_configuration: Option<ServiceObservabilityConfiguration>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateRequest {
    service_name: String,
    tags: Option<Vec<Tag>>,
    encryption_configuration: Option<Value>,
    #[serde(flatten)]
    settings: Settings,
}

/// App Runner answers CPU and memory in units (`1 vCPU` → `1024`).
fn normalized_units(value: &str, gb: bool) -> String {
    let trimmed = value.trim();
    let number = trimmed
        .trim_end_matches(if gb { "GB" } else { "vCPU" })
        .trim();
    if number.len() != trimmed.len()
        && let Ok(amount) = number.parse::<f64>()
    {
        return ((amount * 1024.0).round() as i64).to_string();
    }
    trimmed.to_owned()
}

fn check_source(source: &SourceConfiguration) -> Result<(), ApiError> {
    match (&source.code_repository, &source.image_repository) {
        (Some(_), Some(_)) | (None, None) => Err(ApiError::invalid_request(
            "SourceConfiguration must have exactly one of CodeRepository and ImageRepository",
        )),
        (Some(_), None) => Err(ApiError::invalid_request(
            "CodeRepository sources are not supported by this emulator: it runs images only",
        )),
        (None, Some(image)) => {
            let role = source
                .authentication_configuration
                .as_ref()
                .and_then(|a| a["AccessRoleArn"].as_str());
            if image.image_repository_type == "ECR" && role.is_none() {
                return Err(ApiError::invalid_request(
                    "AuthenticationConfiguration.AccessRoleArn is required for an image in a private ECR repository",
                ));
            }
            Ok(())
        }
    }
}

/// Applies `settings` onto `service` (only the members given), with App
/// Runner's defaults for what was never set and checks of every reference.
fn apply(state: &State, service: &mut Service, settings: Settings) -> Result<(), ApiError> {
    if let Some(mut source) = settings.source_configuration {
        check_source(&source)?;
        if let Some(image) = source.image_repository.as_mut() {
            let config = image
                .image_configuration
                .get_or_insert_with(Default::default);
            config.port.get_or_insert_with(|| "8080".into());
            let same_account = image.image_repository_type == "ECR";
            source.auto_deployments_enabled.get_or_insert(same_account);
        }
        service.source_configuration = source;
    }
    if let Some(mut instance) = settings.instance_configuration {
        instance.cpu = Some(normalized_units(
            instance.cpu.as_deref().unwrap_or("1024"),
            false,
        ));
        instance.memory = Some(normalized_units(
            instance.memory.as_deref().unwrap_or("2048"),
            true,
        ));
        service.instance_configuration = instance;
    }
    if let Some(check) = settings.health_check_configuration {
        let defaults = default_health_check();
        service.health_check_configuration = Some(HealthCheckConfiguration {
            protocol: check.protocol.or(defaults.protocol),
            path: check.path.or(defaults.path),
            interval: check.interval.or(defaults.interval),
            timeout: check.timeout.or(defaults.timeout),
            healthy_threshold: check.healthy_threshold.or(defaults.healthy_threshold),
            unhealthy_threshold: check.unhealthy_threshold.or(defaults.unhealthy_threshold),
        });
    }
    if settings.auto_scaling_configuration_arn.is_some() {
        let arn = settings.auto_scaling_configuration_arn.as_deref();
        service.auto_scaling_configuration_summary =
            state.configs.auto_scaling_for(arn).ok_or_else(|| {
                ApiError::invalid_request(format!(
                    "Auto scaling configuration {} does not exist",
                    arn.unwrap_or_default()
                ))
            })?;
    }
    if let Some(network) = settings.network_configuration {
        let mut network = network;
        let egress = network
            .egress_configuration
            .get_or_insert_with(Default::default);
        let egress_type = egress
            .egress_type
            .get_or_insert_with(|| "DEFAULT".into())
            .clone();
        match (egress_type.as_str(), egress.vpc_connector_arn.as_deref()) {
            ("VPC", None) => {
                return Err(ApiError::invalid_request(
                    "EgressType VPC needs a VpcConnectorArn",
                ));
            }
            ("VPC", Some(arn)) if !state.configs.vpc_connector_is_active(arn) => {
                return Err(ApiError::invalid_request(format!(
                    "VPC connector {arn} does not exist"
                )));
            }
            ("DEFAULT", Some(_)) => {
                return Err(ApiError::invalid_request(
                    "VpcConnectorArn is only valid with EgressType VPC",
                ));
            }
            _ => {}
        }
        // Without an IngressConfiguration a service is public; inside one,
        // IsPubliclyAccessible is a boolean defaulting to false, which SDKs
        // leave out when false.
        match network.ingress_configuration.as_mut() {
            None => {
                network.ingress_configuration = Some(IngressConfiguration {
                    is_publicly_accessible: Some(true),
                })
            }
            Some(ingress) => {
                ingress.is_publicly_accessible.get_or_insert(false);
            }
        }
        network.ip_address_type.get_or_insert_with(|| "IPV4".into());
        service.network_configuration = network;
    }
    if let Some(observability) = settings.observability_configuration {
        match (
            &observability.observability_configuration_arn,
            observability.observability_enabled,
        ) {
            (Some(arn), true) if !state.configs.observability_is_active(arn) => {
                return Err(ApiError::invalid_request(format!(
                    "Observability configuration {arn} does not exist"
                )));
            }
            (None, true) => {
                return Err(ApiError::invalid_request(
                    "ObservabilityConfigurationArn is required when ObservabilityEnabled is true",
                ));
            }
            _ => {}
        }
        service.observability_configuration = Some(observability);
    }
    Ok(())
}

pub(crate) fn create(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: CreateRequest = parse(input)?;
    let mut state = shared.lock();
    if state
        .services
        .iter()
        .any(|s| s.is_live() && s.service.service_name == request.service_name)
    {
        return Err(ApiError::invalid_request(format!(
            "Service with the provided name already exists: {}",
            request.service_name
        )));
    }
    let id = new_resource_id();
    let arn = shared.arn(&format!("service/{}/{id}", request.service_name));
    let created_at = now();
    let default_scaling = state
        .configs
        .auto_scaling_for(None)
        .ok_or_else(|| ApiError::internal("the default auto scaling configuration is missing"))?;
    let mut service = Service {
        service_name: request.service_name,
        service_id: id.clone(),
        service_arn: arn.clone(),
        service_url: None,
        created_at,
        updated_at: created_at,
        deleted_at: None,
        status: OPERATION_IN_PROGRESS.into(),
        source_configuration: SourceConfiguration::default(),
        instance_configuration: InstanceConfiguration::default(),
        encryption_configuration: request.encryption_configuration,
        health_check_configuration: None,
        auto_scaling_configuration_summary: default_scaling,
        network_configuration: NetworkConfiguration::default(),
        observability_configuration: None,
    };
    let mut settings = request.settings;
    settings
        .instance_configuration
        .get_or_insert_with(Default::default);
    settings
        .health_check_configuration
        .get_or_insert_with(Default::default);
    settings
        .network_configuration
        .get_or_insert_with(Default::default);
    apply(&state, &mut service, settings)?;
    if settings_missing_source(&service) {
        return Err(ApiError::invalid_request(
            "SourceConfiguration must have an ImageRepository",
        ));
    }

    let proxy = Proxy::bind()
        .map_err(|e| ApiError::internal(format!("cannot open the service's port: {e}")))?;
    service.service_url = Some(format!("127.0.0.1:{}", proxy.port));
    let dir = shared.config.state_dir.join("services").join(&id);
    std::fs::create_dir_all(dir.join("instances"))
        .map_err(|e| ApiError::internal(format!("{}: {e}", dir.display())))?;
    state.tags.set(&arn, &request.tags.unwrap_or_default());
    state.services.push(ServiceEntry {
        service: service.clone(),
        last_good: None,
        operations: Vec::new(),
        proxy: Some(proxy),
        instance: None,
        dir,
        deployed: None,
    });
    let entry = state.services.last_mut().expect("just pushed");
    let operation_id = operations::begin(shared, entry, OperationType::CreateService);
    answer(json!({ "Service": service, "OperationId": operation_id }))
}

fn settings_missing_source(service: &Service) -> bool {
    service.source_configuration.image_repository.is_none()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceArn {
    service_arn: String,
}

pub(crate) fn describe(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: ServiceArn = parse(input)?;
    let mut state = shared.lock();
    let entry = state.service_mut(&request.service_arn)?;
    answer(json!({ "Service": entry.service }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateRequest {
    service_arn: String,
    #[serde(flatten)]
    settings: Settings,
}

fn refuse_unless(entry: &ServiceEntry, allowed: &[&str], action: &str) -> Result<(), ApiError> {
    if allowed.contains(&entry.service.status.as_str()) {
        return Ok(());
    }
    Err(ApiError::invalid_state(format!(
        "You can't {action} service {} while it is in {} status",
        entry.service.service_arn, entry.service.status
    )))
}

pub(crate) fn update(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: UpdateRequest = parse(input)?;
    let mut state = shared.lock();
    let entry = state.service_mut(&request.service_arn)?;
    refuse_unless(entry, &[RUNNING, CREATE_FAILED], "update")?;
    let mut updated = entry.service.clone();
    apply(&state, &mut updated, request.settings)?;
    let entry = state.service_mut(&request.service_arn)?;
    entry.last_good = (entry.service.status == RUNNING).then(|| entry.service.clone());
    updated.status = OPERATION_IN_PROGRESS.into();
    updated.updated_at = now();
    entry.service = updated.clone();
    let operation_id = operations::begin(shared, entry, OperationType::UpdateService);
    answer(json!({ "Service": updated, "OperationId": operation_id }))
}

pub(crate) fn start_deployment(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: ServiceArn = parse(input)?;
    let mut state = shared.lock();
    let entry = state.service_mut(&request.service_arn)?;
    // The model gives StartDeployment no InvalidStateException.
    if entry.service.status != RUNNING {
        return Err(ApiError::invalid_request(format!(
            "You can't start a deployment of service {} while it is in {} status",
            request.service_arn, entry.service.status
        )));
    }
    entry.last_good = Some(entry.service.clone());
    entry.service.status = OPERATION_IN_PROGRESS.into();
    let operation_id = operations::begin(shared, entry, OperationType::StartDeployment);
    answer(json!({ "OperationId": operation_id }))
}

pub(crate) fn delete(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: ServiceArn = parse(input)?;
    let mut state = shared.lock();
    let entry = state.service_mut(&request.service_arn)?;
    refuse_unless(entry, &[RUNNING, CREATE_FAILED, PAUSED], "delete")?;
    entry.service.status = OPERATION_IN_PROGRESS.into();
    let operation_id = operations::begin(shared, entry, OperationType::DeleteService);
    answer(json!({ "Service": entry.service, "OperationId": operation_id }))
}

pub(crate) fn pause(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: ServiceArn = parse(input)?;
    let mut state = shared.lock();
    let entry = state.service_mut(&request.service_arn)?;
    refuse_unless(entry, &[RUNNING], "pause")?;
    entry.service.status = OPERATION_IN_PROGRESS.into();
    let operation_id = operations::begin(shared, entry, OperationType::PauseService);
    answer(json!({ "Service": entry.service, "OperationId": operation_id }))
}

pub(crate) fn resume(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: ServiceArn = parse(input)?;
    let mut state = shared.lock();
    let entry = state.service_mut(&request.service_arn)?;
    refuse_unless(entry, &[PAUSED], "resume")?;
    entry.service.status = OPERATION_IN_PROGRESS.into();
    let operation_id = operations::begin(shared, entry, OperationType::ResumeService);
    answer(json!({ "Service": entry.service, "OperationId": operation_id }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListRequest {
    max_results: Option<usize>,
    next_token: Option<String>,
}

pub(crate) fn list(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: ListRequest = parse(input)?;
    let state = shared.lock();
    let summaries: Vec<ServiceSummary> = state
        .services
        .iter()
        .filter(|s| s.is_live())
        .map(|s| ServiceSummary::from(&s.service))
        .collect();
    let (page, next) = paginate(
        &summaries,
        request.max_results,
        request.next_token.as_deref(),
    )?;
    answer(json!({ "ServiceSummaryList": page, "NextToken": next }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListOperationsRequest {
    service_arn: String,
    max_results: Option<usize>,
    next_token: Option<String>,
}

pub(crate) fn list_operations(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: ListOperationsRequest = parse(input)?;
    let mut state = shared.lock();
    let entry = state.service_mut(&request.service_arn)?;
    let (page, next) = paginate(
        &entry.operations,
        request.max_results,
        request.next_token.as_deref(),
    )?;
    answer(json!({ "OperationSummaryList": page, "NextToken": next }))
}

#[cfg(test)]
mod tests {
    use super::normalized_units;

    #[test]
    fn cpu_and_memory_are_answered_in_units() {
        for (given, gb, expected) in [
            ("1 vCPU", false, "1024"),
            ("0.25 vCPU", false, "256"),
            ("2048", false, "2048"),
            ("2 GB", true, "2048"),
            ("0.5 GB", true, "512"),
            ("3072", true, "3072"),
        ] {
            assert_eq!(normalized_units(given, gb), expected, "{given}");
        }
    }
}
