use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::bail;
use foundry::aws::Aws;
use foundry::images::{self, BuildOptions, BuildProgress, Pushed};
use foundry_image::{Assembled, BlobOutcome, Digest, Progress};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{BuildArgs, Global};

pub async fn run(g: &Global, args: BuildArgs) -> anyhow::Result<ExitCode> {
    let source = super::load_source(g)?;
    // Images do not depend on the environment; only the repository they are
    // pushed to does.
    let env = match (g.env.as_deref(), args.push) {
        (Some(env), _) => env.to_owned(),
        (None, false) => source
            .envs()
            .first()
            .map(|e| e.to_string())
            .unwrap_or_default(),
        (None, true) => bail!(
            "pushing needs --env NAME, which picks the repository; {} declares: {}",
            g.stack.display(),
            source.envs().join(", ")
        ),
    };
    let stack = source
        .resolve(&env)
        .map_err(foundry::stack::LoadError::Invalid)?;
    let destination = match (args.push, &args.registry) {
        (false, _) => None,
        (true, Some(registry)) => Some(images::named_destination(registry)?),
        (true, None) => {
            let aws = Aws::connect(&stack.region, &super::target(g, true)?).await?;
            Some(images::ecr_destination(&aws).await?)
        }
    };
    let options = BuildOptions {
        stack_dir: super::stack_dir(g),
        services: args.services,
        profile: args.profile,
    };
    let printer = Printer::new();
    let built = images::build(&stack, &options, destination.as_ref(), &printer).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&built)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per step on standard error; on a terminal, cargo's latest line
/// under a spinner while it compiles.
pub(super) struct Printer {
    compiling: Mutex<Option<(ProgressBar, Instant)>>,
    terminal: bool,
}

impl Printer {
    pub(super) fn new() -> Self {
        Printer {
            compiling: Mutex::new(None),
            terminal: std::io::stderr().is_terminal(),
        }
    }

    pub(super) fn is_terminal(&self) -> bool {
        self.terminal
    }

    fn end_compile(&self) -> Option<Duration> {
        let (bar, started) = self.compiling.lock().unwrap().take()?;
        bar.finish_and_clear();
        Some(started.elapsed())
    }
}

impl Progress for Printer {
    fn cargo_line(&self, line: &str) {
        if let Some((bar, _)) = self.compiling.lock().unwrap().as_ref() {
            bar.set_message(line.trim().to_owned());
        }
    }

    fn blob(&self, digest: &Digest, size: u64, outcome: BlobOutcome) {
        if self.terminal {
            let what = match outcome {
                BlobOutcome::Present => "already there",
                BlobOutcome::Mounted => "mounted",
                BlobOutcome::Uploaded => "uploaded",
            };
            eprintln!("    {} {} {what}", short(digest.as_str()), bytes(size));
        }
    }
}

impl BuildProgress for Printer {
    fn compiling(&self, service: &str, profile: &str) {
        eprintln!("{service}: compiling ({profile} profile)");
        let bar = if self.terminal {
            ProgressBar::new_spinner()
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("  {spinner:.cyan} {wide_msg:.dim} {elapsed}")
                .expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(100));
        *self.compiling.lock().unwrap() = Some((bar, Instant::now()));
    }

    fn assembled(&self, service: &str, image: &Assembled) {
        let took = self
            .end_compile()
            .map(|d| format!(" after {:.1}s of cargo", d.as_secs_f64()))
            .unwrap_or_default();
        eprintln!(
            "{service}: image {} ({}, tag {}){took}",
            image.manifest_digest.as_str(),
            bytes(image.size),
            image.tag
        );
    }

    fn pushing(&self, service: &str, repository: &str) {
        eprintln!("{service}: pushing to {repository}");
    }

    fn pushed(&self, service: &str, pushed: &Pushed) {
        let kept = pushed.blobs_present + pushed.blobs_mounted;
        eprintln!(
            "{service}: pushed {} in {} blob(s), {kept} already in the registry: {}",
            bytes(pushed.bytes_uploaded),
            pushed.blobs_uploaded,
            pushed.reference
        );
    }
}

pub(super) fn short(digest: &str) -> &str {
    &digest[..digest.len().min(19)]
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
