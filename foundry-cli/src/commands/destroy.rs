use std::process::ExitCode;

use foundry::engine::policy::{self, DEFAULT_CONCURRENCY, DataLossConsent};
use foundry::engine::progress::Progress;
use foundry::engine::render;
use foundry::resources::secret::RECOVERY_WINDOW_DAYS;

use crate::cli::Global;

pub async fn run(
    g: &Global,
    yes: bool,
    confirm: Option<String>,
    force_empty_buckets: bool,
) -> anyhow::Result<ExitCode> {
    let stack = super::load_stack(g)?;
    policy::check_destroy_confirmation(&stack.name, &stack.env, yes, confirm.as_deref())?;
    let session = super::open(g, Some("foundry destroy")).await?;
    let prepared = session.plan_destroy().await.map_err(super::engine_error)?;
    let (name, env) = (&session.stack.name, &session.stack.env);
    if prepared.plan.is_empty() {
        println!("Nothing to destroy: no resources of {name}/{env} exist.");
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", render::human(&prepared.plan, name, env));
    // Destroying is the explicit request to lose the data; databases still
    // take their final snapshot, and protections still hold.
    let consent = DataLossConsent {
        force_empty_buckets,
        allow_data_loss: true,
    };
    session
        .check_data_loss(&prepared, consent)
        .await
        .map_err(super::engine_error)?;
    if !yes {
        let expected = policy::destroy_confirmation_word(name, env);
        if !super::confirm(
            &format!("\nDelete every resource of {name}/{env}? This cannot be undone."),
            expected,
        )? {
            println!("Nothing deleted.");
            return Ok(ExitCode::FAILURE);
        }
    }
    session
        .apply(
            &prepared,
            &Progress::new(),
            DEFAULT_CONCURRENCY.into(),
            force_empty_buckets,
        )
        .await
        .map_err(super::engine_error)?;
    println!("\nDestroy complete: no resources of {name}/{env} remain.");
    let kept = prepared.secrets_kept_recoverable();
    if !kept.is_empty() {
        println!(
            "Secrets Manager keeps the deleted secrets, values included, for {RECOVERY_WINDOW_DAYS} days: {}. \
             `foundry up --env {env}` within that window restores them; after it they are gone for good.",
            kept.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
