//! The DAG executor: runs a plan's steps with bounded concurrency, each step
//! as soon as what it depends on is done, journaling creates and caching what
//! was applied after every step.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::graph::Graph;
use super::observe::World;
use super::plan::{Action, Plan};
use super::progress::Progress;
use crate::aws::{Aws, AwsError};
use crate::resources::{Kind, Observed, Scope};
use crate::state::{Applied, JournalEntry, Snapshot, StateError, Store};
use crate::vocab::{Props, is_compared, split_ref};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Update,
    Delete,
}

struct Node {
    change: usize,
    op: Op,
    deps: Vec<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{}", failures.iter().map(|(what, e)| format!("{what}: {e}")).collect::<Vec<_>>().join("\n"))]
    Steps { failures: Vec<(String, AwsError)> },
    #[error(transparent)]
    State(#[from] StateError),
}

pub struct Executor<'a> {
    pub aws: &'a Aws,
    pub scope: &'a Scope,
    pub state: &'a Store,
    pub progress: &'a Progress,
    pub concurrency: usize,
    /// Empty what blocks a delete (a bucket's objects) instead of failing.
    pub force_empty: bool,
}

/// Does `o` reference physical id `p` in any property?
fn references(o: &Observed, p: &str) -> bool {
    o.props.values().any(|v| {
        let mut strings = Vec::new();
        v.strings(&mut strings);
        strings.contains(&p)
    })
}

fn build_nodes(plan: &Plan, graph: &Graph, world: &World) -> Vec<Node> {
    let mut nodes = Vec::new();
    for (i, c) in plan.changes.iter().enumerate() {
        match c.action {
            Action::Create => nodes.push(Node {
                change: i,
                op: Op::Create,
                deps: vec![],
            }),
            Action::Update => nodes.push(Node {
                change: i,
                op: Op::Update,
                deps: vec![],
            }),
            Action::Delete => nodes.push(Node {
                change: i,
                op: Op::Delete,
                deps: vec![],
            }),
            Action::Replace => {
                nodes.push(Node {
                    change: i,
                    op: Op::Delete,
                    deps: vec![],
                });
                nodes.push(Node {
                    change: i,
                    op: Op::Create,
                    deps: vec![nodes.len() - 1],
                });
            }
        }
    }
    let id_of = |n: &Node| plan.changes[n.change].id.as_str();
    let find = |id: &str, op: Op| nodes.iter().position(|n| id_of(n) == id && n.op == op);
    let mut extra: Vec<(usize, usize)> = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let change = &plan.changes[n.change];
        match n.op {
            // Build after what it references is built.
            Op::Create | Op::Update => {
                for dep in graph.get(&change.id).map(|r| r.deps()).unwrap_or_default() {
                    for op in [Op::Create, Op::Update] {
                        if let Some(d) = find(dep, op) {
                            extra.push((i, d));
                        }
                    }
                }
            }
            // Delete only once nothing references it any more.
            Op::Delete => {
                let Some(physical) = change.physical_id.as_deref() else {
                    continue;
                };
                for o in world
                    .all()
                    .filter(|o| o.physical_id != physical && references(o, physical))
                {
                    for (j, m) in nodes.iter().enumerate() {
                        let other = &plan.changes[m.change];
                        let same = other.physical_id.as_deref() == Some(o.physical_id.as_str())
                            || (m.op == Op::Update && other.id == o.id);
                        if !same || m.op == Op::Create {
                            continue;
                        }
                        // An update that points at the replacement of this
                        // resource must wait for it; deleting first is then the
                        // only order without a cycle.
                        let waits_for_us = m.op == Op::Update
                            && graph
                                .get(&other.id)
                                .is_some_and(|r| r.deps().contains(&change.id.as_str()))
                            && find(&change.id, Op::Create).is_some();
                        if !waits_for_us {
                            extra.push((i, j));
                        }
                    }
                }
            }
        }
    }
    for (node, dep) in extra {
        if !nodes[node].deps.contains(&dep) {
            nodes[node].deps.push(dep);
        }
    }
    nodes
}

/// What the executor knows of each resource as it goes: physical ids and
/// attributes, first as observed, then as each step leaves them.
#[derive(Debug, Default)]
struct Known {
    physical: HashMap<String, String>,
    attrs: HashMap<String, BTreeMap<String, String>>,
}

