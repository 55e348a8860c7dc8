//! `deploy` and `rollback`: decide what a release runs, record it before
//! anything changes, roll it out, gate it, and either keep it or go back.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use aws_sdk_ecr::types::ImageIdentifier;

use super::history::{Outcome, ReleaseKind, ServiceRelease};
use super::rollout::{self, Step};
use super::{History, ReleaseError, ReleaseProgress, env, load, save};
use crate::aws::{self, AwsError, SdkResultExt};
use crate::compute::{self, Compute};
use crate::engine::expand::ids;
use crate::engine::{Prepared, Session};
use crate::images::{self, BuildOptions};
use crate::stack::Stack;

/// Where a deploy's images come from.
#[derive(Debug, Clone)]
pub enum ImageChoice {
    /// Build each service's crate and push it to its repository.
    Build {
        stack_dir: PathBuf,
        /// cargo profile (`release` unless asked otherwise).
        profile: String,
    },
    /// An image already in the service's repository: `sha256:…` or
    /// `<registry>/<repository>@sha256:…`.
    Given(String),
}

#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Services to deploy; empty means all of them.
    pub services: Vec<String>,
    pub image: ImageChoice,
    /// On failure, leave the services as they are instead of going back.
    pub keep_failed: bool,
}

#[derive(Debug, Clone)]
pub struct RollbackOptions {
    /// Services to roll back; empty means every service of the target release.
    pub services: Vec<String>,
    /// The release to return to; default: the newest good one before the current.
    pub to: Option<u32>,
}

/// A release that succeeded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Deployed {
    pub number: u32,
    /// What each service rolled out runs now.
    pub services: BTreeMap<String, ServiceRelease>,
    /// Where the time went, in seconds (the slowest service per phase).
    pub seconds: Phases,
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Phases {
    /// Building and pushing images, or finding the given one (0 for a rollback).
    pub image: f64,
    /// The platform's rollout: update call to its end.
    pub rollout: f64,
    /// foundry's health check through the service URL.
    pub health_gate: f64,
    pub total: f64,
}

