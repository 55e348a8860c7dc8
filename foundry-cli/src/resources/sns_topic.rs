//! SNS topic for alarm notifications, with e-mail subscriptions (each waits
//! for its recipient to confirm). Topics are named `<stack>-<env>-<id>`;
//! CreateTopic is idempotent by name.

use async_trait::async_trait;
use aws_sdk_sns::types::Tag;

use crate::vocab::{PropSpec, Schema, Ty};
use super::{seen_strs, Kind, Observed, ResourceType, Scope, gone_ok, missing, prop_str, prop_strs};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{Props, Value};

pub struct SnsTopic;

async fn subscribe(aws: &Aws, topic: &str, emails: &[String]) -> Result<(), AwsError> {
    for email in emails {
        aws.sns
            .subscribe()
            .topic_arn(topic)
            .protocol("email")
            .endpoint(email)
            .send()
            .await
            .or_aws("Subscribe")?;
    }
    Ok(())
}

#[async_trait]
impl ResourceType for SnsTopic {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("emails", Ty::StrSet),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let pages: Vec<_> = aws
            .sns
            .list_topics()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .or_aws("ListTopics")?;
        let prefix = scope.name("");
        let mut out = Vec::new();
        for arn in pages
            .iter()
            .flat_map(|p| p.topics())
            .filter_map(|t| t.topic_arn())
        {
            let Some(name) = arn.rsplit(':').next() else {
                continue;
            };
            // Ids start with `topic-`, so `dev` never claims `dev-2`'s topics.
            let Some(id) = name
                .strip_prefix(&prefix)
                .filter(|id| id.starts_with("topic-"))
            else {
                continue;
            };
            // One call per topic (a stack has one or two): SNS has no batched read.
            let subs = aws
                .sns
                .list_subscriptions_by_topic()
                .topic_arn(arn)
                .send()
                .await
                .or_aws("ListSubscriptionsByTopic")?;
            let mut o = Observed::new(id.to_string(), Kind::SnsTopic, arn);
            o.props.insert("name".into(), Value::str(name));
            let emails = subs
                .subscriptions()
                .iter()
                .filter(|s| s.protocol() == Some("email"))
                .filter_map(|s| s.endpoint());
            o.props
                .insert("emails".into(), Value::set(emails.map(Value::str)));
            for s in subs.subscriptions() {
                if let (Some(endpoint), Some(sub)) = (s.endpoint(), s.subscription_arn()) {
                    o.attrs
                        .insert(format!("subscription:{endpoint}"), sub.to_string());
                }
            }
            out.push(o);
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
        let mut call = aws.sns.create_topic().name(prop_str(props, "name")?);
        for (key, value) in scope.tags(id) {
            call = call.tags(
                Tag::builder()
                    .key(key)
                    .value(value)
                    .build()
                    .expect("key and value are set"),
            );
        }
        let out = call.send().await.or_aws("CreateTopic")?;
        let arn = out.topic_arn().unwrap_or_default().to_string();
        subscribe(aws, &arn, &prop_strs(props, "emails")?).await?;
        Ok(arn)
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        let (have, want) = (
            seen_strs(&current.props, "emails"),
            prop_strs(desired, "emails")?,
        );
        subscribe(aws, &current.physical_id, &missing(&want, &have)).await?;
        for email in missing(&have, &want) {
            // A subscription still pending confirmation has no ARN to remove yet.
            if let Some(sub) = current
                .attrs
                .get(&format!("subscription:{email}"))
                .filter(|s| s.starts_with("arn:"))
            {
                gone_ok(
                    aws.sns
                        .unsubscribe()
                        .subscription_arn(sub)
                        .send()
                        .await
                        .map(drop)
                        .or_aws("Unsubscribe"),
                )?;
            }
        }
        Ok(())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        gone_ok(
            aws.sns
                .delete_topic()
                .topic_arn(&current.physical_id)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteTopic"),
        )
    }
}
