use std::process::ExitCode;

use anyhow::bail;
use foundry::engine::outputs;
use foundry::stack::StateBackend;
use foundry::state::StateDir;

use crate::cli::Global;

pub async fn run(g: &Global, json: bool) -> anyhow::Result<ExitCode> {
    let stack = super::load_stack(g)?;
    // Local state needs no AWS call; remote state is read through a session.
    let snapshot = match &stack.state {
        StateBackend::Local => {
            StateDir::new(&super::state_base(g)?, &stack.name, &stack.env).load()?
        }
        StateBackend::S3 { .. } => super::open(g, None).await?.state.load().await?,
    };
    if snapshot.outputs.is_empty() {
        bail!(
            "no outputs recorded for {}/{}; run `foundry up --env {}` first",
            stack.name,
            stack.env,
            stack.env
        );
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&snapshot.outputs)?);
    } else {
        print!("{}", outputs::human(&snapshot.outputs));
    }
    Ok(ExitCode::SUCCESS)
}
