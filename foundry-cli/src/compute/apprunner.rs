//! AWS App Runner as a compute target: a release is an `UpdateService` of
//! the service's source configuration (image, env, secrets), followed through
//! `DescribeService` and `ListOperations`. App Runner itself keeps the
//! previous version serving when the new one fails its health check, and
//! reports the operation as `ROLLBACK_SUCCEEDED`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_apprunner::types::{
    ImageConfiguration, ImageRepository, ImageRepositoryType, OperationStatus, Service,
    ServiceStatus, SourceConfiguration,
};

use super::{
    Compute, ComputeError, Operation, PlatformState, RequestMetrics, Rollout, RunSpec, Running,
    ScalingState, ServiceNames,
};
use crate::aws::{Aws, AwsError, SdkResultExt};

/// App Runner deployments take minutes; give up on one after this long.
const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub struct AppRunner {
    aws: Aws,
    /// Stack service name → App Runner service name.
    names: ServiceNames,
}

impl AppRunner {
    pub fn new(aws: Aws, names: ServiceNames) -> Self {
        Self { aws, names }
    }

    fn platform_name<'a>(&'a self, service: &'a str) -> &'a str {
        self.names.get(service).map_or(service, String::as_str)
    }

    /// The service's ARN, found by its name (one listing).
    async fn arn(&self, service: &str) -> Result<Option<String>, AwsError> {
        let name = self.platform_name(service);
        let mut pages = self.aws.apprunner.list_services().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.or_aws("ListServices")?;
            if let Some(summary) = page
                .service_summary_list()
                .iter()
                .find(|s| s.service_name() == Some(name))
            {
                return Ok(summary.service_arn().map(str::to_owned));
            }
        }
        Ok(None)
    }

    async fn describe(&self, arn: &str) -> Result<Option<Service>, AwsError> {
        let out = AwsError::none_if_not_found(
            self.aws
                .apprunner
                .describe_service()
                .service_arn(arn)
                .send()
                .await
                .or_aws("DescribeService"),
        )?;
        Ok(out.and_then(|o| o.service))
    }

    async fn require(&self, service: &str) -> Result<(String, Service), ComputeError> {
        let missing = || ComputeError::Missing {
            service: service.to_owned(),
            target: self.name(),
        };
        let arn = self.arn(service).await?.ok_or_else(missing)?;
        let described = self.describe(&arn).await?.ok_or_else(missing)?;
        Ok((arn, described))
    }
}

/// What a described service runs.
fn run_spec(service: &Service) -> RunSpec {
    let repository = service
        .source_configuration()
        .and_then(|s| s.image_repository());
    let config = repository.and_then(|r| r.image_configuration());
    let sorted = |m: Option<&HashMap<String, String>>| -> BTreeMap<String, String> {
        m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    };
    RunSpec {
        image: repository
            .map(|r| r.image_identifier().to_owned())
            .unwrap_or_default(),
        env: sorted(config.and_then(|c| c.runtime_environment_variables())),
        secrets: sorted(config.and_then(|c| c.runtime_environment_secrets())),
    }
}

