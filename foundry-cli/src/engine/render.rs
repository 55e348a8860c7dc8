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

/// What the plan means for the services' traffic, in sentences: a switch
/// of compute target (where traffic moves, and that the old target's
/// services go only after), and ECS load balancers that will listen on
/// plain HTTP because no certificate is given. Empty when none applies.
pub fn compute_notes(plan: &Plan, stack: &crate::stack::Stack) -> Vec<String> {
    use crate::resources::Kind;
    use crate::stack::{ComputeTarget, Ingress};
    let planned = |kind: Kind, action: Action| {
        plan.changes
            .iter()
            .any(|c| c.kind == kind && c.action == action)
    };
    let mut notes = Vec::new();
    match stack.compute {
        ComputeTarget::Ecs if planned(Kind::ApprunnerService, Action::Delete) => notes.push(
            "Traffic moves from App Runner to ECS: the services start on ECS behind their load balancers, the CDN's api origin moves to the api's load balancer, and only then are the App Runner services deleted.".to_string(),
        ),
        ComputeTarget::Apprunner if planned(Kind::EcsService, Action::Delete) => notes.push(
            "Traffic moves from ECS to App Runner: the services start on App Runner, the CDN's api origin moves to the api's App Runner URL, and only then are the ECS services and their load balancers deleted.".to_string(),
        ),
        _ => {}
    }
    if stack.compute == ComputeTarget::Ecs
        && stack.ecs.certificate_arn.is_none()
        && planned(Kind::Listener, Action::Create)
    {
        let public: Vec<&str> = stack
            .services
            .iter()
            .filter(|s| s.ingress == Ingress::Public)
            .map(|s| s.name.as_str())
            .collect();
        if !public.is_empty() {
            notes.push(format!(
                "The load balancer{} of {} will listen on HTTP (port 80): no `[compute] certificate_arn` is given. Only CloudFront may reach {}, and viewers still use HTTPS to CloudFront; set an ACM certificate of {} to listen on HTTPS.",
                if public.len() == 1 { "" } else { "s" },
                public.join(", "),
                if public.len() == 1 { "it" } else { "them" },
                stack.region
            ));
        }
    }
    notes
}
