//! CloudWatch metric alarm. Alarms are named `<stack>-<env>-<id>`, which is
//! how one DescribeAlarms call (by name prefix) finds them all; PutMetricAlarm
//! both creates and updates.

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricAlarm, StateValue, Statistic, Tag,
};

use crate::vocab::{PropSpec, Schema, Ty};
use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_int, prop_str, prop_strs};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{Props, Value};

pub struct Alarm;

fn props_of(a: &MetricAlarm) -> Props {
    let mut p = Props::new();
    p.insert(
        "name".into(),
        Value::str(a.alarm_name().unwrap_or_default()),
    );
    p.insert(
        "description".into(),
        Value::str(a.alarm_description().unwrap_or_default()),
    );
    p.insert(
        "namespace".into(),
        Value::str(a.namespace().unwrap_or_default()),
    );
    p.insert(
        "metric_name".into(),
        Value::str(a.metric_name().unwrap_or_default()),
    );
    p.insert(
        "dimensions".into(),
        Value::map(
            a.dimensions()
                .iter()
                .filter_map(|d| Some((d.name()?.to_string(), Value::str(d.value()?)))),
        ),
    );
    p.insert(
        "statistic".into(),
        Value::str(a.statistic().map_or("", |s| s.as_str())),
    );
    p.insert(
        "period".into(),
        Value::Int(a.period().unwrap_or_default().into()),
    );
    p.insert(
        "evaluation_periods".into(),
        Value::Int(a.evaluation_periods().unwrap_or_default().into()),
    );
    p.insert(
        "threshold".into(),
        Value::Int(a.threshold().unwrap_or_default() as i64),
    );
    p.insert(
        "comparison".into(),
        Value::str(a.comparison_operator().map_or("", |c| c.as_str())),
    );
    p.insert(
        "alarm_actions".into(),
        Value::set(a.alarm_actions().iter().map(Value::str)),
    );
    p
}

async fn put(
    aws: &Aws,
    props: &Props,
    tags: Option<&[(&'static str, String); 4]>,
) -> Result<(), AwsError> {
    let mut call = aws
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(prop_str(props, "name")?)
        .alarm_description(prop_str(props, "description")?)
        .namespace(prop_str(props, "namespace")?)
        .metric_name(prop_str(props, "metric_name")?)
        .statistic(Statistic::from(prop_str(props, "statistic")?))
        .period(prop_int(props, "period")? as i32)
        .evaluation_periods(prop_int(props, "evaluation_periods")? as i32)
        .threshold(prop_int(props, "threshold")? as f64)
        .comparison_operator(ComparisonOperator::from(prop_str(props, "comparison")?))
        .treat_missing_data("notBreaching")
        .set_alarm_actions(Some(prop_strs(props, "alarm_actions")?));
    for (name, value) in props
        .get("dimensions")
        .and_then(Value::as_map)
        .into_iter()
        .flatten()
    {
        call = call.dimensions(
            Dimension::builder()
                .name(name)
                .value(value.as_str().unwrap_or_default())
                .build(),
        );
    }
    for (key, value) in tags.into_iter().flatten() {
        call = call.tags(Tag::builder().key(*key).value(value).build());
    }
    call.send().await.or_aws("PutMetricAlarm")?;
    Ok(())
}

#[async_trait]
impl ResourceType for Alarm {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("name", Ty::Str).force_new(),
            PropSpec::required("description", Ty::Str),
            PropSpec::required("namespace", Ty::Str),
            PropSpec::required("metric_name", Ty::Str),
            PropSpec::required("dimensions", Ty::Map),
            PropSpec::required("statistic", Ty::Str),
            PropSpec::required("period", Ty::Int),
            PropSpec::required("evaluation_periods", Ty::Int),
            PropSpec::required("threshold", Ty::Int),
            PropSpec::required("comparison", Ty::Str),
            PropSpec::required("alarm_actions", Ty::StrSet),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let prefix = scope.name("");
        let pages: Vec<_> = aws
            .cloudwatch
            .describe_alarms()
            .alarm_name_prefix(&prefix)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .or_aws("DescribeAlarms")?;
        Ok(pages
            .iter()
            .flat_map(|p| p.metric_alarms())
            .filter_map(|a| {
                let name = a.alarm_name()?;
                let id = scope.id_in_name(name, "alarm-")?;
                let mut o = Observed::new(id, Kind::Alarm, name);
                o.props = props_of(a);
                if let Some(state) = a.state_value().map(StateValue::as_str) {
                    o.attrs.insert("state".into(), state.to_string());
                }
                Some(o)
            })
            .collect())
    }

    async fn create(
        &self,
        aws: &Aws,
        scope: &Scope,
        id: &str,
        props: &Props,
        _token: &str,
    ) -> Result<String, AwsError> {
        put(aws, props, Some(&scope.tags(id))).await?;
        Ok(prop_str(props, "name")?.to_string())
    }

    async fn update(
        &self,
        aws: &Aws,
        _current: &Observed,
        desired: &Props,
    ) -> Result<(), AwsError> {
        put(aws, desired, None).await
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        gone_ok(
            aws.cloudwatch
                .delete_alarms()
                .alarm_names(&current.physical_id)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteAlarms"),
        )
    }
}
