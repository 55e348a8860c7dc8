//! A circuit breaker per provider: closed → open after `failure_threshold`
//! consecutive failures (or at once on a budget-exhausted answer) → after
//! `open_for`, half-open with exactly one probe → closed on its success, open
//! again on its failure.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus::IntGauge;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

pub struct CircuitBreaker {
    threshold: u32,
    open_for: Duration,
    state: Mutex<State>,
    open_gauge: IntGauge,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, open_for: Duration, open_gauge: IntGauge) -> Arc<Self> {
        open_gauge.set(0);
        Arc::new(CircuitBreaker {
            threshold: threshold.max(1),
            open_for,
            state: Mutex::new(State::Closed { failures: 0 }),
            open_gauge,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Permission to call the provider now, or None while the breaker is open.
    pub fn try_acquire(self: &Arc<Self>) -> Option<Permit> {
        let mut state = self.lock();
        let probe = match *state {
            State::Closed { .. } => false,
            State::Open { until } if Instant::now() >= until => {
                *state = State::HalfOpen { probing: true };
                true
            }
            State::Open { .. } | State::HalfOpen { probing: true } => return None,
            State::HalfOpen { probing: false } => {
                *state = State::HalfOpen { probing: true };
                true
            }
        };
        Some(Permit {
            breaker: Arc::clone(self),
            probe,
            done: false,
        })
    }

    pub fn is_open(&self) -> bool {
        matches!(*self.lock(), State::Open { until } if Instant::now() < until)
    }

    fn open(&self, state: &mut State) {
        *state = State::Open {
            until: Instant::now() + self.open_for,
        };
        self.open_gauge.set(1);
    }

    fn on_success(&self, probe: bool) {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => *state = State::Closed { failures: 0 },
            State::HalfOpen { .. } if probe => {
                *state = State::Closed { failures: 0 };
                self.open_gauge.set(0);
            }
            // A slow success from before the breaker opened proves nothing now.
            _ => {}
        }
    }

    fn on_failure(&self, probe: bool, trip_now: bool) {
        let mut state = self.lock();
        match *state {
            State::Closed { failures } => {
                let failures = failures + 1;
                if trip_now || failures >= self.threshold {
                    self.open(&mut state);
                } else {
                    *state = State::Closed { failures };
                }
            }
            State::HalfOpen { .. } if probe => self.open(&mut state),
            _ => {}
        }
    }

    fn on_abandoned(&self, probe: bool) {
        let mut state = self.lock();
        if probe && *state == (State::HalfOpen { probing: true }) {
            // The probe never reported (cancelled, or a request-specific error): let another through.
            *state = State::HalfOpen { probing: false };
        }
    }
}

/// One call's permission. Report its outcome; dropping it unreported counts as
/// neither success nor failure.
pub struct Permit {
    breaker: Arc<CircuitBreaker>,
    probe: bool,
    done: bool,
}

impl Permit {
    pub fn success(mut self) {
        self.done = true;
        self.breaker.on_success(self.probe);
    }

    /// `trip_now`: the provider said its budget is exhausted; no point counting.
    pub fn failure(mut self, trip_now: bool) {
        self.done = true;
        self.breaker.on_failure(self.probe, trip_now);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.on_abandoned(self.probe);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(open_for: Duration) -> Arc<CircuitBreaker> {
        let gauge = IntGauge::new("test_open", "test").unwrap();
        CircuitBreaker::new(3, open_for, gauge)
    }

    #[test]
    fn opens_after_threshold_consecutive_failures() {
        let b = breaker(Duration::from_secs(60));
        b.try_acquire().unwrap().failure(false);
        b.try_acquire().unwrap().failure(false);
        b.try_acquire().unwrap().success(); // resets the count
        for _ in 0..3 {
            b.try_acquire().unwrap().failure(false);
        }
        assert!(b.is_open());
        assert!(b.try_acquire().is_none());
        assert_eq!(b.open_gauge.get(), 1);
    }

    #[test]
    fn budget_exhaustion_trips_at_once() {
        let b = breaker(Duration::from_secs(60));
        b.try_acquire().unwrap().failure(true);
        assert!(b.try_acquire().is_none());
    }

    #[test]
    fn half_open_lets_one_probe_through_and_closes_on_success() {
        let b = breaker(Duration::ZERO);
        b.try_acquire().unwrap().failure(true);
        let probe = b.try_acquire().expect("open period elapsed: one probe");
        assert!(b.try_acquire().is_none(), "only one probe at a time");
        probe.success();
        assert!(b.try_acquire().is_some());
        assert_eq!(b.open_gauge.get(), 0);
    }

    #[test]
    fn failed_probe_reopens_and_abandoned_probe_frees_the_slot() {
        let b = breaker(Duration::from_millis(0));
        b.try_acquire().unwrap().failure(true);
        drop(b.try_acquire().unwrap());
        let probe = b.try_acquire().expect("abandoned probe frees the slot");
        probe.failure(false);
        assert_eq!(b.open_gauge.get(), 1);
    }
}
