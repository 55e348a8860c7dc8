//! Per-organization token caps over fixed time windows.
//!
//! Invariant: a request is admitted only if `used + reserved + estimate <= cap`,
//! where `estimate` is reserved before the upstream call and replaced by the
//! real usage afterwards. So concurrent requests can overspend only by how far
//! a real usage exceeds its estimate, which is bounded by one reservation
//! (output is capped by `max_tokens`; input estimates err on the high side).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapExceeded {
    pub retry_after_secs: u64,
}

#[derive(Debug)]
pub struct TokenCaps {
    window_secs: u64,
    default_cap: u64,
    overrides: HashMap<String, u64>,
    windows: Mutex<HashMap<String, OrgWindow>>,
}

#[derive(Debug, Default)]
struct OrgWindow {
    index: u64,
    used: u64,
    reserved: u64,
}

/// Prune windows of idle organizations once the map holds this many.
const PRUNE_ABOVE: usize = 4096;

impl TokenCaps {
    pub fn new(window_secs: u64, default_cap: u64, overrides: HashMap<String, u64>) -> Arc<Self> {
        Arc::new(TokenCaps {
            window_secs: window_secs.max(1),
            default_cap,
            overrides,
            windows: Mutex::new(HashMap::new()),
        })
    }

    fn cap_for(&self, org: &str) -> u64 {
        self.overrides.get(org).copied().unwrap_or(self.default_cap)
    }

    fn now_secs() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    pub fn reserve(self: &Arc<Self>, org: &str, estimate: u64) -> Result<Reservation, CapExceeded> {
        self.reserve_at(org, estimate, Self::now_secs())
    }

    fn reserve_at(
        self: &Arc<Self>,
        org: &str,
        estimate: u64,
        now: u64,
    ) -> Result<Reservation, CapExceeded> {
        let cap = self.cap_for(org);
        let index = now / self.window_secs;
        if cap == 0 {
            return Ok(Reservation {
                caps: None,
                org: String::new(),
                amount: 0,
                window: index,
                settled: true,
            });
        }
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, w| w.index == index);
        }
        let window = windows.entry(org.to_string()).or_default();
        if window.index != index {
            *window = OrgWindow {
                index,
                used: 0,
                reserved: 0,
            };
        }
        if window.used + window.reserved + estimate > cap {
            let retry_after_secs = (index + 1) * self.window_secs - now;
            return Err(CapExceeded {
                retry_after_secs: retry_after_secs.max(1),
            });
        }
        window.reserved += estimate;
        Ok(Reservation {
            caps: Some(Arc::clone(self)),
            org: org.to_string(),
            amount: estimate,
            window: index,
            settled: false,
        })
    }

    fn settle(&self, org: &str, window_index: u64, reserved: u64, actual: u64) {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(window) = windows.get_mut(org) {
            // A reservation from a window that has since rolled over has nothing left to settle.
            if window.index == window_index {
                window.reserved = window.reserved.saturating_sub(reserved);
                window.used += actual;
            }
        }
    }

    /// Tokens spent by `org` in the current window (settled usage only).
    pub fn used(&self, org: &str) -> u64 {
        let index = Self::now_secs() / self.window_secs;
        let windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        windows
            .get(org)
            .filter(|w| w.index == index)
            .map_or(0, |w| w.used)
    }
}

/// Tokens held for one in-flight request. Settle it with the real usage; if it
/// is dropped unsettled (the client went away mid-call) the whole reservation
/// counts as spent, since the provider may well have billed it.
#[derive(Debug)]
pub struct Reservation {
    caps: Option<Arc<TokenCaps>>,
    org: String,
    amount: u64,
    window: u64,
    settled: bool,
}

impl Reservation {
    pub fn amount(&self) -> u64 {
        self.amount
    }

    pub fn settle(mut self, actual: u64) {
        self.settle_with(actual);
    }

    fn settle_with(&mut self, actual: u64) {
        if self.settled {
            return;
        }
        self.settled = true;
        if let Some(caps) = &self.caps {
            caps.settle(&self.org, self.window, self.amount, actual);
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let amount = self.amount;
        self.settle_with(amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_until_the_cap_then_refuses_with_time_to_next_window() {
        let caps = TokenCaps::new(60, 100, HashMap::new());
        let a = caps.reserve_at("org", 60, 120).unwrap();
        assert_eq!(
            caps.reserve_at("org", 50, 130).unwrap_err(),
            CapExceeded {
                retry_after_secs: 50
            }
        );
        a.settle(30);
        let b = caps.reserve_at("org", 50, 130).unwrap();
        b.settle(50);
        assert!(caps.reserve_at("org", 21, 131).is_err());
        // Next window starts fresh.
        assert!(caps.reserve_at("org", 100, 180).is_ok());
    }

    #[test]
    fn unsettled_reservation_counts_as_spent_and_orgs_are_separate() {
        let caps = TokenCaps::new(60, 100, HashMap::from([("big".to_string(), 1000)]));
        drop(caps.reserve_at("org", 80, 0).unwrap());
        assert!(caps.reserve_at("org", 21, 1).is_err());
        assert!(caps.reserve_at("other", 100, 1).is_ok());
        assert!(caps.reserve_at("big", 900, 1).is_ok());
    }

    #[test]
    fn zero_cap_means_unlimited() {
        let caps = TokenCaps::new(60, 0, HashMap::new());
        for _ in 0..10 {
            caps.reserve_at("org", 1_000_000, 0)
                .unwrap()
                .settle(1_000_000);
        }
    }
}
