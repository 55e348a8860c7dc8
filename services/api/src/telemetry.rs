//! JSON logs. Spans carry the request id and, once known, the (pseudonymous)
//! user and organization ids; tokens and email addresses are never logged
//! (the Authorization header is marked sensitive and no code logs claims).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Logs to stdout, filtered by `RUST_LOG` (default `info`).
pub fn init() {
    init_with_writer(std::io::stdout);
}

/// Logs to `writer` (tests capture logs this way).
pub fn init_with_writer<W>(writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .try_init();
}
