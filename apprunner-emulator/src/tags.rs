//! Tags of every resource, by ARN. Tags given at creation are stored in the
//! same call that creates the resource, so the first describe sees them.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::Tag;
use crate::protocol::{ApiError, ApiResult, answer, parse};
use crate::{Shared, State};

#[derive(Default, Serialize, Deserialize)]
pub(crate) struct Tags {
    by_arn: BTreeMap<String, Vec<Tag>>,
}

impl Tags {
    /// Adds or replaces tags by key, keeping first-seen order.
    pub fn set(&mut self, arn: &str, tags: &[Tag]) {
        let existing = self.by_arn.entry(arn.to_owned()).or_default();
        for tag in tags {
            match existing.iter_mut().find(|t| t.key == tag.key) {
                Some(found) => found.value = tag.value.clone(),
                None => existing.push(tag.clone()),
            }
        }
    }

    fn remove(&mut self, arn: &str, keys: &[String]) {
        if let Some(existing) = self.by_arn.get_mut(arn) {
            existing.retain(|t| t.key.as_ref().is_none_or(|k| !keys.contains(k)));
        }
    }

    fn of(&self, arn: &str) -> Vec<Tag> {
        self.by_arn.get(arn).cloned().unwrap_or_default()
    }
}

fn require_resource(state: &State, arn: &str) -> Result<(), ApiError> {
    let exists = state.services.iter().any(|s| s.service.service_arn == arn)
        || state.configs.has_resource(arn);
    if exists {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "Resource {arn} does not exist"
        )))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagRequest {
    resource_arn: String,
    tags: Vec<Tag>,
}

pub(crate) fn tag(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: TagRequest = parse(input)?;
    let mut state = shared.lock();
    require_resource(&state, &request.resource_arn)?;
    state.tags.set(&request.resource_arn, &request.tags);
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UntagRequest {
    resource_arn: String,
    tag_keys: Vec<String>,
}

pub(crate) fn untag(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: UntagRequest = parse(input)?;
    let mut state = shared.lock();
    require_resource(&state, &request.resource_arn)?;
    state.tags.remove(&request.resource_arn, &request.tag_keys);
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListRequest {
    resource_arn: String,
}

pub(crate) fn list(shared: &Arc<Shared>, input: Value) -> ApiResult {
    let request: ListRequest = parse(input)?;
    let state = shared.lock();
    require_resource(&state, &request.resource_arn)?;
    answer(json!({ "Tags": state.tags.of(&request.resource_arn) }))
}
