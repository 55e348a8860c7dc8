//! ECS Fargate as a compute target: a release is a task definition revision
//! (the running revision's shape with the release's image, env and secret
//! ARNs) and an `UpdateService` to it, followed through the service's
//! deployments (`rolloutState`, the circuit breaker's verdict) and then the
//! target group's health. A revision already registered with the same
//! shape and payload is used again, so a rollback registers nothing. The
//! circuit breaker (rollback on) puts the previous revision back by itself
//! when the new tasks fail; foundry then reports the rollout failed.
//!
//! Where it answers: the load balancer in front of the service, `https://`
//! when its listener speaks HTTPS, `http://` otherwise.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_applicationautoscaling::types::ServiceNamespace;
use aws_sdk_ecs::types::{Deployment, Service, TaskDefinition};
use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetHealthStateEnum};

use super::{
    Compute, ComputeError, Operation, PlatformState, RequestMetrics, Rollout, RunSpec, Running,
    ScalingState, ServiceNames,
};
use crate::aws::ecs::{self, Payload, ROLLOUT_TIMEOUT, Shape};
use crate::aws::{Aws, AwsError, SdkResultExt, elb};

/// How many of a family's newest revisions a rollout looks through for one
/// it can use again.
const REUSE_WINDOW: usize = 25;

pub struct Ecs {
    aws: Aws,
    cluster: String,
    /// Stack service name → ECS service name.
    names: ServiceNames,
}

impl Ecs {
    pub fn new(aws: Aws, cluster: String, names: ServiceNames) -> Self {
        Self {
            aws,
            cluster,
            names,
        }
    }

    fn platform_name<'a>(&'a self, service: &'a str) -> &'a str {
        self.names.get(service).map_or(service, String::as_str)
    }

    /// The ACTIVE service, `None` when it does not exist.
    async fn describe(&self, service: &str) -> Result<Option<Service>, AwsError> {
        let out = match self
            .aws
            .ecs
            .describe_services()
            .cluster(&self.cluster)
            .services(self.platform_name(service))
            .send()
            .await
            .or_aws("DescribeServices")
        {
            Err(e) if e.is_not_found() => return Ok(None),
            other => other?,
        };
        Ok(out
            .services()
            .iter()
            .find(|s| s.status() == Some("ACTIVE"))
            .cloned())
    }

    async fn require(&self, service: &str) -> Result<Service, ComputeError> {
        self.describe(service)
            .await?
            .ok_or_else(|| ComputeError::Missing {
                service: service.to_owned(),
                target: self.name(),
            })
    }

    async fn task(&self, arn: &str) -> Result<Option<TaskDefinition>, AwsError> {
        Ok(ecs::describe_task_definition(&self.aws, arn)
            .await?
            .map(|(t, _)| t))
    }

    /// The ARN of the load balancer in front of `described` (through its
    /// target group), `None` when it has none.
    async fn load_balancer_arn(&self, described: &Service) -> Result<Option<String>, AwsError> {
        let Some(target_group) = target_group(described) else {
            return Ok(None);
        };
        let groups = AwsError::none_if_not_found(
            self.aws
                .elb
                .describe_target_groups()
                .target_group_arns(target_group)
                .send()
                .await
                .or_aws("DescribeTargetGroups"),
        )?;
        Ok(groups
            .as_ref()
            .and_then(|g| g.target_groups().first())
            .and_then(|g| g.load_balancer_arns().first())
            .cloned())
    }

    /// `scheme://dns-name` of the service's load balancer.
    async fn url(&self, described: &Service) -> Result<Option<String>, AwsError> {
        let Some(lb) = self.load_balancer_arn(described).await? else {
            return Ok(None);
        };
        let lbs = AwsError::none_if_not_found(
            self.aws
                .elb
                .describe_load_balancers()
                .load_balancer_arns(&lb)
                .send()
                .await
                .or_aws("DescribeLoadBalancers"),
        )?;
        let Some(dns) = lbs
            .as_ref()
            .and_then(|l| l.load_balancers().first())
            .and_then(|l| l.dns_name())
        else {
            return Ok(None);
        };
        let listeners = self
            .aws
            .elb
            .describe_listeners()
            .load_balancer_arn(&lb)
            .send()
            .await
            .or_aws("DescribeListeners")?;
        let https = listeners
            .listeners()
            .iter()
            .any(|l| l.protocol() == Some(&ProtocolEnum::Https));
        Ok(Some(format!(
            "{}://{dns}",
            if https { "https" } else { "http" }
        )))
    }

