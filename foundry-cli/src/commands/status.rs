use std::fmt::Write as _;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use foundry::status::{self, Health, StatusOptions, StatusReport};

use super::deploy::short_image;
use crate::cli::{Global, StatusArgs};

pub async fn run(g: &Global, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let session = super::open(g, None).await?;
    let options = StatusOptions {
        services: args.services,
    };
    let interval = Duration::from_secs(args.interval.max(1));
    let terminal = std::io::stdout().is_terminal();
    loop {
        let report = status::status(&session, &options).await?;
        if args.json {
            let json = if args.watch {
                serde_json::to_string(&report)?
            } else {
                serde_json::to_string_pretty(&report)?
            };
            println!("{json}");
        } else if args.watch && terminal {
            // Clear and redraw in place.
            print!("\x1b[H\x1b[2J{}", render(&report));
        } else {
            println!("{}", render(&report));
        }
        let code = if report.healthy {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(status::EXIT_UNHEALTHY)
        };
        if !args.watch {
            return Ok(code);
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(code),
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

fn render(report: &StatusReport) -> String {
    let mut out = String::new();
    let release = match &report.release {
        Some(r) => format!(
            "release {} ({}, {}) by {}{}",
            r.number,
            r.kind,
            r.outcome,
            r.by,
            r.age_seconds
                .map(|s| format!(", {} ago", status::age(s)))
                .unwrap_or_default()
        ),
        None => "no release yet".to_owned(),
    };
    let _ = writeln!(
        out,
        "{}/{} on {}: {release}",
        report.stack, report.env, report.target
    );
    if let Some(p) = &report.pending {
        let _ = writeln!(out, "  release {} ({}) is {}", p.number, p.kind, p.outcome);
    }
    for s in &report.services {
        let _ = writeln!(
            out,
            "{}: {}",
            s.name,
            if s.healthy { "healthy" } else { "NOT HEALTHY" }
        );
        if let Some(url) = &s.url {
            let _ = writeln!(out, "    url       {url}");
        }
        if let Some(image) = &s.image {
            let git = s
                .git_sha
                .as_deref()
                .map(|g| format!("  git {}", &g[..g.len().min(12)]))
                .unwrap_or_default();
            let _ = writeln!(out, "    image     {}{git}", short_image(image));
        }
        if let Some(other) = &s.running_other_image {
            let _ = writeln!(out, "    runs      {}", short_image(other));
        }
        match &s.platform {
            Some(p) => {
                let op = p
                    .last_operation
                    .as_ref()
                    .map(|o| format!("; last operation {} {}", o.kind, o.status))
                    .unwrap_or_default();
                let _ = writeln!(out, "    {:<9} {}{op}", report.target, p.status);
            }
            None => {
                let _ = writeln!(out, "    {:<9} does not exist", report.target);
            }
        }
        match &s.health {
            Health::Probed(probe) => {
                let answer = match (&probe.error, probe.status) {
                    (None, Some(code)) => format!("{code} in {} ms", probe.latency_ms),
                    (Some(error), _) => format!("{error} (after {} ms)", probe.latency_ms),
                    (None, None) => "no answer".to_owned(),
                };
                let _ = writeln!(out, "    health    GET {} → {answer}", probe.url);
            }
            Health::NotProbed { reason } => {
                let _ = writeln!(out, "    health    not probed: {reason}");
            }
        }
        if let Some(scaling) = &s.scaling {
            let current = scaling
                .current
                .map(|c| format!(", {c} now"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    scaling   {}–{} instances{current}",
                scaling.min, scaling.max
            );
        }
    }
    if report.healthy {
        let _ = write!(
            out,
            "{}/{}: {} service(s), all healthy; no alarm firing.",
            report.stack,
            report.env,
            report.services.len()
        );
    } else {
        let _ = writeln!(
            out,
            "{}/{}: NOT HEALTHY ({} problem(s)):",
            report.stack,
            report.env,
            report.problems.len()
        );
        for problem in &report.problems {
            let _ = writeln!(out, "  - {problem}");
        }
        out.pop();
    }
    out
}
