//! ECS cluster the environment's Fargate services run in, with Container
//! Insights on. Found by the name foundry gives (`<stack>-<env>-<id>`),
//! owned by its tags; CreateCluster of an existing name answers with that
//! cluster, so a create retried after a lost response adds nothing.

use async_trait::async_trait;
use aws_sdk_ecs::types::{Cluster, ClusterField, ClusterSetting, ClusterSettingName};

use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_bool, prop_str};
use crate::aws::ecs::{owner, tags};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{PropSpec, Props, Schema, Ty, Value};

pub struct EcsCluster;

/// Logical ids of clusters start with this.
pub const ID_PREFIX: &str = "cluster";

fn insights(on: bool) -> ClusterSetting {
    ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(if on { "enabled" } else { "disabled" })
        .build()
}

fn observed(scope: &Scope, c: &Cluster) -> Option<Observed> {
    if c.status() != Some("ACTIVE") {
        return None;
    }
    let id = owner(scope, c.tags())?;
    let mut o = Observed::new(id, Kind::EcsCluster, c.cluster_name()?);
    let on = c.settings().iter().any(|s| {
        s.name() == Some(&ClusterSettingName::ContainerInsights)
            && matches!(s.value(), Some("enabled" | "enhanced"))
    });
    o.props = Props::from([
        ("name".to_string(), Value::str(c.cluster_name()?)),
        ("container_insights".to_string(), Value::Bool(on)),
    ]);
    o.attrs
        .insert("arn".into(), c.cluster_arn().unwrap_or_default().into());
    Some(o)
}

async fn describe(aws: &Aws, scope: &Scope, names: Vec<String>) -> Result<Vec<Observed>, AwsError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let out = aws
        .ecs
        .describe_clusters()
        .set_clusters(Some(names))
        .include(ClusterField::Tags)
        .include(ClusterField::Settings)
        .send()
        .await
        .or_aws("DescribeClusters")?;
    Ok(out
        .clusters()
        .iter()
        .filter_map(|c| observed(scope, c))
        .collect())
}

#[async_trait]
impl ResourceType for EcsCluster {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("container_insights", Ty::Bool),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let prefix = scope.name(ID_PREFIX);
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let page = aws
                .ecs
                .list_clusters()
                .set_next_token(token)
                .send()
                .await
                .or_aws("ListClusters")?;
            names.extend(
                page.cluster_arns()
                    .iter()
                    .filter_map(|arn| arn.rsplit('/').next())
                    .filter(|name| name.starts_with(&prefix))
                    .map(str::to_string),
            );
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let mut out = Vec::new();
        // DescribeClusters takes at most 100 names.
        for chunk in names.chunks(100) {
            out.extend(describe(aws, scope, chunk.to_vec()).await?);
        }
        Ok(out)
    }

    async fn create(
        &self,
        aws: &Aws,
        scope: &Scope,
        id: &str,
        props: &Props,
        _token: &str,
    ) -> Result<String, AwsError> {
        let name = prop_str(props, "name")?;
        aws.ecs
            .create_cluster()
            .cluster_name(name)
            .settings(insights(prop_bool(props, "container_insights")?))
            .set_tags(Some(tags(scope, id)))
            .send()
            .await
            .or_aws("CreateCluster")?;
        Ok(name.to_string())
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        aws.ecs
            .update_cluster()
            .cluster(&current.physical_id)
            .settings(insights(prop_bool(desired, "container_insights")?))
            .send()
            .await
            .or_aws("UpdateCluster")?;
        Ok(())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        gone_ok(
            aws.ecs
                .delete_cluster()
                .cluster(&current.physical_id)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteCluster"),
        )
    }

    async fn find(
        &self,
        aws: &Aws,
        scope: &Scope,
        physical_id: &str,
    ) -> Result<Option<Observed>, AwsError> {
        Ok(describe(aws, scope, vec![physical_id.to_string()])
            .await?
            .into_iter()
            .next())
    }
}