    /// An ACTIVE revision of `family` with this shape and payload, newest
    /// first, among the last [`REUSE_WINDOW`].
    async fn reusable(
        &self,
        family: &str,
        shape: &Shape,
        payload: &Payload,
    ) -> Result<Option<String>, AwsError> {
        for arn in ecs::revisions(&self.aws, family)
            .await?
            .into_iter()
            .take(REUSE_WINDOW)
        {
            if let Some(task) = self.task(&arn).await?
                && Shape::of(&task) == *shape
                && Payload::of(&task) == *payload
            {
                return Ok(Some(arn));
            }
        }
        Ok(None)
    }

    /// Targets of the service's target group the load balancer finds
    /// unhealthy, with its reasons.
    async fn unhealthy_targets(&self, described: &Service) -> Result<Vec<String>, AwsError> {
        let Some(target_group) = target_group(described) else {
            return Ok(Vec::new());
        };
        let out = self
            .aws
            .elb
            .describe_target_health()
            .target_group_arn(target_group)
            .send()
            .await
            .or_aws("DescribeTargetHealth")?;
        Ok(out
            .target_health_descriptions()
            .iter()
            .filter_map(|d| {
                let health = d.target_health()?;
                (health.state() == Some(&TargetHealthStateEnum::Unhealthy)).then(|| {
                    format!(
                        "{}: {}",
                        d.target().and_then(|t| t.id()).unwrap_or_default(),
                        health.description().unwrap_or("unhealthy")
                    )
                })
            })
            .collect())
    }
}

/// The target group ECS registers `described`'s tasks in.
fn target_group(described: &Service) -> Option<&str> {
    described
        .load_balancers()
        .first()
        .and_then(|l| l.target_group_arn())
}

fn deployment_of<'a>(described: &'a Service, task_definition: &str) -> Option<&'a Deployment> {
    described
        .deployments()
        .iter()
        .find(|d| d.task_definition() == Some(task_definition))
}

