//! The `ai` service's one integration-test binary. Every test starts the real
//! application (same `Config::load` + `Application::build` as `main`) on
//! 127.0.0.1:0, against local HTTP servers that speak each provider's wire
//! format (`upstream.rs`).

mod helpers;
mod upstream;

mod accounting;
mod anthropic;
mod azure;
mod bedrock;
mod binary;
mod caps_database_secret;
mod caps_postgres;
mod gemini;
mod models;
mod openai;
mod openai_sdk;
mod pii;
mod resilience;
mod secrets;
mod surface;
