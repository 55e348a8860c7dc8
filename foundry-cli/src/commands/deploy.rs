use std::process::ExitCode;

use anyhow::bail;
use foundry::release::web::{self, BuildChoice, SiteDeployed};
use foundry::release::{
    self, DeployOptions, Deployed, ImageChoice, ReleaseProgress, RollbackOptions, Step,
};

use super::build::{Printer, short};
use crate::cli::{DeployArgs, Global, RollbackArgs};

pub async fn run(g: &Global, args: DeployArgs) -> anyhow::Result<ExitCode> {
    let mut session = super::open(g, Some("foundry deploy")).await?;
    let is_site = |name: &String| session.stack.sites.iter().any(|s| &s.name == name);
    let (sites, containers): (Vec<String>, Vec<String>) =
        args.services.iter().cloned().partition(is_site);
    let all = args.services.is_empty();
    let sites: Vec<String> = if all {
        session.stack.sites.iter().map(|s| s.name.clone()).collect()
    } else {
        sites
    };
    if args.dist.is_some() && sites.is_empty() {
        bail!(
            "--dist names a static service's build output, and this deploy includes no static service; name it, e.g. `foundry deploy web --dist web/dist`"
        );
    }
    // Containers first: the api serves the new client's operations (its
    // persisted-query allowlist) before the client that sends them ships.
    let with_containers = !containers.is_empty() || (all && !session.stack.services.is_empty());
    let deployed = if !with_containers {
        None
    } else {
        let image = match args.image {
            Some(reference) => ImageChoice::Given(reference),
            None => ImageChoice::Build {
                stack_dir: super::stack_dir(g),
                profile: args.profile,
            },
        };
        let options = DeployOptions {
            services: containers,
            image,
            keep_failed: args.keep_failed,
        };
        Some(release::deploy(&mut session, &options, &Printer::new()).await?)
    };
    if sites.is_empty() {
        let Some(deployed) = deployed else {
            bail!("the stack declares no services to deploy");
        };
        return report(&deployed, args.json);
    }
    let choice = match args.dist {
        Some(dist) => BuildChoice::Dist(dist),
        None => BuildChoice::Npm {
            stack_dir: super::stack_dir(g),
        },
    };
    let mut published = Vec::new();
    for site in &sites {
        published.push(web::deploy_site(&session, site, &choice, &Printer::new()).await?);
    }
    report_sites(deployed.as_ref(), &published, args.json)
}

pub async fn rollback(g: &Global, args: RollbackArgs) -> anyhow::Result<ExitCode> {
    let mut session = super::open(g, Some("foundry rollback")).await?;
    let is_site = |name: &String| session.stack.sites.iter().any(|s| &s.name == name);
    if args.services.iter().any(is_site) {
        let [site] = args.services.as_slice() else {
            bail!(
                "a static service is rolled back on its own: `foundry rollback {} --env {}`",
                args.services
                    .iter()
                    .find(|n| is_site(n))
                    .expect("one is static"),
                session.stack.env
            );
        };
        let done = web::rollback_site(&session, site, args.to, &Printer::new()).await?;
        return report_sites(None, &[done], args.json);
    }
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

fn report_sites(
    deployed: Option<&Deployed>,
    sites: &[SiteDeployed],
    json: bool,
) -> anyhow::Result<ExitCode> {
    if json {
        let sites: serde_json::Map<String, serde_json::Value> = sites
            .iter()
            .map(|s| (s.service.clone(), serde_json::to_value(s).unwrap()))
            .collect();
        let out = serde_json::json!({ "services": deployed, "sites": sites });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(deployed) = deployed {
        report(deployed, false)?;
    }
    for s in sites {
        let what = match s.number {
            Some(n) if !s.switched.is_empty() || s.invalidation.is_some() => {
                format!("release {n} is live")
            }
            Some(n) => format!("already live in release {n}"),
            None => "already live".to_string(),
        };
        println!(
            "{}: {what}: build {} in {} ({} uploaded, {} unchanged, {} switched{}; {:.1}s).",
            s.service,
            short(&s.digest),
            s.bucket,
            s.uploaded.len(),
            s.unchanged,
            s.switched.len(),
            s.invalidation
                .as_ref()
                .map(|i| format!(", invalidation {} of {}", i.id, i.paths.join(" ")))
                .unwrap_or_default(),
            s.seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}

impl ReleaseProgress for Printer {
    fn site_step(&self, service: &str, line: &str) {
        eprintln!("{service}: {line}");
    }

    fn uploaded(&self, key: &str, bytes: u64, done: usize, total: usize) {
        eprintln!("  uploaded {key} ({bytes} B) [{done}/{total}]");
    }

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
