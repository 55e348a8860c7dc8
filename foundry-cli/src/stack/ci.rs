//! `[ci]`: the repository whose workflows may deploy this stack. Each
//! environment gets a deploy role that only that repository's `main` branch
//! (or, for prod, its `production` environment) may assume.

use super::file::CiSpec;
use super::{Diagnostic, Locator};

/// The continuous-deployment settings of a stack, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ci {
    /// `ORG/REPO` on GitHub.
    pub github: String,
}

/// The environments whose role GitHub's `production` environment assumes;
/// every other environment's role trusts the `main` branch.
pub const PRODUCTION_ENVS: &[&str] = &["prod", "production"];

impl Ci {
    /// The `sub` claim of the GitHub OIDC tokens `env`'s deploy role
    /// accepts: jobs of the `production` environment for prod, pushes to
    /// `main` for every other environment.
    pub fn subject(&self, env: &str) -> String {
        if PRODUCTION_ENVS.contains(&env) {
            format!("repo:{}:environment:production", self.github)
        } else {
            format!("repo:{}:ref:refs/heads/main", self.github)
        }
    }
}

/// `ORG/REPO` as GitHub spells them: an owner of letters, digits and
/// hyphens; a repository name that may also hold `.` and `_`.
pub fn is_github_repository(repo: &str) -> bool {
    let ok = |part: &str, extra: &[char]| {
        !part.is_empty()
            && part.len() <= 100
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || extra.contains(&c))
    };
    matches!(
        repo.split_once('/'),
        Some((org, name)) if ok(org, &[]) && ok(name, &['.', '_']) && name != "." && name != ".."
    )
}

pub fn resolve(spec: &CiSpec, locator: &Locator, diags: &mut Vec<Diagnostic>) -> Option<Ci> {
    let Some(github) = &spec.github else {
        diags.push(
            Diagnostic::new("[ci] needs github")
                .at(locator.span(&["ci"]))
                .help("name the repository whose workflows deploy, e.g. github = \"acme/app\""),
        );
        return None;
    };
    if !is_github_repository(github) {
        diags.push(
            Diagnostic::new(format!("ci.github `{github}` is not a GitHub repository"))
                .at(locator.span(&["ci", "github"]))
                .help("write it as ORG/REPO, e.g. github = \"acme/app\""),
        );
        return None;
    }
    Some(Ci {
        github: github.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_repositories() {
        for good in ["acme/app", "Acme-Co/my_app.rs", "a/b"] {
            assert!(is_github_repository(good), "{good}");
        }
        for bad in [
            "acme",
            "acme/",
            "/app",
            "ac me/app",
            "acme/app/x",
            "acme/..",
            "a_b/app",
        ] {
            assert!(!is_github_repository(bad), "{bad}");
        }
    }

    #[test]
    fn prod_trusts_the_production_environment_and_every_other_env_main() {
        let ci = Ci {
            github: "acme/app".into(),
        };
        assert_eq!(ci.subject("prod"), "repo:acme/app:environment:production");
        assert_eq!(ci.subject("staging"), "repo:acme/app:ref:refs/heads/main");
        assert_eq!(ci.subject("dev"), "repo:acme/app:ref:refs/heads/main");
    }
}
