use std::process::ExitCode;

use foundry::engine::policy::{self, DEFAULT_CONCURRENCY, DataLossConsent};
use foundry::engine::progress::Progress;
use foundry::engine::render;

use crate::cli::Global;

pub async fn run(
    g: &Global,
    yes: bool,
    confirm: Option<String>,
    force_empty_buckets: bool,
) -> anyhow::Result<(ExitCode, Option<usize>)> {
    let stack = super::load_stack(g)?;
    policy::check_destroy_confirmation(&stack.name, &stack.env, yes, confirm.as_deref())?;
    let session = super::open(g, Some("foundry destroy")).await?;
    let prepared = session.plan_destroy().await.map_err(super::engine_error)?;
    let (name, env) = (&session.stack.name, &session.stack.env);
    if prepared.plan.is_empty() {
        println!("Nothing to destroy: no resources of {name}/{env} exist.");
        return Ok((ExitCode::SUCCESS, Some(session.aws.requests.get())));
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
            return Ok((ExitCode::FAILURE, Some(session.aws.requests.get())));
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
    Ok((ExitCode::SUCCESS, Some(session.aws.requests.get())))
}
