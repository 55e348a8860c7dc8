//! The API's shapes the emulator keeps and answers with, as serde types named
//! and cased as in the model. Members the emulator only stores and echoes
//! (code repositories, encryption) stay JSON values; nulls are stripped from
//! every answer, so an absent `Option` is an absent member. The same types
//! are what `persist` writes to `state.json` and reads back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Seconds since 1970 with fractions: how awsJson 1.0 sends timestamps.
pub(crate) type Timestamp = f64;

pub(crate) fn now() -> Timestamp {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| (d.as_millis() as f64) / 1000.0)
        .unwrap_or_default()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Tag {
    pub key: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SourceConfiguration {
    pub code_repository: Option<Value>,
    pub image_repository: Option<ImageRepository>,
    pub auto_deployments_enabled: Option<bool>,
    pub authentication_configuration: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ImageRepository {
    pub image_identifier: String,
    pub image_configuration: Option<ImageConfiguration>,
    pub image_repository_type: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ImageConfiguration {
    pub runtime_environment_variables: Option<BTreeMap<String, String>>,
    pub start_command: Option<String>,
    pub port: Option<String>,
    pub runtime_environment_secrets: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InstanceConfiguration {
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub instance_role_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct HealthCheckConfiguration {
    pub protocol: Option<String>,
    pub path: Option<String>,
    pub interval: Option<u32>,
    pub timeout: Option<u32>,
    pub healthy_threshold: Option<u32>,
    pub unhealthy_threshold: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct NetworkConfiguration {
    pub egress_configuration: Option<EgressConfiguration>,
    pub ingress_configuration: Option<IngressConfiguration>,
    pub ip_address_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EgressConfiguration {
    pub egress_type: Option<String>,
    pub vpc_connector_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct IngressConfiguration {
    pub is_publicly_accessible: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ServiceObservabilityConfiguration {
    pub observability_enabled: bool,
    pub observability_configuration_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AutoScalingConfigurationSummary {
    pub auto_scaling_configuration_arn: String,
    pub auto_scaling_configuration_name: String,
    pub auto_scaling_configuration_revision: i32,
    pub status: String,
    pub created_at: Timestamp,
    pub has_associated_service: bool,
    pub is_default: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Service {
    pub service_name: String,
    pub service_id: String,
    pub service_arn: String,
    pub service_url: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
    pub status: String,
    pub source_configuration: SourceConfiguration,
    pub instance_configuration: InstanceConfiguration,
    pub encryption_configuration: Option<Value>,
    pub health_check_configuration: Option<HealthCheckConfiguration>,
    pub auto_scaling_configuration_summary: AutoScalingConfigurationSummary,
    pub network_configuration: NetworkConfiguration,
    pub observability_configuration: Option<ServiceObservabilityConfiguration>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ServiceSummary {
    pub service_name: String,
    pub service_id: String,
    pub service_arn: String,
    pub service_url: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub status: String,
}

impl From<&Service> for ServiceSummary {
    fn from(s: &Service) -> Self {
        ServiceSummary {
            service_name: s.service_name.clone(),
            service_id: s.service_id.clone(),
            service_arn: s.service_arn.clone(),
            service_url: s.service_url.clone(),
            created_at: s.created_at,
            updated_at: s.updated_at,
            status: s.status.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct OperationSummary {
    pub id: String,
    #[serde(rename = "Type")]
    pub kind: String,
    pub status: String,
    pub target_arn: String,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AutoScalingConfiguration {
    pub auto_scaling_configuration_arn: String,
    pub auto_scaling_configuration_name: String,
    pub auto_scaling_configuration_revision: i32,
    pub latest: bool,
    pub status: String,
    pub max_concurrency: i32,
    pub min_size: i32,
    pub max_size: i32,
    pub created_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
    pub has_associated_service: bool,
    pub is_default: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct VpcConnector {
    pub vpc_connector_name: String,
    pub vpc_connector_arn: String,
    pub vpc_connector_revision: i32,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub status: String,
    pub created_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ObservabilityConfiguration {
    pub observability_configuration_arn: String,
    pub observability_configuration_name: String,
    pub trace_configuration: Option<Value>,
    pub observability_configuration_revision: i32,
    pub latest: bool,
    pub status: String,
    pub created_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct VpcIngressConnection {
    pub vpc_ingress_connection_arn: String,
    pub vpc_ingress_connection_name: String,
    pub service_arn: String,
    pub status: String,
    pub account_id: String,
    pub domain_name: Option<String>,
    pub ingress_vpc_configuration: Value,
    pub created_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
}
