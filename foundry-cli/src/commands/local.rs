use std::process::ExitCode;

use crate::cli::LocalAction;

pub fn run(action: LocalAction) -> anyhow::Result<ExitCode> {
    match action {
        LocalAction::Start => {
            let running = foundry::local::ensure_running()?;
            println!(
                "local AWS emulator (moto) runs at {} (pid {})",
                running.endpoint(),
                running.pid
            );
        }
        LocalAction::Stop => match foundry::local::stop() {
            Some(r) => println!(
                "stopped the local AWS emulator (pid {}); its resources are gone",
                r.pid
            ),
            None => println!("the local AWS emulator is not running"),
        },
        LocalAction::Status => match foundry::local::status() {
            Some(r) => println!("running at {} (pid {})", r.endpoint(), r.pid),
            None => {
                println!(
                    "not running; `foundry local start` or any command with --local starts it"
                );
                return Ok(ExitCode::from(3));
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}
