//! Token estimation, prices, per-organization token caps and Prometheus metrics.

pub mod caps;
pub mod metrics;
pub mod pricing;
pub mod tokens;
