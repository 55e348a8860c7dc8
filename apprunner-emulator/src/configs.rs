//! The account-level resources services refer to: auto scaling and
//! observability configurations (named, with revisions), VPC connectors, and
//! VPC ingress connections. None of them changes what runs locally; they are
//! validated, stored and described as App Runner does.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::{
    AutoScalingConfiguration, AutoScalingConfigurationSummary, ObservabilityConfiguration, Tag,
    VpcConnector, VpcIngressConnection, now,
};
use crate::protocol::{ApiError, ApiResult, answer, parse};
use crate::{Shared, State, new_resource_id, paginate};

pub(crate) const DEFAULT_AUTO_SCALING_NAME: &str = "DefaultConfiguration";
const ACTIVE: &str = "ACTIVE";
const INACTIVE: &str = "INACTIVE";

#[derive(Default, Serialize, Deserialize)]
pub(crate) struct Configs {
    auto_scaling: Vec<AutoScalingConfiguration>,
    observability: Vec<ObservabilityConfiguration>,
    vpc_connectors: Vec<VpcConnector>,
    ingress_connections: Vec<VpcIngressConnection>,
}

/// `…/name` names the latest active revision; `…/name/rev[/id]` one revision.
fn names_revision(arn: &str, kind: &str, name: &str, revision: i32, full_arn: &str) -> bool {
    if arn == full_arn {
        return true;
    }
    let prefix = full_arn
        .split(&format!(":{kind}/"))
        .next()
        .unwrap_or_default();
    let Some(rest) = arn.strip_prefix(&format!("{prefix}:{kind}/")) else {
        return false;
    };
    let mut parts = rest.split('/');
    parts.next() == Some(name)
        && match parts.next() {
            None => true,
            Some(rev) => rev == revision.to_string() && parts.next().is_none(),
        }
}

impl Configs {
    pub fn has_resource(&self, arn: &str) -> bool {
        self.auto_scaling
            .iter()
            .any(|c| c.auto_scaling_configuration_arn == arn)
            || self
                .observability
                .iter()
                .any(|c| c.observability_configuration_arn == arn)
            || self
                .vpc_connectors
                .iter()
                .any(|c| c.vpc_connector_arn == arn)
            || self
                .ingress_connections
                .iter()
                .any(|c| c.vpc_ingress_connection_arn == arn)
    }

    /// The active auto scaling revision an ARN names (the latest for a bare
    /// name), or the default configuration for `None`.
    pub fn auto_scaling_for(&self, arn: Option<&str>) -> Option<AutoScalingConfigurationSummary> {
        let found = self
            .auto_scaling
            .iter()
            .rev()
            .filter(|c| c.status == ACTIVE)
            .find(|c| match arn {
                None => c.is_default,
                Some(arn) => names_revision(
                    arn,
                    "autoscalingconfiguration",
                    &c.auto_scaling_configuration_name,
                    c.auto_scaling_configuration_revision,
                    &c.auto_scaling_configuration_arn,
                ),
            })?;
        Some(AutoScalingConfigurationSummary {
            auto_scaling_configuration_arn: found.auto_scaling_configuration_arn.clone(),
            auto_scaling_configuration_name: found.auto_scaling_configuration_name.clone(),
            auto_scaling_configuration_revision: found.auto_scaling_configuration_revision,
            status: found.status.clone(),
            created_at: found.created_at,
            has_associated_service: true,
            is_default: found.is_default,
        })
    }

    /// Ingress connections still pending when the emulator stopped reach
    /// the status their lost settling task would have given them.
    pub fn settle_pending_ingress_connections(&mut self) {
        for connection in &mut self.ingress_connections {
            match connection.status.as_str() {
                "PENDING_CREATION" => connection.status = "AVAILABLE".into(),
                "PENDING_DELETION" => {
                    connection.status = "DELETED".into();
                    connection.deleted_at = Some(now());
                }
                _ => {}
            }
        }
    }

    pub fn vpc_connector_is_active(&self, arn: &str) -> bool {
        self.vpc_connectors
            .iter()
            .any(|c| c.vpc_connector_arn == arn && c.status == ACTIVE)
    }

