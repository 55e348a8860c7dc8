//! AWS access: SDK configuration (credential chain, endpoints, retries), the
//! request counter behind `--stats`, and the one place SDK errors become
//! messages a person can act on. Per-service find helpers live in the
//! service's submodule; `wait` is the one polling loop.

pub mod apprunner;
pub mod cloudfront;
pub mod cloudwatch;
pub mod ec2;
pub mod ecr;
pub mod ecs;
pub mod elb;
pub mod fault;
pub mod rds;
pub mod s3;
pub mod wait;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::display::DisplayErrorContext;

/// Where requests go.
#[derive(Debug, Clone)]
pub enum Target {
    /// The standard chain: env, profiles, SSO; `AWS_ENDPOINT_URL` and
    /// `AWS_ENDPOINT_URL_<SERVICE>` honoured by the SDK itself.
    Aws,
    /// The local stand-ins foundry manages (`--local`), with fixed dummy
    /// keys: moto for every API, except App Runner (its emulator) and the
    /// ECR registry's pushes (a local registry) when the stack has services.
    Local {
        endpoint: String,
        apprunner: Option<String>,
        registry: Option<String>,
    },
}

/// Attempts the SDK makes per call (the first and its retries): its retry
/// budget, after which foundry's own check-then-retry takes over.
pub const SDK_ATTEMPTS: u32 = 6;

/// Codes AWS answers when it is throttling the caller, across services.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "TooManyRequestsException",
    "PriorRequestNotComplete",
    "BandwidthLimitExceeded",
];

/// Codes of a server-side failure that a later attempt may not meet.
const UNAVAILABLE_CODES: &[&str] = &[
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "Unavailable",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServiceError",
    "RequestTimeout",
    "RequestTimeoutException",
];

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("{operation} failed: {message}")]
    Api {
        operation: &'static str,
        code: Option<String>,
        message: String,
    },
    #[error(
        "{operation} failed: {message}. AWS kept refusing through the whole retry budget ({SDK_ATTEMPTS} attempts per call, then foundry's own retries). What finished is recorded: wait a minute and run the command again, or lower --concurrency (default 8) so that fewer calls run at once."
    )]
    Throttled {
        operation: &'static str,
        code: String,
        message: String,
    },
    #[error(
        "could not reach AWS for {operation}, or its answer was lost ({detail}). Check the network connection, and AWS_ENDPOINT_URL if you set it; with --local, `foundry local status` tells whether the emulator runs. What finished is recorded: a rerun completes the rest."
    )]
    Unreachable {
        operation: &'static str,
        detail: String,
    },
    #[error(
        "no usable AWS credentials: {detail}. Set AWS_PROFILE (and run `aws sso login` for SSO profiles) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use --local to run against the local emulator."
    )]
    Credentials { detail: String },
    #[error(
        "gave up waiting for {what} after {waited:?}; it is still {state}. Run the command again to keep waiting."
    )]
    WaitTimeout {
        what: String,
        state: String,
        waited: Duration,
    },
    #[error(transparent)]
    Property(#[from] crate::vocab::PropError),
    #[error("{what} ended in state `{state}`{reason}")]
    BadState {
        what: String,
        state: String,
        reason: String,
    },
}

