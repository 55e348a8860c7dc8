//! Fault injection for crash tests: `FOUNDRY_FAULT=kill@after-create:nat-a`
//! makes the process SIGKILL itself at that point, `stall@...` makes it hang
//! there (holding the lock), `notfound@...` fails there once the way AWS does
//! for an id it does not know yet (eventual consistency), and `hide@observe:<id>`
//! leaves it out of the batched listing. Points:
//! `before-create`, `after-create` (the create call returned, nothing
//! recorded yet), `after-journal`, and `mid-create` (route tables: created,
//! routes not yet added); for a static service's release, `before-switch`
//! (its files uploaded and the release recorded, no entry document live
//! yet) and `after-switch` (live, not yet invalidated), by service name.
//! Unset, this costs one environment lookup per process.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use super::AwsError;

fn spec() -> Option<&'static (String, String)> {
    static SPEC: OnceLock<Option<(String, String)>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let value = std::env::var("FOUNDRY_FAULT").ok()?;
        let (action, point) = value.split_once('@')?;
        Some((action.to_string(), point.to_string()))
    })
    .as_ref()
}

pub async fn point(name: &str, id: &str) {
    let Some((action, point)) = spec() else {
        return;
    };
    if point != &format!("{name}:{id}") {
        return;
    }
    match action.as_str() {
        "kill" => {
            // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
        "stall" => tokio::time::sleep(std::time::Duration::from_secs(3600)).await,
        _ => {}
    }
}

/// `hide@observe:<id>`: the batched listing does not show `id`, the way an
/// emulator or API that omits the field foundry lists by would.
pub fn hidden_from_listing(id: &str) -> bool {
    spec().is_some_and(|(action, point)| action == "hide" && point == &format!("observe:{id}"))
}

/// `notfound@<point>:<id>`: an `InvalidID.NotFound` error the first time the
/// point is reached, then never again.
pub fn not_found(name: &str, id: &str) -> Result<(), AwsError> {
    static FIRED: AtomicBool = AtomicBool::new(false);
    let Some((action, point)) = spec() else {
        return Ok(());
    };
    if action != "notfound"
        || point != &format!("{name}:{id}")
        || FIRED.swap(true, Ordering::SeqCst)
    {
        return Ok(());
    }
    Err(AwsError::Api {
        operation: "injected fault",
        code: Some("InvalidID.NotFound".into()),
        message: format!("InvalidID.NotFound: injected at {name}:{id}"),
    })
}
