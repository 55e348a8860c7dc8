use std::process::ExitCode;

use anyhow::bail;
use foundry::engine::progress::Progress;
use foundry::engine::render;

use crate::cli::Global;

/// Environments whose destruction needs the stack name as well as --yes.
fn is_production(env: &str) -> bool {
    matches!(env, "prod" | "production")
}

pub async fn run(
    g: &Global,
    yes: bool,
    confirm: Option<String>,
    force_empty_buckets: bool,
) -> anyhow::Result<(ExitCode, Option<usize>)> {
    let stack = super::load_stack(g)?;
    if let Some(given) = &confirm
        && given != &stack.name
    {
        bail!(
            "--confirm {given} does not match the stack name `{}`; nothing was deleted",
            stack.name
        );
    }
    if is_production(&stack.env) && confirm.is_none() && yes {
        bail!(
            "destroying the production environment `{}` needs the stack name too: pass --confirm {}",
            stack.env,
            stack.name
        );
    }
    let session = super::open(g, Some("foundry destroy")).await?;
    let prepared = session.plan(true).await.map_err(super::engine_error)?;
    let (name, env) = (&session.stack.name, &session.stack.env);
    if prepared.plan.is_empty() {
        println!("Nothing to destroy: no resources of {name}/{env} exist.");
        return Ok((ExitCode::SUCCESS, Some(session.aws.requests.get())));
    }
    print!("{}", render::human(&prepared.plan, name, env));
    // Destroying is the explicit request to lose the data; databases still
    // take their final snapshot, and protections still hold.
    let consent = super::DataLossConsent {
        force_empty_buckets,
        allow_data_loss: true,
    };
    super::check_data_loss(&session, &prepared, consent).await?;
    if !yes {
        let expected = if is_production(env) {
            name.as_str()
        } else {
            "yes"
        };
        if !super::confirm(
            &format!("\nDelete every resource of {name}/{env}? This cannot be undone."),
            expected,
        )? {
            println!("Nothing deleted.");
            return Ok((ExitCode::FAILURE, Some(session.aws.requests.get())));
        }
    }
    session
        .apply(&prepared, &Progress::new(), 8, force_empty_buckets)
        .await
        .map_err(super::engine_error)?;
    println!("\nDestroy complete: no resources of {name}/{env} remain.");
    Ok((ExitCode::SUCCESS, Some(session.aws.requests.get())))
}
