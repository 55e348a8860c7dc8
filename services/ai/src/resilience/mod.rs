//! Retry with backoff and a circuit breaker per provider. The gateway
//! combines them with fallback along a model's chain (see `gateway.rs`).

pub mod breaker;
pub mod retry;
