//! The desired state: resources with logical ids and properties that may
//! reference other resources. Only `expand` builds graphs; everything after it
//! treats them as data.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::resources::Kind;

/// A property value. `Ref` and `Unknown` exist only in desired state: a `Ref`
/// names another resource whose physical id it stands for, `Unknown` is a
/// `Ref` whose target does not exist yet ("known after apply").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    #[serde(skip_deserializing)]
    Ref(String),
    #[serde(skip_deserializing)]
    Unknown,
}

/// Plain JSON for values; what is not known yet is the string
/// `(known after apply)`, as in the human plan.
impl Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Str(v) => s.serialize_str(v),
            Value::List(items) => items.serialize(s),
            Value::Map(m) => m.serialize(s),
            Value::Ref(_) | Value::Unknown => s.serialize_str("(known after apply)"),
        }
    }
}

pub type Props = BTreeMap<String, Value>;

/// Keys with this prefix steer creation only (AWS never reports them back),
/// so the diff ignores them.
pub const CREATE_ONLY: &str = "create:";

/// A secret generates its value at creation.
pub const CREATE_ONLY_GENERATE: &str = "create:generate_value";

/// Whether the diff compares this key.
pub fn is_compared(key: &str) -> bool {
    !key.starts_with(CREATE_ONLY)
}

impl Value {
    pub fn str(s: impl Into<String>) -> Self {
        Value::Str(s.into())
    }

    pub fn reference(id: impl Into<String>) -> Self {
        Value::Ref(id.into())
    }

    /// A list compared as a set: kept sorted so that order never shows as a change.
    pub fn set(items: impl IntoIterator<Item = Value>) -> Self {
        let mut items: Vec<Value> = items.into_iter().collect();
        items.sort();
        items.dedup();
        Value::List(items)
    }

    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Self {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_list(&self) -> &[Value] {
        match self {
            Value::List(l) => l,
            _ => &[],
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Every logical id this value references.
    pub fn refs<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Value::Ref(id) => out.push(id),
            Value::List(items) => items.iter().for_each(|v| v.refs(out)),
            Value::Map(m) => m.values().for_each(|v| v.refs(out)),
            _ => {}
        }
    }

    /// Every string in this value (for finding which physical ids it names).
    pub fn strings<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Value::Str(s) => out.push(s),
            Value::List(items) => items.iter().for_each(|v| v.strings(out)),
            Value::Map(m) => m.values().for_each(|v| v.strings(out)),
            _ => {}
        }
    }

    /// Replaces references with physical ids, or `Unknown` where `lookup`
    /// has none. Lists stay sorted.
    pub fn resolve(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Value {
        match self {
            Value::Ref(id) => lookup(id).map_or(Value::Unknown, Value::Str),
            Value::List(items) => Value::set(items.iter().map(|v| v.resolve(lookup))),
            Value::Map(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.resolve(lookup)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    pub fn is_known(&self) -> bool {
        match self {
            Value::Unknown | Value::Ref(_) => false,
            Value::List(items) => items.iter().all(Value::is_known),
            Value::Map(m) => m.values().all(Value::is_known),
            _ => true,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("{ ")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                f.write_str(" }")
            }
            Value::Ref(id) => write!(f, "(id of {id})"),
            Value::Unknown => f.write_str("(known after apply)"),
        }
    }
}

/// One resource foundry wants to exist.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Logical id, unique in the stack: the `foundry:id` tag.
    pub id: String,
    pub kind: Kind,
    pub props: Props,
}

impl Resource {
    pub fn new(id: impl Into<String>, kind: Kind) -> Self {
        Self {
            id: id.into(),
            kind,
            props: Props::new(),
        }
    }

    pub fn prop(mut self, key: &str, value: Value) -> Self {
        self.props.insert(key.to_string(), value);
        self
    }

    /// Logical ids this resource references.
    pub fn deps(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.props.values().for_each(|v| v.refs(&mut out));
        out.sort();
        out.dedup();
        out
    }
}

/// The desired resources of one stack and environment.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    resources: Vec<Resource>,
}

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("two resources have the logical id `{0}`")]
    DuplicateId(String),
    #[error("`{from}` references `{to}`, which the stack does not define")]
    DanglingRef { from: String, to: String },
    #[error("resources reference each other in a cycle through `{0}`")]
    Cycle(String),
}

impl Graph {
    /// Builds a graph, checking ids are unique and every reference resolves,
    /// and orders it so that every resource comes after what it references.
    pub fn new(resources: Vec<Resource>) -> Result<Self, GraphError> {
        let mut ids = HashSet::new();
        for r in &resources {
            if !ids.insert(r.id.as_str()) {
                return Err(GraphError::DuplicateId(r.id.clone()));
            }
        }
        for r in &resources {
            if let Some(to) = r.deps().into_iter().find(|d| !ids.contains(d)) {
                return Err(GraphError::DanglingRef {
                    from: r.id.clone(),
                    to: to.to_string(),
                });
            }
        }
        let order = topo_order(&resources)?;
        let mut by_id: HashMap<String, Resource> =
            resources.into_iter().map(|r| (r.id.clone(), r)).collect();
        let resources = order
            .into_iter()
            .map(|id| by_id.remove(&id).expect("ordered ids exist"))
            .collect();
        Ok(Self { resources })
    }

    /// Resources in dependency order.
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    pub fn get(&self, id: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.id == id)
    }
}

fn topo_order(resources: &[Resource]) -> Result<Vec<String>, GraphError> {
    // Kahn's algorithm, stable with respect to the input order.
    let mut indegree: HashMap<&str, usize> = resources
        .iter()
        .map(|r| (r.id.as_str(), r.deps().len()))
        .collect();
    let mut done = Vec::with_capacity(resources.len());
    while done.len() < resources.len() {
        let next = resources
            .iter()
            .find(|r| indegree.get(r.id.as_str()) == Some(&0))
            .ok_or_else(|| {
                let stuck = resources
                    .iter()
                    .find(|r| indegree.contains_key(r.id.as_str()))
                    .expect("some left");
                GraphError::Cycle(stuck.id.clone())
            })?;
        indegree.remove(next.id.as_str());
        for r in resources {
            if r.deps().contains(&next.id.as_str())
                && let Some(n) = indegree.get_mut(r.id.as_str())
            {
                *n -= 1;
            }
        }
        done.push(next.id.clone());
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_dependencies_first_and_rejects_dangling_refs() {
        let g = Graph::new(vec![
            Resource::new("subnet", Kind::Subnet).prop("vpc_id", Value::reference("vpc")),
            Resource::new("vpc", Kind::Vpc),
        ])
        .unwrap();
        let ids: Vec<_> = g.resources().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["vpc", "subnet"]);
        let err = Graph::new(vec![
            Resource::new("a", Kind::Subnet).prop("vpc_id", Value::reference("nope")),
        ]);
        assert!(matches!(err, Err(GraphError::DanglingRef { .. })));
    }

    #[test]
    fn sets_ignore_order_and_unknowns_are_not_known() {
        assert_eq!(
            Value::set([Value::str("b"), Value::str("a")]),
            Value::set([Value::str("a"), Value::str("b")])
        );
        let v = Value::set([Value::reference("x")]).resolve(&|_| None);
        assert!(!v.is_known());
    }
}
