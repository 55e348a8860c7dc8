//! What exists now: one batched describe per resource type, all in parallel.

use std::collections::BTreeMap;

use futures::future::try_join_all;

use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::resources::{Kind, Observed, Scope};

/// Everything AWS reports for one stack and environment, by logical id.
#[derive(Debug, Default, Clone)]
pub struct World {
    pub resources: BTreeMap<String, Observed>,
    /// Extra resources carrying an id that another resource already has
    /// (left by a crashed run on an API without idempotency); deleted by the
    /// next apply.
    pub duplicates: Vec<Observed>,
}

impl World {
    pub fn get(&self, id: &str) -> Option<&Observed> {
        self.resources.get(id)
    }

    /// Logical id of the resource with this physical id.
    pub fn id_of(&self, physical_id: &str) -> Option<&str> {
        self.all()
            .find(|o| o.physical_id == physical_id)
            .map(|o| o.id.as_str())
    }

    pub fn all(&self) -> impl Iterator<Item = &Observed> {
        self.resources.values().chain(self.duplicates.iter())
    }
}

/// Observes every type. `prefer` names the physical id to keep when
/// duplicates exist (the one state recorded), so a rerun never flips between them.
pub async fn observe(
    aws: &Aws,
    scope: &Scope,
    prefer: &dyn Fn(&str) -> Option<String>,
) -> Result<World, AwsError> {
    let found = try_join_all(Kind::ALL.iter().map(|k| k.handler().observe(aws, scope))).await?;
    let mut world = World::default();
    let mut all: Vec<Observed> = found.into_iter().flatten().collect();
    all.sort_by(|a, b| a.id.cmp(&b.id).then(a.physical_id.cmp(&b.physical_id)));
    for o in all {
        let keep_new = world.resources.get(&o.id).is_some_and(|kept| {
            prefer(&o.id).as_deref() == Some(o.physical_id.as_str())
                && kept.physical_id != o.physical_id
        });
        match world.resources.get(&o.id) {
            None => {
                world.resources.insert(o.id.clone(), o);
            }
            Some(_) if keep_new => {
                let old = world.resources.insert(o.id.clone(), o).expect("present");
                world.duplicates.push(old);
            }
            Some(_) => world.duplicates.push(o),
        }
    }
    Ok(world)
}

/// The first `count` availability zones of the region, by name.
pub async fn availability_zones(aws: &Aws, count: usize) -> Result<Vec<String>, AwsError> {
    let out = aws
        .ec2
        .describe_availability_zones()
        .send()
        .await
        .or_aws("DescribeAvailabilityZones")?;
    let mut names: Vec<String> = out
        .availability_zones()
        .iter()
        .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
        .filter(|z| z.state().is_none_or(|s| s.as_str() == "available"))
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    names.sort();
    if names.len() < count {
        return Err(AwsError::Api {
            operation: "DescribeAvailabilityZones",
            code: None,
            message: format!(
                "region {} has {} availability zone(s) available, the stack asks for {count}; lower network.azs",
                aws.region,
                names.len()
            ),
        });
    }
    names.truncate(count);
    Ok(names)
}

/// The account the credentials belong to.
pub async fn account_id(aws: &Aws) -> Result<String, AwsError> {
    let out = aws
        .sts
        .get_caller_identity()
        .send()
        .await
        .or_aws("GetCallerIdentity")?;
    Ok(out.account().unwrap_or_default().to_string())
}
