//! Elastic Load Balancing v2 helpers: names (32 characters, `[A-Za-z0-9-]`),
//! tags at creation and ownership read back from them in batches, and the
//! metric dimensions of a load balancer and target group.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::Tag;

use super::{Aws, AwsError, SdkResultExt};
use crate::vocab::Scope;

/// Longest load balancer and target group names.
pub const NAME_MAX: usize = 32;

/// The name of logical id `id` ([`Scope::short_name`]).
pub fn name(scope: &Scope, id: &str) -> String {
    scope.short_name(id, NAME_MAX, &[])
}

/// Whether `name` may be one [`name`] gave in `scope`; tags decide.
pub fn may_be_ours(scope: &Scope, name: &str) -> bool {
    name.starts_with(&scope.short_name_prefix(NAME_MAX))
}

/// `foundry:*` and `Name` tags for a create call.
pub fn tags(scope: &Scope, id: &str) -> Vec<Tag> {
    scope
        .tags(id)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// ARN → logical id in `scope` of those of `arns` that are this scope's.
pub async fn owners(
    aws: &Aws,
    scope: &Scope,
    arns: &[String],
) -> Result<BTreeMap<String, String>, AwsError> {
    let mut out = BTreeMap::new();
    // DescribeTags takes at most 20 ARNs.
    for chunk in arns.chunks(20) {
        let described = AwsError::none_if_not_found(
            aws.elb
                .describe_tags()
                .set_resource_arns(Some(chunk.to_vec()))
                .send()
                .await
                .or_aws("DescribeTags"),
        )?;
        for d in described.iter().flat_map(|d| d.tag_descriptions()) {
            let id = scope.logical_id(d.tags().iter().filter_map(|t| Some((t.key()?, t.value()?))));
            if let (Some(arn), Some(id)) = (d.resource_arn(), id) {
                out.insert(arn.to_string(), id);
            }
        }
    }
    Ok(out)
}

/// CloudWatch's dimension value of a load balancer or target group ARN:
/// `app/name/id` or `targetgroup/name/id`.
pub fn dimension(arn: &str) -> &str {
    arn.split_once(":loadbalancer/")
        .map(|(_, rest)| rest)
        .or_else(|| arn.find(":targetgroup/").map(|i| &arn[i + 1..]))
        .unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_are_the_arn_tails_cloudwatch_uses() {
        assert_eq!(
            dimension(
                "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/acme-dev-lb-api/50dc6c495c0c9188"
            ),
            "app/acme-dev-lb-api/50dc6c495c0c9188"
        );
        assert_eq!(
            dimension(
                "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/acme-dev-tg-api/73e2d6bc24d8a067"
            ),
            "targetgroup/acme-dev-tg-api/73e2d6bc24d8a067"
        );
    }

    #[test]
    fn names_fit_and_drop_underscores() {
        let scope = Scope::new("acme", "dev");
        assert_eq!(name(&scope, "tg-my_api"), "acme-dev-tg-my-api");
        let long = Scope::new("a-very-long-stack-name", "staging");
        let n = name(&long, "tg-background-worker");
        assert_eq!(n.len(), NAME_MAX);
        assert!(may_be_ours(&long, &n));
        assert_eq!(n, name(&long, "tg-background-worker"));
    }
}
