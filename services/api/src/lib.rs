//! The `api` service: Relay GraphQL over axum + async-graphql + sqlx/Postgres
//! (seed 003). See `app` for how the parts are wired.

pub mod ai;
pub mod app;
pub mod auth;
pub mod client_ip;
pub mod config;
pub mod db;
pub mod error;
pub mod graphql;
pub mod http;
pub mod ids;
pub mod metrics;
pub mod ratelimit;
pub mod services;
pub mod storage;
pub mod store;
pub mod telemetry;

pub use app::Application;
pub use config::Config;
