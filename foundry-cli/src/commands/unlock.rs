use std::process::ExitCode;

use crate::cli::Global;

/// Removes a remote lock left by a run that crashed. Local locks need no
/// such command: the OS releases them with their holder.
pub async fn run(g: &Global) -> anyhow::Result<ExitCode> {
    let session = super::open(g, None).await?;
    let holder = session.state.unlock().await?;
    println!(
        "Removed the lock on {} held by {holder}.",
        session.state.describe()
    );
    Ok(ExitCode::SUCCESS)
}
