//! Input validation driven by the official API model (botocore's
//! `apprunner/2020-05-15/service-2.json`, embedded): required members, enum
//! values, string lengths and patterns, integer ranges, list sizes. The
//! emulator never hand-copies a constraint the model already states.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

const MODEL_JSON: &str = include_str!("../model/apprunner-2020-05-15.json");

pub(crate) struct ApiModel {
    shapes: serde_json::Map<String, Value>,
    operations: serde_json::Map<String, Value>,
    patterns: std::sync::Mutex<HashMap<String, Option<fancy_regex::Regex>>>,
}

pub(crate) fn model() -> &'static ApiModel {
    static MODEL: OnceLock<ApiModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let mut json: Value = serde_json::from_str(MODEL_JSON).expect("the embedded model is JSON");
        let take = |json: &mut Value, key: &str| match json[key].take() {
            Value::Object(map) => map,
            _ => panic!("the embedded model has no {key}"),
        };
        ApiModel {
            shapes: take(&mut json, "shapes"),
            operations: take(&mut json, "operations"),
            patterns: Default::default(),
        }
    })
}

impl ApiModel {
    /// The input shape of `operation`, or `None` for an operation the model lacks.
    pub(crate) fn input_shape(&self, operation: &str) -> Option<&str> {
        self.operations.get(operation)?["input"]["shape"].as_str()
    }

    pub(crate) fn has_operation(&self, operation: &str) -> bool {
        self.operations.contains_key(operation)
    }

    /// Checks `value` against shape `shape`; the first violation, worded the
    /// way AWS words validation errors, is returned.
    pub(crate) fn validate(&self, shape: &str, value: &Value, at: &str) -> Result<(), String> {
        let definition = &self.shapes[shape];
        let kind = definition["type"].as_str().unwrap_or_default();
        let wrong_type = || Err(format!("{at} must be of type {kind}"));
        match kind {
            "structure" => {
                let Value::Object(members) = value else {
                    return wrong_type();
                };
                for required in definition["required"].as_array().into_iter().flatten() {
                    let name = required.as_str().unwrap_or_default();
                    if members.get(name).is_none_or(Value::is_null) {
                        return Err(format!("{} is required", join(at, name)));
                    }
                }
                let known = definition["members"].as_object();
                for (name, member) in members {
                    if member.is_null() {
                        continue;
                    }
                    let Some(member_shape) = known
                        .and_then(|known| known.get(name))
                        .and_then(|m| m["shape"].as_str())
                    else {
                        return Err(format!("{} is not a member of {shape}", join(at, name)));
                    };
                    self.validate(member_shape, member, &join(at, name))?;
                }
                Ok(())
            }
            "list" => {
                let Value::Array(items) = value else {
                    return wrong_type();
                };
                check_range(at, items.len() as f64, definition, "items")?;
                let member = definition["member"]["shape"].as_str().unwrap_or_default();
                for (i, item) in items.iter().enumerate() {
                    self.validate(member, item, &format!("{at}[{i}]"))?;
                }
                Ok(())
            }
            "map" => {
                let Value::Object(entries) = value else {
                    return wrong_type();
                };
                check_range(at, entries.len() as f64, definition, "entries")?;
                let key_shape = definition["key"]["shape"].as_str().unwrap_or_default();
                let value_shape = definition["value"]["shape"].as_str().unwrap_or_default();
                for (key, item) in entries {
                    self.validate(key_shape, &Value::String(key.clone()), &format!("{at} key"))?;
                    self.validate(value_shape, item, &format!("{at}[{key}]"))?;
                }
                Ok(())
            }
            "string" => {
                let Value::String(text) = value else {
                    return wrong_type();
                };
                if let Some(allowed) = definition["enum"].as_array()
                    && !allowed.iter().any(|a| a == value)
                {
                    let allowed: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
                    return Err(format!(
                        "{at} must be one of [{}], not {text:?}",
                        allowed.join(", ")
                    ));
                }
                check_range(at, text.chars().count() as f64, definition, "characters")?;
                if let Some(pattern) = definition["pattern"].as_str()
                    && !self.matches(pattern, text)
                {
                    // Sensitive members (secrets, start commands) are never echoed.
                    return Err(format!("{at} must satisfy the pattern {pattern}"));
                }
                Ok(())
            }
            "integer" | "long" => match value.as_i64() {
                Some(n) => check_range(at, n as f64, definition, ""),
                None => wrong_type(),
            },
            "boolean" => value.as_bool().map(|_| ()).map_or_else(wrong_type, Ok),
            "timestamp" | "double" | "float" => {
                value.as_f64().map(|_| ()).map_or_else(wrong_type, Ok)
            }
            _ => Ok(()),
        }
    }

    /// Smithy patterns are searched, not anchored (the model anchors where it
    /// means to). A pattern this engine cannot compile is not enforced.
    fn matches(&self, pattern: &str, text: &str) -> bool {
        let mut cache = self.patterns.lock().unwrap_or_else(|e| e.into_inner());
        let regex = cache
            .entry(pattern.to_owned())
            .or_insert_with(|| fancy_regex::Regex::new(pattern).ok());
        match regex {
            Some(regex) => regex.is_match(text).unwrap_or(true),
            None => true,
        }
    }
}

fn join(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_owned()
    } else {
        format!("{at}.{name}")
    }
}

fn check_range(at: &str, n: f64, definition: &Value, unit: &str) -> Result<(), String> {
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    if let Some(min) = definition["min"].as_f64()
        && n < min
    {
        return Err(format!("{at} must have at least {min}{unit}"));
    }
    if let Some(max) = definition["max"].as_f64()
        && n > max
    {
        return Err(format!("{at} must have at most {max}{unit}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::model;

    #[test]
    fn the_model_decides_what_is_valid() {
        let cases = [
            (json!({}), Some("ServiceName is required")),
            (
                json!({"ServiceName": "api", "SourceConfiguration": {}}),
                Some("at least 4"),
            ),
            (
                json!({"ServiceName": "acme-api", "SourceConfiguration": {}}),
                None,
            ),
            (
                json!({"ServiceName": "acme-api", "SourceConfiguration": {"ImageRepository": {
                    "ImageIdentifier": "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:1",
                    "ImageRepositoryType": "DOCKERHUB"}}}),
                Some("must be one of [ECR, ECR_PUBLIC]"),
            ),
            (
                json!({"ServiceName": "acme-api", "SourceConfiguration": {},
                       "HealthCheckConfiguration": {"Interval": 21}}),
                Some("at most 20"),
            ),
            (
                json!({"ServiceName": "acme-api", "SourceConfiguration": {},
                       "Tags": [{"Key": "aws:reserved", "Value": "x"}]}),
                Some("Tags[0].Key must satisfy"),
            ),
            (
                json!({"ServiceName": "acme-api", "SourceConfiguration": {}, "Bogus": 1}),
                Some("not a member"),
            ),
        ];
        for (input, expected) in cases {
            let outcome = model().validate("CreateServiceRequest", &input, "");
            match expected {
                None => assert_eq!(outcome, Ok(()), "{input}"),
                Some(fragment) => {
                    let message = outcome.expect_err(&input.to_string());
                    assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
                }
            }
        }
    }
}