impl Known {
    fn from_world(world: &World) -> Self {
        Self {
            physical: world
                .resources
                .values()
                .map(|o| (o.id.clone(), o.physical_id.clone()))
                .collect(),
            attrs: world
                .resources
                .values()
                .map(|o| (o.id.clone(), o.attrs.clone()))
                .collect(),
        }
    }

    /// `id` → physical id, `id#attr` → attribute, as far as known now.
    fn lookup(&self, target: &str) -> Option<String> {
        match split_ref(target) {
            (id, None) => self.physical.get(id).cloned(),
            (id, Some(attr)) => self.attrs.get(id)?.get(attr).cloned(),
        }
    }

    fn forget(&mut self, id: &str) {
        self.physical.remove(id);
        self.attrs.remove(id);
    }
}

/// Logical ids some resource of the graph references an attribute of: after
/// creating one of them the executor reads it back (`find`), since a create
/// returns only the physical id.
fn attrs_referenced(graph: &Graph) -> HashSet<String> {
    let mut out = HashSet::new();
    for r in graph.resources() {
        let mut targets = Vec::new();
        r.props.values().for_each(|v| v.ref_targets(&mut targets));
        for t in targets {
            if let (id, Some(_)) = split_ref(t) {
                out.insert(id.to_string());
            }
        }
    }
    out
}

fn token(scope: &Scope, id: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (scope, id, std::time::SystemTime::now(), std::process::id()).hash(&mut h);
    format!(
        "foundry-{}-{:016x}",
        id.chars().take(24).collect::<String>(),
        h.finish()
    )
}

impl std::hash::Hash for Scope {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.stack.hash(state);
        self.env.hash(state);
    }
}

