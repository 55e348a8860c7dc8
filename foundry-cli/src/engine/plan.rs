//! Diff: desired graph × observed world (× last applied state, for drift)
//! → plan of creates, updates, replacements and deletes.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::graph::{Graph, Props, Value};
use super::observe::World;
use crate::resources::{Kind, Observed};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }
}

/// One attribute that differs.
#[derive(Debug, Clone, Serialize)]
pub struct AttrChange {
    pub key: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub forces_replacement: bool,
    /// AWS no longer matches what foundry last applied: changed outside foundry.
    pub drift: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub id: String,
    pub kind: Kind,
    pub action: Action,
    pub physical_id: Option<String>,
    pub attrs: Vec<AttrChange>,
    /// Why, when it is not a plain config change ("deleted outside foundry").
    pub reason: Option<String>,
    pub drift: bool,
    /// Deleting the current resource (a delete or a replacement) loses the
    /// data it stores.
    pub data_loss: bool,
    /// For deletes and replacements: the resource as it is now.
    #[serde(skip)]
    pub current: Option<Observed>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub unchanged: usize,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn count(&self, action: Action) -> usize {
        self.changes.iter().filter(|c| c.action == action).count()
    }
}

/// Last applied properties by logical id (from the state cache).
pub type Applied = HashMap<String, Props>;

pub fn diff(graph: &Graph, world: &World, applied: &Applied) -> Plan {
    let mut plan = Plan::default();
    let mut pending: HashMap<&str, Action> = HashMap::new();
    for r in graph.resources() {
        let lookup = |target: &str| match pending.get(target) {
            Some(Action::Create | Action::Replace) => None,
            _ => world.get(target).map(|o| o.physical_id.clone()),
        };
        let desired: Props = r
            .props
            .iter()
            .map(|(k, v)| (k.clone(), v.resolve(&lookup)))
            .collect();
        let Some(current) = world.get(&r.id) else {
            let deleted_outside = applied.contains_key(&r.id);
            plan.changes.push(Change {
                id: r.id.clone(),
                kind: r.kind,
                action: Action::Create,
                physical_id: None,
                attrs: desired
                    .into_iter()
                    .map(|(key, after)| AttrChange {
                        key,
                        before: None,
                        after: Some(after),
                        forces_replacement: false,
                        drift: false,
                    })
                    .collect(),
                reason: deleted_outside.then(|| "deleted outside foundry".to_string()),
                drift: deleted_outside,
                data_loss: false,
                current: None,
            });
            pending.insert(&r.id, Action::Create);
            continue;
        };
        let force_new = r.kind.handler().force_new();
        let last = applied.get(&r.id);
        let mut attrs = Vec::new();
        for (key, want) in desired.iter().filter(|(k, _)| super::graph::is_compared(k)) {
            let have = current.props.get(key);
            if have == Some(want) {
                continue;
            }
            let drift = last
                .and_then(|l| l.get(key))
                .is_some_and(|l| Some(l) != have && l == want);
            attrs.push(AttrChange {
                key: key.clone(),
                before: have.cloned(),
                after: Some(want.clone()),
                // Setting a property the resource lacks (an internet gateway
                // left unattached by a crash) completes it in place;
                // changing one it has is what forces a new resource.
                forces_replacement: have.is_some() && force_new.contains(&key.as_str()),
                drift,
            });
        }
        if attrs.is_empty() {
            plan.unchanged += 1;
            continue;
        }
        let action = if attrs.iter().any(|a| a.forces_replacement) {
            Action::Replace
        } else {
            Action::Update
        };
        let drift = attrs.iter().any(|a| a.drift);
        plan.changes.push(Change {
            id: r.id.clone(),
            kind: r.kind,
            action,
            physical_id: Some(current.physical_id.clone()),
            attrs,
            reason: drift.then(|| "changed outside foundry".to_string()),
            drift,
            data_loss: action == Action::Replace && r.kind.handler().holds_data(),
            current: Some(current.clone()),
        });
        pending.insert(&r.id, action);
    }
    let deletes = world
        .resources
        .values()
        .filter(|o| graph.get(&o.id).is_none())
        .map(|o| (o, "no longer in the stack"));
    let duplicates = world
        .duplicates
        .iter()
        .map(|o| (o, "duplicate left by an interrupted run"));
    for (o, why) in deletes.chain(duplicates) {
        plan.changes.push(Change {
            id: o.id.clone(),
            kind: o.kind,
            action: Action::Delete,
            physical_id: Some(o.physical_id.clone()),
            attrs: Vec::new(),
            reason: Some(why.to_string()),
            drift: false,
            data_loss: o.kind.handler().holds_data(),
            current: Some(o.clone()),
        });
    }
    plan
}

/// Outputs are derived, not planned; kept here so plan JSON can carry them.
pub type Outputs = BTreeMap<String, serde_json::Value>;
