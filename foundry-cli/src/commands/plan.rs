use std::process::ExitCode;

use foundry::engine::render;

use crate::cli::Global;

pub async fn run(g: &Global, json: bool, detailed_exitcode: bool) -> anyhow::Result<ExitCode> {
    let session = super::open(g, None).await?;
    let prepared = session.plan().await.map_err(super::engine_error)?;
    let (stack, env) = (&session.stack.name, &session.stack.env);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&render::json(&prepared.plan, stack, env))?
        );
    } else {
        print!("{}", render::human(&prepared.plan, stack, env));
    }
    let code = if detailed_exitcode && !prepared.plan.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    };
    Ok(code)
}
