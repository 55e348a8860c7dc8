//! The plan as people read it (Terraform's shape) and as scripts read it.

use std::fmt::Write;

use console::style;

use super::plan::{Action, Change, Plan};

pub fn human(plan: &Plan, stack: &str, env: &str) -> String {
    let mut out = String::new();
    if plan.is_empty() {
        let _ = writeln!(
            out,
            "No changes. {stack}/{env} matches the stack file ({} resources up to date).",
            plan.unchanged
        );
        return out;
    }
    let drifted: Vec<&Change> = plan.changes.iter().filter(|c| c.drift).collect();
    if !drifted.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            style("Changed outside foundry (drift):").yellow().bold()
        );
        for c in &drifted {
            let what = c.reason.as_deref().unwrap_or("changed outside foundry");
            let keys: Vec<&str> = c
                .attrs
                .iter()
                .filter(|a| a.drift)
                .map(|a| a.key.as_str())
                .collect();
            let detail = if keys.is_empty() {
                String::new()
            } else {
                format!(": {}", keys.join(", "))
            };
            let _ = writeln!(out, "  ! {} ({}) {what}{detail}", c.id, c.kind);
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "foundry will perform these actions on {stack}/{env}:\n"
    );
    for c in &plan.changes {
        let symbol = match c.action {
            Action::Create => style(c.action.symbol()).green(),
            Action::Update => style(c.action.symbol()).yellow(),
            Action::Replace => style(c.action.symbol()).magenta(),
            Action::Delete => style(c.action.symbol()).red(),
        };
        let verb = match c.action {
            Action::Create => "will be created",
            Action::Update => "will be updated in place",
            Action::Replace => "must be replaced",
            Action::Delete => "will be deleted",
        };
        let physical = c
            .physical_id
            .as_deref()
            .map(|p| format!(" {p}"))
            .unwrap_or_default();
        let why = c
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {symbol} {} ({}){physical} {verb}{why}",
            style(&c.id).bold(),
            c.kind
        );
        if c.data_loss {
            let _ = writeln!(
                out,
                "      {}",
                style(format!(
                    "! the data in {} is lost (a final snapshot is taken first when final_snapshot is on)",
                    c.physical_id.as_deref().unwrap_or(&c.id)
                ))
                .red()
                .bold()
            );
        }
        for a in &c.attrs {
            let before = a
                .before
                .as_ref()
                .map_or("(none)".to_string(), |v| v.to_string());
            let after = a
                .after
                .as_ref()
                .map_or("(none)".to_string(), |v| v.to_string());
            let mut notes = Vec::new();
            if a.forces_replacement {
                notes.push("forces replacement");
            }
            if a.drift {
                notes.push("changed outside foundry");
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!("  # {}", notes.join(", "))
            };
            match c.action {
                Action::Create => {
                    let _ = writeln!(out, "      {:<22} = {after}", a.key);
                }
                _ => {
                    let _ = writeln!(out, "      {:<22} = {before} -> {after}{notes}", a.key);
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "\nPlan: {} to create, {} to update, {} to replace, {} to delete.",
        plan.count(Action::Create),
        plan.count(Action::Update),
        plan.count(Action::Replace),
        plan.count(Action::Delete)
    );
    out
}

pub fn json(plan: &Plan, stack: &str, env: &str) -> serde_json::Value {
    serde_json::json!({
        "stack": stack,
        "env": env,
        "changes": plan.changes,
        "summary": {
            "create": plan.count(Action::Create),
            "update": plan.count(Action::Update),
            "replace": plan.count(Action::Replace),
            "delete": plan.count(Action::Delete),
            "unchanged": plan.unchanged,
            "drift": plan.changes.iter().filter(|c| c.drift).count(),
            "data_loss": plan.changes.iter().filter(|c| c.data_loss).count(),
        }
    })
}
