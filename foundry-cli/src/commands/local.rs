use std::process::ExitCode;

use anyhow::{Context, bail};
use foundry::local::{self, Running, Stopped, issuer};
use serde_json::json;

use crate::cli::LocalAction;

/// What each stand-in is, for people.
fn describe(name: &str) -> &'static str {
    match name {
        local::MOTO => "AWS APIs (moto)",
        local::REGISTRY => "image registry (docker-registry)",
        local::ISSUER => "token issuer",
        _ => "App Runner emulator",
    }
}

pub fn run(action: LocalAction) -> anyhow::Result<ExitCode> {
    match action {
        LocalAction::Start => {
            local::ensure_running(true)?;
            print_status(&local::status());
        }
        LocalAction::Stop { purge } => {
            let stopped = if purge {
                local::stop_and_purge()
            } else {
                local::stop()
            };
            if stopped.is_empty() {
                println!("nothing local was running");
            }
            for stopped in stopped {
                match stopped {
                    Stopped::StandIn(name, running) => {
                        println!("stopped the {} (pid {})", describe(name), running.pid)
                    }
                    Stopped::Database(db) => println!(
                        "stopped the database {} ({}:{})",
                        db.identifier, db.listen, db.port
                    ),
                }
            }
            if purge {
                println!("everything local is deleted");
            } else {
                println!(
                    "everything local is kept for `foundry local start` (`--purge` deletes it)"
                );
            }
        }
        LocalAction::Status { json } => {
            let status = local::status();
            let databases = local::database::all();
            if json {
                let mut out: serde_json::Map<_, _> = status
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
                out.insert(
                    "databases".into(),
                    databases
                        .iter()
                        .map(|db| {
                            json!({
                                "identifier": db.identifier,
                                "rds_endpoint": db.endpoint,
                                "address": format!("{}:{}", db.listen, db.port),
                                "running": db.is_running(),
                            })
                        })
                        .collect(),
                );
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print_status(&status);
                for db in &databases {
                    println!(
                        "{:<10} {:<36} {}:{} ({})",
                        "database",
                        format!("PostgreSQL for {}", db.identifier),
                        db.listen,
                        db.port,
                        if db.is_running() {
                            "running"
                        } else {
                            "stopped"
                        }
                    );
                }
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
        LocalAction::Token {
            user,
            org,
            email,
            ttl,
            json,
        } => {
            let Some(running) = local::status_of(local::ISSUER) else {
                bail!(
                    "the local token issuer is not running, so no local api would accept a token; run `foundry local start` (or `foundry --local up`) first"
                );
            };
            let key = issuer::Issuer::load_or_create()?;
            let url = issuer::issuer_url(running.port);
            let claims = issuer::TokenClaims { user, org, email };
            let token = key.sign(&url, &claims, ttl);
            if json {
                let expires = std::time::SystemTime::now() + ttl;
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "token": token,
                        "issuer": url,
                        "expires_at": humantime::format_rfc3339_seconds(expires).to_string(),
                    }))?
                );
            } else {
                println!("{token}");
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
        LocalAction::ServeIssuer { port } => {
            issuer::serve(port).context("cannot serve the local token issuer")?;
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
