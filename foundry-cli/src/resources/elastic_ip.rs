//! Elastic IP for a NAT gateway (physical id: the allocation id).

use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType as Ec2Type};

use crate::vocab::{PropSpec, Schema, Ty};
use super::{Kind, Observed, ResourceType, Scope, gone_ok};
use crate::aws::ec2::{single_attempt, owner, owner_filters, tag_specification};
use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::vocab::{Props, Value};

pub struct ElasticIp;

#[async_trait]
impl ResourceType for ElasticIp {
    fn schema(&self) -> &'static Schema {
        const SCHEMA: &Schema = &[
            PropSpec::required("domain", Ty::Str).force_new(),
        ];
        SCHEMA
    }

    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        // DescribeAddresses is not paginated: one call returns them all.
        let out = aws
            .ec2
            .describe_addresses()
            .set_filters(Some(owner_filters(scope)))
            .send()
            .await
            .or_aws("DescribeAddresses")?;
        Ok(out
            .addresses()
            .iter()
            .filter_map(|a| {
                let mut o =
                    Observed::new(owner(scope, a.tags())?, Kind::ElasticIp, a.allocation_id()?);
                o.props.insert(
                    "domain".into(),
                    Value::str(a.domain().map_or("vpc", |d| d.as_str())),
                );
                if let Some(ip) = a.public_ip() {
                    o.attrs.insert("public_ip".into(), ip.to_string());
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
        _props: &Props,
        _token: &str,
    ) -> Result<String, AwsError> {
        let out = aws
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(tag_specification(Ec2Type::ElasticIp, scope, id))
            .customize()
            .config_override(single_attempt())
            .send()
            .await
            .or_aws("AllocateAddress")?;
        Ok(out.allocation_id().unwrap_or_default().to_string())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError> {
        gone_ok(
            aws.ec2
                .release_address()
                .allocation_id(&current.physical_id)
                .send()
                .await
                .map(|_| ())
                .or_aws("ReleaseAddress"),
        )
    }
}