impl AwsError {
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Api { code, .. } => code.as_deref(),
            AwsError::Throttled { code, .. } => Some(code),
            _ => None,
        }
    }

    /// AWS says the thing is already gone; deletes treat that as success.
    pub fn is_not_found(&self) -> bool {
        self.code().is_some_and(|c| {
            // EC2's `InvalidVpcID.NotFound`, RDS's `DBInstanceNotFound` and
            // `DBSubnetGroupNotFoundFault`, the JSON services' exceptions.
            c.ends_with("NotFound")
                || c.ends_with("NotFoundFault")
                || c.ends_with("NotFoundException")
                || matches!(
                    c,
                    "NoSuchEntity"
                        | "NoSuchBucket"
                        | "NoSuchDistribution"
                        | "NoSuchOriginAccessControl"
                        | "NoSuchFunctionExists"
                        | "NoSuchResource"
                )
        })
    }

    /// The call may succeed if made again: AWS throttled it or failed on its
    /// side, or the connection broke (the request may then have been carried
    /// out without foundry hearing of it).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            AwsError::Unreachable { .. } | AwsError::Throttled { .. }
        ) || self.code().is_some_and(|c| UNAVAILABLE_CODES.contains(&c))
    }

    /// AWS says the thing to create exists already: after a lost response,
    /// usually the one this very run created.
    pub fn is_already_exists(&self) -> bool {
        self.code().is_some_and(|c| {
            c.contains("AlreadyExists")
                || c.ends_with(".Duplicate")
                || matches!(
                    c,
                    "ResourceExistsException"
                        | "BucketAlreadyOwnedByYou"
                        | "EntityAlreadyExists"
                        | "DBSubnetGroupAlreadyExists"
                        | "DBParameterGroupAlreadyExists"
                        | "DBInstanceAlreadyExists"
                        | "RouteAlreadyExists"
                        | "Resource.AlreadyAssociated"
                )
        })
    }

    /// `Ok(None)` when AWS says the thing does not exist: for reads that
    /// ask after something which may already be gone.
    pub fn none_if_not_found<T>(result: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
        match result {
            Err(e) if e.is_not_found() => Ok(None),
            other => other.map(Some),
        }
    }

    /// Turns an SDK error into one sentence naming the operation.
    pub fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        match &err {
            SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() => AwsError::Unreachable {
                operation,
                detail: root_cause(&err),
            },
            SdkError::TimeoutError(_) => AwsError::Unreachable {
                operation,
                detail: "the request timed out".into(),
            },
            SdkError::ServiceError(s)
                if s.err()
                    .code()
                    .is_some_and(|c| THROTTLING_CODES.contains(&c)) =>
            {
                let e = s.err();
                AwsError::Throttled {
                    operation,
                    code: e.code().unwrap_or_default().to_string(),
                    message: match e.message() {
                        Some(m) => format!("{}: {m}", e.code().unwrap_or_default()),
                        None => e.code().unwrap_or_default().to_string(),
                    },
                }
            }
            // A response cut off or unreadable: the call may have happened.
            SdkError::ResponseError(_) | SdkError::DispatchFailure(_) => AwsError::Unreachable {
                operation,
                detail: root_cause(&err),
            },
            SdkError::ServiceError(s) => {
                let e = s.err();
                AwsError::Api {
                    operation,
                    code: e.code().map(str::to_string),
                    message: match (e.code(), e.message()) {
                        (Some(c), Some(m)) => format!("{c}: {m}"),
                        (Some(c), None) => c.to_string(),
                        _ => root_cause(&err),
                    },
                }
            }
            _ => AwsError::Api {
                operation,
                code: None,
                message: root_cause(&err),
            },
        }
    }
}

/// `.or_aws("Operation")` on an SDK call's result: the error as [`AwsError`].
pub trait SdkResultExt<T> {
    fn or_aws(self, operation: &'static str) -> Result<T, AwsError>;
}

impl<T, E, R> SdkResultExt<T> for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn or_aws(self, operation: &'static str) -> Result<T, AwsError> {
        self.map_err(|e| AwsError::from_sdk(operation, e))
    }
}

/// The innermost error message: what went wrong, without the SDK's (or an
/// HTTP client's) layers.
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let text = cur.to_string();
    if text.is_empty() {
        DisplayErrorContext(err).to_string()
    } else {
        text
    }
}

static CALLS: AtomicUsize = AtomicUsize::new(0);
static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);

/// What this process sent to AWS, for `--stats` and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestStats {
    /// Operations called (each counted once, however often it was sent).
    pub calls: usize,
    /// HTTP requests sent: the calls and their retries.
    pub attempts: usize,
}

impl RequestStats {
    pub fn retries(&self) -> usize {
        self.attempts.saturating_sub(self.calls)
    }
}

/// Every request of every client in this process so far.
pub fn request_stats() -> RequestStats {
    RequestStats {
        calls: CALLS.load(Ordering::Relaxed),
        attempts: ATTEMPTS.load(Ordering::Relaxed),
    }
}

/// The interceptor behind [`request_stats`], on every client.
#[derive(Debug, Clone, Default)]
struct RequestCounter;

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        CALLS.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        ATTEMPTS.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Clients for one region, each counting its requests (`request_stats`).
#[derive(Clone)]
pub struct Aws {
    pub ec2: aws_sdk_ec2::Client,
    pub s3: aws_sdk_s3::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub iam: aws_sdk_iam::Client,
    pub sts: aws_sdk_sts::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
    pub rds: aws_sdk_rds::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub apprunner: aws_sdk_apprunner::Client,
    /// CloudWatch Logs, where the compute targets write services' output.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// The ECS target: services, task definitions, clusters.
    pub ecs: aws_sdk_ecs::Client,
    /// The ECS target's load balancers, target groups and listeners.
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    /// The ECS target's service scaling.
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
    pub region: String,
    /// Where pushes to ECR's registry go instead (`host:port`, plain HTTP),
    /// in local mode.
    pub registry_override: Option<String>,
    /// Requests go to the local stand-ins (`--local`).
    pub local: bool,
    /// The endpoint every client calls instead of AWS's (moto, `--local`).
    pub endpoint_url: Option<String>,
}

