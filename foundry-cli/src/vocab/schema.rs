//! Each resource type declares its properties once (key, type, required or
//! optional, forces replacement), like a Terraform `Schema` map with
//! `ForceNew`. The engine checks every expanded graph against the
//! declarations, and the resource files read properties through the readers
//! here, which fail on a missing or mistyped key instead of defaulting.

use super::value::{Props, Value};

/// The shape a property's value takes once references are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// A string, or a reference to another resource (its physical id).
    Str,
    Int,
    Bool,
    /// A list of strings or references, compared as a set.
    StrSet,
    /// A list of structured items (routes, ingress rules, behaviours).
    List,
    /// A structured value (a policy document, metric dimensions).
    Map,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Str => "a string",
            Ty::Int => "an integer",
            Ty::Bool => "a boolean",
            Ty::StrSet => "a list of strings",
            Ty::List => "a list",
            Ty::Map => "a map",
        }
    }

    /// Whether `value` has this shape (references count as strings).
    fn admits(self, value: &Value) -> bool {
        let string_like = |v: &Value| {
            matches!(
                v,
                Value::Str(_) | Value::Ref(_) | Value::Concat(_) | Value::Unknown
            )
        };
        match (self, value) {
            (Ty::Str, v) => string_like(v),
            (Ty::Int, Value::Int(_)) | (Ty::Bool, Value::Bool(_)) => true,
            (Ty::StrSet, Value::List(items)) => items.iter().all(string_like),
            (Ty::List, Value::List(_)) | (Ty::Map, Value::Map(_)) => true,
            _ => false,
        }
    }
}

/// One declared property of a resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropSpec {
    pub key: &'static str,
    pub ty: Ty,
    pub required: bool,
    /// A change of this property needs a new resource.
    pub force_new: bool,
}

impl PropSpec {
    pub const fn required(key: &'static str, ty: Ty) -> Self {
        Self {
            key,
            ty,
            required: true,
            force_new: false,
        }
    }

    pub const fn optional(key: &'static str, ty: Ty) -> Self {
        Self {
            key,
            ty,
            required: false,
            force_new: false,
        }
    }

    pub const fn force_new(self) -> Self {
        Self {
            force_new: true,
            ..self
        }
    }
}

/// Every property a resource type takes.
pub type Schema = [PropSpec];

/// What is wrong with `props` against `schema`, one sentence per problem
/// (empty when they conform): undeclared keys, missing required keys, values
/// of the wrong type.
pub fn problems(schema: &Schema, props: &Props) -> Vec<String> {
    let mut out = Vec::new();
    for (key, value) in props {
        match schema.iter().find(|p| p.key == key) {
            None => out.push(format!("property `{key}` is not declared by its type")),
            Some(spec) if !spec.ty.admits(value) => out.push(format!(
                "property `{key}` should be {} but is {value}",
                spec.ty.name()
            )),
            Some(_) => {}
        }
    }
    for spec in schema.iter().filter(|p| p.required) {
        if !props.contains_key(spec.key) {
            out.push(format!("required property `{}` is missing", spec.key));
        }
    }
    out
}

/// A property a resource file needed and did not find as declared: a bug in
/// foundry (expansion and schema disagree), never a user error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "internal error: property `{key}` is {problem}; this is a bug in foundry, please report it"
)]
pub struct PropError {
    pub key: String,
    pub problem: &'static str,
}

fn read<'a, T>(
    props: &'a Props,
    key: &str,
    ty: &'static str,
    get: impl FnOnce(&'a Value) -> Option<T>,
) -> Result<T, PropError> {
    let value = props.get(key).ok_or_else(|| PropError {
        key: key.to_string(),
        problem: "missing",
    })?;
    get(value).ok_or(PropError {
        key: key.to_string(),
        problem: ty,
    })
}

/// A required string property (resolved references are strings).
pub fn prop_str<'a>(props: &'a Props, key: &str) -> Result<&'a str, PropError> {
    read(props, key, "not a string", Value::as_str)
}

pub fn prop_int(props: &Props, key: &str) -> Result<i64, PropError> {
    read(props, key, "not an integer", |v| match v {
        Value::Int(n) => Some(*n),
        _ => None,
    })
}

pub fn prop_bool(props: &Props, key: &str) -> Result<bool, PropError> {
    read(props, key, "not a boolean", Value::as_bool)
}

/// A required list of strings.
pub fn prop_strs(props: &Props, key: &str) -> Result<Vec<String>, PropError> {
    read(props, key, "not a list of strings", |v| match v {
        Value::List(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => None,
    })
}

/// An optional list of strings: absent is empty, mistyped is an error.
pub fn opt_strs(props: &Props, key: &str) -> Result<Vec<String>, PropError> {
    if props.contains_key(key) {
        prop_strs(props, key)
    } else {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &Schema = &[
        PropSpec::required("name", Ty::Str).force_new(),
        PropSpec::required("size", Ty::Int),
        PropSpec::optional("tags", Ty::StrSet),
    ];

    fn props(entries: &[(&str, Value)]) -> Props {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn conforming_props_have_no_problems_and_references_count_as_strings() {
        let ok = props(&[
            ("name", Value::reference("vpc")),
            ("size", Value::Int(3)),
            ("tags", Value::set([Value::str("a"), Value::reference("b")])),
        ]);
        assert_eq!(problems(SCHEMA, &ok), Vec::<String>::new());
        assert!(
            problems(
                SCHEMA,
                &props(&[("name", Value::str("n")), ("size", Value::Int(1))])
            )
            .is_empty()
        );
    }

    #[test]
    fn undeclared_missing_and_mistyped_props_are_each_named() {
        let bad = props(&[
            ("name", Value::Int(1)),
            ("colour", Value::str("red")),
            ("tags", Value::set([Value::Int(1)])),
        ]);
        assert_eq!(
            problems(SCHEMA, &bad),
            [
                "property `colour` is not declared by its type",
                "property `name` should be a string but is 1",
                "property `tags` should be a list of strings but is [1]",
                "required property `size` is missing",
            ]
        );
    }

    #[test]
    fn readers_fail_instead_of_defaulting() {
        let p = props(&[("name", Value::str("n")), ("size", Value::str("3"))]);
        assert_eq!(prop_str(&p, "name"), Ok("n"));
        assert_eq!(prop_int(&p, "size").unwrap_err().problem, "not an integer");
        assert_eq!(prop_bool(&p, "flag").unwrap_err().problem, "missing");
        assert_eq!(prop_strs(&p, "name").unwrap_err().key, "name");
    }
}
