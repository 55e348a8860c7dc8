//! EC2 helpers shared by the network resource types: tags at creation and
//! the ownership filter every describe uses (waiters are in `aws::wait`).

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

use crate::resources::Scope;

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
