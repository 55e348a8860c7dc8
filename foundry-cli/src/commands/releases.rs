use std::process::ExitCode;

use foundry::release::{self, Change, Outcome, Release, ReleaseKind};
use serde_json::json;

use super::build::short;
use super::deploy::short_image;
use crate::cli::Global;

pub async fn run(g: &Global, service: Option<String>, json: bool) -> anyhow::Result<ExitCode> {
    let session = super::open(g, None).await?;
    if let Some(name) = &service
        && !session.stack.sites.iter().any(|s| &s.name == name)
    {
        foundry::images::select(&session.stack, std::slice::from_ref(name))?;
    }
    let history = release::load(&session.state).await?;
    let rows = history.with_changes();
    let keep = |name: &String| service.as_ref().is_none_or(|s| s == name);
    if json {
        let out: Vec<_> = rows
            .iter()
            .map(|(release, changes)| {
                let services: serde_json::Map<_, _> = release
                    .services
                    .iter()
                    .filter(|(name, _)| keep(name))
                    .map(|(name, s)| (name.clone(), serde_json::to_value(s).unwrap()))
                    .collect();
                let sites: serde_json::Map<_, _> = release
                    .sites
                    .iter()
                    .filter(|(name, _)| keep(name))
                    .map(|(name, s)| (name.clone(), serde_json::to_value(s).unwrap()))
                    .collect();
                let changes: serde_json::Map<_, _> = changes
                    .iter()
                    .filter(|(name, _)| keep(name))
                    .map(|(name, list)| {
                        let list: Vec<String> = list.iter().map(describe).collect();
                        (name.clone(), json!(list))
                    })
                    .collect();
                json!({
                    "number": release.number,
                    "kind": release.kind,
                    "started_at": release.started_at,
                    "finished_at": release.finished_at,
                    "by": release.by,
                    "outcome": release.outcome,
                    "services": services,
                    "sites": sites,
                    "changes": changes,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!(
            "No releases yet in {}/{}: `foundry deploy` makes the first.",
            session.stack.name, session.stack.env
        );
        return Ok(ExitCode::SUCCESS);
    }
    for (release, changes) in rows {
        println!("{}", headline(release));
        for (name, s) in release.services.iter().filter(|(n, _)| keep(n)) {
            let what: Vec<String> = changes
                .get(name)
                .map(|l| l.iter().map(describe).collect())
                .unwrap_or_default();
            let what = if what.is_empty() {
                String::new()
            } else {
                format!("  ({})", what.join("; "))
            };
            println!("    {name}: {}{what}", short_image(&s.image));
        }
        for (name, s) in release.sites.iter().filter(|(n, _)| keep(n)) {
            let what = match changes.get(name).map(Vec::as_slice) {
                Some([Change::Added]) => "  (new static service)",
                Some([Change::Build { .. }]) => "  (new build)",
                _ => "",
            };
            println!(
                "    {name}: static {} ({} files){what}",
                short(&s.digest),
                s.files
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn headline(release: &Release) -> String {
    let kind = match &release.kind {
        ReleaseKind::Deploy => "deploy".to_owned(),
        ReleaseKind::Rollback { to } => format!("rollback to {to}"),
    };
    let outcome = match &release.outcome {
        Outcome::InProgress => "in progress".to_owned(),
        Outcome::Succeeded => "succeeded".to_owned(),
        Outcome::Failed { reason } => format!("FAILED, rolled back: {reason}"),
        Outcome::FailedKept { reason } => format!("FAILED, kept: {reason}"),
        Outcome::Interrupted => "interrupted".to_owned(),
    };
    format!(
        "#{} {kind} {} by {}: {outcome}",
        release.number, release.started_at, release.by
    )
}

fn describe(change: &Change) -> String {
    match change {
        Change::Added => "new service".into(),
        Change::Removed => "removed".into(),
        Change::Image { from, to } => {
            format!("image {} → {}", short_image(from), short_image(to))
        }
        Change::EnvAdded(k) => format!("+env {k}"),
        Change::EnvRemoved(k) => format!("-env {k}"),
        Change::EnvChanged(k) => format!("~env {k}"),
        Change::Secret(k) => format!("secret {k} (version)"),
        Change::Build { from, to } => format!("build {} → {}", short(from), short(to)),
    }
}
