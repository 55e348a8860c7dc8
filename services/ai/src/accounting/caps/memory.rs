//! Cap counters in this process's memory: one window per organization.

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct MemoryStore {
    windows: Mutex<HashMap<String, OrgWindow>>,
}

#[derive(Debug, Default)]
struct OrgWindow {
    /// Unix seconds at which the window began.
    start: u64,
    used: u64,
    reserved: u64,
}

/// Prune windows of idle organizations once the map holds this many.
const PRUNE_ABOVE: usize = 4096;

impl MemoryStore {
    /// Holds `amount` for `org` in the window starting at `window` if it fits under `cap`.
    pub fn reserve(&self, org: &str, window: u64, cap: u64, amount: u64) -> bool {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, w| w.start == window);
        }
        let current = windows.entry(org.to_string()).or_default();
        if current.start != window {
            *current = OrgWindow {
                start: window,
                used: 0,
                reserved: 0,
            };
        }
        if current.used + current.reserved + amount > cap {
            return false;
        }
        current.reserved += amount;
        true
    }

    pub fn settle(&self, org: &str, window: u64, reserved: u64, actual: u64) {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(current) = windows.get_mut(org) {
            // A reservation from a window that has since rolled over has nothing left to settle.
            if current.start == window {
                current.reserved = current.reserved.saturating_sub(reserved);
                current.used += actual;
            }
        }
    }

    pub fn used(&self, org: &str, window: u64) -> u64 {
        let windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        windows
            .get(org)
            .filter(|w| w.start == window)
            .map_or(0, |w| w.used)
    }
}