    pub fn observability_is_active(&self, arn: &str) -> bool {
        self.observability.iter().any(|c| {
            c.status == ACTIVE
                && names_revision(
                    arn,
                    "observabilityconfiguration",
                    &c.observability_configuration_name,
                    c.observability_configuration_revision,
                    &c.observability_configuration_arn,
                )
        })
    }
}

fn next_revision<'a>(revisions: impl Iterator<Item = (&'a str, i32)>, name: &str) -> i32 {
    revisions
        .filter(|(n, _)| *n == name)
        .map(|(_, r)| r)
        .max()
        .unwrap_or(0)
        + 1
}

/// Every account has App Runner's `DefaultConfiguration`, revision 1.
pub(crate) fn create_default_auto_scaling(shared: &Shared, state: &mut State) {
    let revision = 1;
    let arn = shared.arn(&format!(
        "autoscalingconfiguration/{DEFAULT_AUTO_SCALING_NAME}/{revision}/{}",
        new_resource_id()
    ));
    state.configs.auto_scaling.push(AutoScalingConfiguration {
        auto_scaling_configuration_arn: arn,
        auto_scaling_configuration_name: DEFAULT_AUTO_SCALING_NAME.into(),
        auto_scaling_configuration_revision: revision,
        latest: true,
        status: ACTIVE.into(),
        max_concurrency: 100,
        min_size: 1,
        max_size: 25,
        created_at: now(),
        deleted_at: None,
        has_associated_service: false,
        is_default: true,
    });
}

// ----- auto scaling configurations -----

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateAutoScaling {
    auto_scaling_configuration_name: String,
    max_concurrency: Option<i32>,
    min_size: Option<i32>,
    max_size: Option<i32>,
    tags: Option<Vec<Tag>>,
}

pub(crate) fn create_auto_scaling(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: CreateAutoScaling = parse(input)?;
    let (min, max) = (
        request.min_size.unwrap_or(1),
        request.max_size.unwrap_or(25),
    );
    if min > max {
        return Err(ApiError::invalid_request(format!(
            "MinSize ({min}) must not be greater than MaxSize ({max})"
        )));
    }
    let mut state = shared.lock();
    let configs = &mut state.configs.auto_scaling;
    let name = request.auto_scaling_configuration_name;
    let revision = next_revision(
        configs.iter().map(|c| {
            (
                c.auto_scaling_configuration_name.as_str(),
                c.auto_scaling_configuration_revision,
            )
        }),
        &name,
    );
    for older in configs
        .iter_mut()
        .filter(|c| c.auto_scaling_configuration_name == name)
    {
        older.latest = false;
    }
    let arn = shared.arn(&format!(
        "autoscalingconfiguration/{name}/{revision}/{}",
        new_resource_id()
    ));
    let config = AutoScalingConfiguration {
        auto_scaling_configuration_arn: arn.clone(),
        auto_scaling_configuration_name: name,
        auto_scaling_configuration_revision: revision,
        latest: true,
        status: ACTIVE.into(),
        max_concurrency: request.max_concurrency.unwrap_or(100),
        min_size: min,
        max_size: max,
        created_at: now(),
        deleted_at: None,
        has_associated_service: false,
        is_default: false,
    };
    configs.push(config.clone());
    state.tags.set(&arn, &request.tags.unwrap_or_default());
    answer(json!({ "AutoScalingConfiguration": config }))
}

