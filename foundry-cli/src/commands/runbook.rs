use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Context;
use foundry::engine::policy::{DEFAULT_CONCURRENCY, DataLossConsent};
use foundry::pricing::dollars;
use foundry::runbook::{self, Fix, Report, RunOptions, Status};

use crate::cli::{Global, RollbackArgs, RunbookArgs};

pub async fn run(g: &Global, args: RunbookArgs) -> anyhow::Result<ExitCode> {
    if args.name == "list" {
        return list(args.json);
    }
    let book = runbook::load(&args.name)?;
    let session = super::open(g, None).await?;
    let report = runbook::run(&session, &book, &RunOptions { days: args.days }).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    let findings = !report.healthy;
    if !args.fix || !findings {
        return Ok(exit(findings));
    }
    drop(session);
    let edits = report.stack_edits();
    if !edits.is_empty() {
        let before = std::fs::read_to_string(&g.stack)
            .with_context(|| format!("cannot read {}", g.stack.display()))?;
        let after = runbook::fix::apply(&before, &edits)?;
        eprintln!(
            "\n{}:\n{}",
            g.stack.display(),
            runbook::fix::diff(&before, &after)
        );
        std::fs::write(&g.stack, after)
            .with_context(|| format!("cannot write {}", g.stack.display()))?;
    }
    if report.needs_apply() {
        eprintln!("Applying the stack file (as `foundry up`):");
        let code = super::up::run(
            g,
            args.yes,
            usize::from(DEFAULT_CONCURRENCY),
            DataLossConsent::default(),
            "release",
        )
        .await?;
        if code != ExitCode::SUCCESS {
            return Ok(code);
        }
    }
    if let Some(to) = report.rollback_to() {
        eprintln!("Rolling back to release {to} (as `foundry rollback --to {to}`):");
        let rollback = RollbackArgs {
            services: Vec::new(),
            to: Some(to),
            yes: true,
            json: false,
        };
        let code = super::deploy::rollback(g, rollback).await?;
        if code != ExitCode::SUCCESS {
            return Ok(code);
        }
    }
    let mut restarts = report.restarts();
    if let Some(secret) = report.rotation() {
        let session = super::open(g, Some("foundry runbook --fix")).await?;
        let full_name = foundry::engine::expand::secret_name(&session.stack, &secret);
        let version =
            foundry::resources::secret::rotate_generated(&session.aws, &full_name).await?;
        eprintln!("Rotated {full_name} (as `foundry secret rotate {secret}`): version {version}.");
        restarts.extend(
            session
                .stack
                .services_reading(&secret)
                .map(|s| s.name.clone()),
        );
        restarts.sort();
        restarts.dedup();
    }
    if !restarts.is_empty() {
        eprintln!(
            "Restarting {} on its current image, health-gated:",
            restarts.join(", ")
        );
        let mut session = super::open(g, Some("foundry runbook --fix")).await?;
        let deployed =
            foundry::release::restart(&mut session, &restarts, &super::build::Printer::new())
                .await?;
        eprintln!("Release {} runs the current values.", deployed.number);
    }
    // What neither an edit, an apply, a rollback nor a restart fixes stays a finding.
    let left = report.checks.iter().any(|c| {
        c.outcome.status != Status::Pass && matches!(c.outcome.fix, Some(Fix::Manual { .. }) | None)
    });
    Ok(exit(left))
}

fn exit(findings: bool) -> ExitCode {
    if findings {
        ExitCode::from(runbook::EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}

fn list(json: bool) -> anyhow::Result<ExitCode> {
    let books = runbook::list()?;
    if json {
        let rows: Vec<_> = books
            .iter()
            .map(|b| {
                serde_json::json!({
                    "name": b.name,
                    "title": b.title,
                    "when": b.when,
                    "checks": b.checks.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for b in &books {
            println!("{:<12} {}", b.name, b.title);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", report.runbook, report.title);
    let _ = writeln!(
        out,
        "{}/{}, metrics over {} days, prices of {}\n",
        report.stack, report.env, report.days, report.prices_as_of
    );
    for check in &report.checks {
        let o = &check.outcome;
        let word = match o.status {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        };
        let _ = writeln!(out, "{word} {}: {}", check.id, o.summary);
        for line in &o.evidence {
            let _ = writeln!(out, "     {line}");
        }
        if o.status == Status::Pass {
            continue;
        }
        match (o.monthly_dollars, o.monthly_saving) {
            (Some(cost), Some(saving)) => {
                let _ = writeln!(
                    out,
                    "     costs {} a month; the fix saves {} a month",
                    dollars(cost),
                    dollars(saving)
                );
            }
            (None, Some(saving)) => {
                let _ = writeln!(out, "     the fix saves {} a month", dollars(saving));
            }
            _ => {}
        }
        let _ = writeln!(out, "     why: {}", check.explain);
        match &o.fix {
            Some(
                Fix::Stack { description, .. }
                | Fix::Apply { description }
                | Fix::Rollback { description, .. }
                | Fix::Rotate { description, .. }
                | Fix::Restart { description, .. },
            ) => {
                let _ = writeln!(out, "     fix (--fix does it): {description}");
            }
            Some(Fix::Manual { description }) => {
                let _ = writeln!(out, "     fix: {description}");
            }
            None => {}
        }
    }
    let findings = report
        .checks
        .iter()
        .filter(|c| c.outcome.status != Status::Pass)
        .count();
    if findings == 0 {
        let _ = writeln!(out, "\nEvery check passes.");
    } else {
        let _ = writeln!(
            out,
            "\n{findings} finding(s); the fixes save about {} a month. `foundry runbook {} --env {} --fix` applies those marked so.",
            dollars(report.monthly_saving),
            report.runbook,
            report.env
        );
    }
    out
}