#[async_trait]
impl Compute for AppRunner {
    fn name(&self) -> &'static str {
        "App Runner"
    }

    async fn settle(&self, service: &str) -> Result<(), ComputeError> {
        let Some(arn) = self.arn(service).await? else {
            return Ok(());
        };
        crate::aws::wait::until(
            &format!("App Runner service {service} to finish its operation in progress"),
            &[
                "RUNNING",
                "CREATE_FAILED",
                "PAUSED",
                "DELETED",
                "DELETE_FAILED",
                "gone",
            ],
            &[],
            ROLLOUT_TIMEOUT,
            || async {
                Ok(self
                    .describe(&arn)
                    .await?
                    .map(|s| (s.status().as_str().to_owned(), String::new())))
            },
        )
        .await?;
        Ok(())
    }

    async fn running(&self, service: &str) -> Result<Option<Running>, ComputeError> {
        let Some(arn) = self.arn(service).await? else {
            return Ok(None);
        };
        Ok(self.describe(&arn).await?.map(|described| Running {
            id: arn,
            url: described.service_url().map(str::to_owned),
            spec: run_spec(&described),
        }))
    }

    async fn start(&self, service: &str, spec: &RunSpec) -> Result<String, ComputeError> {
        let (arn, described) = self.require(service).await?;
        let source = described.source_configuration();
        let current = source.and_then(|s| s.image_repository());
        // Only what a release owns changes; the port, the access role and
        // automatic deployments (off) stay as `up` made them.
        let port = current
            .and_then(|r| r.image_configuration())
            .and_then(|c| c.port())
            .map(str::to_owned);
        let image = ImageRepository::builder()
            .image_identifier(&spec.image)
            .image_repository_type(ImageRepositoryType::Ecr)
            .image_configuration(
                ImageConfiguration::builder()
                    .set_port(port)
                    .set_runtime_environment_variables(Some(spec.env.clone().into_iter().collect()))
                    .set_runtime_environment_secrets(Some(
                        spec.secrets.clone().into_iter().collect(),
                    ))
                    .build(),
            )
            .build()
            .map_err(|e| AwsError::Api {
                operation: "UpdateService",
                code: None,
                message: e.to_string(),
            })?;
        let source = SourceConfiguration::builder()
            .image_repository(image)
            .auto_deployments_enabled(false)
            .set_authentication_configuration(
                source
                    .and_then(|s| s.authentication_configuration())
                    .cloned(),
            )
            .build();
        let out = self
            .aws
            .apprunner
            .update_service()
            .service_arn(&arn)
            .source_configuration(source)
            .send()
            .await
            .or_aws("UpdateService")?;
        Ok(out.operation_id().to_owned())
    }

    async fn follow(
        &self,
        service: &str,
        handle: &str,
        tick: &(dyn for<'s> Fn(&'s str) + Sync),
    ) -> Result<Rollout, ComputeError> {
        let arn = self
            .arn(service)
            .await?
            .ok_or_else(|| ComputeError::Missing {
                service: service.to_owned(),
                target: self.name(),
            })?;
        let start = Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            let operation = self.operation(&arn, handle).await?;
            let status = operation
                .as_ref()
                .and_then(|o| o.status())
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|| "PENDING".into());
            tick(&status);
            match operation.as_ref().and_then(|o| o.status()) {
                Some(OperationStatus::Succeeded) => return Ok(Rollout::Succeeded),
                Some(
                    OperationStatus::Failed
                    | OperationStatus::RollbackSucceeded
                    | OperationStatus::RollbackFailed,
                ) => {
                    return Ok(Rollout::Failed {
                        reason: format!(
                            "App Runner operation {handle} ended {status}: the new version did not pass App Runner's health check, and App Runner kept the previous one serving"
                        ),
                    });
                }
                _ => {}
            }
            if start.elapsed() > ROLLOUT_TIMEOUT {
                return Err(AwsError::WaitTimeout {
                    what: format!("App Runner operation {handle} on {service}"),
                    state: status,
                    waited: ROLLOUT_TIMEOUT,
                }
                .into());
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    async fn state(&self, service: &str) -> Result<Option<PlatformState>, ComputeError> {
        let Some(arn) = self.arn(service).await? else {
            return Ok(None);
        };
        let Some(described) = self.describe(&arn).await? else {
            return Ok(None);
        };
        let rfc3339 = |t: Option<&aws_smithy_types::DateTime>| {
            t.and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
        };
        let last_operation = self.newest_operation(&arn).await?.map(|o| Operation {
            id: o.id().unwrap_or_default().to_owned(),
            kind: o
                .r#type()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
            status: o
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            started_at: rfc3339(o.started_at()),
            ended_at: rfc3339(o.ended_at()),
        });
        Ok(Some(PlatformState {
            status: described.status().as_str().to_owned(),
            settled: described.status() == &ServiceStatus::Running,
            last_operation,
            scaling: self.scaling(&described).await?,
        }))
    }

    async fn log_group(&self, service: &str) -> Result<Option<String>, ComputeError> {
        let Some(arn) = self.arn(service).await? else {
            return Ok(None);
        };
        Ok(self.describe(&arn).await?.map(|s| {
            format!(
                "/aws/apprunner/{}/{}/application",
                s.service_name(),
                s.service_id()
            )
        }))
    }

    async fn request_metrics(&self, service: &str) -> Result<Option<RequestMetrics>, ComputeError> {
        let Some(arn) = self.arn(service).await? else {
            return Ok(None);
        };
        // App Runner's service-level metrics (AWS/AppRunner, per
        // ServiceName and ServiceID).
        Ok(self.describe(&arn).await?.map(|s| RequestMetrics {
            namespace: "AWS/AppRunner",
            dimensions: vec![
                ("ServiceName", s.service_name().to_owned()),
                ("ServiceID", s.service_id().to_owned()),
            ],
            requests: "Requests",
            errors_5xx: "5xxStatusResponses",
            latency: "RequestLatency",
            latency_to_ms: 1.0,
        }))
    }
}

impl AppRunner {
    /// The newest operation of a service (`ListOperations` answers newest first).
    async fn newest_operation(
        &self,
        arn: &str,
    ) -> Result<Option<aws_sdk_apprunner::types::OperationSummary>, AwsError> {
        let out = self
            .aws
            .apprunner
            .list_operations()
            .service_arn(arn)
            .max_results(1)
            .send()
            .await
            .or_aws("ListOperations")?;
        Ok(out.operation_summary_list().first().cloned())
    }

    async fn scaling(&self, service: &Service) -> Result<Option<ScalingState>, AwsError> {
        let Some(arn) = service
            .auto_scaling_configuration_summary()
            .and_then(|s| s.auto_scaling_configuration_arn())
        else {
            return Ok(None);
        };
        let out = self
            .aws
            .apprunner
            .describe_auto_scaling_configuration()
            .auto_scaling_configuration_arn(arn)
            .send()
            .await
            .or_aws("DescribeAutoScalingConfiguration")?;
        Ok(out.auto_scaling_configuration().map(|c| ScalingState {
            min: c.min_size().unwrap_or_default(),
            max: c.max_size().unwrap_or_default(),
            current: None,
        }))
    }

    /// One operation of a service, from `ListOperations` (newest first).
    async fn operation(
        &self,
        arn: &str,
        id: &str,
    ) -> Result<Option<aws_sdk_apprunner::types::OperationSummary>, AwsError> {
        let mut pages = self
            .aws
            .apprunner
            .list_operations()
            .service_arn(arn)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.or_aws("ListOperations")?;
            if let Some(found) = page
                .operation_summary_list()
                .iter()
                .find(|o| o.id() == Some(id))
            {
                return Ok(Some(found.clone()));
            }
        }
        Ok(None)
    }
}
