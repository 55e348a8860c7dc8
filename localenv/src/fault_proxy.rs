//! A fault-injecting HTTP proxy between the AWS SDK and moto: seeded,
//! repeatable throttling, 503s and lost responses, per operation.
//!
//! Put [`FaultProxy::endpoint`] in `AWS_ENDPOINT_URL` instead of moto's. Every
//! request is forwarded unchanged (method, path, query, headers including
//! `Host` and the SigV4 ones, body) and moto's response streamed back, unless
//! the [`FaultPlan`] picks a fault for that call:
//!
//! - `throttle`: answer at once with the protocol's throttling error (EC2
//!   `503 RequestLimitExceeded`, awsQuery and CloudFront `400 Throttling`, S3
//!   `503 SlowDown`, JSON `400 ThrottlingException`); moto never sees the call.
//! - `unavailable`: answer at once with the protocol's 503 (`Unavailable` for
//!   EC2, `ServiceUnavailable` elsewhere).
//! - `drop`: forward to moto, wait for its whole response, then close the
//!   client's connection without a byte: the call took effect, the caller
//!   cannot know. What the SDK does then (it retries, creating a second
//!   resource for non-idempotent calls) is shown in `tests/fault_proxy.rs`.
//!
//! # Operations
//!
//! Named `service:Operation` with the service from the SigV4 credential scope
//! (`cloudwatch` for CloudWatch's `monitoring`) and the operation from
//! `Action=` (query protocols: EC2, IAM, RDS, CloudWatch, SNS, STS), from
//! `X-Amz-Target` (JSON: Secrets Manager, ECR), or from method and path (S3,
//! path-style: `s3:PutBucketTagging`; CloudFront: `cloudfront:UpdateDistribution`).
//! An S3 request the table does not know is named by method and subresource,
//! e.g. `s3:PUT?intelligent-tiering`. [`FaultProxy::stats`] lists every name
//! seen.
//!
//! # Plan syntax
//!
//! Items separated by `;` (spaces around items are ignored):
//!
//! ```text
//! seed=N                      the seed (default 0), a whole number
//! FAULT=TRIGGER[@OPERATIONS]  a rule; FAULT is throttle, unavailable or drop
//!
//! TRIGGER     P%              each call with chance P (0–100, decimals allowed)
//!             #N,M,A-B        exactly these calls, counted per operation from 1
//! OPERATIONS  comma-separated patterns, default *:
//!             *               every operation
//!             ec2:*           every operation of a service
//!             ec2:CreateVpc   one operation
//! ```
//!
//! `seed=7;drop=#1@ec2:CreateVpc;throttle=10%@*;unavailable=5%@s3:*` drops
//! the response to the first CreateVpc, throttles a tenth of all calls and
//! makes a twentieth of S3 calls unavailable. For each call the first rule (in
//! plan order) that matches and fires decides; retries are calls too, so
//! `throttle=#1@iam:CreateRole` throttles the first attempt and lets the
//! SDK's retry (call 2) through. A percentage rule decides by a hash of (seed,
//! rule position, operation, call number): the same plan and the same calls of
//! an operation give the same faults whatever other operations run in between.
//! [`PLAN_ENV`] (`FOUNDRY_FAULT_PLAN`) is the variable tests read a plan from
//! ([`FaultPlan::from_env`]); a plan prints back in this syntax.
//!
//! # Use
//!
//! ```no_run
//! use localenv::fault_proxy::{Fault, FaultPlan, FaultProxy};
//! use localenv::moto::MotoServer;
//!
//! let moto = MotoServer::start()?;
//! let plan = FaultPlan::parse("seed=7;drop=#1@ec2:CreateVpc")?;
//! let proxy = FaultProxy::start(([127, 0, 0, 1], moto.port()).into(), plan)?;
//! // Run `foundry` with AWS_ENDPOINT_URL=proxy.endpoint(), then:
//! let create_vpc = proxy.stats().operation("ec2:CreateVpc");
//! assert_eq!(create_vpc.faulted_calls, [(1, Fault::DropResponse)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod operation;
mod plan;
mod shapes;

