//! expand → observe → diff → plan → execute. Commands call [`Session`];
//! nothing here parses arguments or prints except through `progress`.

pub mod execute;
pub mod expand;
pub mod graph;
pub mod observe;
pub mod outputs;
pub mod plan;
pub mod policy;
pub mod progress;
pub mod render;

use std::collections::BTreeMap;
use std::path::Path;

use crate::aws::{Aws, AwsError, Target};
use crate::resources::{Blocker, Scope};
use crate::stack::Stack;
use crate::stack::StateBackend;
use crate::state::{Held, S3State, StateDir, StateError, Store};

use self::execute::{ApplyError, Executor};
use self::graph::{Graph, GraphError};
use self::observe::World;
use self::plan::{LastApplied, Plan};
use self::policy::{DataLossConsent, PolicyError};
use self::progress::Progress;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("internal error in the expanded graph: {0}")]
    Graph(#[from] GraphError),
    #[error("the apply stopped; what finished is recorded and a rerun continues from there.\n{0}")]
    Apply(#[from] ApplyError),
    #[error(transparent)]
    Refused(#[from] PolicyError),
}

/// One stack and environment, connected to AWS, with its state directory.
pub struct Session {
    pub stack: Stack,
    pub scope: Scope,
    pub aws: Aws,
    pub state: Store,
    /// Service → the image its current release runs (set by the release
    /// layer): services without one get no compute resources yet.
    pub running_images: BTreeMap<String, String>,
    _lock: Option<Held>,
}

/// A plan together with what it was computed from.
pub struct Prepared {
    pub graph: Graph,
    pub world: World,
    pub plan: Plan,
}

impl Prepared {
    /// The names of the secrets this plan deletes: Secrets Manager keeps
    /// them, values included, for `resources::secret::RECOVERY_WINDOW_DAYS`
    /// days, during which the next `up` restores them.
    pub fn secrets_kept_recoverable(&self) -> Vec<String> {
        self.plan
            .changes
            .iter()
            .filter(|c| {
                c.kind == crate::resources::Kind::Secret && c.action == plan::Action::Delete
            })
            .filter_map(|c| c.current.as_ref())
            .map(|o| {
                o.props
                    .get("name")
                    .and_then(|v| v.as_str())
                    .unwrap_or(&o.physical_id)
                    .to_string()
            })
            .collect()
    }
}

impl Session {
    /// Connects, and takes the lock first when `lock_for` names a command
    /// that writes (so a second writer fails before any AWS call).
    pub async fn open(
        stack: Stack,
        state_base: &Path,
        target: &Target,
        lock_for: Option<&str>,
    ) -> Result<Self, EngineError> {
        let (state, lock, aws) = match &stack.state {
            StateBackend::Local => {
                // Lock before connecting: a second writer fails without any AWS call.
                let state = Store::Local(StateDir::new(state_base, &stack.name, &stack.env));
                let lock = match lock_for {
                    Some(command) => Some(state.lock(command).await?),
                    None => None,
                };
                (state, lock, Aws::connect(&stack.region, target).await?)
            }
            StateBackend::S3 { bucket, prefix } => {
                let aws = Aws::connect(&stack.region, target).await?;
                let state = Store::S3(S3State::new(
                    aws.s3.clone(),
                    bucket,
                    prefix,
                    &stack.name,
                    &stack.env,
                ));
                let lock = match lock_for {
                    Some(command) => Some(state.lock(command).await?),
                    None => None,
                };
                (state, lock, aws)
            }
        };
        let scope = Scope::new(&stack.name, &stack.env);
        Ok(Self {
            stack,
            scope,
            aws,
            state,
            running_images: BTreeMap::new(),
            _lock: lock,
        })
    }

    /// Computes the plan that brings AWS to the stack file, against what AWS
    /// reports now.
    pub async fn plan(&self) -> Result<Prepared, EngineError> {
        let snapshot = self.state.load().await?;
        let azs = crate::aws::ec2::availability_zones(&self.aws, self.stack.network.azs as usize);
        let account = crate::aws::account_id(&self.aws);
        let (azs, account) = tokio::try_join!(azs, account)?;
        let images = self.running_images.clone();
        let cloudfront_prefix_list = if self.stack.compute == crate::stack::ComputeTarget::Ecs
            && self
                .stack
                .services
                .iter()
                .any(|s| s.ingress == crate::stack::Ingress::Public)
        {
            Some(
                crate::aws::ec2::managed_prefix_list(
                    &self.aws,
                    crate::aws::ec2::CLOUDFRONT_ORIGIN_FACING,
                )
                .await?,
            )
        } else {
            None
        };
        let graph = expand::expand(
            &self.stack,
            &expand::Facts {
                azs,
                account,
                images,
                cloudfront_prefix_list,
            },
        )?;
        // Expanded first: whether App Runner is observed depends on the graph.
        let kinds = observe::kinds(&graph, &snapshot);
        let world = observe::observe(&self.aws, &self.scope, &snapshot, &kinds).await?;
        let applied: LastApplied = snapshot
            .resources
            .iter()
            .map(|(k, a)| (k.clone(), a.props.clone()))
            .collect();
        let mut plan = plan::diff(&graph, &world, &applied);
        plan::mark_incomplete(&mut plan, &self.state.pending_intents().await?);
        Ok(Prepared { graph, world, plan })
    }

    /// Plans the deletion of everything in this stack and environment.
    pub async fn plan_destroy(&self) -> Result<Prepared, EngineError> {
        let snapshot = self.state.load().await?;
        let graph = Graph::default();
        let kinds = observe::kinds(&graph, &snapshot);
        let world = observe::observe(&self.aws, &self.scope, &snapshot, &kinds).await?;
        let plan = plan::diff(&graph, &world, &LastApplied::new());
        Ok(Prepared { graph, world, plan })
    }

    /// Refuses a plan that would lose data without `consent` (see
    /// [`policy::check_data_loss`]).
    pub async fn check_data_loss(
        &self,
        prepared: &Prepared,
        consent: DataLossConsent,
    ) -> Result<(), EngineError> {
        let blockers = self.delete_blockers(prepared).await?;
        Ok(policy::check_data_loss(&prepared.plan, &blockers, consent)?)
    }

    /// What stops this plan's deletions and replacements: contents that would
    /// go with them, protections only the stack file can lift.
    pub async fn delete_blockers(&self, prepared: &Prepared) -> Result<Vec<Blocker>, EngineError> {
        let doomed = prepared
            .plan
            .changes
            .iter()
            .filter(|c| matches!(c.action, plan::Action::Delete | plan::Action::Replace))
            .filter_map(|c| c.current.as_ref());
        let checks = doomed.map(|o| o.kind.handler().delete_blocker(&self.aws, o));
        Ok(futures::future::try_join_all(checks)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    /// Executes a plan, then reads AWS once more for outputs and the cache.
    pub async fn apply(
        &self,
        prepared: &Prepared,
        progress: &Progress,
        concurrency: usize,
        force_empty: bool,
    ) -> Result<BTreeMap<String, serde_json::Value>, EngineError> {
        let executor = Executor {
            aws: &self.aws,
            scope: &self.scope,
            state: &self.state,
            progress,
            concurrency,
            force_empty,
        };
        executor
            .apply(&prepared.plan, &prepared.graph, &prepared.world)
            .await?;
        let snapshot = self.state.load().await?;
        let kinds = observe::kinds(&prepared.graph, &snapshot);
        let world = observe::observe(&self.aws, &self.scope, &snapshot, &kinds).await?;
        let outputs = if prepared.graph.resources().is_empty() {
            BTreeMap::new()
        } else {
            outputs::compute(&self.stack, &world)
        };
        self.state
            .save(&execute::snapshot_from(&world, outputs.clone()))
            .await?;
        self.state.clear_journal().await?;
        Ok(outputs)
    }
}
