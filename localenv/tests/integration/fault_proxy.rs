//! The fault proxy in front of a real moto, driven by the real AWS SDK.

mod determinism;
mod dropped_response;
mod naming;
mod plan_syntax;
mod protocols;

use std::net::SocketAddr;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::config::Credentials;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use localenv::fault_proxy::{FaultPlan, FaultProxy};
use localenv::moto::MotoServer;

/// A fresh moto and a proxy in front of it with `plan`.
fn moto_behind_proxy(plan: &str) -> (MotoServer, FaultProxy) {
    let moto = MotoServer::start().expect("moto starts");
    let proxy = proxy_to(&moto, plan);
    (moto, proxy)
}

fn proxy_to(moto: &MotoServer, plan: &str) -> FaultProxy {
    let plan = FaultPlan::parse(plan).expect("test plan parses");
    FaultProxy::start(SocketAddr::from(([127, 0, 0, 1], moto.port())), plan).expect("proxy starts")
}

/// SDK settings as foundry's against a local endpoint, with `retry`.
async fn sdk_config(endpoint: &str, retry: RetryConfig) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .retry_config(retry)
        .load()
        .await
}

/// The SDK's standard retries with a short backoff, so tests stay fast; the
/// decision to retry is the same as with the default backoff.
fn quick_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(20))
}

/// What an SDK call failed with: the parsed error code and the HTTP status.
#[derive(Debug, PartialEq, Eq)]
struct Failure {
    code: Option<String>,
    status: Option<u16>,
}

fn failure<E: ProvideErrorMetadata>(error: SdkError<E, HttpResponse>) -> Failure {
    Failure {
        code: error.code().map(str::to_string),
        status: error.raw_response().map(|r| r.status().as_u16()),
    }
}
