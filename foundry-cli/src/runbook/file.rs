//! Runbook files (`runbooks/<name>.toml`, embedded): a title, when to use
//! it, and ordered checks, each naming a primitive (`uses`) with its
//! parameters. A mistake — an unknown primitive or parameter, a missing or
//! mistyped one — is an error naming the file, line and column, rendered
//! like the stack file's.

use std::path::Path;

use serde::Deserialize;

use super::checks::{self, ParamType, Primitive};
use crate::stack::{Diagnostic, Locator, StackFileError, did_you_mean};

/// Every runbook shipped in the binary, by name.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("nat-bill", include_str!("../../../runbooks/nat-bill.toml")),
    (
        "rds-connections",
        include_str!("../../../runbooks/rds-connections.toml"),
    ),
    (
        "crashloop",
        include_str!("../../../runbooks/crashloop.toml"),
    ),
    (
        "cloudfront-502",
        include_str!("../../../runbooks/cloudfront-502.toml"),
    ),
    (
        "ai-private-dns",
        include_str!("../../../runbooks/ai-private-dns.toml"),
    ),
    (
        "api-cant-reach-db",
        include_str!("../../../runbooks/api-cant-reach-db.toml"),
    ),
    (
        "secrets-rotation",
        include_str!("../../../runbooks/secrets-rotation.toml"),
    ),
    (
        "s3-upload-failures",
        include_str!("../../../runbooks/s3-upload-failures.toml"),
    ),
    (
        "ai-timeouts",
        include_str!("../../../runbooks/ai-timeouts.toml"),
    ),
    (
        "auth-401s",
        include_str!("../../../runbooks/auth-401s.toml"),
    ),
];

#[derive(Debug, Clone)]
pub struct Runbook {
    pub name: String,
    pub title: String,
    pub when: String,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub id: String,
    pub primitive: &'static Primitive,
    /// Validated against the primitive's parameters.
    pub params: toml::Table,
    pub explain: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRunbook {
    title: String,
    when: String,
    check: Vec<RawCheck>,
}

#[derive(Deserialize)]
struct RawCheck {
    id: String,
    uses: String,
    explain: String,
    #[serde(flatten)]
    params: toml::Table,
}

/// Parses and checks one runbook file; `path` is what errors name.
pub fn parse(name: &str, path: &Path, text: &str) -> Result<Runbook, StackFileError> {
    let fail = |diagnostics| StackFileError::new(path, text, diagnostics);
    let raw: RawRunbook =
        toml::from_str(text).map_err(|e| fail(vec![crate::stack::diagnostic_from_toml(&e)]))?;
    let locator = Locator::new(text);
    let mut diagnostics = Vec::new();
    let mut checks = Vec::new();
    for (i, raw_check) in raw.check.into_iter().enumerate() {
        let index = i.to_string();
        let at = |key: &str| locator.span(&["check", &index, key]);
        let Some(primitive) = checks::find(&raw_check.uses) else {
            diagnostics.push(
                Diagnostic::new(format!(
                    "check `{}` uses `{}`, which is not a check foundry has",
                    raw_check.id, raw_check.uses
                ))
                .at(at("uses"))
                .help(did_you_mean(
                    &raw_check.uses,
                    checks::PRIMITIVES.iter().map(|p| p.name),
                    || {
                        format!(
                            "the checks are: {}",
                            checks::PRIMITIVES
                                .iter()
                                .map(|p| p.name)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    },
                )),
            );
            continue;
        };
        for param in primitive.params {
            match raw_check.params.get(param.name) {
                None => diagnostics.push(
                    Diagnostic::new(format!(
                        "check `{}` ({}) needs the parameter `{}` ({})",
                        raw_check.id,
                        primitive.name,
                        param.name,
                        param.ty.describe()
                    ))
                    .at(locator.span(&["check", &index]))
                    .help(format!("add `{} = …` to this check", param.name)),
                ),
                Some(value) if !param.ty.accepts(value) => diagnostics.push(
                    Diagnostic::new(format!(
                        "parameter `{}` of check `{}` must be {}",
                        param.name,
                        raw_check.id,
                        param.ty.describe()
                    ))
                    .at(at(param.name)),
                ),
                Some(_) => {}
            }
        }
        for key in raw_check.params.keys() {
            if !primitive.params.iter().any(|p| p.name == key) {
                diagnostics.push(
                    Diagnostic::new(format!(
                        "check `{}` ({}) has no parameter `{key}`",
                        raw_check.id, primitive.name
                    ))
                    .at(at(key))
                    .help(did_you_mean(
                        key,
                        primitive.params.iter().map(|p| p.name),
                        || match primitive.params {
                            [] => format!("{} takes no parameters", primitive.name),
                            params => format!(
                                "its parameters are: {}",
                                params.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
                            ),
                        },
                    )),
                );
            }
        }
        checks.push(Check {
            id: raw_check.id,
            primitive,
            params: raw_check.params,
            explain: raw_check
                .explain
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        });
    }
    if !diagnostics.is_empty() {
        return Err(fail(diagnostics));
    }
    Ok(Runbook {
        name: name.to_owned(),
        title: raw.title,
        when: raw.when.trim().to_owned(),
        checks,
    })
}

impl ParamType {
    fn accepts(self, value: &toml::Value) -> bool {
        match self {
            ParamType::Number => value.is_float() || value.is_integer(),
            ParamType::Text => value.is_str(),
            ParamType::TextList => value
                .as_array()
                .is_some_and(|a| a.iter().all(toml::Value::is_str)),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            ParamType::Number => "a number",
            ParamType::Text => "a string",
            ParamType::TextList => "a list of strings",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        parse("broken", Path::new("runbooks/broken.toml"), text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn every_embedded_runbook_parses() {
        for (name, text) in EMBEDDED {
            let path = format!("runbooks/{name}.toml");
            parse(name, Path::new(&path), text).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn mistakes_name_the_file_line_and_column() {
        let head = "title = \"t\"\nwhen = \"w\"\n\n[[check]]\nid = \"a\"\nexplain = \"e\"\n";
        let unknown = error(&format!(
            "{head}uses = \"nat_trafic_cost\"\nwarn_monthly_dollars = 5\n"
        ));
        assert!(
            unknown.starts_with("runbooks/broken.toml:7:8: check `a` uses `nat_trafic_cost`"),
            "{unknown}"
        );
        assert!(
            unknown.contains("did you mean `nat_traffic_cost`?"),
            "{unknown}"
        );

        let missing = error(&format!("{head}uses = \"nat_traffic_cost\"\n"));
        assert!(
            missing.starts_with(
                "runbooks/broken.toml:4:1: check `a` (nat_traffic_cost) needs the parameter `warn_monthly_dollars` (a number)"
            ),
            "{missing}"
        );

        let mistyped = error(&format!(
            "{head}uses = \"gateway_endpoint_on_private_routes\"\nservice = 3\n"
        ));
        assert!(
            mistyped.starts_with(
                "runbooks/broken.toml:8:11: parameter `service` of check `a` must be a string"
            ),
            "{mistyped}"
        );

        let extra = error(&format!("{head}uses = \"nat_faults\"\nthreshold = 1\n"));
        assert!(
            extra.starts_with(
                "runbooks/broken.toml:8:13: check `a` (nat_faults) has no parameter `threshold`"
            ),
            "{extra}"
        );
        assert!(extra.contains("nat_faults takes no parameters"), "{extra}");

        let no_title = error("when = \"w\"\ncheck = []\n");
        assert!(no_title.contains("missing field `title`"), "{no_title}");
    }
}