pub use plan::{
    Fault, FaultPlan, FaultRule, OperationMatcher, PLAN_ENV, PlanError, PlanProblem, Trigger,
};

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::oneshot;

use operation::identify;

#[derive(Debug, thiserror::Error)]
pub enum FaultProxyError {
    #[error("the fault proxy could not listen on a loopback port: {0}")]
    Listen(io::Error),
    #[error("the fault proxy could not start its runtime thread: {0}")]
    Runtime(io::Error),
}

/// Per operation: how many calls the proxy saw and which it faulted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OperationStats {
    pub requests: u64,
    pub throttled: u64,
    pub unavailable: u64,
    /// Responses moto sent in full and the proxy then threw away.
    pub dropped: u64,
    /// (call number, fault) in call order.
    pub faulted_calls: Vec<(u64, Fault)>,
}

/// What the proxy has seen so far, by `service:Operation`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultStats {
    pub operations: BTreeMap<String, OperationStats>,
}

impl FaultStats {
    /// The counters of one operation (all zero if it was never called).
    pub fn operation(&self, name: &str) -> OperationStats {
        self.operations.get(name).cloned().unwrap_or_default()
    }

    pub fn total_requests(&self) -> u64 {
        self.operations.values().map(|s| s.requests).sum()
    }

    pub fn total_faults(&self) -> u64 {
        self.operations
            .values()
            .map(|s| s.throttled + s.unavailable + s.dropped)
            .sum()
    }
}

/// One line per operation, for a failing test's message.
impl fmt::Display for FaultStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, s) in &self.operations {
            writeln!(
                f,
                "{name}: {} requests, {} throttled, {} unavailable, {} dropped",
                s.requests, s.throttled, s.unavailable, s.dropped
            )?;
        }
        Ok(())
    }
}

struct Shared {
    plan: FaultPlan,
    upstream: SocketAddr,
    state: Mutex<State>,
    connections: AtomicU64,
}

#[derive(Default)]
struct State {
    calls: HashMap<String, u64>,
    stats: FaultStats,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Counters stay meaningful even if a test thread panicked holding them.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Numbers the call and decides its fault.
    fn begin_call(&self, operation: &str) -> (u64, Option<Fault>) {
        let mut state = self.state();
        let call = state.calls.entry(operation.to_string()).or_default();
        *call += 1;
        let call = *call;
        let fault = self.plan.decide(operation, call);
        let stats = state
            .stats
            .operations
            .entry(operation.to_string())
            .or_default();
        stats.requests += 1;
        match fault {
            Some(Fault::Throttle) => stats.throttled += 1,
            Some(Fault::Unavailable) => stats.unavailable += 1,
            Some(Fault::DropResponse) | None => {}
        }
        if let Some(fault @ (Fault::Throttle | Fault::Unavailable)) = fault {
            stats.faulted_calls.push((call, fault));
        }
        (call, fault)
    }

    fn record_drop(&self, operation: &str, call: u64) {
        let mut state = self.state();
        let stats = state
            .stats
            .operations
            .entry(operation.to_string())
            .or_default();
        stats.dropped += 1;
        stats.faulted_calls.push((call, Fault::DropResponse));
    }
}