/// The image each service's current release runs: what `up` creates a
/// service with if it must create it again, and which services have one.
pub fn running_images(history: &History) -> BTreeMap<String, String> {
    history
        .current()
        .map(|r| {
            r.services
                .iter()
                .map(|(name, s)| (name.clone(), s.image.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Tells the session which image each service runs, so that its plans keep
/// them: the current release's, or for a service a crashed run created
/// before recording a release, the image the platform runs.
pub async fn attach(session: &mut Session) -> Result<(), ReleaseError> {
    let history = load(&session.state).await?;
    let mut images = running_images(&history);
    // Only `up` creates a service, and only one with a `source` to build its
    // first image from: no other service can run without a release, and a
    // stack with none never calls the compute platform here.
    let missing: Vec<String> = session
        .stack
        .services
        .iter()
        .filter(|s| s.source.is_some() && !images.contains_key(&s.name))
        .map(|s| s.name.clone())
        .collect();
    if !missing.is_empty() {
        let compute = compute_of(session)?;
        for service in missing {
            if let Some(running) = compute.running(&service).await? {
                images.insert(service, running.spec.image);
            }
        }
    }
    session.running_images = images;
    Ok(())
}

/// Builds (or takes) the images of the chosen services and rolls them out as
/// one release; if any fails, all of them go back to the release before.
pub async fn deploy(
    session: &mut Session,
    options: &DeployOptions,
    progress: &dyn ReleaseProgress,
) -> Result<Deployed, ReleaseError> {
    let started = Instant::now();
    let selected: Vec<String> = images::select(&session.stack, &options.services)?
        .into_iter()
        .map(|s| s.name.clone())
        .collect();
    let mut history = load(&session.state).await?;
    attach(session).await?;
    let prepared = session.plan().await?;
    for service in &selected {
        if prepared
            .graph
            .get(&ids::runtime(session.stack.compute, service))
            .is_none()
        {
            return Err(ReleaseError::NotUp(service.clone()));
        }
    }
    let account = aws::account_id(&session.aws).await?;
    let image_started = Instant::now();
    let new_images = match &options.image {
        ImageChoice::Build { stack_dir, profile } => {
            build_and_push(session, &selected, stack_dir, profile, &account, progress).await?
        }
        ImageChoice::Given(reference) => {
            given_image(session, &selected, reference, &account).await?
        }
    };
    let image_secs = image_started.elapsed().as_secs_f64();
    release_images(
        session,
        &prepared,
        &mut history,
        new_images,
        options.keep_failed,
        (started, image_secs),
        progress,
    )
    .await
}

/// Starts services again on the image their current release runs, with
/// their env and secrets resolved afresh (a secret's new value, an
/// `[auth]` the stack file changed): a health-gated release like a deploy,
/// without a build.
pub async fn restart(
    session: &mut Session,
    services: &[String],
    progress: &dyn ReleaseProgress,
) -> Result<Deployed, ReleaseError> {
    let started = Instant::now();
    let mut history = load(&session.state).await?;
    attach(session).await?;
    let prepared = session.plan().await?;
    let current = history.current().cloned();
    let mut images = NewImages::new();
    for service in services {
        let Some(running) = current.as_ref().and_then(|r| r.services.get(service)) else {
            return Err(ReleaseError::NotUp(service.clone()));
        };
        images.insert(
            service.clone(),
            (running.image.clone(), running.git_sha.clone()),
        );
    }
    release_images(
        session,
        &prepared,
        &mut history,
        images,
        false,
        (started, 0.0),
        progress,
    )
    .await
}

/// Rolls `new_images` out as one release with env and secrets resolved
/// now; the other services of the current release stay as they are.
async fn release_images(
    session: &mut Session,
    prepared: &Prepared,
    history: &mut History,
    new_images: NewImages,
    keep_failed: bool,
    (started, image_secs): (Instant, f64),
    progress: &dyn ReleaseProgress,
) -> Result<Deployed, ReleaseError> {
    let previous = history.current().cloned();
    let mut intended = previous
        .as_ref()
        .map(|r| r.services.clone())
        .unwrap_or_default();
    let mut targets = BTreeMap::new();
    for (service, (image, git_sha)) in new_images {
        let (env, secrets) =
            env::resolve(&session.aws, prepared, session.stack.compute, &service).await?;
        let release = ServiceRelease {
            image,
            git_sha,
            env,
            secrets,
            handle: None,
        };
        intended.insert(service.clone(), release.clone());
        targets.insert(service, release);
    }
    let compute = compute_of(session)?;
    let run = Run {
        session,
        compute: compute.as_ref(),
        previous: previous.map(|r| (r.number, r.services)),
        keep_failed,
        started,
        image_secs,
    };
    run.record_and_finish(history, ReleaseKind::Deploy, intended, targets, progress)
        .await
}

/// Returns services to a release that succeeded, image and configuration
/// together, without building anything.
pub async fn rollback(
    session: &mut Session,
    options: &RollbackOptions,
    progress: &dyn ReleaseProgress,
) -> Result<Deployed, ReleaseError> {
    let started = Instant::now();
    let mut history = load(&session.state).await?;
    let current = history.current().cloned().ok_or_else(|| {
        ReleaseError::NoTarget(
            "nothing has been deployed to this environment yet, so there is nothing to roll back"
                .into(),
        )
    })?;
    let target = match options.to {
        Some(n) => {
            let release = history.get(n).ok_or_else(|| {
                ReleaseError::NoTarget(format!(
                    "there is no release {n}; `foundry releases` lists them"
                ))
            })?;
            if release.outcome != Outcome::Succeeded {
                return Err(ReleaseError::NoTarget(format!(
                    "release {n} did not succeed, so it is not a state to return to; pick one that did from `foundry releases`"
                )));
            }
            release.clone()
        }
        None => history.previous_good().cloned().ok_or_else(|| {
            ReleaseError::NoTarget(format!(
                "release {} is the only one that succeeded; there is nothing earlier to roll back to",
                current.number
            ))
        })?,
    };
    let selected: Vec<String> = if options.services.is_empty() {
        target.services.keys().cloned().collect()
    } else {
        images::select(&session.stack, &options.services)?;
        options.services.clone()
    };
    let mut intended = current.services.clone();
    let mut targets = BTreeMap::new();
    for service in &selected {
        let release = target.services.get(service).ok_or_else(|| {
            ReleaseError::NoTarget(format!(
                "release {} did not run service `{service}`",
                target.number
            ))
        })?;
        let release = ServiceRelease {
            handle: None,
            ..release.clone()
        };
        intended.insert(service.clone(), release.clone());
        targets.insert(service.clone(), release);
    }
    let compute = compute_of(session)?;
    let run = Run {
        session,
        compute: compute.as_ref(),
        previous: Some((current.number, current.services)),
        keep_failed: false,
        started,
        image_secs: 0.0,
    };
    let kind = ReleaseKind::Rollback { to: target.number };
    run.record_and_finish(&mut history, kind, intended, targets, progress)
        .await
}

/// One release being carried out.
pub(super) struct Run<'a> {
    pub(super) session: &'a Session,
    pub(super) compute: &'a dyn Compute,
    /// The release that ran before, to go back to.
    pub(super) previous: Option<(u32, BTreeMap<String, ServiceRelease>)>,
    pub(super) keep_failed: bool,
    pub(super) started: Instant,
    pub(super) image_secs: f64,
}

impl Run<'_> {
    /// Records `intended` as a release of `kind`, in progress, before
    /// anything changes (resuming the record a crashed run left with the same
    /// intent), then rolls `targets` out and settles the outcome.
    pub(super) async fn record_and_finish(
        self,
        history: &mut History,
        kind: ReleaseKind,
        intended: BTreeMap<String, ServiceRelease>,
        targets: BTreeMap<String, ServiceRelease>,
        progress: &dyn ReleaseProgress,
    ) -> Result<Deployed, ReleaseError> {
        let by = aws::caller_arn(&self.session.aws).await?;
        let before = history.releases.len();
        let number = history.begin(kind, intended, &by, &now());
        save(&self.session.state, history).await?;
        progress.release_begun(number, history.releases.len() == before);
        self.finish(number, history, targets, progress).await
    }

    async fn finish(
        self,
        number: u32,
        history: &mut History,
        targets: BTreeMap<String, ServiceRelease>,
        progress: &dyn ReleaseProgress,
    ) -> Result<Deployed, ReleaseError> {
        let stack = &self.session.stack;
        let (steps, timing) = rollout::roll_out(self.compute, stack, &targets, progress).await?;
        for (service, step) in &steps {
            if let Some(handle) = step.handle() {
                history.set_handle(number, service, handle);
            }
        }
        let failures: Vec<String> = steps
            .iter()
            .filter_map(|(s, step)| step.failure().map(|r| format!("{s}: {r}")))
            .collect();
        if failures.is_empty() {
            history.finish(number, Outcome::Succeeded, &now());
            save(&self.session.state, history).await?;
            return Ok(Deployed {
                number,
                services: targets,
                seconds: Phases {
                    image: self.image_secs,
                    rollout: timing.rollout.as_secs_f64(),
                    health_gate: timing.health_gate.as_secs_f64(),
                    total: self.started.elapsed().as_secs_f64(),
                },
            });
        }
        let reason = failures.join("; ");
        if self.keep_failed {
            history.finish(
                number,
                Outcome::FailedKept {
                    reason: reason.clone(),
                },
                &now(),
            );
            save(&self.session.state, history).await?;
            let back = self
                .previous
                .as_ref()
                .map(|(n, _)| {
                    format!("; `foundry rollback --to {n}` returns to the release before")
                })
                .unwrap_or_default();
            // A platform that refused the image (App Runner, on a failed
            // health check) already runs the previous version: say so.
            let refused: Vec<&str> = steps
                .iter()
                .filter(|(_, step)| step.failure().is_some() && !step.serving())
                .map(|(s, _)| s.as_str())
                .collect();
            let platform = if refused.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} refused the new image of {} and kept the previous one serving; its instance logs stay with the platform)",
                    self.compute.name(),
                    refused.join(", ")
                )
            };
            return Err(ReleaseError::Failed {
                number,
                reason,
                after: format!(
                    ". As asked (--keep-failed), foundry changed nothing back{platform}{back}"
                ),
            });
        }
        let after = self.go_back(stack, &steps, progress).await;
        history.finish(
            number,
            Outcome::Failed {
                reason: reason.clone(),
            },
            &now(),
        );
        save(&self.session.state, history).await?;
        Err(ReleaseError::Failed {
            number,
            reason,
            after,
        })
    }

    /// Returns every service now serving the failed release to the one
    /// before; says what happened, for the error.
    async fn go_back(
        &self,
        stack: &Stack,
        steps: &BTreeMap<String, Step>,
        progress: &dyn ReleaseProgress,
    ) -> String {
        let Some((number, services)) = &self.previous else {
            return ". There is no earlier release to go back to".into();
        };
        let back: BTreeMap<String, ServiceRelease> = steps
            .iter()
            .filter(|(_, step)| step.serving())
            .filter_map(|(s, _)| services.get(s).map(|r| (s.clone(), r.clone())))
            .collect();
        if back.is_empty() {
            return format!(". Every service still runs release {number}");
        }
        let names: Vec<String> = back.keys().cloned().collect();
        progress.reverting(&names, Some(*number));
        match rollout::roll_out(self.compute, stack, &back, progress).await {
            Ok((steps, _)) => {
                let failed: Vec<String> = steps
                    .iter()
                    .filter_map(|(s, step)| step.failure().map(|r| format!("{s}: {r}")))
                    .collect();
                if failed.is_empty() {
                    format!(
                        ". {} went back to release {number}, which serves again",
                        names.join(", ")
                    )
                } else {
                    format!(
                        ". Going back to release {number} failed too ({}); check the services with `foundry releases` and the platform's logs",
                        failed.join("; ")
                    )
                }
            }
            Err(e) => format!(". Going back to release {number} failed too: {e}"),
        }
    }
}

