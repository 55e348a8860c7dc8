//! What exists now: one batched describe per resource type, all in parallel.

use std::collections::BTreeMap;

use futures::future::try_join_all;

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

/// Observes every type. The state's record decides which physical id to keep
/// when duplicates exist, so a rerun never flips between them; and a
/// resource it records that the listing does not show is looked up by its
/// physical id before it counts as gone, so it is never created twice.
pub async fn observe(aws: &Aws, scope: &Scope, recorded: &Snapshot) -> Result<World, AwsError> {
    let found = try_join_all(Kind::ALL.iter().map(|k| k.handler().observe(aws, scope))).await?;
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
