//! Property values: what the desired graph and the observed world are made of.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A property value. `Ref`, `Concat` and `Unknown` exist only in desired
/// state: a `Ref` names another resource whose physical id it stands for
/// (`id`), or one of its observed attributes (`id#attr`, see
/// [`Value::attr`]); a `Concat` joins text and references into one string;
/// `Unknown` is a reference whose target does not exist yet ("known after
/// apply").
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
    Concat(Vec<Value>),
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
            Value::Ref(_) | Value::Concat(_) | Value::Unknown => {
                s.serialize_str("(known after apply)")
            }
        }
    }
}

pub type Props = BTreeMap<String, Value>;

/// Keys with this prefix steer creation only (AWS never reports them back),
/// so the diff ignores them.
pub const CREATE_ONLY: &str = "create:";

/// A secret generates its value at creation.
pub const CREATE_ONLY_GENERATE: &str = "create:generate_value";

/// Separates a logical id from an attribute name in a `Ref`: logical ids
/// never contain it.
pub const ATTR_SEPARATOR: char = '#';

/// A reference's target: the logical id, and the attribute when it names
/// one (`"svc-ai#url"` → `("svc-ai", Some("url"))`).
pub fn split_ref(target: &str) -> (&str, Option<&str>) {
    match target.split_once(ATTR_SEPARATOR) {
        Some((id, attr)) => (id, Some(attr)),
        None => (target, None),
    }
}

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

    /// An attribute of another resource (`Observed::attrs[attr]`, such as a
    /// service's `url`) rather than its physical id. Still a dependency on
    /// `id` for ordering and reference checks.
    pub fn attr(id: impl AsRef<str>, attr: impl AsRef<str>) -> Self {
        Value::Ref(format!("{}{ATTR_SEPARATOR}{}", id.as_ref(), attr.as_ref()))
    }

    /// Text and references joined into one string once every part is known.
    pub fn concat(parts: Vec<Value>) -> Self {
        Value::Concat(parts)
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

    /// Every logical id this value references (for `id#attr`, the id).
    pub fn refs<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Value::Ref(target) => out.push(split_ref(target).0),
            Value::List(items) | Value::Concat(items) => items.iter().for_each(|v| v.refs(out)),
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

    /// Every reference target as written (`id` or `id#attr`).
    pub fn ref_targets<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Value::Ref(target) => out.push(target),
            Value::List(items) | Value::Concat(items) => {
                items.iter().for_each(|v| v.ref_targets(out))
            }
            Value::Map(m) => m.values().for_each(|v| v.ref_targets(out)),
            _ => {}
        }
    }

    /// Replaces references with what `lookup` gives for their target (`id`:
    /// the physical id; `id#attr`: the attribute), or `Unknown` where it has
    /// none; a `Concat` becomes one string once every part is known. Lists
    /// stay sorted.
    pub fn resolve(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Value {
        match self {
            Value::Ref(target) => lookup(target).map_or(Value::Unknown, Value::Str),
            Value::Concat(parts) => {
                let mut text = String::new();
                for part in parts {
                    match part.resolve(lookup) {
                        Value::Str(s) => text.push_str(&s),
                        Value::Int(n) => text.push_str(&n.to_string()),
                        _ => return Value::Unknown,
                    }
                }
                Value::Str(text)
            }
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
            Value::Unknown | Value::Ref(_) | Value::Concat(_) => false,
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
            Value::Ref(target) => match split_ref(target) {
                (id, None) => write!(f, "(id of {id})"),
                (id, Some(attr)) => write!(f, "({attr} of {id})"),
            },
            Value::Concat(parts) => {
                f.write_str("concat(")?;
                for (i, v) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
            Value::Unknown => f.write_str("(known after apply)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lookup `plan` and `execute` give: physical ids and attributes of
    /// what exists.
    fn world(target: &str) -> Option<String> {
        match split_ref(target) {
            ("svc-ai", None) => Some("arn:aws:apprunner:us-east-1:1:service/ai/abc".into()),
            ("svc-ai", Some("url")) => Some("abc.us-east-1.awsapprunner.com".into()),
            _ => None,
        }
    }

    #[test]
    fn an_attribute_reference_depends_on_its_resource_and_resolves_to_the_attribute() {
        let v = Value::attr("svc-ai", "url");
        let mut refs = Vec::new();
        v.refs(&mut refs);
        assert_eq!(refs, ["svc-ai"]);
        assert!(!v.is_known());
        assert_eq!(v.to_string(), "(url of svc-ai)");
        assert_eq!(
            v.resolve(&world),
            Value::str("abc.us-east-1.awsapprunner.com")
        );
        assert_eq!(
            Value::attr("svc-ai", "nope").resolve(&world),
            Value::Unknown
        );
        assert_eq!(
            Value::reference("svc-ai").resolve(&world),
            Value::str("arn:aws:apprunner:us-east-1:1:service/ai/abc")
        );
    }

    #[test]
    fn a_concat_is_a_string_once_every_part_is_known() {
        let v = Value::concat(vec![
            Value::str("https://"),
            Value::attr("svc-ai", "url"),
            Value::str("/v1"),
        ]);
        let mut refs = Vec::new();
        v.refs(&mut refs);
        assert_eq!(refs, ["svc-ai"]);
        assert!(!v.is_known());
        assert_eq!(
            v.resolve(&world),
            Value::str("https://abc.us-east-1.awsapprunner.com/v1")
        );
        let pending = Value::concat(vec![Value::str("https://"), Value::attr("svc-api", "url")]);
        assert_eq!(pending.resolve(&world), Value::Unknown);
        assert_eq!(
            serde_json::to_value(&pending).unwrap(),
            "(known after apply)"
        );
        let map = Value::map([("URL", v)]).resolve(&world);
        assert!(map.is_known());
    }
}