/// The compute target of the session's environment, with the platform's
/// name of every service (`engine::expand` names them).
pub fn compute_of(session: &Session) -> Result<Box<dyn Compute>, ReleaseError> {
    let scope = &session.scope;
    let ecs = session.stack.compute == crate::stack::ComputeTarget::Ecs;
    let names = session
        .stack
        .services
        .iter()
        .map(|s| {
            let name = if ecs {
                scope.name(&ids::ecs_service(&s.name))
            } else {
                aws::apprunner::name(scope, &ids::service(&s.name), aws::apprunner::NAME_MAX)
            };
            (s.name.clone(), name)
        })
        .collect();
    Ok(compute::for_target(
        session.stack.compute,
        &session.aws,
        compute::Placement {
            names,
            ecs_cluster: scope.name(ids::ECS_CLUSTER),
        },
    ))
}

/// `<account>.dkr.ecr.<region>.amazonaws.com/<repository>@<digest>`: how
/// App Runner names an ECR image, pinned by digest.
pub fn ecr_image(account: &str, region: &str, repository: &str, digest: &str) -> String {
    format!("{account}.dkr.ecr.{region}.amazonaws.com/{repository}@{digest}")
}

type NewImages = BTreeMap<String, (String, Option<String>)>;

pub(super) async fn build_and_push(
    session: &Session,
    services: &[String],
    stack_dir: &std::path::Path,
    profile: &str,
    account: &str,
    progress: &dyn ReleaseProgress,
) -> Result<NewImages, ReleaseError> {
    let destination = images::ecr_destination(&session.aws).await?;
    let options = BuildOptions {
        stack_dir: stack_dir.to_owned(),
        services: services.to_vec(),
        profile: profile.to_owned(),
    };
    let built = images::build(&session.stack, &options, Some(&destination), progress).await?;
    Ok(built
        .into_iter()
        .map(|image| {
            let repository = images::repository(&session.stack, &image.service);
            let reference = ecr_image(account, &session.aws.region, &repository, &image.digest);
            let sha = image.tag.trim_end_matches("-dirty").to_owned();
            (image.service, (reference, Some(sha)))
        })
        .collect())
}

