use std::process::ExitCode;

use foundry::release::{
    self, DeployOptions, Deployed, ImageChoice, ReleaseProgress, RollbackOptions, Step,
};

use super::build::{Printer, short};
use crate::cli::{DeployArgs, Global, RollbackArgs};

pub async fn run(g: &Global, args: DeployArgs) -> anyhow::Result<ExitCode> {
    let mut session = super::open(g, Some("foundry deploy")).await?;
    let image = match args.image {
        Some(reference) => ImageChoice::Given(reference),
        None => ImageChoice::Build {
            stack_dir: super::stack_dir(g),
            profile: args.profile,
        },
    };
    let options = DeployOptions {
        services: args.services,
        image,
        keep_failed: args.keep_failed,
    };
    let deployed = release::deploy(&mut session, &options, &Printer::new()).await?;
    report(&deployed, args.json)
}

pub async fn rollback(g: &Global, args: RollbackArgs) -> anyhow::Result<ExitCode> {
    let mut session = super::open(g, Some("foundry rollback")).await?;
    let options = RollbackOptions {
        services: args.services,
        to: args.to,
    };
    let deployed = release::rollback(&mut session, &options, &Printer::new()).await?;
    report(&deployed, args.json)
}

fn report(deployed: &Deployed, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(deployed)?);
    } else {
        let names: Vec<&str> = deployed.services.keys().map(String::as_str).collect();
        let t = &deployed.seconds;
        println!(
            "Release {} is live: {} healthy ({:.1}s: image {:.1}s, rollout {:.1}s, health gate {:.1}s).",
            deployed.number,
            names.join(", "),
            t.total,
            t.image,
            t.rollout,
            t.health_gate
        );
    }
    Ok(ExitCode::SUCCESS)
}

impl ReleaseProgress for Printer {
    fn release_begun(&self, number: u32, resumed: bool) {
        if resumed {
            eprintln!("release {number}: resuming the release an interrupted run began");
        } else {
            eprintln!("release {number}: recorded, rolling out");
        }
    }

    fn already_running(&self, service: &str) {
        eprintln!("{service}: already runs this release");
    }

    fn rollout_started(&self, service: &str, handle: &str) {
        eprintln!("{service}: rolling out (operation {handle})");
    }

    fn rollout_status(&self, service: &str, status: &str) {
        if self.is_terminal() {
            eprintln!("{service}: {status}");
        }
    }

    fn gating(&self, service: &str, url: &str) {
        eprintln!("{service}: checking {url}");
    }

    fn finished(&self, service: &str, step: &Step) {
        match step.failure() {
            None => eprintln!("{service}: healthy"),
            Some(reason) => eprintln!("{service}: FAILED: {reason}"),
        }
    }

    fn reverting(&self, services: &[String], to: Option<u32>) {
        if let Some(to) = to {
            eprintln!("{}: going back to release {to}", services.join(", "));
        }
    }
}

/// The short form of an image reference, for one-line reports.
pub(super) fn short_image(image: &str) -> String {
    match image.rsplit_once('@') {
        Some((repo, digest)) => {
            let repo = repo.split_once('/').map_or(repo, |(_, path)| path);
            format!("{repo}@{}", short(digest))
        }
        None => image.to_owned(),
    }
}
