//! Token buckets (governor's GCRA) per client IP, per user and per
//! organization; mutations draw from a stricter bucket than queries, one
//! token per root mutation field, so aliasing ten mutations into one request
//! costs ten. A refused request gets 429 with `Retry-After`.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimitConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    Query,
    /// With the number of root mutation fields (at least 1).
    Mutation(u32),
}

/// Why a caller's request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Over quota now; the tokens are back after this long.
    Wait(Duration),
    /// The request needs more tokens than the bucket ever holds.
    TooLarge { needed: u32, capacity: u32 },
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

    /// `Err` when the user or their organization is over quota. A query
    /// draws one token; a mutation one per root field, all or none.
    pub fn check_caller(&self, user: &str, org: &str, kind: OperationKind) -> Result<(), Refusal> {
        let (user_bucket, tokens) = match kind {
            OperationKind::Query => (&self.user_queries, 1),
            OperationKind::Mutation(fields) => (&self.user_mutations, fields.max(1)),
        };
        let tokens = NonZeroU32::new(tokens).unwrap_or(NonZeroU32::MIN);
        let now = self.clock.now();
        let draw = |bucket: &DefaultKeyedRateLimiter<String>, key: &str| match bucket
            .check_key_n(&key.to_string(), tokens)
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(Refusal::Wait(not_until.wait_time_from(now))),
            Err(insufficient) => Err(Refusal::TooLarge {
                needed: tokens.get(),
                capacity: insufficient.0,
            }),
        };
        draw(user_bucket, user)?;
        draw(&self.org, org)
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
        let one = OperationKind::Mutation(1);
        assert!(limits.check_caller("u", "o", one).is_ok());
        assert!(limits.check_caller("u", "o", one).is_ok());
        let Err(Refusal::Wait(wait)) = limits.check_caller("u", "o", one) else {
            panic!("the third mutation must wait");
        };
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert!(limits.check_caller("u", "o", OperationKind::Query).is_ok());
        assert!(limits.check_caller("other", "o", one).is_ok());
    }

    #[test]
    fn a_mutation_draws_one_token_per_root_field_all_or_none() {
        let limits = RateLimits::new(&RateLimitConfig {
            ip_per_minute: 100,
            user_queries_per_minute: 100,
            user_mutations_per_minute: 5,
            org_per_minute: 100,
        });
        assert_eq!(
            limits.check_caller("u", "o", OperationKind::Mutation(300)),
            Err(Refusal::TooLarge {
                needed: 300,
                capacity: 5
            })
        );
        assert!(
            limits
                .check_caller("u", "o", OperationKind::Mutation(3))
                .is_ok()
        );
        // Two tokens are left: a request of three is refused whole...
        assert!(matches!(
            limits.check_caller("u", "o", OperationKind::Mutation(3)),
            Err(Refusal::Wait(_))
        ));
        // ...and took none of them.
        assert!(
            limits
                .check_caller("u", "o", OperationKind::Mutation(2))
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
