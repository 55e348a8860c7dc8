//! Where the database is, from the environment: either `DATABASE_URL`
//! (local development, tests) or the four parts AWS hands over for an RDS
//! instance whose master password lives in an RDS-managed secret.

use std::fmt;

pub const DATABASE_URL: &str = "DATABASE_URL";
pub const DATABASE_HOST: &str = "DATABASE_HOST";
pub const DATABASE_PORT: &str = "DATABASE_PORT";
pub const DATABASE_NAME: &str = "DATABASE_NAME";
pub const DATABASE_SECRET_ARN: &str = "DATABASE_SECRET_ARN";

/// The variables of the secret form, in the order error messages name them.
const PARTS: [&str; 4] = [
    DATABASE_HOST,
    DATABASE_PORT,
    DATABASE_NAME,
    DATABASE_SECRET_ARN,
];

#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseSource {
    /// `postgres://user:password@host:port/name`; the password is fixed for
    /// the life of the process.
    Url(String),
    /// Host, port and name from the environment; user and password from a
    /// Secrets Manager secret, read again when Postgres refuses them.
    Secret(SecretSource),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSource {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub secret_arn: String,
}

/// A URL may carry a password: Debug shows neither.
impl fmt::Debug for DatabaseSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseSource::Url(_) => f.write_str("Url(***)"),
            DatabaseSource::Secret(s) => f.debug_tuple("Secret").field(s).finish(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error(
        "no database configured: set DATABASE_URL, or DATABASE_HOST, DATABASE_PORT, DATABASE_NAME and DATABASE_SECRET_ARN"
    )]
    Missing,
    #[error(
        "DATABASE_URL and {given} are both set: set DATABASE_URL (local development) or DATABASE_HOST, DATABASE_PORT, DATABASE_NAME and DATABASE_SECRET_ARN (a Secrets Manager secret), not both"
    )]
    Both { given: String },
    #[error(
        "missing required environment variable {missing}: with {given} set, DATABASE_HOST, DATABASE_PORT, DATABASE_NAME and DATABASE_SECRET_ARN are all required"
    )]
    PartMissing {
        missing: &'static str,
        given: String,
    },
    #[error("invalid value for environment variable {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl SourceError {
    /// The variable to fix, for callers that report by name.
    pub fn variable(&self) -> &'static str {
        match self {
            SourceError::Missing | SourceError::Both { .. } => DATABASE_URL,
            SourceError::PartMissing { missing, .. } => missing,
            SourceError::Invalid { name, .. } => name,
        }
    }
}

impl DatabaseSource {
    /// Reads the variables through `lookup` (the process environment, or a map
    /// in tests). Empty values count as unset. Values are never echoed: a URL
    /// may hold a password.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SourceError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let url = get(DATABASE_URL);
        let given: Vec<&str> = PARTS
            .iter()
            .copied()
            .filter(|name| get(name).is_some())
            .collect();
        match (url, given.is_empty()) {
            (None, true) => Err(SourceError::Missing),
            (Some(_), false) => Err(SourceError::Both {
                given: given.join(", "),
            }),
            (Some(url), true) => {
                check_postgres_url(&url)?;
                Ok(DatabaseSource::Url(url))
            }
            (None, false) => {
                let required = |name: &'static str| {
                    get(name).ok_or_else(|| SourceError::PartMissing {
                        missing: name,
                        given: given.join(", "),
                    })
                };
                let host = required(DATABASE_HOST)?;
                let port = required(DATABASE_PORT)?;
                let database = required(DATABASE_NAME)?;
                let secret_arn = required(DATABASE_SECRET_ARN)?;
                let port = match port.parse::<u16>() {
                    Ok(p) if p > 0 => p,
                    _ => {
                        return Err(SourceError::Invalid {
                            name: DATABASE_PORT,
                            reason: "expected a TCP port (1-65535)".into(),
                        });
                    }
                };
                if host.contains('/') || host.contains(char::is_whitespace) {
                    return Err(SourceError::Invalid {
                        name: DATABASE_HOST,
                        reason: "expected a host name or address, not a URL".into(),
                    });
                }
                if !secret_arn.starts_with("arn:") {
                    return Err(SourceError::Invalid {
                        name: DATABASE_SECRET_ARN,
                        reason: "expected a Secrets Manager secret ARN (arn:aws:secretsmanager:…)"
                            .into(),
                    });
                }
                Ok(DatabaseSource::Secret(SecretSource {
                    host,
                    port,
                    database,
                    secret_arn,
                }))
            }
        }
    }
}