impl Executor<'_> {
    pub async fn apply(&self, plan: &Plan, graph: &Graph, world: &World) -> Result<(), ApplyError> {
        let nodes = build_nodes(plan, graph, world);
        let mut known = Known::from_world(world);
        let read_back = attrs_referenced(graph);
        let mut snapshot = self.state.load().await?;
        let intents = self.state.pending_intents().await?;
        let mut waiting: Vec<usize> = nodes.iter().map(|n| n.deps.len()).collect();
        let mut ready: VecDeque<usize> = (0..nodes.len()).filter(|&i| waiting[i] == 0).collect();
        let mut running = FuturesUnordered::new();
        let mut failures = Vec::new();

        loop {
            while failures.is_empty() && running.len() < self.concurrency {
                let Some(i) = ready.pop_front() else { break };
                let node = &nodes[i];
                let change = &plan.changes[node.change];
                let desired: Props = graph
                    .get(&change.id)
                    .map(|r| {
                        let lookup = |target: &str| known.lookup(target);
                        r.props
                            .iter()
                            .map(|(k, v)| (k.clone(), v.resolve(&lookup)))
                            .collect()
                    })
                    .unwrap_or_default();
                let token = intents
                    .get(&change.id)
                    .cloned()
                    .unwrap_or_else(|| token(self.scope, &change.id));
                let read_attrs = read_back.contains(&change.id);
                running.push(self.run(i, node.op, change, desired, token, read_attrs));
            }
            let Some((i, result)) = running.next().await else {
                break;
            };
            let node = &nodes[i];
            let change = &plan.changes[node.change];
            match result {
                Ok((physical_id, props, attrs)) => {
                    match node.op {
                        Op::Delete => {
                            if snapshot
                                .resources
                                .get(&change.id)
                                .map(|a| a.physical_id.as_str())
                                == change.physical_id.as_deref()
                            {
                                snapshot.resources.remove(&change.id);
                            }
                            if known.physical.get(&change.id) == change.physical_id.as_ref() {
                                known.forget(&change.id);
                            }
                        }
                        Op::Create | Op::Update => {
                            known
                                .physical
                                .insert(change.id.clone(), physical_id.clone());
                            if let Some(attrs) = attrs {
                                known.attrs.insert(change.id.clone(), attrs);
                            }
                            snapshot.resources.insert(
                                change.id.clone(),
                                Applied {
                                    kind: change.kind,
                                    physical_id,
                                    props,
                                },
                            );
                        }
                    }
                    self.state.save(&snapshot).await?;
                    for (j, n) in nodes.iter().enumerate() {
                        if n.deps.contains(&i) {
                            waiting[j] -= 1;
                            if waiting[j] == 0 {
                                ready.push_back(j);
                            }
                        }
                    }
                }
                Err(e) => {
                    let verb = match node.op {
                        Op::Create => "create",
                        Op::Update => "update",
                        Op::Delete => "delete",
                    };
                    failures.push((format!("{verb} {} ({})", change.id, change.kind), e));
                }
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(ApplyError::Steps { failures })
        }
    }

    /// This type's resource with logical id `id`, as AWS reports it now.
    async fn find_ours(&self, kind: Kind, id: &str) -> Result<Option<Observed>, AwsError> {
        Ok(kind
            .handler()
            .observe(self.aws, self.scope)
            .await?
            .into_iter()
            .find(|o| o.id == id))
    }

    /// Creates so that the call is safe to repeat, whatever happened to an
    /// earlier attempt. An error that a later attempt may not meet (a lost
    /// response, throttling past the SDK's budget, AWS's eventual
    /// consistency, "already exists" after a retry the SDK made) sends
    /// foundry to look for its resource by tag first: if it exists, the
    /// follow-up calls that may not have run (tags, policies, routes, rules)
    /// are completed through `update`; only if it does not is the create
    /// tried again, with the same idempotency token. A resource is created in
    /// foundry's eyes only once all of that has succeeded.
    async fn create_safely(
        &self,
        change: &super::plan::Change,
        desired: &Props,
        token: &str,
    ) -> Result<String, AwsError> {
        let handler = change.kind.handler();
        let mut backoff = Backoff::new();
        loop {
            let attempt = async {
                crate::aws::fault::not_found("before-create", &change.id)?;
                let id = handler
                    .create(self.aws, self.scope, &change.id, desired, token)
                    .await?;
                crate::aws::fault::not_found("after-create", &change.id)?;
                Ok::<_, AwsError>(id)
            };
            let err = match attempt.await {
                Ok(id) => return Ok(id),
                Err(e) => e,
            };
            if !(worth_another_look(&err) && backoff.has_time()) {
                return Err(err);
            }
            if let Some(current) = self.find_ours(change.kind, &change.id).await? {
                // Never create again once ours exists: finish it instead.
                let physical_id = current.physical_id.clone();
                self.update_safely(change.kind, current, desired, &mut backoff)
                    .await?;
                return Ok(physical_id);
            }
            if err.is_already_exists() {
                // Taken, and not by this stack and environment.
                return Err(err);
            }
            backoff.wait().await;
        }
    }

    /// Updates `current` to `desired`; after an error worth another look,
    /// starts again from what AWS reports then (part of the update may have
    /// happened, or a retried call found its own work done).
    async fn update_safely(
        &self,
        kind: Kind,
        mut current: Observed,
        desired: &Props,
        backoff: &mut Backoff,
    ) -> Result<(), AwsError> {
        loop {
            if is_complete(&current, desired) {
                return Ok(());
            }
            let err = match kind.handler().update(self.aws, &current, desired).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if !(worth_another_look(&err) && backoff.has_time()) {
                return Err(err);
            }
            backoff.wait().await;
            current = match self.find_ours(kind, &current.id).await? {
                Some(fresh) => fresh,
                None => return Err(err),
            };
        }
    }

    /// Deletes; after an error, a resource no longer listed counts as
    /// deleted (the lost answer was a success), and a transient error is
    /// retried.
    async fn delete_safely(&self, current: &Observed) -> Result<(), AwsError> {
        let handler = current.kind.handler();
        let mut backoff = Backoff::new();
        loop {
            let err = match handler.delete(self.aws, current).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if !backoff.has_time() {
                return Err(err);
            }
            // Whatever the error (an answer lost, or the repeat of a delete
            // that already happened, which some APIs answer oddly), a
            // resource no longer listed is deleted.
            let listed = handler.observe(self.aws, self.scope).await?;
            if !listed.iter().any(|o| o.physical_id == current.physical_id) {
                return Ok(());
            }
            if !err.is_transient() {
                return Err(err);
            }
            backoff.wait().await;
        }
    }

    /// The attributes of the resource just created, as its type's `find`
    /// reports them.
    async fn read_attrs(
        &self,
        change: &super::plan::Change,
        physical_id: &str,
    ) -> Result<BTreeMap<String, String>, AwsError> {
        match change
            .kind
            .handler()
            .find(self.aws, self.scope, physical_id)
            .await?
        {
            Some(o) => Ok(o.attrs),
            None => Err(AwsError::Api {
                operation: "find",
                code: None,
                message: format!(
                    "{} ({}) was created as {physical_id} but cannot be read back for the attributes other resources reference",
                    change.id, change.kind
                ),
            }),
        }
    }

    /// One step; returns the physical id, the properties now applied and,
    /// for a create with `read_attrs`, the new resource's attributes (read
    /// back with `find`, because something references one of them).
    async fn run(
        &self,
        index: usize,
        op: Op,
        change: &super::plan::Change,
        desired: Props,
        token: String,
        read_attrs: bool,
    ) -> (usize, StepResult) {
        let handler = change.kind.handler();
        let label = format!("{} ({})", change.id, change.kind);
        let result = match op {
            Op::Create => {
                let step = self.progress.start("creating", label);
                let result = async {
                    let intent = JournalEntry::Intent {
                        id: change.id.clone(),
                        kind: change.kind,
                        token: token.clone(),
                    };
                    self.state.journal(&intent).await.map_err(journal_error)?;
                    crate::aws::fault::point("before-create", &change.id).await;
                    let physical_id = self.create_safely(change, &desired, &token).await?;
                    crate::aws::fault::point("after-create", &change.id).await;
                    let done = JournalEntry::Created {
                        id: change.id.clone(),
                        physical_id: physical_id.clone(),
                    };
                    self.state.journal(&done).await.map_err(journal_error)?;
                    crate::aws::fault::point("after-journal", &change.id).await;
                    let attrs = if read_attrs {
                        Some(self.read_attrs(change, &physical_id).await?)
                    } else {
                        None
                    };
                    Ok((physical_id, attrs))
                }
                .await;
                match &result {
                    Ok((p, _)) => self.progress.finish(step, "+", &format!("created {p}")),
                    Err(_) => self.progress.finish(step, "✗", "failed to create"),
                }
                result.map(|(p, attrs)| (p, desired, attrs))
            }
            Op::Update => {
                let current = change
                    .current
                    .as_ref()
                    .expect("updates carry the current resource");
                let step = self.progress.start("updating", label);
                let result = self
                    .update_safely(change.kind, current.clone(), &desired, &mut Backoff::new())
                    .await;
                match &result {
                    Ok(()) => self.progress.finish(step, "~", "updated"),
                    Err(_) => self.progress.finish(step, "✗", "failed to update"),
                }
                result.map(|_| (current.physical_id.clone(), desired, None))
            }
            Op::Delete => {
                let current = change
                    .current
                    .as_ref()
                    .expect("deletes carry the current resource");
                let step = self.progress.start("deleting", label);
                let result = async {
                    if self.force_empty {
                        handler.empty(self.aws, current).await?;
                    }
                    self.delete_safely(current).await
                }
                .await;
                match &result {
                    Ok(()) => {
                        self.progress
                            .finish(step, "-", &format!("deleted {}", current.physical_id))
                    }
                    Err(_) => self.progress.finish(step, "✗", "failed to delete"),
                }
                result.map(|_| (current.physical_id.clone(), Props::new(), None))
            }
        };
        (index, result)
    }
}

