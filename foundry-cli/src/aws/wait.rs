//! Polling until a resource reaches a state. The SDK has waiters for some
//! types but not for VPC endpoints or CloudFront updates, so all types (EC2,
//! RDS, CloudFront) share this one loop and its error wording.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::aws::AwsError;

/// Waits until `read` reports the resource deleted or gone.
pub async fn until_deleted<F, Fut>(what: &str, timeout: Duration, read: F) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<(String, String)>, AwsError>>,
{
    until(
        &format!("{what} to be deleted"),
        &["deleted", "gone"],
        &["failed"],
        timeout,
        read,
    )
    .await
}

/// Polls `read` until it answers a state in `target`. A state in `failed`
/// ends the wait with an error; `None` (not found) counts as `gone`.
pub async fn until<F, Fut>(
    what: &str,
    target: &[&str],
    failed: &[&str],
    timeout: Duration,
    mut read: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<(String, String)>, AwsError>>,
{
    let start = Instant::now();
    let mut delay = Duration::from_millis(250);
    loop {
        let (state, reason) = read()
            .await?
            .unwrap_or_else(|| ("gone".into(), String::new()));
        if target.contains(&state.as_str()) {
            return Ok(());
        }
        if failed.contains(&state.as_str()) {
            let reason = if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}")
            };
            return Err(AwsError::BadState {
                what: what.to_string(),
                state,
                reason,
            });
        }
        if start.elapsed() >= timeout {
            return Err(AwsError::WaitTimeout {
                what: what.to_string(),
                state,
                waited: timeout,
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}
