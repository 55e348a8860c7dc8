//! What a run may destroy, decided here once for every command: data-loss
//! consent, the production guard of `destroy`, the default concurrency.
//! Commands only pass the user's flags in and print the refusal.

use super::plan::Plan;
use crate::resources::Blocker;

/// Parallel AWS calls of an apply unless `--concurrency` says otherwise.
pub const DEFAULT_CONCURRENCY: u16 = 8;

/// What a run may destroy beyond what the plan shows as safe.
#[derive(Debug, Clone, Copy, Default)]
pub struct DataLossConsent {
    /// `--force-empty-buckets`: delete a bucket's objects with it.
    pub force_empty_buckets: bool,
    /// `--allow-data-loss` (or a destroy, which asks for nothing else):
    /// replace or delete databases.
    pub allow_data_loss: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("refusing to delete protected resources: {}. Nothing was changed.", .0.join("; "))]
    Protected(Vec<String>),
    #[error(
        "refusing to delete data: {}. Nothing was changed. Empty them yourself, or pass --force-empty-buckets to delete their contents with them.",
        .0.join("; ")
    )]
    NotEmpty(Vec<String>),
    #[error(
        "refusing to lose data: {}, and the data in it with it. Nothing was changed. A final snapshot is taken first when final_snapshot is on; to go ahead, run again with --allow-data-loss.",
        .0.join("; ")
    )]
    DataLoss(Vec<String>),
    #[error("--confirm {given} does not match the stack name `{stack}`; nothing was deleted")]
    WrongConfirmation { given: String, stack: String },
    #[error(
        "destroying the production environment `{env}` needs the stack name too: pass --confirm {stack}"
    )]
    ProductionNeedsName { env: String, stack: String },
}

/// Refuses a plan that would delete data without consent, naming what and
/// why: protections always stop it, contents need `force_empty_buckets`,
/// databases need `allow_data_loss`.
pub fn check_data_loss(
    plan: &Plan,
    blockers: &[Blocker],
    consent: DataLossConsent,
) -> Result<(), PolicyError> {
    let (mut protected, mut not_empty) = (Vec::new(), Vec::new());
    for b in blockers {
        match b {
            Blocker::Protected(why) => protected.push(why.clone()),
            Blocker::NotEmpty(why) => not_empty.push(why.clone()),
        }
    }
    if !protected.is_empty() {
        return Err(PolicyError::Protected(protected));
    }
    if !not_empty.is_empty() && !consent.force_empty_buckets {
        return Err(PolicyError::NotEmpty(not_empty));
    }
    let lost: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.data_loss)
        .map(|c| {
            let what = c.physical_id.as_deref().unwrap_or(&c.id);
            let forcing: Vec<&str> = c
                .attrs
                .iter()
                .filter(|a| a.forces_replacement)
                .map(|a| a.key.as_str())
                .collect();
            if forcing.is_empty() {
                format!("{what} would be deleted")
            } else {
                format!(
                    "{what} would be replaced (because of {})",
                    forcing.join(", ")
                )
            }
        })
        .collect();
    if !lost.is_empty() && !consent.allow_data_loss {
        return Err(PolicyError::DataLoss(lost));
    }
    Ok(())
}

/// Environments whose destruction needs the stack name as well as --yes.
pub fn is_production(env: &str) -> bool {
    matches!(env, "prod" | "production")
}

/// Checks `destroy`'s `--confirm` before anything is read from AWS: it must
/// name the stack, and production with `--yes` needs it.
pub fn check_destroy_confirmation(
    stack: &str,
    env: &str,
    yes: bool,
    confirm: Option<&str>,
) -> Result<(), PolicyError> {
    if let Some(given) = confirm
        && given != stack
    {
        return Err(PolicyError::WrongConfirmation {
            given: given.to_string(),
            stack: stack.to_string(),
        });
    }
    if is_production(env) && confirm.is_none() && yes {
        return Err(PolicyError::ProductionNeedsName {
            env: env.to_string(),
            stack: stack.to_string(),
        });
    }
    Ok(())
}

/// What a person must type to confirm destroying `env`: the stack's name in
/// production, `yes` elsewhere.
pub fn destroy_confirmation_word<'a>(stack: &'a str, env: &str) -> &'a str {
    if is_production(env) { stack } else { "yes" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::{Action, Change};
    use crate::resources::Kind;

    fn db_change(action: Action) -> Change {
        Change {
            id: "db".into(),
            kind: Kind::DbInstance,
            action,
            physical_id: Some("acme-dev-db".into()),
            attrs: Vec::new(),
            reason: None,
            drift: false,
            data_loss: true,
            current: None,
        }
    }

    #[test]
    fn consent_decides_per_kind_of_loss() {
        let plan = Plan {
            changes: vec![db_change(Action::Delete)],
            unchanged: 0,
        };
        let none = DataLossConsent::default();
        let all = DataLossConsent {
            force_empty_buckets: true,
            allow_data_loss: true,
        };
        let check = |blockers: &[Blocker], consent, expect: Result<(), PolicyError>| {
            assert_eq!(check_data_loss(&plan, blockers, consent), expect)
        };
        check(
            &[],
            none,
            Err(PolicyError::DataLoss(vec![
                "acme-dev-db would be deleted".into(),
            ])),
        );
        check(&[], all, Ok(()));
        check(
            &[Blocker::NotEmpty("bucket b holds 3 objects".into())],
            DataLossConsent {
                allow_data_loss: true,
                ..none
            },
            Err(PolicyError::NotEmpty(vec![
                "bucket b holds 3 objects".into(),
            ])),
        );
        check(
            &[Blocker::Protected("db is protected".into())],
            all,
            Err(PolicyError::Protected(vec!["db is protected".into()])),
        );
    }

    #[test]
    fn production_destroy_needs_the_stack_name() {
        assert!(check_destroy_confirmation("acme", "dev", true, None).is_ok());
        assert!(check_destroy_confirmation("acme", "prod", false, None).is_ok());
        assert!(check_destroy_confirmation("acme", "prod", true, Some("acme")).is_ok());
        assert!(matches!(
            check_destroy_confirmation("acme", "prod", true, None),
            Err(PolicyError::ProductionNeedsName { .. })
        ));
        assert!(matches!(
            check_destroy_confirmation("acme", "dev", true, Some("acne")),
            Err(PolicyError::WrongConfirmation { .. })
        ));
        assert_eq!(destroy_confirmation_word("acme", "production"), "acme");
        assert_eq!(destroy_confirmation_word("acme", "staging"), "yes");
    }
}
