//! Token buckets (governor's GCRA) per client IP, per user and per
//! organization; mutations draw from a stricter bucket than queries.
//! A refused request gets 429 with `Retry-After`.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimitConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    Query,
    Mutation,
}

pub struct RateLimits {
    clock: DefaultClock,
    ip: DefaultKeyedRateLimiter<IpAddr>,
    user_queries: DefaultKeyedRateLimiter<String>,
    user_mutations: DefaultKeyedRateLimiter<String>,
    org: DefaultKeyedRateLimiter<String>,
}

/// A bucket that holds one minute's worth of requests and refills evenly.
fn per_minute(n: u32) -> Quota {
    let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(n).allow_burst(n)
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> Self {
        Self {
            clock: DefaultClock::default(),
            ip: RateLimiter::keyed(per_minute(config.ip_per_minute)),
            user_queries: RateLimiter::keyed(per_minute(config.user_queries_per_minute)),
            user_mutations: RateLimiter::keyed(per_minute(config.user_mutations_per_minute)),
            org: RateLimiter::keyed(per_minute(config.org_per_minute)),
        }
    }

    /// `Err(wait)` when the client address is over its quota.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Duration> {
        self.ip
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// `Err(wait)` when the user or their organization is over quota.
    pub fn check_caller(&self, user: &str, org: &str, kind: OperationKind) -> Result<(), Duration> {
        let user_bucket = match kind {
            OperationKind::Query => &self.user_queries,
            OperationKind::Mutation => &self.user_mutations,
        };
        let now = self.clock.now();
        user_bucket
            .check_key(&user.to_string())
            .map_err(|n| n.wait_time_from(now))?;
        self.org
            .check_key(&org.to_string())
            .map_err(|n| n.wait_time_from(now))
    }

    /// Forgets buckets that are full again, so memory follows active clients.
    pub fn shrink(&self) {
        self.ip.retain_recent();
        self.user_queries.retain_recent();
        self.user_mutations.retain_recent();
        self.org.retain_recent();
    }
}

/// Whole seconds for `Retry-After`, never zero.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_have_their_own_stricter_bucket() {
        let limits = RateLimits::new(&RateLimitConfig {
            ip_per_minute: 100,
            user_queries_per_minute: 100,
            user_mutations_per_minute: 2,
            org_per_minute: 100,
        });
        assert!(
            limits
                .check_caller("u", "o", OperationKind::Mutation)
                .is_ok()
        );
        assert!(
            limits
                .check_caller("u", "o", OperationKind::Mutation)
                .is_ok()
        );
        let wait = limits
            .check_caller("u", "o", OperationKind::Mutation)
            .unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert!(limits.check_caller("u", "o", OperationKind::Query).is_ok());
        assert!(
            limits
                .check_caller("other", "o", OperationKind::Mutation)
                .is_ok()
        );
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
