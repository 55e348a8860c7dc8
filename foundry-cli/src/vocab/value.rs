//! Property values: what the desired graph and the observed world are made of.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

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
