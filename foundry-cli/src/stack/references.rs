//! `${…}` references in service environment values: the one syntax a stack
//! file uses to name another resource's attribute. Parsing here checks the
//! shape (`${services.ai.url}`); whether the named thing exists is checked
//! by the caller, which knows what the file declares.

use std::fmt;

/// What a reference names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// `${services.<name>.url}`: the service's HTTPS URL.
    ServiceUrl(String),
    /// `${buckets.<name>.name}`: the bucket's full S3 name.
    BucketName(String),
    /// `${database.<attribute>}`.
    Database(DatabaseAttribute),
    /// `${secrets.<name>}`: injected by ARN, so only as a whole value.
    Secret(String),
    /// `${auth.issuer}` or `${auth.jwks_url}`, from `[auth]`.
    Auth(AuthAttribute),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthAttribute {
    Issuer,
    JwksUrl,
}

impl AuthAttribute {
    pub fn key(self) -> &'static str {
        match self {
            AuthAttribute::Issuer => "issuer",
            AuthAttribute::JwksUrl => "jwks_url",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseAttribute {
    Endpoint,
    Port,
    Name,
    SecretArn,
}

impl DatabaseAttribute {
    const ALL: [(&'static str, DatabaseAttribute); 4] = [
        ("endpoint", DatabaseAttribute::Endpoint),
        ("port", DatabaseAttribute::Port),
        ("name", DatabaseAttribute::Name),
        ("secret_arn", DatabaseAttribute::SecretArn),
    ];

    pub fn key(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, a)| *a == self)
            .map(|(k, _)| *k)
            .expect("every attribute is listed")
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::ServiceUrl(n) => write!(f, "${{services.{n}.url}}"),
            Reference::BucketName(n) => write!(f, "${{buckets.{n}.name}}"),
            Reference::Database(a) => write!(f, "${{database.{}}}", a.key()),
            Reference::Secret(n) => write!(f, "${{secrets.{n}}}"),
            Reference::Auth(a) => write!(f, "${{auth.{}}}", a.key()),
        }
    }
}

/// A piece of a value: literal text or a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Ref(Reference),
}

/// A value as written, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(pub Vec<Part>);

impl Template {
    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.0.iter().filter_map(|p| match p {
            Part::Ref(r) => Some(r),
            Part::Text(_) => None,
        })
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.0 {
            match part {
                Part::Text(t) => f.write_str(t)?,
                Part::Ref(r) => write!(f, "{r}")?,
            }
        }
        Ok(())
    }
}

/// Why a value does not parse: the message and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadReference {
    pub message: String,
    pub help: String,
}

const FORMS: &str = "write ${services.NAME.url}, ${buckets.NAME.name}, ${database.endpoint|port|name|secret_arn}, ${auth.issuer|jwks_url} or ${secrets.NAME}";

/// Splits `value` into text and references.
pub fn parse(value: &str) -> Result<Template, BadReference> {
    let mut parts = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            parts.push(Part::Text(rest[..start].to_owned()));
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(BadReference {
                message: format!("`{}` opens a reference that never closes", &rest[start..]),
                help: format!("end it with `}}`; {FORMS}"),
            });
        };
        parts.push(Part::Ref(reference(&after[..end])?));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_owned()));
    }
    Ok(Template(parts))
}

fn reference(inner: &str) -> Result<Reference, BadReference> {
    let bad = |message: String| BadReference {
        message,
        help: FORMS.to_owned(),
    };
    let segments: Vec<&str> = inner.split('.').map(str::trim).collect();
    match segments.as_slice() {
        ["services", name, "url"] if !name.is_empty() => {
            Ok(Reference::ServiceUrl(name.to_string()))
        }
        ["buckets", name, "name"] if !name.is_empty() => {
            Ok(Reference::BucketName(name.to_string()))
        }
        ["secrets", name] if !name.is_empty() => Ok(Reference::Secret(name.to_string())),
        ["auth", "issuer"] => Ok(Reference::Auth(AuthAttribute::Issuer)),
        ["auth", "jwks_url"] => Ok(Reference::Auth(AuthAttribute::JwksUrl)),
        ["auth", attribute] => Err(BadReference {
            message: format!("`${{{inner}}}`: auth has no attribute `{attribute}`"),
            help: "use issuer or jwks_url".into(),
        }),
        ["database", attribute] => DatabaseAttribute::ALL
            .iter()
            .find(|(k, _)| k == attribute)
            .map(|(_, a)| Reference::Database(*a))
            .ok_or_else(|| BadReference {
                message: format!("`${{{inner}}}`: the database has no attribute `{attribute}`"),
                help: "use endpoint, port, name or secret_arn".into(),
            }),
        ["services", name, attribute] => Err(bad(format!(
            "`${{{inner}}}`: a service offers only `url`, not `{attribute}` (service `{name}`)"
        ))),
        ["buckets", name, attribute] => Err(bad(format!(
            "`${{{inner}}}`: a bucket offers only `name`, not `{attribute}` (bucket `{name}`)"
        ))),
        _ => Err(bad(format!(
            "`${{{inner}}}` is not a reference foundry knows"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(value: &str, expect: &str) {
        let got = match parse(value) {
            Ok(t) => {
                t.0.iter()
                    .map(|p| match p {
                        Part::Text(t) => format!("text {t:?}"),
                        Part::Ref(r) => format!("ref {r:?}"),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            }
            Err(e) => format!("error: {}", e.message),
        };
        assert_eq!(got, expect, "{value}");
        if let Ok(t) = parse(value) {
            assert_eq!(t.to_string(), value, "round trip");
        }
    }

    #[test]
    fn values_split_into_text_and_references() {
        check("plain", "text \"plain\"");
        check("", "");
        check("${services.ai.url}", "ref ServiceUrl(\"ai\")");
        check(
            "https://${services.ai.url}/v1",
            "text \"https://\", ref ServiceUrl(\"ai\"), text \"/v1\"",
        );
        check(
            "${database.endpoint}:${database.port}",
            "ref Database(Endpoint), text \":\", ref Database(Port)",
        );
        check("${buckets.uploads.name}", "ref BucketName(\"uploads\")");
        check(
            "${secrets.openai_api_key}",
            "ref Secret(\"openai_api_key\")",
        );
        check(
            "${services.ai.host}",
            "error: `${services.ai.host}`: a service offers only `url`, not `host` (service `ai`)",
        );
        check(
            "${database.password}",
            "error: `${database.password}`: the database has no attribute `password`",
        );
        check(
            "${queues.jobs.url}",
            "error: `${queues.jobs.url}` is not a reference foundry knows",
        );
        check(
            "x ${services.ai.url",
            "error: `${services.ai.url` opens a reference that never closes",
        );
    }
}
