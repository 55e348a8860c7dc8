//! One file per command; each parses nothing and decides little: it loads
//! the stack, calls the library and prints.

mod build;
mod deploy;
mod destroy;
mod local;
mod logs;
mod new;
mod outputs;
mod plan;
mod releases;
mod runbook;
mod schema;
mod secret;
mod status;
mod unlock;
mod up;
mod upgrade;
mod validate;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use foundry::aws::Target;
use foundry::engine::policy::DataLossConsent;
use foundry::engine::{EngineError, Session};
use foundry::stack::{LoadError, Source, Stack};

use crate::cli::{Cli, Command, Global};

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    match cli.command {
        Command::Validate => validate::run(g),
        Command::Build(args) => build::run(g, args).await,
        Command::Deploy(args) => deploy::run(g, args).await,
        Command::Rollback(args) => deploy::rollback(g, args).await,
        Command::Status(args) => status::run(g, args).await,
        Command::Runbook(args) => runbook::run(g, args).await,
        Command::Logs(args) => logs::run(g, args).await,
        Command::Releases { service, json } => releases::run(g, service, json).await,
        Command::Schema => schema::run(),
        Command::Local { action } => local::run(action),
        Command::New(args) => new::run(args),
        Command::Upgrade(args) => upgrade::run(args),
        Command::Outputs { json } => outputs::run(g, json).await,
        Command::Unlock => unlock::run(g).await,
        Command::Secret { action } => secret::run(g, action).await,
        Command::Plan {
            json,
            detailed_exitcode,
        } => plan::run(g, json, detailed_exitcode).await,
        Command::Up {
            yes,
            concurrency,
            force_empty_buckets,
            allow_data_loss,
            profile,
        } => {
            let consent = DataLossConsent {
                force_empty_buckets,
                allow_data_loss,
            };
            up::run(g, yes, concurrency.into(), consent, &profile).await
        }
        Command::Destroy {
            yes,
            confirm,
            force_empty_buckets,
        } => destroy::run(g, yes, confirm, force_empty_buckets).await,
    }
}

/// `--stats`: printed whether the command succeeded or not (a failure is
/// when the figures matter most).
pub fn print_stats(started: Instant) {
    let wall = started.elapsed().as_secs_f64();
    let stats = foundry::aws::request_stats();
    if stats.attempts == 0 {
        eprintln!("stats: no AWS requests, {wall:.3}s wall");
    } else {
        eprintln!(
            "stats: {} AWS requests ({} calls, {} retries), {wall:.3}s wall",
            stats.attempts,
            stats.calls,
            stats.retries()
        );
    }
}

/// One paragraph for a person: our errors already say what to do.
pub fn render_error(e: &anyhow::Error) -> String {
    if let Some(LoadError::Invalid(invalid)) = e.downcast_ref::<LoadError>() {
        let n = invalid.diagnostics.len();
        let head = if n == 1 {
            "error: the stack file is invalid".to_string()
        } else {
            format!("error: the stack file has {n} problems")
        };
        return format!("{head}\n\n{invalid}\nNothing was sent to AWS.");
    }
    let mut text = format!("error: {e}");
    // Context layers added at the edges come first; the cause follows once.
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(&format!(": {cause}"));
        }
    }
    text
}

pub fn load_source(g: &Global) -> Result<Source, LoadError> {
    Source::load(&g.stack)
}

/// The stack for `--env`, which these commands require.
pub fn load_stack(g: &Global) -> anyhow::Result<Stack> {
    let source = load_source(g)?;
    let Some(env) = g.env.as_deref() else {
        bail!(
            "this command needs --env NAME; {} declares: {}",
            g.stack.display(),
            source.envs().join(", ")
        );
    };
    Ok(source.resolve(env).map_err(LoadError::Invalid)?)
}

/// The stack file's directory: relative paths in it start here.
pub fn stack_dir(g: &Global) -> PathBuf {
    match g.stack.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Where the state of a stack file lives: beside it, with the local
/// stand-ins' state kept apart from real AWS's, and per local world (see
/// `foundry::local::world_id`): after `local stop --purge`, nothing recorded
/// against the purged world is read again.
pub fn state_base(g: &Global) -> anyhow::Result<PathBuf> {
    let beside = stack_dir(g);
    Ok(if g.local {
        beside
            .join(".foundry")
            .join("local")
            .join(foundry::local::world_id()?)
    } else {
        beside
    })
}

/// Where requests go: AWS, or with `--local` the local stand-ins, started
/// if needed (the registry and App Runner emulator only `with_compute`:
/// for stacks that declare services).
pub fn target(g: &Global, with_compute: bool) -> anyhow::Result<Target> {
    Ok(target_for(g, with_compute)?.0)
}

/// [`target`], and the local stand-ins when `--local`.
fn target_for(
    g: &Global,
    with_compute: bool,
) -> anyhow::Result<(Target, Option<foundry::local::Local>)> {
    if !g.local {
        return Ok((Target::Aws, None));
    }
    let local = foundry::local::ensure_running(with_compute)
        .context("cannot start the local stand-ins for AWS")?;
    eprintln!(
        "Using the local AWS emulator at {} (`foundry local stop` ends it).",
        local.moto.endpoint()
    );
    let target = Target::Local {
        endpoint: local.moto.endpoint(),
        apprunner: local.compute.as_ref().map(|c| c.apprunner.endpoint()),
        registry: local.compute.as_ref().map(|c| c.registry.host()),
    };
    Ok((target, Some(local)))
}

pub async fn open(g: &Global, lock_for: Option<&str>) -> anyhow::Result<Session> {
    let mut stack = load_stack(g)?;
    let (target, local) = target_for(g, !stack.services.is_empty())?;
    if let Some(local) = local {
        local.localize(&mut stack);
    }
    let mut session = Session::open(stack, &state_base(g)?, &target, lock_for)
        .await
        .map_err(engine_error)?;
    foundry::release::attach(&mut session).await?;
    Ok(session)
}

pub fn engine_error(e: EngineError) -> anyhow::Error {
    anyhow::Error::new(e)
}

/// Asks for `expected` on the terminal; refuses when there is none.
pub fn confirm(question: &str, expected: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to ask for confirmation without a terminal; pass --yes to go ahead without asking"
        );
    }
    print!("{question}\n  Only '{expected}' will be accepted: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == expected)
}