/// A running proxy; stops (and closes every connection) when dropped.
pub struct FaultProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (moto) from
    /// a thread with its own runtime, so it works from plain and async tests.
    pub fn start(upstream: SocketAddr, plan: FaultPlan) -> Result<Self, FaultProxyError> {
        // Binding port 0 and keeping the socket is race-free, unlike handing a
        // free port number to a child process as `moto::reserve_port` must.
        let listener = TcpListener::bind("127.0.0.1:0").map_err(FaultProxyError::Listen)?;
        let address = listener.local_addr().map_err(FaultProxyError::Listen)?;
        listener
            .set_nonblocking(true)
            .map_err(FaultProxyError::Listen)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(FaultProxyError::Runtime)?;
        let shared = Arc::new(Shared {
            plan,
            upstream,
            state: Mutex::default(),
            connections: AtomicU64::new(0),
        });
        let (shutdown, stop) = oneshot::channel();
        let serving = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("fault-proxy-{}", address.port()))
            .spawn(move || runtime.block_on(serve(listener, serving, stop)))
            .map_err(FaultProxyError::Runtime)?;
        Ok(Self {
            address,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// `http://127.0.0.1:PORT`, the value for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn plan(&self) -> &FaultPlan {
        &self.shared.plan
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> FaultStats {
        self.shared.state().stats.clone()
    }

    /// Client connections accepted so far: fewer than requests when the
    /// client keeps connections alive, one more after each dropped response.
    pub fn connections_accepted(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

type ProxyBody = BoxBody<Bytes, hyper::Error>;
type Upstream = Client<HttpConnector, Full<Bytes>>;

/// Returned to hyper instead of a response: hyper then closes the connection
/// without writing anything, which is exactly a lost response.
#[derive(Debug, thiserror::Error)]
#[error("response dropped by the fault plan")]
struct ResponseDropped;

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let upstream: Upstream = Client::builder(TokioExecutor::new()).build_http();
    loop {
        let stream = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let _ = stream.set_nodelay(true);
        shared.connections.fetch_add(1, Ordering::Relaxed);
        let (shared, upstream) = (Arc::clone(&shared), upstream.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                handle(request, Arc::clone(&shared), upstream.clone())
            });
            // An error here is a dropped response or a client that hung up.
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    request: Request<Incoming>,
    shared: Arc<Shared>,
    upstream: Upstream,
) -> Result<Response<ProxyBody>, ResponseDropped> {
    let (parts, body) = request.into_parts();
    // The whole body first: the query protocols name the operation in it.
    let body = body
        .collect()
        .await
        .map_err(|_| ResponseDropped)?
        .to_bytes();
    let identified = identify(&parts.method, &parts.uri, &parts.headers, &body);
    let (call, fault) = shared.begin_call(&identified.operation);
    if let Some(fault @ (Fault::Throttle | Fault::Unavailable)) = fault {
        let request_id = format!(
            "fault-proxy-{}-{call}",
            identified.operation.replace(':', "-")
        );
        let response =
            shapes::error_response(&identified.protocol, fault, &parts.method, &request_id);
        return Ok(response.map(full));
    }

    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut forwarded = Request::builder()
        .method(parts.method.clone())
        .uri(format!("http://{}{path}", shared.upstream))
        .body(Full::new(body))
        .map_err(|_| ResponseDropped)?;
    *forwarded.headers_mut() = end_to_end(parts.headers);
    let response = match upstream.request(forwarded).await {
        Ok(response) => response,
        Err(error) => return Ok(bad_gateway(shared.upstream, &error)),
    };
    let (mut head, body) = response.into_parts();
    head.headers = end_to_end(head.headers);
    if fault == Some(Fault::DropResponse) {
        // Wait for all of it, so the call surely completed on moto.
        if body.collect().await.is_ok() {
            shared.record_drop(&identified.operation, call);
        }
        return Err(ResponseDropped);
    }
    Ok(Response::from_parts(head, body.boxed()))
}

/// Headers without the hop-by-hop ones: each side of the proxy manages its
/// own connection and framing (the body is re-framed with Content-Length), and
/// `Expect: 100-continue` was already answered to the client.
fn end_to_end(mut headers: HeaderMap) -> HeaderMap {
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    ] {
        headers.remove(name);
    }
    headers
}

fn full(bytes: Bytes) -> ProxyBody {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

fn bad_gateway(
    upstream: SocketAddr,
    error: &hyper_util::client::legacy::Error,
) -> Response<ProxyBody> {
    let mut response = Response::new(full(Bytes::from(format!(
        "fault proxy: could not reach moto at {upstream}: {error}\n"
    ))));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}