fn find_auto_scaling<'a>(
    configs: &'a mut [AutoScalingConfiguration],
    arn: &str,
) -> Result<&'a mut AutoScalingConfiguration, ApiError> {
    let exact = configs
        .iter()
        .position(|c| c.auto_scaling_configuration_arn == arn);
    let index = exact.or_else(|| {
        configs.iter().rposition(|c| {
            c.status == ACTIVE
                && names_revision(
                    arn,
                    "autoscalingconfiguration",
                    &c.auto_scaling_configuration_name,
                    c.auto_scaling_configuration_revision,
                    &c.auto_scaling_configuration_arn,
                )
        })
    });
    index.map(|i| &mut configs[i]).ok_or_else(|| {
        ApiError::not_found(format!("Auto scaling configuration {arn} does not exist"))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AutoScalingArn {
    auto_scaling_configuration_arn: String,
    delete_all_revisions: Option<bool>,
}

pub(crate) fn describe_auto_scaling(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: AutoScalingArn = parse(input)?;
    let mut state = shared.lock();
    let mut config = find_auto_scaling(
        &mut state.configs.auto_scaling,
        &request.auto_scaling_configuration_arn,
    )?
    .clone();
    config.has_associated_service = state.services.iter().any(|s| {
        s.is_live()
            && s.service
                .auto_scaling_configuration_summary
                .auto_scaling_configuration_arn
                == config.auto_scaling_configuration_arn
    });
    answer(json!({ "AutoScalingConfiguration": config }))
}

pub(crate) fn delete_auto_scaling(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: AutoScalingArn = parse(input)?;
    let mut state = shared.lock();
    let configs = &mut state.configs.auto_scaling;
    let target = find_auto_scaling(configs, &request.auto_scaling_configuration_arn)?;
    let name = target.auto_scaling_configuration_name.clone();
    let arn = target.auto_scaling_configuration_arn.clone();
    let deleted_at = now();
    let mut answered = None;
    for config in configs.iter_mut() {
        let chosen = config.auto_scaling_configuration_arn == arn
            || (request.delete_all_revisions == Some(true)
                && config.auto_scaling_configuration_name == name);
        if chosen && config.status == ACTIVE {
            config.status = INACTIVE.into();
            config.deleted_at = Some(deleted_at);
            config.latest = false;
        }
        if config.auto_scaling_configuration_arn == arn {
            answered = Some(config.clone());
        }
    }
    // The newest active revision left becomes the latest.
    if let Some(newest) = configs
        .iter_mut()
        .filter(|c| c.auto_scaling_configuration_name == name && c.status == ACTIVE)
        .max_by_key(|c| c.auto_scaling_configuration_revision)
    {
        newest.latest = true;
    }
    answer(json!({ "AutoScalingConfiguration": answered }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListRevisions {
    #[serde(alias = "ObservabilityConfigurationName")]
    auto_scaling_configuration_name: Option<String>,
    latest_only: Option<bool>,
    max_results: Option<usize>,
    next_token: Option<String>,
}

pub(crate) fn list_auto_scaling(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: ListRevisions = parse(input)?;
    let state = shared.lock();
    let summaries: Vec<AutoScalingConfigurationSummary> = state
        .configs
        .auto_scaling
        .iter()
        .filter(|c| c.status == ACTIVE)
        .filter(|c| {
            request
                .auto_scaling_configuration_name
                .as_ref()
                .is_none_or(|n| *n == c.auto_scaling_configuration_name)
        })
        .filter(|c| !request.latest_only.unwrap_or(true) || c.latest)
        .map(|c| AutoScalingConfigurationSummary {
            auto_scaling_configuration_arn: c.auto_scaling_configuration_arn.clone(),
            auto_scaling_configuration_name: c.auto_scaling_configuration_name.clone(),
            auto_scaling_configuration_revision: c.auto_scaling_configuration_revision,
            status: c.status.clone(),
            created_at: c.created_at,
            has_associated_service: state.services.iter().any(|s| {
                s.is_live()
                    && s.service
                        .auto_scaling_configuration_summary
                        .auto_scaling_configuration_arn
                        == c.auto_scaling_configuration_arn
            }),
            is_default: c.is_default,
        })
        .collect();
    let (page, next) = paginate(
        &summaries,
        request.max_results,
        request.next_token.as_deref(),
    )?;
    answer(json!({ "AutoScalingConfigurationSummaryList": page, "NextToken": next }))
}

// ----- observability configurations -----

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateObservability {
    observability_configuration_name: String,
    trace_configuration: Option<Value>,
    tags: Option<Vec<Tag>>,
}

pub(crate) fn create_observability(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: CreateObservability = parse(input)?;
    let mut state = shared.lock();
    let configs = &mut state.configs.observability;
    let name = request.observability_configuration_name;
    let revision = next_revision(
        configs.iter().map(|c| {
            (
                c.observability_configuration_name.as_str(),
                c.observability_configuration_revision,
            )
        }),
        &name,
    );
    for older in configs
        .iter_mut()
        .filter(|c| c.observability_configuration_name == name)
    {
        older.latest = false;
    }
    let arn = shared.arn(&format!(
        "observabilityconfiguration/{name}/{revision}/{}",
        new_resource_id()
    ));
    let config = ObservabilityConfiguration {
        observability_configuration_arn: arn.clone(),
        observability_configuration_name: name,
        trace_configuration: request.trace_configuration,
        observability_configuration_revision: revision,
        latest: true,
        status: ACTIVE.into(),
        created_at: now(),
        deleted_at: None,
    };
    configs.push(config.clone());
    state.tags.set(&arn, &request.tags.unwrap_or_default());
    answer(json!({ "ObservabilityConfiguration": config }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ObservabilityArn {
    observability_configuration_arn: String,
}

fn find_observability<'a>(
    configs: &'a mut [ObservabilityConfiguration],
    arn: &str,
) -> Result<&'a mut ObservabilityConfiguration, ApiError> {
    let exact = configs
        .iter()
        .position(|c| c.observability_configuration_arn == arn);
    let index = exact.or_else(|| {
        configs.iter().rposition(|c| {
            c.status == ACTIVE
                && names_revision(
                    arn,
                    "observabilityconfiguration",
                    &c.observability_configuration_name,
                    c.observability_configuration_revision,
                    &c.observability_configuration_arn,
                )
        })
    });
    index.map(|i| &mut configs[i]).ok_or_else(|| {
        ApiError::not_found(format!("Observability configuration {arn} does not exist"))
    })
}

pub(crate) fn describe_observability(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: ObservabilityArn = parse(input)?;
    let mut state = shared.lock();
    let config = find_observability(
        &mut state.configs.observability,
        &request.observability_configuration_arn,
    )?;
    answer(json!({ "ObservabilityConfiguration": config }))
}

pub(crate) fn delete_observability(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: ObservabilityArn = parse(input)?;
    let mut state = shared.lock();
    let configs = &mut state.configs.observability;
    let config = find_observability(configs, &request.observability_configuration_arn)?;
    if config.status == ACTIVE {
        config.status = INACTIVE.into();
        config.deleted_at = Some(now());
        config.latest = false;
    }
    let (answered, name) = (
        config.clone(),
        config.observability_configuration_name.clone(),
    );
    if let Some(newest) = configs
        .iter_mut()
        .filter(|c| c.observability_configuration_name == name && c.status == ACTIVE)
        .max_by_key(|c| c.observability_configuration_revision)
    {
        newest.latest = true;
    }
    answer(json!({ "ObservabilityConfiguration": answered }))
}

pub(crate) fn list_observability(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: ListRevisions = parse(input)?;
    let state = shared.lock();
    let summaries: Vec<Value> = state
        .configs
        .observability
        .iter()
        .filter(|c| c.status == ACTIVE)
        .filter(|c| {
            request
                .auto_scaling_configuration_name
                .as_ref()
                .is_none_or(|n| *n == c.observability_configuration_name)
        })
        .filter(|c| !request.latest_only.unwrap_or(true) || c.latest)
        .map(|c| {
            json!({
                "ObservabilityConfigurationArn": c.observability_configuration_arn,
                "ObservabilityConfigurationName": c.observability_configuration_name,
                "ObservabilityConfigurationRevision": c.observability_configuration_revision,
            })
        })
        .collect();
    let (page, next) = paginate(
        &summaries,
        request.max_results,
        request.next_token.as_deref(),
    )?;
    answer(json!({ "ObservabilityConfigurationSummaryList": page, "NextToken": next }))
}

// ----- VPC connectors -----

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateVpcConnector {
    vpc_connector_name: String,
    subnets: Vec<String>,
    security_groups: Option<Vec<String>>,
    tags: Option<Vec<Tag>>,
}

pub(crate) fn create_vpc_connector(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: CreateVpcConnector = parse(input)?;
    if request.subnets.is_empty() || request.subnets.iter().any(String::is_empty) {
        return Err(ApiError::invalid_request(
            "Subnets must name at least one subnet",
        ));
    }
    let security_groups = request.security_groups.unwrap_or_default();
    if security_groups.is_empty() || security_groups.iter().any(String::is_empty) {
        return Err(ApiError::invalid_request(
            "SecurityGroups must name at least one security group",
        ));
    }
    let mut state = shared.lock();
    let name = request.vpc_connector_name;
    let connectors = &mut state.configs.vpc_connectors;
    if connectors
        .iter()
        .any(|c| c.vpc_connector_name == name && c.status == ACTIVE)
    {
        return Err(ApiError::invalid_request(format!(
            "A VPC connector named {name} already exists"
        )));
    }
    let revision = next_revision(
        connectors
            .iter()
            .map(|c| (c.vpc_connector_name.as_str(), c.vpc_connector_revision)),
        &name,
    );
    let arn = shared.arn(&format!(
        "vpcconnector/{name}/{revision}/{}",
        new_resource_id()
    ));
    let connector = VpcConnector {
        vpc_connector_name: name,
        vpc_connector_arn: arn.clone(),
        vpc_connector_revision: revision,
        subnets: request.subnets,
        security_groups,
        status: ACTIVE.into(),
        created_at: now(),
        deleted_at: None,
    };
    connectors.push(connector.clone());
    state.tags.set(&arn, &request.tags.unwrap_or_default());
    answer(json!({ "VpcConnector": connector }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VpcConnectorArn {
    vpc_connector_arn: String,
}

fn find_vpc_connector<'a>(
    connectors: &'a mut [VpcConnector],
    arn: &str,
) -> Result<&'a mut VpcConnector, ApiError> {
    connectors
        .iter_mut()
        .find(|c| c.vpc_connector_arn == arn)
        .ok_or_else(|| ApiError::not_found(format!("VPC connector {arn} does not exist")))
}

pub(crate) fn describe_vpc_connector(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: VpcConnectorArn = parse(input)?;
    let mut state = shared.lock();
    let connector = find_vpc_connector(
        &mut state.configs.vpc_connectors,
        &request.vpc_connector_arn,
    )?;
    answer(json!({ "VpcConnector": connector }))
}

pub(crate) fn delete_vpc_connector(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: VpcConnectorArn = parse(input)?;
    let mut state = shared.lock();
    let in_use = state.services.iter().any(|s| {
        s.is_live()
            && s.service
                .network_configuration
                .egress_configuration
                .as_ref()
                .and_then(|e| e.vpc_connector_arn.as_deref())
                == Some(request.vpc_connector_arn.as_str())
    });
    let connector = find_vpc_connector(
        &mut state.configs.vpc_connectors,
        &request.vpc_connector_arn,
    )?;
    if in_use && connector.status == ACTIVE {
        return Err(ApiError::invalid_request(format!(
            "VPC connector {} is associated with a service",
            request.vpc_connector_arn
        )));
    }
    if connector.status == ACTIVE {
        connector.status = INACTIVE.into();
        connector.deleted_at = Some(now());
    }
    answer(json!({ "VpcConnector": connector }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListPage {
    max_results: Option<usize>,
    next_token: Option<String>,
}

pub(crate) fn list_vpc_connectors(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: ListPage = parse(input)?;
    let state = shared.lock();
    let active: Vec<VpcConnector> = state
        .configs
        .vpc_connectors
        .iter()
        .filter(|c| c.status == ACTIVE)
        .cloned()
        .collect();
    let (page, next) = paginate(&active, request.max_results, request.next_token.as_deref())?;
    answer(json!({ "VpcConnectors": page, "NextToken": next }))
}

// ----- VPC ingress connections -----

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateIngressConnection {
    service_arn: String,
    vpc_ingress_connection_name: String,
    ingress_vpc_configuration: Value,
    tags: Option<Vec<Tag>>,
}

pub(crate) fn create_ingress_connection(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: CreateIngressConnection = parse(input)?;
    for member in ["VpcId", "VpcEndpointId"] {
        if request.ingress_vpc_configuration[member]
            .as_str()
            .is_none_or(str::is_empty)
        {
            return Err(ApiError::invalid_request(format!(
                "IngressVpcConfiguration.{member} is required"
            )));
        }
    }
    let mut state = shared.lock();
    let service = state
        .services
        .iter()
        .find(|s| s.service.service_arn == request.service_arn && s.is_live())
        .ok_or_else(|| {
            ApiError::invalid_request(format!("Service {} does not exist", request.service_arn))
        })?;
    let domain = service.service.service_url.clone();
    let name = request.vpc_ingress_connection_name;
    let connections = &mut state.configs.ingress_connections;
    if connections
        .iter()
        .any(|c| c.vpc_ingress_connection_name == name && c.status != "DELETED")
    {
        return Err(ApiError::invalid_request(format!(
            "A VPC ingress connection named {name} already exists"
        )));
    }
    let arn = shared.arn(&format!(
        "vpcingressconnection/{name}/{}",
        new_resource_id()
    ));
    let connection = VpcIngressConnection {
        vpc_ingress_connection_arn: arn.clone(),
        vpc_ingress_connection_name: name,
        service_arn: request.service_arn,
        status: "PENDING_CREATION".into(),
        account_id: shared.config.account_id.clone(),
        domain_name: domain,
        ingress_vpc_configuration: request.ingress_vpc_configuration,
        created_at: now(),
        deleted_at: None,
    };
    connections.push(connection.clone());
    state.tags.set(&arn, &request.tags.unwrap_or_default());
    settle_ingress_connection(shared, &arn, "AVAILABLE");
    answer(json!({ "VpcIngressConnection": connection }))
}

/// After the operation delay, a pending connection reaches `status`.
fn settle_ingress_connection(shared: &Arc<Shared>, arn: &str, status: &'static str) {
    let (shared, arn) = (shared.clone(), arn.to_owned());
    let delay: Duration = shared.config.operation_delay;
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let mut state = shared.lock();
        if let Some(c) = state
            .configs
            .ingress_connections
            .iter_mut()
            .find(|c| c.vpc_ingress_connection_arn == arn)
        {
            c.status = status.into();
            if status == "DELETED" {
                c.deleted_at = Some(now());
            }
        }
        shared.save(&state);
    });
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IngressConnectionArn {
    vpc_ingress_connection_arn: String,
}

fn find_ingress_connection<'a>(
    connections: &'a mut [VpcIngressConnection],
    arn: &str,
) -> Result<&'a mut VpcIngressConnection, ApiError> {
    connections
        .iter_mut()
        .find(|c| c.vpc_ingress_connection_arn == arn)
        .ok_or_else(|| ApiError::not_found(format!("VPC ingress connection {arn} does not exist")))
}

pub(crate) fn describe_ingress_connection(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: IngressConnectionArn = parse(input)?;
    let mut state = shared.lock();
    let connection = find_ingress_connection(
        &mut state.configs.ingress_connections,
        &request.vpc_ingress_connection_arn,
    )?;
    answer(json!({ "VpcIngressConnection": connection }))
}

pub(crate) fn delete_ingress_connection(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: IngressConnectionArn = parse(input)?;
    let mut state = shared.lock();
    let connection = find_ingress_connection(
        &mut state.configs.ingress_connections,
        &request.vpc_ingress_connection_arn,
    )?;
    if connection.status != "AVAILABLE" && !connection.status.starts_with("FAILED") {
        return Err(ApiError::invalid_state(format!(
            "VPC ingress connection {} is {}",
            request.vpc_ingress_connection_arn, connection.status
        )));
    }
    connection.status = "PENDING_DELETION".into();
    let answered = connection.clone();
    drop(state);
    settle_ingress_connection(shared, &request.vpc_ingress_connection_arn, "DELETED");
    answer(json!({ "VpcIngressConnection": answered }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListIngressConnections {
    filter: Option<IngressFilter>,
    max_results: Option<usize>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IngressFilter {
    service_arn: Option<String>,
    vpc_endpoint_id: Option<String>,
}

pub(crate) fn list_ingress_connections(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: ListIngressConnections = parse(input)?;
    let state = shared.lock();
    let filter = request.filter.unwrap_or(IngressFilter {
        service_arn: None,
        vpc_endpoint_id: None,
    });
    let summaries: Vec<Value> = state
        .configs
        .ingress_connections
        .iter()
        .filter(|c| c.status != "DELETED")
        .filter(|c| filter.service_arn.as_ref().is_none_or(|s| *s == c.service_arn))
        .filter(|c| {
            filter.vpc_endpoint_id.as_ref().is_none_or(|e| c.ingress_vpc_configuration["VpcEndpointId"] == e.as_str())
        })
        .map(|c| json!({ "VpcIngressConnectionArn": c.vpc_ingress_connection_arn, "ServiceArn": c.service_arn }))
        .collect();
    let (page, next) = paginate(
        &summaries,
        request.max_results,
        request.next_token.as_deref(),
    )?;
    answer(json!({ "VpcIngressConnectionSummaryList": page, "NextToken": next }))
}
