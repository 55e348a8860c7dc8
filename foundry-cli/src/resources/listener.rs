//! Listener of a service's load balancer, forwarding everything to the
//! service's target group: HTTPS on 443 with the certificate the stack
//! gives, or HTTP on 80 when it gives none (the plan says so). Owned by its
//! tags; the forward target and the certificate are updated in place, the
//! load balancer, port and protocol force a new listener. A create retried
//! after a lost response finds the listener on that port and reuses it.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, Listener as L, ProtocolEnum,
};

use super::{Kind, Observed, ResourceType, Scope, gone_ok, prop_int, prop_str};
use crate::aws::elb;
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{PropSpec, Props, Schema, Ty, Value};

pub struct Listener;

fn forward(target_group: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(target_group)
        .build()
}

fn certificates(props: &Props) -> Result<Option<Vec<Certificate>>, AwsError> {
    let arn = prop_str(props, "certificate_arn")?;
    Ok((!arn.is_empty()).then(|| vec![Certificate::builder().certificate_arn(arn).build()]))
}

fn observed(id: String, l: &L) -> Option<Observed> {
    let arn = l.listener_arn()?;
    let mut o = Observed::new(id, Kind::Listener, arn);
    let target = l
        .default_actions()
        .iter()
        .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        .and_then(|a| a.target_group_arn())
        .unwrap_or_default();
    o.props = Props::from([
        (
            "load_balancer_arn".to_string(),
            Value::str(l.load_balancer_arn()?),
        ),
        ("port".to_string(), Value::Int(l.port()?.into())),
        (
            "protocol".to_string(),
            Value::str(l.protocol().map(|p| p.as_str()).unwrap_or_default()),
        ),
        (
            "certificate_arn".to_string(),
            Value::str(
                l.certificates()
                    .first()
                    .and_then(|c| c.certificate_arn())
                    .unwrap_or_default(),
            ),
        ),
        ("target_group_arn".to_string(), Value::str(target)),
    ]);
    o.attrs.insert("arn".into(), arn.to_string());
    Some(o)
}

/// Every listener of `load_balancer` that is this scope's.
async fn of_load_balancer(
    aws: &Aws,
    scope: &Scope,
    load_balancer: &str,
) -> Result<Vec<Observed>, AwsError> {
    let mut found = Vec::new();
    let mut marker = None;
    loop {
        let page = match aws
            .elb
            .describe_listeners()
            .load_balancer_arn(load_balancer)
            .set_marker(marker)
            .send()
            .await
            .or_aws("DescribeListeners")
        {
            Err(e) if e.is_not_found() => return Ok(Vec::new()),
            other => other?,
        };
        found.extend(page.listeners().iter().cloned());
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    let arns: Vec<String> = found
        .iter()
        .filter_map(|l| l.listener_arn().map(str::to_string))
        .collect();
    let owners = elb::owners(aws, scope, &arns).await?;
    Ok(found
        .iter()
        .filter_map(|l| observed(owners.get(l.listener_arn()?)?.clone(), l))
        .collect())
}

#[async_trait]
impl ResourceType for Listener {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("load_balancer_arn", Ty::Str).force_new(),
            PropSpec::required("port", Ty::Int).force_new(),
            PropSpec::required("protocol", Ty::Str).force_new(),
            PropSpec::required("certificate_arn", Ty::Str),
            PropSpec::required("target_group_arn", Ty::Str),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let mut out = Vec::new();
        for lb in Kind::LoadBalancer.handler().observe(aws, scope).await? {
            out.extend(of_load_balancer(aws, scope, &lb.physical_id).await?);
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
        let load_balancer = prop_str(props, "load_balancer_arn")?;
        let port = prop_int(props, "port")?;
        let existing = || async {
            Ok::<_, AwsError>(
                of_load_balancer(aws, scope, load_balancer)
                    .await?
                    .into_iter()
                    .find(|o| o.id == id && o.props.get("port") == Some(&Value::Int(port))),
            )
        };
        if let Some(found) = existing().await? {
            return Ok(found.physical_id);
        }
        let created = aws
            .elb
            .create_listener()
            .load_balancer_arn(load_balancer)
            .port(port as i32)
            .protocol(ProtocolEnum::from(prop_str(props, "protocol")?))
            .set_certificates(certificates(props)?)
            .default_actions(forward(prop_str(props, "target_group_arn")?))
            .set_tags(Some(elb::tags(scope, id)))
            .send()
            .await
            .or_aws("CreateListener");
        match created {
            Ok(out) => Ok(out
                .listeners()
                .first()
                .and_then(|l| l.listener_arn())
                .unwrap_or_default()
                .to_string()),
            // The SDK's retry of a create whose answer was lost.
            Err(e) if e.code() == Some("DuplicateListener") => match existing().await? {
                Some(found) => Ok(found.physical_id),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    async fn update(&self, aws: &Aws, current: &Observed, desired: &Props) -> Result<(), AwsError> {
        aws.elb
            .modify_listener()
            .listener_arn(&current.physical_id)
            .set_certificates(certificates(desired)?)
            .default_actions(forward(prop_str(desired, "target_group_arn")?))
            .send()
            .await
            .or_aws("ModifyListener")?;
        Ok(())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        gone_ok(
            aws.elb
                .delete_listener()
                .listener_arn(&current.physical_id)
                .send()
                .await
                .map(drop)
                .or_aws("DeleteListener"),
        )
    }
}
