//! EC2 helpers shared by the network resource types: tags at creation and
//! the ownership filter every describe uses (waiters are in `aws::wait`), and
//! the availability zones expansion places subnets in.

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

use super::{Aws, AwsError, SdkResultExt};
use crate::vocab::Scope;

/// The tags every resource carries from the moment it exists.
pub fn tag_specification(resource_type: ResourceType, scope: &Scope, id: &str) -> TagSpecification {
    let mut spec = TagSpecification::builder().resource_type(resource_type);
    for (key, value) in scope.tags(id) {
        spec = spec.tags(Tag::builder().key(key).value(value).build());
    }
    spec.build()
}

/// Filters that narrow a describe call to this stack and environment. Some
/// emulators ignore tag filters on some calls, so callers still check
/// ownership with [`owner`] on every item.
pub fn owner_filters(scope: &Scope) -> Vec<Filter> {
    vec![
        Filter::builder()
            .name(format!("tag:{}", Scope::STACK_TAG))
            .values(&scope.stack)
            .build(),
        Filter::builder()
            .name(format!("tag:{}", Scope::ENV_TAG))
            .values(&scope.env)
            .build(),
    ]
}

/// The logical id of a resource with these tags, if it belongs to `scope`.
pub fn owner(scope: &Scope, tags: &[Tag]) -> Option<String> {
    scope.logical_id(tags.iter().filter_map(|t| Some((t.key()?, t.value()?))))
}

/// CloudFront's origin-facing addresses: the AWS-managed prefix list a
/// public load balancer admits, so only CloudFront reaches it.
pub const CLOUDFRONT_ORIGIN_FACING: &str = "com.amazonaws.global.cloudfront.origin-facing";

/// The id of the AWS-managed prefix list `name` in this region.
pub async fn managed_prefix_list(aws: &Aws, name: &str) -> Result<String, AwsError> {
    let out = aws
        .ec2
        .describe_managed_prefix_lists()
        .filters(
            Filter::builder()
                .name("prefix-list-name")
                .values(name)
                .build(),
        )
        .send()
        .await
        .or_aws("DescribeManagedPrefixLists")?;
    out.prefix_lists()
        .iter()
        .find(|l| l.prefix_list_name() == Some(name))
        .and_then(|l| l.prefix_list_id())
        .map(str::to_string)
        .ok_or_else(|| AwsError::Api {
            operation: "DescribeManagedPrefixLists",
            code: None,
            message: format!("this region has no managed prefix list `{name}`"),
        })
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

/// Per-call configuration for the creates EC2 cannot make idempotent (no
/// client token, no unique name: CreateVpc, CreateSubnet,
/// CreateInternetGateway, AllocateAddress): one attempt only. The SDK's own
/// retry after a lost response would create a second resource; instead the
/// engine looks for the first one by its tags before it tries again.
pub fn single_attempt() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default().retry_config(aws_config::retry::RetryConfig::disabled())
}