/// A step's physical id, applied properties and (creates read back) attributes.
type StepResult = Result<(String, Props, Option<BTreeMap<String, String>>), AwsError>;

fn journal_error(e: StateError) -> AwsError {
    AwsError::Api {
        operation: "journal",
        code: None,
        message: e.to_string(),
    }
}

/// The cache after a converged run: exactly what AWS reports.
pub fn snapshot_from(
    world: &World,
    outputs: std::collections::BTreeMap<String, serde_json::Value>,
) -> Snapshot {
    Snapshot {
        resources: world
            .resources
            .values()
            .map(|o| {
                (
                    o.id.clone(),
                    Applied {
                        kind: o.kind,
                        physical_id: o.physical_id.clone(),
                        props: o.props.clone(),
                    },
                )
            })
            .collect(),
        outputs,
    }
}

/// Whether an error may be gone on another attempt, or may mean that the
/// call (or an earlier attempt of it) did its work after all.
fn worth_another_look(err: &AwsError) -> bool {
    err.is_transient() || err.is_not_found() || err.is_already_exists()
}

/// Whether AWS already reports every compared property as desired.
fn is_complete(current: &Observed, desired: &Props) -> bool {
    desired
        .iter()
        .filter(|(k, _)| is_compared(k))
        .all(|(k, v)| current.props.get(k) == Some(v))
}