impl Aws {
    /// Loads configuration and checks that credentials resolve, so a missing
    /// profile fails here with one clear sentence instead of on the first call.
    pub async fn connect(region: &str, target: &Target) -> Result<Self, AwsError> {
        let config = sdk_config(region, target).await;
        let provider = config
            .credentials_provider()
            .ok_or_else(|| AwsError::Credentials {
                detail: "no credential provider is configured".into(),
            })?;
        provider
            .provide_credentials()
            .await
            .map_err(|e| AwsError::Credentials {
                detail: root_cause(&e),
            })?;
        let requests = RequestCounter;
        let ec2 = aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(&config)
                .interceptor(requests.clone())
                .build(),
        );
        // Path-style addressing when the endpoint is overridden: emulators and
        // proxies answer on one host name, not one per bucket.
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .interceptor(requests.clone())
                .force_path_style(config.endpoint_url().is_some())
                .build(),
        );
        let ecr = aws_sdk_ecr::Client::from_conf(
            aws_sdk_ecr::config::Builder::from(&config)
                .interceptor(requests.clone())
                .build(),
        );
        let secrets = aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::config::Builder::from(&config)
                .interceptor(requests.clone())
                .build(),
        );
        let iam = aws_sdk_iam::Client::from_conf(
            aws_sdk_iam::config::Builder::from(&config)
                .interceptor(requests.clone())
                .build(),
        );
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&config)
                .interceptor(requests.clone())
                .build(),
        );
        let cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(&config)
                .interceptor(requests.clone())
                .build(),
        );
        let sns = aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&config)
                .interceptor(requests.clone())
                .build(),
        );
        let rds = aws_sdk_rds::Client::from_conf(
            aws_sdk_rds::config::Builder::from(&config)
                .interceptor(requests.clone())
                .build(),
        );
        let cloudfront = aws_sdk_cloudfront::Client::from_conf(
            aws_sdk_cloudfront::config::Builder::from(&config)
                .interceptor(requests.clone())
                .build(),
        );
        let logs = aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::config::Builder::from(&config)
                .interceptor(requests.clone())
                .build(),
        );
        let ecs = aws_sdk_ecs::Client::from_conf(
            aws_sdk_ecs::config::Builder::from(&config)
                .interceptor(requests.clone())
                .build(),
        );
        let elb = aws_sdk_elasticloadbalancingv2::Client::from_conf(
            aws_sdk_elasticloadbalancingv2::config::Builder::from(&config)
                .interceptor(requests.clone())
                .build(),
        );
        let autoscaling = aws_sdk_applicationautoscaling::Client::from_conf(
            aws_sdk_applicationautoscaling::config::Builder::from(&config)
                .interceptor(requests.clone())
                .build(),
        );
        let mut apprunner = aws_sdk_apprunner::config::Builder::from(&config);
        let mut registry_override = None;
        if let Target::Local {
            apprunner: endpoint,
            registry,
            ..
        } = target
        {
            if endpoint.is_some() {
                apprunner.set_endpoint_url(endpoint.clone());
            }
            registry_override = registry.clone();
        }
        let apprunner =
            aws_sdk_apprunner::Client::from_conf(apprunner.interceptor(requests.clone()).build());
        Ok(Self {
            ec2,
            s3,
            ecr,
            secrets,
            iam,
            sts,
            cloudwatch,
            sns,
            rds,
            cloudfront,
            apprunner,
            logs,
            ecs,
            elb,
            autoscaling,
            region: region.to_string(),
            registry_override,
            local: matches!(target, Target::Local { .. }),
            endpoint_url: config.endpoint_url().map(str::to_owned),
        })
    }
}

async fn sdk_config(region: &str, target: &Target) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        // Standard mode retries throttling and transient errors with jittered
        // backoff; a few more attempts than the default ride out API bursts.
        .retry_config(RetryConfig::standard().with_max_attempts(SDK_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        );
    if let Target::Local { endpoint, .. } = target {
        loader = loader
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new(
                "foundry-local",
                "foundry-local",
                None,
                None,
                "foundry-local",
            ));
    }
    loader.load().await
}

/// The account the credentials belong to.
pub async fn account_id(aws: &Aws) -> Result<String, AwsError> {
    let out = aws
        .sts
        .get_caller_identity()
        .send()
        .await
        .or_aws("GetCallerIdentity")?;
    Ok(out.account().unwrap_or_default().to_string())
}

/// Who the credentials are (an ARN), for the release record.
pub async fn caller_arn(aws: &Aws) -> Result<String, AwsError> {
    let out = aws
        .sts
        .get_caller_identity()
        .send()
        .await
        .or_aws("GetCallerIdentity")?;
    Ok(out.arn().unwrap_or_default().to_string())
}

/// The version id a secret's `AWSCURRENT` stage points at now.
pub async fn secret_current_version(aws: &Aws, arn: &str) -> Result<Option<String>, AwsError> {
    let out = aws
        .secrets
        .describe_secret()
        .secret_id(arn)
        .send()
        .await
        .or_aws("DescribeSecret")?;
    Ok(out.version_ids_to_stages().and_then(|versions| {
        versions
            .iter()
            .find(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT"))
            .map(|(id, _)| id.clone())
    }))
}
