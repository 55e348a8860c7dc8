//! The app's name and repository, checked before anything is written: the
//! name becomes the stack's, so every AWS name derived from it must fit.

use crate::engine::expand::ids;
use crate::resources::bucket::bucket_name;
use crate::stack::Stack;
use crate::vocab::Scope;

use super::ScaffoldError;

/// The stack file's own limit (`stack::check_identity`): it keeps
/// `<stack>-<env>-<id>` names within AWS's limits.
pub const MAX_NAME: usize = 24;

/// A DNS label that also makes valid S3, IAM and RDS names: lowercase
/// letters, digits and single hyphens, starting with a letter.
pub fn check_name(name: &str) -> Result<(), ScaffoldError> {
    let problem = if name.is_empty() {
        Some("it is empty".to_string())
    } else if name.len() > MAX_NAME {
        Some(format!(
            "it has {} characters; at most {MAX_NAME} keep every name AWS gets from it (buckets `<name>-<env>-<bucket>-<account id>`, IAM roles, RDS identifiers) within AWS's limits",
            name.len()
        ))
    } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        Some("it must start with a lowercase letter".to_string())
    } else if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        Some(format!(
            "`{c}` is not allowed: use lowercase letters, digits and hyphens (S3 and DNS names are lowercase)"
        ))
    } else if name.ends_with('-') {
        Some("it must not end with a hyphen".to_string())
    } else if name.contains("--") {
        Some("RDS identifiers may not contain two hyphens in a row".to_string())
    } else {
        None
    };
    match problem {
        Some(problem) => Err(ScaffoldError::InvalidName {
            name: name.to_string(),
            problem,
        }),
        None => Ok(()),
    }
}

/// S3 bucket names: 3 to 63 characters.
const MAX_BUCKET: usize = 63;
/// IAM role names allow 64, RDS instance identifiers 63: the smaller.
const MAX_ROLE_OR_DATABASE: usize = 63;

/// The names one environment of the stack gives its buckets (with the
/// longest account id, 12 digits), its services' IAM roles and its
/// database, against AWS's limits.
pub fn check_derived(stack: &Stack) -> Result<(), ScaffoldError> {
    let scope = Scope::new(&stack.name, &stack.env);
    let mut derived: Vec<(&str, String, usize)> = stack
        .buckets
        .iter()
        .map(|b| {
            (
                "bucket",
                bucket_name(&scope, &b.name, "123456789012"),
                MAX_BUCKET,
            )
        })
        .collect();
    for service in &stack.services {
        let role = scope.name(&ids::service_role(&service.name));
        derived.push(("IAM role", role, MAX_ROLE_OR_DATABASE));
    }
    if stack.database.is_some() {
        derived.push(("RDS instance", scope.name(ids::DB), MAX_ROLE_OR_DATABASE));
    }
    for (what, derived, limit) in derived {
        if derived.len() > limit {
            return Err(ScaffoldError::InvalidName {
                name: stack.name.clone(),
                problem: format!(
                    "the {what} name `{derived}` would have {} characters, more than AWS's {limit}; choose a shorter name",
                    derived.len()
                ),
            });
        }
    }
    Ok(())
}

/// `ORG/REPO` as GitHub spells them (the rule `[ci] github` checks).
pub fn check_github(repo: &str) -> Result<(), ScaffoldError> {
    if crate::stack::ci::is_github_repository(repo) {
        Ok(())
    } else {
        Err(ScaffoldError::InvalidGithub(repo.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_aws_accepts_pass_and_others_say_why() {
        for good in ["acme", "a", "my-app-2", "abcdefghijklmnopqrstuvwx"] {
            check_name(good).unwrap();
        }
        let cases = [
            ("", "empty"),
            ("Acme", "start with a lowercase letter"),
            ("2acme", "start with a lowercase letter"),
            ("my_app", "`_` is not allowed"),
            ("my.app", "`.` is not allowed"),
            ("acme-", "end with a hyphen"),
            ("my--app", "two hyphens"),
            ("abcdefghijklmnopqrstuvwxy", "25 characters"),
        ];
        for (bad, why) in cases {
            let err = check_name(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn github_repositories() {
        check_github("acme/app").unwrap();
        check_github("acme-co/app.web_2").unwrap();
        for bad in [
            "acme",
            "acme/",
            "/app",
            "acme/app/x",
            "ac me/app",
            "acme/..",
        ] {
            assert!(check_github(bad).is_err(), "{bad}");
        }
    }
}
