//! A scriptable local provider: records every request it receives and answers
//! with scripted replies, in order, falling back to a default reply. Replies are
//! raw wire formats (JSON, SSE, AWS event-stream) built by each test module.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::StreamExt;
use serde_json::Value;

#[derive(Clone)]
pub enum Reply {
    Json {
        status: u16,
        body: Value,
        headers: Vec<(&'static str, String)>,
    },
    /// A body sent verbatim (malformed JSON, AWS event-stream frames…).
    Raw {
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// Server-Sent Events: each string is one complete event (`event:`/`data:` lines).
    /// `hang` keeps the connection open afterwards, sending SSE comments, until
    /// the client goes away.
    Sse {
        events: Vec<String>,
        gap: Duration,
        hang: bool,
    },
    Delayed(Duration, Box<Reply>),
    /// A reply made from the request, for fakes that answer like the real
    /// provider would (e.g. billing the tokens of what was sent).
    Computed(Arc<dyn Fn(&Received) -> Reply + Send + Sync>),
}

impl Reply {
    pub fn json(body: Value) -> Reply {
        Reply::Json {
            status: 200,
            body,
            headers: vec![],
        }
    }

    pub fn status(status: u16, body: Value) -> Reply {
        Reply::Json {
            status,
            body,
            headers: vec![],
        }
    }

    pub fn sse(events: Vec<String>) -> Reply {
        Reply::Sse {
            events,
            gap: Duration::ZERO,
            hang: false,
        }
    }

    pub fn after(self, delay: Duration) -> Reply {
        Reply::Delayed(delay, Box::new(self))
    }

    pub fn computed(reply: impl Fn(&Received) -> Reply + Send + Sync + 'static) -> Reply {
        Reply::Computed(Arc::new(reply))
    }
}

/// `data: <json>` as one SSE event.
pub fn data(value: &Value) -> String {
    format!("data: {value}\n\n")
}

/// A named SSE event, as Anthropic sends them.
pub fn named(event: &str, value: &Value) -> String {
    format!("event: {event}\ndata: {value}\n\n")
}

#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the gateway sent JSON")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

struct Inner {
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Reply>,
    received: Mutex<Vec<Received>>,
    /// Replies being computed plus stream bodies still being sent; the count
    /// falls when the server drops them (done, or the client went away).
    open_streams: AtomicUsize,
}

#[derive(Clone)]
pub struct Upstream {
    pub url: String,
    inner: Arc<Inner>,
}

impl Upstream {
    pub async fn start(default: Reply) -> Upstream {
        let inner = Arc::new(Inner {
            script: Mutex::new(VecDeque::new()),
            default: Mutex::new(default),
            received: Mutex::new(Vec::new()),
            open_streams: AtomicUsize::new(0),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Upstream { url, inner }
    }

    /// Replies used, in order, before the default.
    pub fn then(&self, reply: Reply) -> &Self {
        self.inner.script.lock().unwrap().push_back(reply);
        self
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    pub fn last(&self) -> Received {
        self.received()
            .pop()
            .expect("the upstream received a request")
    }

    /// Requests whose reply is still pending or whose stream is still open.
    pub fn open_streams(&self) -> usize {
        self.inner.open_streams.load(Ordering::SeqCst)
    }
}

async fn handle(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let received = Received {
        method: parts.method.to_string(),
        path_and_query: parts
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        headers: parts.headers,
        body,
    };
    inner.received.lock().unwrap().push(received.clone());
    let reply = inner
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| inner.default.lock().unwrap().clone());
    let reply = compute(reply, &received);
    // Counts as open until the reply is complete or the server drops it
    // because the client went away.
    inner.open_streams.fetch_add(1, Ordering::SeqCst);
    let _in_flight = StreamGuard(inner.clone());
    respond(reply, inner).await
}

fn compute(reply: Reply, received: &Received) -> Reply {
    match reply {
        Reply::Computed(make) => make(received),
        Reply::Delayed(delay, reply) => Reply::Delayed(delay, Box::new(compute(*reply, received))),
        other => other,
    }
}

/// Keeps a reply counted as open while it lives.
struct StreamGuard(Arc<Inner>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.open_streams.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn respond(reply: Reply, inner: Arc<Inner>) -> Response {
    match reply {
        Reply::Delayed(delay, reply) => {
            tokio::time::sleep(delay).await;
            Box::pin(respond(*reply, inner)).await
        }
        // `compute` has replaced every one before `respond` runs.
        Reply::Computed(_) => Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(Body::from("uncomputed reply"))
            .unwrap(),
        Reply::Json {
            status,
            body,
            headers,
        } => {
            let mut builder = Response::builder()
                .status(status)
                .header("content-type", "application/json");
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            builder.body(Body::from(body.to_string())).unwrap()
        }
        Reply::Raw {
            status,
            content_type,
            body,
        } => Response::builder()
            .status(StatusCode::from_u16(status).unwrap())
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap(),
        Reply::Sse { events, gap, hang } => {
            inner.open_streams.fetch_add(1, Ordering::SeqCst);
            let guard = StreamGuard(inner);
            let body = async_stream::stream! {
                let _guard = guard;
                for event in events {
                    if !gap.is_zero() {
                        tokio::time::sleep(gap).await;
                    }
                    yield Ok::<Bytes, Infallible>(Bytes::from(event));
                }
                // Bounded: a test that forgets to disconnect still ends.
                let mut pings = 0;
                while hang && pings < 500 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    pings += 1;
                    yield Ok(Bytes::from_static(b": keep-alive\n\n"));
                }
            };
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(body.boxed()))
                .unwrap()
        }
    }
}
