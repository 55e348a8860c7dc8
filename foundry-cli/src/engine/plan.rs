//! Diff: desired graph × observed world (× last applied state, for drift)
//! → plan of creates, updates, replacements and deletes.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::graph::Graph;
use super::observe::World;
use crate::resources::{Kind, Observed};
use crate::vocab::{Props, Value, is_compared, split_ref};

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
pub type LastApplied = HashMap<String, Props>;

pub fn diff(graph: &Graph, world: &World, applied: &LastApplied) -> Plan {
    let mut plan = Plan::default();
    let mut pending: HashMap<&str, Action> = HashMap::new();
    for r in graph.resources() {
        // What is about to be created or replaced has no id or attributes yet.
        let lookup = |target: &str| match pending.get(split_ref(target).0) {
            Some(Action::Create | Action::Replace) => None,
            _ => world.lookup(target),
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
        let handler = r.kind.handler();
        let last = applied.get(&r.id);
        let mut attrs = Vec::new();
        for (key, want) in desired.iter().filter(|(k, _)| is_compared(k)) {
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
                forces_replacement: have.is_some() && handler.forces_new(key),
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

/// Resources whose create started (its intent is in the journal) but never
/// finished, that AWS nevertheless reports: a run stopped between the create
/// and its follow-up calls. Their updates say so, instead of reading as
/// unexplained differences.
pub fn mark_incomplete(plan: &mut Plan, pending: &std::collections::BTreeMap<String, String>) {
    for c in plan
        .changes
        .iter_mut()
        .filter(|c| c.action == Action::Update && !c.drift && pending.contains_key(&c.id))
    {
        c.reason = Some("left incomplete by an interrupted run".to_string());
    }
}

/// Outputs are derived, not planned; kept here so plan JSON can carry them.
pub type Outputs = BTreeMap<String, serde_json::Value>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::graph::Resource;

    fn igw(vpc: Value) -> Resource {
        Resource::new("igw", Kind::InternetGateway).prop("vpc_id", vpc)
    }

    fn vpc(cidr: &str) -> Resource {
        Resource::new("vpc", Kind::Vpc)
            .prop("cidr_block", Value::str(cidr))
            .prop("enable_dns_support", Value::Bool(true))
            .prop("enable_dns_hostnames", Value::Bool(true))
    }

    /// What AWS reports: the desired resource's props with references
    /// replaced by `phys-<id>`, then `edit` applied.
    fn seen(r: &Resource, edit: &[(&str, Value)]) -> Observed {
        let mut o = Observed::new(r.id.clone(), r.kind, format!("phys-{}", r.id));
        o.props = r
            .props
            .iter()
            .map(|(k, v)| (k.clone(), v.resolve(&|id| Some(format!("phys-{id}")))))
            .collect();
        for (k, v) in edit {
            o.props.insert(k.to_string(), v.clone());
        }
        o
    }

    /// One line per change: symbol, id, changed keys (`!` forces
    /// replacement), and the reason when there is one.
    fn check(desired: Vec<Resource>, observed: Vec<Observed>, applied: &[&Resource], expect: &str) {
        let graph = Graph::new(desired).unwrap();
        let mut world = World::default();
        for o in observed {
            world.resources.insert(o.id.clone(), o);
        }
        let last: LastApplied = applied
            .iter()
            .map(|r| (r.id.clone(), seen(r, &[]).props))
            .collect();
        let plan = diff(&graph, &world, &last);
        let mut lines: Vec<String> = plan
            .changes
            .iter()
            .map(|c| {
                let keys: Vec<String> = c
                    .attrs
                    .iter()
                    .filter(|_| c.action != Action::Create)
                    .map(|a| format!("{}{}", a.key, if a.forces_replacement { "!" } else { "" }))
                    .collect();
                let mut line = format!("{} {}", c.action.symbol(), c.id);
                if !keys.is_empty() {
                    line.push_str(&format!(" [{}]", keys.join(", ")));
                }
                if let Some(why) = &c.reason {
                    line.push_str(&format!(" ({why})"));
                }
                line
            })
            .collect();
        lines.push(format!("unchanged: {}", plan.unchanged));
        assert_eq!(lines.join("\n"), expect);
    }

    #[test]
    fn nothing_exists_so_everything_is_created_with_references_unknown() {
        check(
            vec![vpc("10.0.0.0/16"), igw(Value::reference("vpc"))],
            vec![],
            &[],
            "+ vpc\n+ igw\nunchanged: 0",
        );
    }

    #[test]
    fn matching_resources_are_unchanged() {
        let (v, i) = (vpc("10.0.0.0/16"), igw(Value::reference("vpc")));
        check(
            vec![v.clone(), i.clone()],
            vec![seen(&v, &[]), seen(&i, &[])],
            &[],
            "unchanged: 2",
        );
    }

    #[test]
    fn an_updatable_change_updates_and_a_force_new_change_replaces() {
        let v = vpc("10.0.0.0/16");
        let want = vpc("10.1.0.0/16").prop("enable_dns_support", Value::Bool(true));
        check(
            vec![want],
            vec![seen(&v, &[("enable_dns_hostnames", Value::Bool(false))])],
            &[],
            "-/+ vpc [cidr_block!, enable_dns_hostnames]\nunchanged: 0",
        );
        check(
            vec![v.clone()],
            vec![seen(&v, &[("enable_dns_hostnames", Value::Bool(false))])],
            &[],
            "~ vpc [enable_dns_hostnames]\nunchanged: 0",
        );
    }

    #[test]
    fn a_property_the_resource_lacks_is_completed_in_place_not_replaced() {
        // An internet gateway left unattached by a crash: vpc_id forces a new
        // gateway when it changes, but setting it where none is completes it.
        let i = igw(Value::reference("vpc"));
        let mut detached = seen(&i, &[]);
        detached.props.remove("vpc_id");
        let v = vpc("10.0.0.0/16");
        check(
            vec![v.clone(), i],
            vec![seen(&v, &[]), detached],
            &[],
            "~ igw [vpc_id]\nunchanged: 1",
        );
    }

    #[test]
    fn what_changed_in_aws_but_not_in_the_stack_file_is_drift() {
        let v = vpc("10.0.0.0/16");
        check(
            vec![v.clone()],
            vec![seen(&v, &[("enable_dns_support", Value::Bool(false))])],
            &[&v],
            "~ vpc [enable_dns_support] (changed outside foundry)\nunchanged: 0",
        );
        check(
            vec![v.clone()],
            vec![],
            &[&v],
            "+ vpc (deleted outside foundry)\nunchanged: 0",
        );
    }

    #[test]
    fn what_left_the_stack_is_deleted_and_duplicates_too() {
        let v = vpc("10.0.0.0/16");
        let graph = Graph::new(vec![]).unwrap();
        let mut world = World::default();
        world.resources.insert("vpc".into(), seen(&v, &[]));
        let mut dup = seen(&v, &[]);
        dup.physical_id = "phys-vpc-2".into();
        world.duplicates.push(dup);
        let plan = diff(&graph, &world, &LastApplied::new());
        let lines: Vec<_> = plan
            .changes
            .iter()
            .map(|c| {
                format!(
                    "{} {} {:?}",
                    c.action.symbol(),
                    c.physical_id.as_deref().unwrap_or(""),
                    c.reason
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                "- phys-vpc Some(\"no longer in the stack\")",
                "- phys-vpc-2 Some(\"duplicate left by an interrupted run\")",
            ]
        );
    }

    #[test]
    fn a_reference_to_a_resource_being_replaced_is_unknown_until_applied() {
        let (v, i) = (vpc("10.0.0.0/16"), igw(Value::reference("vpc")));
        let graph = Graph::new(vec![vpc("10.9.0.0/16"), i.clone()]).unwrap();
        let mut world = World::default();
        world.resources.insert("vpc".into(), seen(&v, &[]));
        world.resources.insert("igw".into(), seen(&i, &[]));
        let plan = diff(&graph, &world, &LastApplied::new());
        let igw_change = plan.changes.iter().find(|c| c.id == "igw").unwrap();
        assert_eq!(igw_change.action, Action::Replace);
        assert_eq!(igw_change.attrs[0].after, Some(Value::Unknown));
    }

    #[test]
    fn an_update_of_a_create_that_never_finished_says_so() {
        let v = vpc("10.0.0.0/16");
        let graph = Graph::new(vec![v.clone()]).unwrap();
        let mut world = World::default();
        world.resources.insert(
            "vpc".into(),
            seen(&v, &[("enable_dns_hostnames", Value::Bool(false))]),
        );
        let mut plan = diff(&graph, &world, &LastApplied::new());
        assert_eq!(plan.changes[0].reason, None);
        let pending = [("vpc".to_string(), "token".to_string())]
            .into_iter()
            .collect();
        mark_incomplete(&mut plan, &pending);
        assert_eq!(
            plan.changes[0].reason.as_deref(),
            Some("left incomplete by an interrupted run")
        );
        assert!(!plan.changes[0].drift);
    }

    #[test]
    fn an_attribute_reference_resolves_from_what_is_observed_and_is_unknown_while_pending() {
        let v = vpc("10.0.0.0/16");
        let i = igw(Value::attr("vpc", "owner"));
        let graph = Graph::new(vec![v.clone(), i.clone()]).unwrap();
        let mut world = World::default();
        let mut seen_vpc = seen(&v, &[]);
        seen_vpc.attrs.insert("owner".into(), "123".into());
        world.resources.insert("vpc".into(), seen_vpc);
        world
            .resources
            .insert("igw".into(), seen(&i, &[("vpc_id", Value::str("123"))]));
        assert_eq!(
            world.resolve(&Value::attr("vpc", "owner")),
            Value::str("123")
        );
        assert_eq!(world.resolve(&Value::attr("vpc", "nope")), Value::Unknown);
        assert!(diff(&graph, &world, &LastApplied::new()).is_empty());
        // The vpc is replaced: its attributes are not known until it exists.
        let graph = Graph::new(vec![vpc("10.9.0.0/16"), i]).unwrap();
        let plan = diff(&graph, &world, &LastApplied::new());
        let igw_change = plan.changes.iter().find(|c| c.id == "igw").unwrap();
        assert_eq!(igw_change.attrs[0].after, Some(Value::Unknown));
    }
}
