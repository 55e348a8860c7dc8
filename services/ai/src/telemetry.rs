//! Logging set-up: JSON lines, level from `RUST_LOG` (default `info`).

use tracing_subscriber::{EnvFilter, fmt};

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // `try_init` so that calling it twice (tests) is harmless.
    let _ = fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .try_init();
}
