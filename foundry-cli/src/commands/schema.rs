use std::process::ExitCode;

use foundry::stack::StackFile;

pub fn run() -> anyhow::Result<ExitCode> {
    let schema = schemars::schema_for!(StackFile);
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(ExitCode::SUCCESS)
}