/// foundry's own retries, beyond the SDK's: exponential from 0.5 s to 10 s,
/// for at most two minutes per resource.
struct Backoff {
    delay: std::time::Duration,
    deadline: std::time::Instant,
}

impl Backoff {
    fn new() -> Self {
        Self {
            delay: std::time::Duration::from_millis(500),
            deadline: std::time::Instant::now() + std::time::Duration::from_secs(120),
        }
    }

    fn has_time(&self) -> bool {
        std::time::Instant::now() < self.deadline
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 2).min(std::time::Duration::from_secs(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::graph::Resource;
    use crate::vocab::Value;

    fn graph() -> Graph {
        let vpc = Resource::new("vpc", Kind::Vpc)
            .prop("cidr_block", Value::str("10.0.0.0/16"))
            .prop("enable_dns_support", Value::Bool(true))
            .prop("enable_dns_hostnames", Value::Bool(true));
        let igw =
            Resource::new("igw", Kind::InternetGateway).prop("vpc_id", Value::reference("vpc"));
        // An alarm whose dimension is an attribute of the internet gateway
        // (any type would do: the rule is the engine's).
        let alarm = Resource::new("alarm", Kind::Alarm)
            .prop("name", Value::str("a"))
            .prop("description", Value::str("d"))
            .prop("namespace", Value::str("n"))
            .prop("metric_name", Value::str("m"))
            .prop(
                "dimensions",
                Value::map([(
                    "Gateway",
                    Value::concat(vec![Value::str("igw/"), Value::attr("igw", "owner")]),
                )]),
            )
            .prop("statistic", Value::str("Sum"))
            .prop("period", Value::Int(60))
            .prop("evaluation_periods", Value::Int(1))
            .prop("threshold", Value::Int(1))
            .prop("comparison", Value::str("GreaterThanThreshold"))
            .prop("alarm_actions", Value::set([]));
        Graph::new(vec![alarm, igw, vpc]).unwrap()
    }

    #[test]
    fn attribute_references_order_the_graph_and_mark_what_to_read_back_after_create() {
        let g = graph();
        let ids: Vec<_> = g.resources().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["vpc", "igw", "alarm"]);
        let read_back = attrs_referenced(&g);
        assert_eq!(read_back, HashSet::from(["igw".to_string()]));
        let dangling =
            Resource::new("igw2", Kind::InternetGateway).prop("vpc_id", Value::attr("nope", "id"));
        let err = Graph::new(vec![dangling]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`igw2` references `nope`, which the stack does not define"
        );
    }

    #[test]
    fn what_a_step_learns_resolves_the_next_steps_references() {
        let mut known = Known::from_world(&World::default());
        let alarm = graph().get("alarm").unwrap().props["dimensions"].clone();
        let resolve = |k: &Known| alarm.resolve(&|t| k.lookup(t));
        assert!(!resolve(&known).is_known());
        // The create of `igw` returned its id and, read back, its attributes.
        known.physical.insert("igw".into(), "igw-1".into());
        assert!(
            !resolve(&known).is_known(),
            "the id alone is not the attribute"
        );
        known.attrs.insert(
            "igw".into(),
            BTreeMap::from([("owner".into(), "123".into())]),
        );
        assert_eq!(
            resolve(&known),
            Value::map([("Gateway", Value::str("igw/123"))])
        );
        assert_eq!(known.lookup("igw"), Some("igw-1".into()));
        known.forget("igw");
        assert_eq!(known.lookup("igw#owner"), None);
    }
}
