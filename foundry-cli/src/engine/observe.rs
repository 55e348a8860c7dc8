//! What exists now: one batched describe per resource type, all in parallel.

use std::collections::BTreeMap;

use futures::future::try_join_all;

use super::graph::Graph;
use crate::aws::{Aws, AwsError};
use crate::resources::{Kind, Observed, Scope};
use crate::state::Snapshot;
use crate::vocab::{Value, split_ref};

/// Everything AWS reports for one stack and environment, by logical id.
#[derive(Debug, Default, Clone)]
pub struct World {
    pub resources: BTreeMap<String, Observed>,
    /// Extra resources carrying an id that another resource already has
    /// (left by a crashed run on an API without idempotency); deleted by the
    /// next apply.
    pub duplicates: Vec<Observed>,
}

impl World {
    pub fn get(&self, id: &str) -> Option<&Observed> {
        self.resources.get(id)
    }

    /// Logical id of the resource with this physical id.
    pub fn id_of(&self, physical_id: &str) -> Option<&str> {
        self.all()
            .find(|o| o.physical_id == physical_id)
            .map(|o| o.id.as_str())
    }

    pub fn all(&self) -> impl Iterator<Item = &Observed> {
        self.resources.values().chain(self.duplicates.iter())
    }

    /// What a reference target stands for in this world: `id` → the
    /// resource's physical id, `id#attr` → its observed attribute `attr`;
    /// `None` when the resource (or attribute) is not there.
    pub fn lookup(&self, target: &str) -> Option<String> {
        let (id, attr) = split_ref(target);
        let o = self.get(id)?;
        match attr {
            None => Some(o.physical_id.clone()),
            Some(attr) => o.attrs.get(attr).cloned(),
        }
    }

    /// `value` with its references (ids and `id#attr`) resolved against what
    /// is observed, `Unknown` where a target is missing: the same rule the
    /// plan applies (the release layer resolves a service's env with it).
    pub fn resolve(&self, value: &Value) -> Value {
        value.resolve(&|target| self.lookup(target))
    }
}

/// The types a run observes: every type, except those of an optional
/// feature ([`Kind::feature`]) unless the graph or the state's record holds
/// one of its types. App Runner is closed to new AWS accounts (since
/// 2026-04-30) and missing from some regions, so a stack with no service on
/// it never calls it; a stack without `[ci]` never reads the account's
/// OIDC providers.
pub fn kinds(graph: &Graph, recorded: &Snapshot) -> Vec<Kind> {
    let used: Vec<&str> = graph
        .resources()
        .iter()
        .map(|r| r.kind)
        .chain(recorded.resources.values().map(|a| a.kind))
        .filter_map(Kind::feature)
        .collect();
    Kind::ALL
        .iter()
        .copied()
        .filter(|k| k.feature().is_none_or(|f| used.contains(&f)))
        .collect()
}

/// Observes every type of `kinds`. The state's record decides which physical id to keep
/// when duplicates exist, so a rerun never flips between them; and a
/// resource it records that the listing does not show is looked up by its
/// physical id before it counts as gone, so it is never created twice.
pub async fn observe(
    aws: &Aws,
    scope: &Scope,
    recorded: &Snapshot,
    kinds: &[Kind],
) -> Result<World, AwsError> {
    let found = try_join_all(kinds.iter().map(|k| k.handler().observe(aws, scope))).await?;
    let mut all: Vec<Observed> = found
        .into_iter()
        .flatten()
        .filter(|o| !crate::aws::fault::hidden_from_listing(&o.id))
        .collect();
    let unlisted = recorded.resources.iter().filter(|(id, a)| {
        !all.iter()
            .any(|o| &o.id == *id || o.physical_id == a.physical_id)
    });
    let looked_up =
        try_join_all(unlisted.map(|(_, a)| a.kind.handler().find(aws, scope, &a.physical_id)))
            .await?;
    all.extend(looked_up.into_iter().flatten());
    let prefer = |id: &str| recorded.resources.get(id).map(|a| a.physical_id.clone());
    let mut world = World::default();
    all.sort_by(|a, b| a.id.cmp(&b.id).then(a.physical_id.cmp(&b.physical_id)));
    for o in all {
        let keep_new = world.resources.get(&o.id).is_some_and(|kept| {
            prefer(&o.id).as_deref() == Some(o.physical_id.as_str())
                && kept.physical_id != o.physical_id
        });
        match world.resources.get(&o.id) {
            None => {
                world.resources.insert(o.id.clone(), o);
            }
            Some(_) if keep_new => {
                let old = world.resources.insert(o.id.clone(), o).expect("present");
                world.duplicates.push(old);
            }
            Some(_) => world.duplicates.push(o),
        }
    }
    Ok(world)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Applied;

    #[test]
    fn app_runner_and_ecs_are_observed_only_where_the_graph_or_the_record_has_them() {
        let observed = |graph: &Graph, recorded: &Snapshot| {
            kinds(graph, recorded)
                .iter()
                .filter(|k| k.is_app_runner())
                .count()
        };
        let empty = Snapshot::default();
        assert_eq!(observed(&Graph::default(), &empty), 0);
        // Neither App Runner's five types, ECS's nine nor `[ci]`'s OIDC provider.
        assert_eq!(kinds(&Graph::default(), &empty).len(), Kind::ALL.len() - 15);
        let mut recorded = Snapshot::default();
        recorded.resources.insert(
            "svc-api".into(),
            Applied {
                kind: Kind::ApprunnerService,
                physical_id: "arn:aws:apprunner:us-east-1:1:service/x/y".into(),
                props: Default::default(),
            },
        );
        assert_eq!(observed(&Graph::default(), &recorded), 5);
    }
}