#[async_trait]
impl Compute for Ecs {
    fn name(&self) -> &'static str {
        "ECS"
    }

    async fn settle(&self, service: &str) -> Result<(), ComputeError> {
        crate::aws::wait::until(
            &format!("ECS service {service} to finish its deployment in progress"),
            &["settled", "gone"],
            &[],
            ROLLOUT_TIMEOUT,
            || async {
                Ok(self.describe(service).await?.map(|s| {
                    let busy = s.deployments().iter().any(|d| {
                        d.rollout_state()
                            .is_some_and(|r| r.as_str() == "IN_PROGRESS")
                    });
                    let state = if busy { "IN_PROGRESS" } else { "settled" };
                    (state.to_string(), String::new())
                }))
            },
        )
        .await?;
        Ok(())
    }

    async fn running(&self, service: &str) -> Result<Option<Running>, ComputeError> {
        let Some(described) = self.describe(service).await? else {
            return Ok(None);
        };
        let revision = described.task_definition().unwrap_or_default();
        let Some(task) = self.task(revision).await? else {
            return Ok(None);
        };
        let payload = Payload::of(&task);
        Ok(Some(Running {
            id: described.service_arn().unwrap_or_default().to_owned(),
            url: self.url(&described).await?,
            spec: RunSpec {
                image: payload.image,
                env: payload.env,
                secrets: payload.secrets,
            },
        }))
    }

    /// Returns the task definition revision rolled out to.
    async fn start(&self, service: &str, spec: &RunSpec) -> Result<String, ComputeError> {
        let described = self.require(service).await?;
        let current = described.task_definition().unwrap_or_default();
        let (task, tags) = ecs::describe_task_definition(&self.aws, current)
            .await?
            .ok_or_else(|| ComputeError::Missing {
                service: service.to_owned(),
                target: self.name(),
            })?;
        let family = task.family().unwrap_or_default().to_owned();
        let shape = Shape::of(&task);
        let payload = Payload {
            image: spec.image.clone(),
            env: spec.env.clone(),
            secrets: spec.secrets.clone(),
        };
        let revision = match self.reusable(&family, &shape, &payload).await? {
            Some(arn) => arn,
            None => {
                // Tagged as the revision it follows.
                let scope = crate::vocab::Scope::new(
                    tag(&tags, crate::vocab::Scope::STACK_TAG),
                    tag(&tags, crate::vocab::Scope::ENV_TAG),
                );
                let id = tag(&tags, crate::vocab::Scope::ID_TAG);
                ecs::register(&self.aws, &scope, &id, &family, &shape, &payload).await?
            }
        };
        if revision != current {
            self.aws
                .ecs
                .update_service()
                .cluster(&self.cluster)
                .service(self.platform_name(service))
                .task_definition(&revision)
                .send()
                .await
                .or_aws("UpdateService")?;
        }
        Ok(revision)
    }

    async fn follow(
        &self,
        service: &str,
        handle: &str,
        tick: &(dyn for<'s> Fn(&'s str) + Sync),
    ) -> Result<Rollout, ComputeError> {
        let start = Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            let described = self.require(service).await?;
            let primary = described
                .deployments()
                .iter()
                .find(|d| d.status() == Some("PRIMARY"));
            let ours = deployment_of(&described, handle);
            let state = ours
                .and_then(|d| d.rollout_state())
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|| "PENDING".into());
            tick(&state);
            let reason = ours
                .and_then(|d| d.rollout_state_reason())
                .unwrap_or_default()
                .to_owned();
            let events = || {
                described
                    .events()
                    .iter()
                    .take(3)
                    .filter_map(|e| e.message())
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            match state.as_str() {
                "FAILED" => {
                    return Ok(Rollout::Failed {
                        reason: format!(
                            "ECS deployment to {handle} failed ({reason}); the circuit breaker put the previous revision back. Latest events: {}",
                            events()
                        ),
                    });
                }
                "COMPLETED" if primary.and_then(|p| p.task_definition()) == Some(handle) => {
                    let unhealthy = self.unhealthy_targets(&described).await?;
                    if !unhealthy.is_empty() {
                        return Ok(Rollout::Failed {
                            reason: format!(
                                "the load balancer finds {} target(s) of {service} unhealthy: {}",
                                unhealthy.len(),
                                unhealthy.join("; ")
                            ),
                        });
                    }
                    return Ok(Rollout::Succeeded);
                }
                _ => {}
            }
            // Another revision took over without ours completing: the
            // circuit breaker rolled it back.
            if ours.is_none() && start.elapsed() > Duration::from_secs(5) {
                return Ok(Rollout::Failed {
                    reason: format!(
                        "ECS no longer deploys {handle}; the service runs {}. Latest events: {}",
                        described.task_definition().unwrap_or_default(),
                        events()
                    ),
                });
            }
            if start.elapsed() > ROLLOUT_TIMEOUT {
                return Err(AwsError::WaitTimeout {
                    what: format!("ECS deployment of {handle} on {service}"),
                    state,
                    waited: ROLLOUT_TIMEOUT,
                }
                .into());
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    async fn state(&self, service: &str) -> Result<Option<PlatformState>, ComputeError> {
        let Some(described) = self.describe(service).await? else {
            return Ok(None);
        };
        let rfc3339 = |t: Option<&aws_smithy_types::DateTime>| {
            t.and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
        };
        let newest = described
            .deployments()
            .iter()
            .max_by_key(|d| d.created_at().map(|t| t.as_nanos()));
        let last_operation = newest.map(|d| Operation {
            id: d.id().unwrap_or_default().to_owned(),
            kind: "DEPLOYMENT".into(),
            status: d
                .rollout_state()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            started_at: rfc3339(d.created_at()),
            ended_at: rfc3339(d.updated_at()),
        });
        let settled = described.deployments().len() == 1
            && newest
                .and_then(|d| d.rollout_state())
                .is_some_and(|s| s.as_str() == "COMPLETED");
        let resource_id = format!(
            "service/{}/{}",
            self.cluster,
            described.service_name().unwrap_or_default()
        );
        let targets = self
            .aws
            .autoscaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_ids(&resource_id)
            .send()
            .await
            .or_aws("DescribeScalableTargets")?;
        let scaling = targets.scalable_targets().first().map(|t| ScalingState {
            min: t.min_capacity(),
            max: t.max_capacity(),
            current: Some(described.running_count()),
        });
        Ok(Some(PlatformState {
            status: described.status().unwrap_or_default().to_owned(),
            settled,
            last_operation,
            scaling,
        }))
    }

    async fn log_group(&self, service: &str) -> Result<Option<String>, ComputeError> {
        let Some(described) = self.describe(service).await? else {
            return Ok(None);
        };
        let revision = described.task_definition().unwrap_or_default();
        Ok(self
            .task(revision)
            .await?
            .map(|t| Shape::of(&t).log_group)
            .filter(|g| !g.is_empty()))
    }

    async fn request_metrics(&self, service: &str) -> Result<Option<RequestMetrics>, ComputeError> {
        let Some(described) = self.describe(service).await? else {
            return Ok(None);
        };
        let (Some(target_group), Some(lb)) = (
            target_group(&described),
            self.load_balancer_arn(&described).await?,
        ) else {
            return Ok(None);
        };
        // The load balancer's per-target-group metrics (AWS/ApplicationELB).
        Ok(Some(RequestMetrics {
            namespace: "AWS/ApplicationELB",
            dimensions: vec![
                ("LoadBalancer", elb::dimension(&lb).to_owned()),
                ("TargetGroup", elb::dimension(target_group).to_owned()),
            ],
            requests: "RequestCount",
            errors_5xx: "HTTPCode_Target_5XX_Count",
            latency: "TargetResponseTime",
            latency_to_ms: 1000.0,
        }))
    }
}

fn tag(tags: &[aws_sdk_ecs::types::Tag], key: &str) -> String {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
        .unwrap_or_default()
        .to_owned()
}
