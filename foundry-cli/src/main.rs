//! The `foundry` binary: parse arguments, run one command, turn any error
//! into one clear paragraph and an exit code.

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (stats, started) = (cli.global.stats, std::time::Instant::now());
    let code = match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", commands::render_error(&e));
            ExitCode::FAILURE
        }
    };
    if stats {
        commands::print_stats(started);
    }
    code
}

/// Rust ignores SIGPIPE, so a write to a closed pipe (`foundry plan | head`)
/// fails and `println!` panics. Like `ls` and every Unix filter, foundry
/// instead ends quietly when its reader goes away. Sockets are unaffected:
/// the standard library sends with MSG_NOSIGNAL. An apply cut short this
/// way is a crash the next run recovers from, like any other.
fn restore_default_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_DFL has no
    // memory-safety preconditions; no other thread exists yet.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
