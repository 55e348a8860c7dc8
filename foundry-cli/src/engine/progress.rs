//! Live progress: one indicatif line per resource in flight with its elapsed
//! time on a terminal; one plain line per finished step otherwise (CI logs).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    multi: Option<MultiProgress>,
}

pub struct Step {
    bar: Option<ProgressBar>,
    label: String,
    started: Instant,
}

impl Progress {
    pub fn new() -> Self {
        let multi = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)));
        Self { multi }
    }

    /// Starts a line such as `creating nat-a (nat_gateway)`.
    pub fn start(&self, verb: &str, label: String) -> Step {
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}")
                    .expect("valid template"),
            );
            bar.set_message(format!("{verb} {label}"));
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Step {
            bar,
            label,
            started: Instant::now(),
        }
    }

    /// Ends a step with a permanent line: `+ vpc (vpc) created vpc-0abc [0.4s]`.
    pub fn finish(&self, step: Step, symbol: &str, outcome: &str) {
        let line = format!(
            "{symbol} {} {outcome} [{:.1}s]",
            step.label,
            step.started.elapsed().as_secs_f64()
        );
        match (&self.multi, step.bar) {
            (Some(m), Some(bar)) => {
                bar.finish_and_clear();
                m.remove(&bar);
                let _ = m.println(line);
            }
            _ => eprintln!("{line}"),
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}
