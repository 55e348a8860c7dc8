//! Foundry's AI gateway: one private REST surface (`/v1/generate`, `/v1/embed`,
//! `/v1/moderate`, `/v1/models`) over several LLM providers, with retries,
//! circuit breakers, fallback chains, token accounting, per-organization caps
//! and PII redaction. `main.rs` is a thin shell over [`startup::Application`].

pub mod accounting;
pub mod api_types;
pub mod auth;
pub mod aws;
pub mod catalog;
pub mod config;
pub mod context;
pub mod error;
pub mod gateway;
pub mod guardrails;
pub mod providers;
pub mod resilience;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
