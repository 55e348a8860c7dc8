//! The desired state: resources with logical ids and properties that may
//! reference other resources. Only `expand` builds graphs; everything after it
//! treats them as data.

use std::collections::{HashMap, HashSet};

use crate::resources::Kind;
use crate::vocab::{Props, Value, schema_problems};

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
    #[error("`{id}` ({kind}) does not match its type's schema: {}", problems.join("; "))]
    Schema {
        id: String,
        kind: Kind,
        problems: Vec<String>,
    },
}

impl Graph {
    /// Builds a graph, checking ids are unique, every reference resolves and
    /// every resource's properties match its type's schema, and orders it so
    /// that every resource comes after what it references.
    pub fn new(resources: Vec<Resource>) -> Result<Self, GraphError> {
        let mut ids = HashSet::new();
        for r in &resources {
            let problems = schema_problems(r.kind.handler().schema(), &r.props);
            if !problems.is_empty() {
                return Err(GraphError::Schema {
                    id: r.id.clone(),
                    kind: r.kind,
                    problems,
                });
            }
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

    fn vpc() -> Resource {
        Resource::new("vpc", Kind::Vpc)
            .prop("cidr_block", Value::str("10.0.0.0/16"))
            .prop("enable_dns_support", Value::Bool(true))
            .prop("enable_dns_hostnames", Value::Bool(true))
    }

    fn igw(vpc: &str) -> Resource {
        Resource::new("igw", Kind::InternetGateway).prop("vpc_id", Value::reference(vpc))
    }

    #[test]
    fn orders_dependencies_first_and_rejects_dangling_refs() {
        let g = Graph::new(vec![igw("vpc"), vpc()]).unwrap();
        let ids: Vec<_> = g.resources().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["vpc", "igw"]);
        let err = Graph::new(vec![igw("nope")]);
        assert!(matches!(err, Err(GraphError::DanglingRef { .. })));
    }

    /// The boundary check: a graph `expand` got wrong never reaches a plan.
    #[test]
    fn undeclared_missing_and_mistyped_properties_are_rejected_naming_the_resource() {
        let check = |r: Resource, expect: &str| {
            let err = Graph::new(vec![vpc(), r]).unwrap_err();
            assert!(matches!(err, GraphError::Schema { ref id, .. } if id == "igw"));
            assert_eq!(err.to_string(), expect);
        };
        check(
            igw("vpc").prop("vpc_idd", Value::str("x")),
            "`igw` (internet_gateway) does not match its type's schema: property `vpc_idd` is not declared by its type",
        );
        check(
            Resource::new("igw", Kind::InternetGateway),
            "`igw` (internet_gateway) does not match its type's schema: required property `vpc_id` is missing",
        );
        check(
            Resource::new("igw", Kind::InternetGateway).prop("vpc_id", Value::Int(1)),
            "`igw` (internet_gateway) does not match its type's schema: property `vpc_id` should be a string but is 1",
        );
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
