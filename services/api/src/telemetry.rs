//! JSON logs on stdout. Spans carry the request id and, once known, the
//! (pseudonymous) user and organization ids; tokens and email addresses are
//! never logged (the Authorization header is marked sensitive).

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .try_init();
}
