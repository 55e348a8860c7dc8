//! `up`'s part in releases: which services still need a first image, which
//! can get one now (every secret they read has a value, every service whose
//! URL they name will run), building and pushing those between `up`'s two
//! plans, and recording release 1 from what the platform then runs.

use std::collections::BTreeMap;
use std::time::Instant;

use super::deploy::{Deployed, Run, build_and_push, compute_of};
use super::history::{ReleaseKind, ServiceRelease};
use super::{ReleaseError, ReleaseProgress, SecretRef, load};
use crate::aws::{self, AwsError};
use crate::engine::Session;
use crate::stack::references::Reference;
use crate::stack::{EnvValue, Stack};

/// Services that have no image yet but a crate to build one from: `up`
/// builds and pushes their first image before it creates them
/// ([`push_first_images`]).
pub fn without_image(session: &Session) -> Vec<String> {
    session
        .stack
        .services
        .iter()
        .filter(|s| s.source.is_some() && !session.running_images.contains_key(&s.name))
        .map(|s| s.name.clone())
        .collect()
}

/// Services with neither an image nor a `source`: nothing to create them
/// with, so `up` makes only their repository, role and security group.
pub fn without_source(session: &Session) -> Vec<String> {
    session
        .stack
        .services
        .iter()
        .filter(|s| s.source.is_none() && !session.running_images.contains_key(&s.name))
        .map(|s| s.name.clone())
        .collect()
}

/// The first images `up` pushed, and the services it could not start yet.
#[derive(Debug, Clone, Default)]
pub struct FirstImages {
    /// Service → git sha of the image pushed.
    pub pushed: BTreeMap<String, Option<String>>,
    /// Service → its secrets that have no value yet (App Runner could not
    /// start it: it reads every runtime secret at start).
    pub waiting: BTreeMap<String, Vec<String>>,
    /// Locally, service → its secrets that have no value yet: it starts
    /// without those variables (the local App Runner leaves them unset).
    pub started_without: BTreeMap<String, Vec<String>>,
}

/// `up`'s step between its two plans: builds and pushes the first image of
/// each service of `services` whose secrets all have values (their
/// repositories and secrets exist by now), so that the next plan creates it.
pub async fn push_first_images(
    session: &mut Session,
    services: &[String],
    stack_dir: &std::path::Path,
    profile: &str,
    progress: &dyn ReleaseProgress,
) -> Result<FirstImages, ReleaseError> {
    let mut first = FirstImages::default();
    let mut ready = Vec::new();
    for service in services {
        let missing = secrets_without_value(session, service).await?;
        if missing.is_empty() {
            ready.push(service.clone());
        } else if session.aws.local {
            ready.push(service.clone());
            first.started_without.insert(service.clone(), missing);
        } else {
            first.waiting.insert(service.clone(), missing);
        }
    }
    // A service whose env names the URL of one that will not run yet could
    // not be created either: leave it out rather than build it for nothing.
    loop {
        let runs =
            |name: &String| session.running_images.contains_key(name) || ready.contains(name);
        let blocked: Vec<String> = ready
            .iter()
            .filter(|name| urls_named(&session.stack, name).iter().any(|u| !runs(u)))
            .cloned()
            .collect();
        if blocked.is_empty() {
            break;
        }
        ready.retain(|name| !blocked.contains(name));
    }
    if ready.is_empty() {
        return Ok(first);
    }
    let account = aws::account_id(&session.aws).await?;
    let built = build_and_push(session, &ready, stack_dir, profile, &account, progress).await?;
    for (service, (image, sha)) in built {
        session.running_images.insert(service.clone(), image);
        first.pushed.insert(service, sha);
    }
    Ok(first)
}

/// The declared secrets `service` reads (as runtime secrets or in its env)
/// that have no value yet.
async fn secrets_without_value(
    session: &Session,
    service: &str,
) -> Result<Vec<String>, ReleaseError> {
    let Some(spec) = session.stack.services.iter().find(|s| s.name == service) else {
        return Ok(Vec::new());
    };
    let mut names: Vec<&String> = spec.secrets.iter().collect();
    for var in &spec.env {
        if let EnvValue::Secret(name) = &var.value {
            names.push(name);
        }
    }
    names.sort();
    names.dedup();
    let mut missing = Vec::new();
    for secret in names {
        let name = crate::engine::expand::secret_name(&session.stack, secret);
        let version =
            AwsError::none_if_not_found(aws::secret_current_version(&session.aws, &name).await)?;
        if version.flatten().is_none() {
            missing.push(secret.clone());
        }
    }
    Ok(missing)
}

/// The services whose URL `service`'s env names.
fn urls_named(stack: &Stack, service: &str) -> Vec<String> {
    let Some(spec) = stack.services.iter().find(|s| s.name == service) else {
        return Vec::new();
    };
    spec.env
        .iter()
        .filter_map(|var| match &var.value {
            EnvValue::Text(template) => Some(template),
            EnvValue::Secret(_) => None,
        })
        .flat_map(|template| template.references())
        .filter_map(|reference| match reference {
            Reference::ServiceUrl(name) => Some(name.clone()),
            _ => None,
        })
        .collect()
}

/// After `up` created services with their first image: records what they
/// run (image, env, secrets, as the platform reports them) as a release,
/// once each passes the health gate. Services the plan could not create yet
/// (one whose env names a service still waiting) are left out; `None` when
/// none runs.
pub async fn record_first_release(
    session: &Session,
    shas: &BTreeMap<String, Option<String>>,
    progress: &dyn ReleaseProgress,
) -> Result<Option<Deployed>, ReleaseError> {
    let compute = compute_of(session)?;
    let mut history = load(&session.state).await?;
    let previous = history.current().cloned();
    let mut intended = previous
        .as_ref()
        .map(|r| r.services.clone())
        .unwrap_or_default();
    let mut targets = BTreeMap::new();
    for (service, sha) in shas {
        let Some(running) = compute.running(service).await? else {
            continue;
        };
        let mut secrets = BTreeMap::new();
        for (name, arn) in running.spec.secrets {
            let version_id = aws::secret_current_version(&session.aws, &arn).await?;
            secrets.insert(name, SecretRef { arn, version_id });
        }
        let release = ServiceRelease {
            image: running.spec.image,
            git_sha: sha.clone(),
            env: running.spec.env,
            secrets,
            handle: None,
        };
        intended.insert(service.clone(), release.clone());
        targets.insert(service.clone(), release);
    }
    if targets.is_empty() {
        return Ok(None);
    }
    let run = Run {
        session,
        compute: compute.as_ref(),
        previous: previous.map(|r| (r.number, r.services)),
        keep_failed: false,
        started: Instant::now(),
        image_secs: 0.0,
    };
    run.record_and_finish(
        &mut history,
        ReleaseKind::Deploy,
        intended,
        targets,
        progress,
    )
    .await
    .map(Some)
}