/// `--image`: a digest already in the one service's repository.
async fn given_image(
    session: &Session,
    services: &[String],
    reference: &str,
    account: &str,
) -> Result<NewImages, ReleaseError> {
    let [service] = services else {
        return Err(ReleaseError::BadImage(
            "--image names one image, so deploy one service with it: `foundry deploy SERVICE --image REF`".into(),
        ));
    };
    let repository = images::repository(&session.stack, service);
    let (named_repository, digest) = match reference.rsplit_once('@') {
        Some((name, digest)) => (Some(name), digest),
        None => (None, reference),
    };
    if !digest.starts_with("sha256:") || digest.len() != 71 {
        return Err(ReleaseError::BadImage(format!(
            "--image {reference}: give an image digest (sha256:…, as `foundry build` prints it) or <registry>/{repository}@sha256:…; tags are not accepted because they can move"
        )));
    }
    if let Some(name) = named_repository {
        let path = name.split_once('/').map_or(name, |(_, path)| path);
        if path != repository {
            return Err(ReleaseError::BadImage(format!(
                "--image {reference} is not in service `{service}`'s repository {repository}; App Runner runs images from the service's own ECR repository, so push it there first (`foundry build {service} --push --env {}`)",
                session.stack.env
            )));
        }
    }
    // A stand-in registry (local mode, tests) holds the images, not ECR: the
    // platform's pull is the check there.
    if std::env::var_os(images::ECR_REGISTRY_ENDPOINT_ENV).is_some() {
        let image = ecr_image(account, &session.aws.region, &repository, digest);
        return Ok(BTreeMap::from([(service.clone(), (image, None))]));
    }
    let found = session
        .aws
        .ecr
        .describe_images()
        .repository_name(&repository)
        .image_ids(ImageIdentifier::builder().image_digest(digest).build())
        .send()
        .await
        .or_aws("DescribeImages");
    match AwsError::none_if_not_found(found)? {
        Some(out) if !out.image_details().is_empty() => {}
        _ => {
            return Err(ReleaseError::BadImage(format!(
                "there is no image {digest} in repository {repository}; `foundry build {service} --push --env {}` puts one there",
                session.stack.env
            )));
        }
    }
    let image = ecr_image(account, &session.aws.region, &repository, digest);
    Ok(BTreeMap::from([(service.clone(), (image, None))]))
}

fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}
