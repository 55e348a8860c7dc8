use std::process::ExitCode;

use foundry::engine::outputs;
use foundry::engine::policy::DataLossConsent;
use foundry::engine::progress::Progress;
use foundry::engine::render;

use crate::cli::Global;

pub async fn run(
    g: &Global,
    yes: bool,
    concurrency: usize,
    consent: DataLossConsent,
) -> anyhow::Result<ExitCode> {
    let session = super::open(g, Some("foundry up")).await?;
    let prepared = session.plan().await.map_err(super::engine_error)?;
    let (stack, env) = (&session.stack.name, &session.stack.env);
    print!("{}", render::human(&prepared.plan, stack, env));
    session
        .check_data_loss(&prepared, consent)
        .await
        .map_err(super::engine_error)?;
    if !prepared.plan.is_empty() {
        if !yes && !super::confirm(&format!("\nApply these changes to {stack}/{env}?"), "yes")? {
            println!("Nothing changed.");
            return Ok(ExitCode::FAILURE);
        }
        println!();
    }
    let progress = Progress::new();
    let outputs = session
        .apply(
            &prepared,
            &progress,
            concurrency,
            consent.force_empty_buckets,
        )
        .await
        .map_err(super::engine_error)?;
    if !prepared.plan.is_empty() {
        println!("\nApply complete: {stack}/{env} matches the stack file.");
    }
    println!("\nOutputs:\n{}", outputs::human(&outputs));
    Ok(ExitCode::SUCCESS)
}
