//! The HTTP surface: routes, the middleware stack, and the handlers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::LatencyUnit;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::app::AppState;
use crate::auth::{AuthError, Authenticator, Identity};
use crate::client_ip::{bucket_key, client_ip};
use crate::db;
use crate::graphql::context::{RequestContext, new_member_loader};
use crate::graphql::pipeline::RATE_LIMITED;
use crate::ratelimit::retry_after_secs;

pub fn router(state: Arc<AppState>) -> Router {
    let config = &state.config;
    let graphql = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(
            config
                .cors_allowed_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        ))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("traceparent"),
        ])
        .max_age(Duration::from_secs(600));
    let x_request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(graphql)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new([
                    header::AUTHORIZATION,
                    header::COOKIE,
                ]))
                .layer(SetRequestIdLayer::new(
                    x_request_id.clone(),
                    MakeRequestUuid,
                ))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|req: &Request| {
                            let request_id = req
                                .extensions()
                                .get::<RequestId>()
                                .and_then(|id| id.header_value().to_str().ok())
                                .unwrap_or("");
                            let span = tracing::info_span!(
                                "request",
                                method = %req.method(),
                                path = %req.uri().path(),
                                request_id = %request_id,
                                user_id = tracing::field::Empty,
                                org_id = tracing::field::Empty,
                            );
                            crate::telemetry::adopt_remote_parent(&span, req.headers());
                            span
                        })
                        // One line per request at INFO, with status and latency.
                        .on_response(
                            DefaultOnResponse::new()
                                .level(Level::INFO)
                                .latency_unit(LatencyUnit::Micros),
                        ),
                )
                .layer(PropagateRequestIdLayer::new(x_request_id))
                .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
                .layer(cors)
                .layer(CompressionLayer::new())
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    config.request_timeout,
                )),
        )
        .with_state(state)
}

/// A GraphQL-shaped error body, so clients parse every failure the same way.
fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, axum::Json(body)).into_response()
}

fn too_many_requests(wait: Duration) -> Response {
    let mut response = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        RATE_LIMITED,
        "rate limit exceeded; retry later",
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry_after_secs(wait)),
    );
    response
}

/// Per-IP limit, then the bearer token. Runs before the body is read.
async fn authenticate(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    if req.method() == Method::GET && state.config.graphql_playground && req.uri().query().is_none()
    {
        return next.run(req).await;
    }
    if let Err(wait) = state.limits.check_ip(bucket_key(client_ip(
        state.config.client_ip,
        req.headers(),
        peer,
    ))) {
        state
            .metrics
            .http_rejections
            .with_label_values(&["rate_limited_ip"])
            .inc();
        return too_many_requests(wait);
    }
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let verified = match Authenticator::bearer(header) {
        Ok(token) => state.auth.verify(token).await,
        Err(e) => Err(e),
    };
    match verified {
        Ok(identity) => {
            req.extensions_mut().insert(identity);
            next.run(req).await
        }
        Err(err) => {
            state
                .metrics
                .http_rejections
                .with_label_values(&["unauthenticated"])
                .inc();
            tracing::info!(reason = %err, "request not authenticated");
            if err.is_unavailable() {
                error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "AUTH_UNAVAILABLE",
                    &err.to_string(),
                )
            } else {
                let mut response = error_response(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHENTICATED",
                    &err.to_string(),
                );
                let challenge = if err == AuthError::Missing {
                    "Bearer"
                } else {
                    "Bearer error=\"invalid_token\""
                };
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
                response
            }
        }
    }
}

async fn graphql_get(
    State(state): State<Arc<AppState>>,
    identity: Option<axum::Extension<Identity>>,
    headers: HeaderMap,
    req: Request,
) -> Response {
    match identity {
        // Only reachable when the playground is on and no query was given.
        None => Html(GraphiQLSource::build().endpoint("/graphql").finish()).into_response(),
        Some(axum::Extension(identity)) => match GraphQLRequest::<
            async_graphql_axum::rejection::GraphQLRejection,
        >::from_request(req, &state)
        .await
        {
            Ok(gql) => execute(&state, identity, &headers, gql).await,
            Err(rejection) => rejection.into_response(),
        },
    }
}

async fn graphql_post(
    State(state): State<Arc<AppState>>,
    axum::Extension(identity): axum::Extension<Identity>,
    headers: HeaderMap,
    gql: GraphQLRequest,
) -> Response {
    execute(&state, identity, &headers, gql).await
}

use axum::extract::FromRequest;

async fn execute(
    state: &AppState,
    identity: Identity,
    headers: &HeaderMap,
    gql: GraphQLRequest,
) -> Response {
    let started = Instant::now();
    let request = gql.into_inner();
    let operation = state
        .metrics
        .operation_label(request.operation_name.as_deref());
    let incoming_traceparent = headers.get("traceparent").and_then(|v| v.to_str().ok());
    let context = Arc::new(RequestContext::new(
        identity,
        tracing::Span::current(),
        incoming_traceparent,
    ));
    let request = request
        .data(context.clone())
        .data(new_member_loader(state.services.db.clone()));
    let response = state.graphql.execute(request, &context).await;

    if let Some(tenant) = context.resolved_tenant() {
        let span = tracing::Span::current();
        span.record("user_id", tracing::field::display(tenant.user_id));
        span.record("org_id", tracing::field::display(tenant.org_id));
    }
    let outcome = if response.errors.is_empty() {
        "ok"
    } else {
        "error"
    };
    state
        .metrics
        .graphql_requests
        .with_label_values(&[&operation, outcome])
        .inc();
    state
        .metrics
        .graphql_duration
        .with_label_values(&[&operation])
        .observe(started.elapsed().as_secs_f64());

    let retry_after = response.errors.iter().find_map(|e| {
        let ext = e.extensions.as_ref()?;
        match (ext.get("code"), ext.get("retryAfter")) {
            (Some(async_graphql::Value::String(code)), Some(async_graphql::Value::Number(n)))
                if code == RATE_LIMITED =>
            {
                n.as_u64()
            }
            _ => None,
        }
    });
    if let Some(secs) = retry_after {
        state
            .metrics
            .http_rejections
            .with_label_values(&["rate_limited_caller"])
            .inc();
        return too_many_requests(Duration::from_secs(secs));
    }
    GraphQLResponse::from(response).into_response()
}

async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let check =
        tokio::time::timeout(Duration::from_secs(3), db::check_ready(&state.services.db)).await;
    match check {
        Ok(Ok(())) => axum::Json(json!({ "status": "ready" })).into_response(),
        Ok(Err(db::DbError::NotMigrated(n))) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                json!({ "status": "unavailable", "reason": format!("{n} migration(s) pending") }),
            ),
        )
            .into_response(),
        Ok(Err(_)) | Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "unavailable", "reason": "database unreachable" })),
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let pool = state.services.db.pool();
    let idle = pool.num_idle() as i64;
    state.metrics.db_pool.with_label_values(&["idle"]).set(idle);
    state
        .metrics
        .db_pool
        .with_label_values(&["active"])
        .set(i64::from(pool.size()) - idle);
    state
        .metrics
        .db_pool
        .with_label_values(&["max"])
        .set(i64::from(state.config.db_max_connections));
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