fn check_postgres_url(url: &str) -> Result<(), SourceError> {
    let ok = url.split_once("://").is_some_and(|(scheme, rest)| {
        matches!(
            scheme.to_ascii_lowercase().as_str(),
            "postgres" | "postgresql"
        ) && !rest.is_empty()
            && !rest.starts_with('/')
    });
    if ok {
        Ok(())
    } else {
        Err(SourceError::Invalid {
            name: DATABASE_URL,
            reason: "expected a URL starting with postgres:// or postgresql://".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1-AbCdEf";

    fn read(vars: &[(&str, &str)]) -> Result<DatabaseSource, SourceError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        DatabaseSource::from_lookup(|name| map.get(name).cloned())
    }

    fn parts() -> Vec<(&'static str, &'static str)> {
        vec![
            (DATABASE_HOST, "db.internal"),
            (DATABASE_PORT, "5432"),
            (DATABASE_NAME, "app"),
            (DATABASE_SECRET_ARN, ARN),
        ]
    }

    #[test]
    fn a_url_alone_is_the_url_form() {
        let source = read(&[(DATABASE_URL, "postgres://u:hunter2@h/app")]).unwrap();
        assert!(matches!(source, DatabaseSource::Url(_)));
        assert!(!format!("{source:?}").contains("hunter2"));
    }

    #[test]
    fn the_four_parts_are_the_secret_form() {
        assert_eq!(
            read(&parts()).unwrap(),
            DatabaseSource::Secret(SecretSource {
                host: "db.internal".into(),
                port: 5432,
                database: "app".into(),
                secret_arn: ARN.into(),
            })
        );
    }

    #[test]
    fn each_missing_part_is_named() {
        for missing in PARTS {
            let vars: Vec<_> = parts().into_iter().filter(|(k, _)| *k != missing).collect();
            let err = read(&vars).unwrap_err();
            assert!(
                matches!(&err, SourceError::PartMissing { missing: m, .. } if *m == missing),
                "{err:?}"
            );
            assert!(err.to_string().contains(missing), "{err}");
            assert_eq!(err.variable(), missing);
        }
    }

    #[test]
    fn url_and_parts_together_are_refused_naming_both() {
        let mut vars = parts();
        vars.push((DATABASE_URL, "postgres://u:hunter2@h/app"));
        let err = read(&vars).unwrap_err().to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
        assert!(err.contains("DATABASE_HOST"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn nothing_configured_names_both_forms() {
        let err = read(&[]).unwrap_err().to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
        assert!(err.contains("DATABASE_SECRET_ARN"), "{err}");
    }

    #[test]
    fn malformed_values_are_named_and_not_echoed() {
        let cases: [(&str, &str); 5] = [
            (DATABASE_PORT, "fivefour"),
            (DATABASE_PORT, "0"),
            (DATABASE_HOST, "postgres://db.internal"),
            (DATABASE_SECRET_ARN, "rds-db-secret"),
            (DATABASE_URL, "mysql://u:hunter2@h/app"),
        ];
        for (name, value) in cases {
            let vars: Vec<(&str, &str)> = if name == DATABASE_URL {
                vec![(name, value)]
            } else {
                parts()
                    .into_iter()
                    .map(|(k, v)| if k == name { (k, value) } else { (k, v) })
                    .collect()
            };
            let err = read(&vars).unwrap_err();
            assert_eq!(err.variable(), name, "{err}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }
}
