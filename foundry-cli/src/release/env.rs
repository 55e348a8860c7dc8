//! What a service is to run with, worked out from the stack file and what
//! AWS reports now: its environment values (references to other resources
//! resolved by the engine's own resolver) and its secrets (ARNs, with the
//! version current at release time).

use std::collections::BTreeMap;

use super::ReleaseError;
use super::history::SecretRef;
use crate::aws::{self, Aws};
use crate::engine::Prepared;
use crate::engine::expand::ids;
use crate::stack::ComputeTarget;
use crate::vocab::Value;

/// The create-only keys of a service's runtime resource (`ids::runtime`)
/// that say what runs.
pub const ENV_KEY: &str = "create:env";
pub const SECRETS_KEY: &str = "create:secrets";

/// The resolved environment and secrets of `service`, from the expanded graph
/// (the same values `up` would create it with) against the observed world.
pub async fn resolve(
    aws: &Aws,
    prepared: &Prepared,
    compute: ComputeTarget,
    service: &str,
) -> Result<(BTreeMap<String, String>, BTreeMap<String, SecretRef>), ReleaseError> {
    let id = ids::runtime(compute, service);
    let resource = prepared
        .graph
        .get(&id)
        .ok_or_else(|| ReleaseError::NotUp(service.to_owned()))?;
    let unresolved = |name: &str| ReleaseError::Unresolved {
        service: service.to_owned(),
        variable: name.to_owned(),
    };
    let mut env = BTreeMap::new();
    for (name, value) in map(resource.props.get(ENV_KEY)) {
        match prepared.world.resolve(value) {
            Value::Str(s) => {
                env.insert(name.clone(), s);
            }
            Value::Int(i) => {
                env.insert(name.clone(), i.to_string());
            }
            _ => return Err(unresolved(name)),
        }
    }
    let mut secrets = BTreeMap::new();
    for (name, value) in map(resource.props.get(SECRETS_KEY)) {
        let Value::Str(arn) = prepared.world.resolve(value) else {
            return Err(unresolved(name));
        };
        let version_id = aws::secret_current_version(aws, &arn).await?;
        // Locally the service starts without it (the local App Runner
        // leaves the variable unset), as `up` started it.
        if version_id.is_none() && !aws.local {
            return Err(ReleaseError::NoSecretValue {
                service: service.to_owned(),
                variable: name.clone(),
                arn,
            });
        }
        secrets.insert(name.clone(), SecretRef { arn, version_id });
    }
    Ok((env, secrets))
}

fn map(value: Option<&Value>) -> impl Iterator<Item = (&String, &Value)> {
    value.and_then(Value::as_map).into_iter().flatten()
}
