use std::process::ExitCode;

use anyhow::Context;
use foundry::local::{self, Running};
use serde_json::json;

use crate::cli::LocalAction;

/// What each stand-in is, for people.
fn describe(name: &str) -> &'static str {
    match name {
        local::MOTO => "AWS APIs (moto)",
        local::REGISTRY => "image registry (docker-registry)",
        _ => "App Runner emulator",
    }
}

pub fn run(action: LocalAction) -> anyhow::Result<ExitCode> {
    match action {
        LocalAction::Start => {
            local::ensure_running(true)?;
            print_status(&local::status());
        }
        LocalAction::Stop => {
            let stopped = local::stop();
            if stopped.is_empty() {
                println!("nothing local was running");
            }
            for (name, running) in stopped {
                println!("stopped the {} (pid {})", describe(name), running.pid);
            }
            println!("everything created locally is gone");
        }
        LocalAction::Status { json } => {
            let status = local::status();
            if json {
                let out: serde_json::Map<_, _> = status
                    .iter()
                    .map(|(name, running)| {
                        let value = match running {
                            Some(r) => json!({
                                "running": true,
                                "what": describe(name),
                                "endpoint": r.endpoint(),
                                "pid": r.pid,
                            }),
                            None => json!({ "running": false, "what": describe(name) }),
                        };
                        (name.to_string(), value)
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print_status(&status);
            }
            if status.iter().any(|(_, r)| r.is_none()) {
                if !json {
                    println!(
                        "`foundry local start` (or any command with --local) starts what is not running"
                    );
                }
                return Ok(ExitCode::from(3));
            }
        }
        LocalAction::ServeApprunner {
            port,
            state_dir,
            registry,
            moto,
        } => {
            let config = local::apprunner_config(port, &state_dir, &registry, &moto);
            apprunner_emulator::serve_until_signal(config, |endpoint| {
                println!("App Runner emulator listening on {endpoint}");
            })
            .context("cannot start the App Runner emulator")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_status(status: &[(&str, Option<Running>)]) {
    for (name, running) in status {
        match running {
            Some(r) => println!(
                "{name:<10} {:<36} {} (pid {})",
                describe(name),
                r.endpoint(),
                r.pid
            ),
            None => println!("{name:<10} {:<36} not running", describe(name)),
        }
    }
}
