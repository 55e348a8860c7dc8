use std::process::ExitCode;

use foundry::stack::LoadError;

use crate::cli::Global;

pub fn run(g: &Global) -> anyhow::Result<ExitCode> {
    let source = super::load_source(g)?;
    let stacks = match g.env.as_deref() {
        Some(env) => vec![source.resolve(env).map_err(LoadError::Invalid)?],
        None => source.validate_all().map_err(LoadError::Invalid)?,
    };
    let envs: Vec<&str> = stacks.iter().map(|s| s.env.as_str()).collect();
    println!(
        "{} is valid (stack {}, environments: {}).",
        g.stack.display(),
        source.file.name,
        envs.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
