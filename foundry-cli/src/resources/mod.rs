//! One file per AWS resource type, each implementing [`ResourceType`]. The
//! engine knows nothing of AWS APIs; these files know nothing of plans.

pub mod alarm;
pub mod bucket;
pub mod db_instance;
mod db_parameter_group;
mod db_subnet_group;
pub mod distribution;
pub mod ecr_repository;
mod elastic_ip;
pub mod iam_role;
mod internet_gateway;
mod nat_gateway;
pub mod origin_access_control;
mod route_table;
pub mod secret;
mod security_group;
pub mod sns_topic;
mod subnet;
mod vpc;
mod vpc_endpoint;

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::aws::{Aws, AwsError};
use crate::engine::graph::Props;

/// Every resource type foundry manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Vpc,
    Subnet,
    InternetGateway,
    ElasticIp,
    NatGateway,
    RouteTable,
    SecurityGroup,
    VpcEndpoint,
    EcrRepository,
    Secret,
    IamRole,
    Bucket,
    SnsTopic,
    Alarm,
    DbSubnetGroup,
    DbParameterGroup,
    DbInstance,
    OriginAccessControl,
    Distribution,
}

impl Kind {
    pub const ALL: [Kind; 19] = [
        Kind::Vpc,
        Kind::Subnet,
        Kind::InternetGateway,
        Kind::ElasticIp,
        Kind::NatGateway,
        Kind::RouteTable,
        Kind::SecurityGroup,
        Kind::VpcEndpoint,
        Kind::EcrRepository,
        Kind::Secret,
        Kind::IamRole,
        Kind::Bucket,
        Kind::SnsTopic,
        Kind::Alarm,
        Kind::DbSubnetGroup,
        Kind::DbParameterGroup,
        Kind::DbInstance,
        Kind::OriginAccessControl,
        Kind::Distribution,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Vpc => "vpc",
            Kind::Subnet => "subnet",
            Kind::InternetGateway => "internet_gateway",
            Kind::ElasticIp => "elastic_ip",
            Kind::NatGateway => "nat_gateway",
            Kind::RouteTable => "route_table",
            Kind::SecurityGroup => "security_group",
            Kind::VpcEndpoint => "vpc_endpoint",
            Kind::EcrRepository => "ecr_repository",
            Kind::Secret => "secret",
            Kind::IamRole => "iam_role",
            Kind::Bucket => "bucket",
            Kind::SnsTopic => "sns_topic",
            Kind::Alarm => "alarm",
            Kind::DbSubnetGroup => "db_subnet_group",
            Kind::DbParameterGroup => "db_parameter_group",
            Kind::DbInstance => "db_instance",
            Kind::OriginAccessControl => "origin_access_control",
            Kind::Distribution => "distribution",
        }
    }

    /// The implementation of this type.
    pub fn handler(self) -> &'static dyn ResourceType {
        match self {
            Kind::Vpc => &vpc::Vpc,
            Kind::Subnet => &subnet::Subnet,
            Kind::InternetGateway => &internet_gateway::InternetGateway,
            Kind::ElasticIp => &elastic_ip::ElasticIp,
            Kind::NatGateway => &nat_gateway::NatGateway,
            Kind::RouteTable => &route_table::RouteTable,
            Kind::SecurityGroup => &security_group::SecurityGroup,
            Kind::VpcEndpoint => &vpc_endpoint::VpcEndpoint,
            Kind::EcrRepository => &ecr_repository::EcrRepository,
            Kind::Secret => &secret::Secret,
            Kind::IamRole => &iam_role::IamRole,
            Kind::Bucket => &bucket::Bucket,
            Kind::SnsTopic => &sns_topic::SnsTopic,
            Kind::Alarm => &alarm::Alarm,
            Kind::DbSubnetGroup => &db_subnet_group::DbSubnetGroup,
            Kind::DbParameterGroup => &db_parameter_group::DbParameterGroup,
            Kind::DbInstance => &db_instance::DbInstance,
            Kind::OriginAccessControl => &origin_access_control::OriginAccessControl,
            Kind::Distribution => &distribution::Distribution,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The stack and environment whose resources an operation may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub stack: String,
    pub env: String,
}

impl Scope {
    pub const STACK_TAG: &'static str = "foundry:stack";
    pub const ENV_TAG: &'static str = "foundry:env";
    pub const ID_TAG: &'static str = "foundry:id";

    pub fn new(stack: impl Into<String>, env: impl Into<String>) -> Self {
        Self {
            stack: stack.into(),
            env: env.into(),
        }
    }

    /// `acme-dev-vpc`: the `Name` tag and the base of any AWS-side name.
    pub fn name(&self, id: &str) -> String {
        format!("{}-{}-{id}", self.stack, self.env)
    }

    pub fn tags(&self, id: &str) -> [(&'static str, String); 4] {
        [
            (Self::STACK_TAG, self.stack.clone()),
            (Self::ENV_TAG, self.env.clone()),
            (Self::ID_TAG, id.to_string()),
            ("Name", self.name(id)),
        ]
    }

    /// The logical id in a deterministic name `<stack>-<env>-<id>`, for types
    /// found by name: None unless the id starts with `id_prefix`, which keeps
    /// another environment whose name extends this one (`dev`, `dev-db`) out.
    pub fn id_in_name(&self, name: &str, id_prefix: &str) -> Option<String> {
        name.strip_prefix(&self.name(""))
            .filter(|id| id.starts_with(id_prefix))
            .map(str::to_string)
    }

    /// The logical id a resource with these tags has in this scope, or None
    /// when it belongs to another stack or environment (or to nobody).
    pub fn logical_id<'a>(
        &self,
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Option<String> {
        let (mut stack, mut env, mut id) = (false, false, None);
        for (k, v) in tags {
            match k {
                Self::STACK_TAG => stack = v == self.stack,
                Self::ENV_TAG => env = v == self.env,
                Self::ID_TAG => id = Some(v.to_string()),
                _ => {}
            }
        }
        if stack && env { id } else { None }
    }
}

/// A resource as AWS reports it now.
#[derive(Debug, Clone)]
pub struct Observed {
    pub id: String,
    pub kind: Kind,
    pub physical_id: String,
    /// The same keys as the desired properties, with physical ids.
    pub props: Props,
    /// Read-only facts for outputs and for updates (public IPs, association ids).
    pub attrs: BTreeMap<String, String>,
}

impl Observed {
    pub fn new(id: String, kind: Kind, physical_id: impl Into<String>) -> Self {
        Self {
            id,
            kind,
            physical_id: physical_id.into(),
            props: Props::new(),
            attrs: BTreeMap::new(),
        }
    }
}

/// Why a resource cannot be deleted as the plan stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocker {
    /// It holds contents that would go with it; `--force-empty-buckets`
    /// deletes them first.
    NotEmpty(String),
    /// AWS refuses until the stack file lifts a protection first.
    Protected(String),
}

/// What every resource type implements. `create` must tag at creation and,
/// with `token`, be idempotent where the API allows; `delete` treats "already
/// gone" as success; both wait for asynchronous states to settle.
#[async_trait]
pub trait ResourceType: Sync {
    /// Properties whose change needs a new resource.
    fn force_new(&self) -> &'static [&'static str];

    /// Every resource of this type in `scope`, in one batched describe.
    async fn observe(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError>;

    /// Creates the resource with resolved `props`; returns its physical id.
    async fn create(
        &self,
        aws: &Aws,
        scope: &Scope,
        id: &str,
        props: &Props,
        token: &str,
    ) -> Result<String, AwsError>;

    /// Brings `current` to `desired` in place (only non-force-new keys
    /// differ). Types whose every property forces replacement keep this default.
    async fn update(
        &self,
        _aws: &Aws,
        _current: &Observed,
        _desired: &Props,
    ) -> Result<(), AwsError> {
        Ok(())
    }

    async fn delete(&self, aws: &Aws, current: &Observed) -> Result<(), AwsError>;

    /// Replacing or deleting it loses what it stores (a database): the plan
    /// says so and `up` refuses without an explicit flag.
    fn holds_data(&self) -> bool {
        false
    }

    /// What stops deleting `current` (a bucket that holds objects, a
    /// protected database), checked before anything is deleted; `None` when
    /// it is safe.
    async fn delete_blocker(
        &self,
        _aws: &Aws,
        _current: &Observed,
    ) -> Result<Option<Blocker>, AwsError> {
        Ok(None)
    }

    /// Removes what blocks deletion, when the user explicitly forces it.
    async fn empty(&self, _aws: &Aws, _current: &Observed) -> Result<(), AwsError> {
        Ok(())
    }
}

/// Helpers the resource files share for reading resolved properties.
pub(crate) fn prop_str<'a>(props: &'a Props, key: &str) -> &'a str {
    props.get(key).and_then(|v| v.as_str()).unwrap_or_default()
}

pub(crate) fn prop_int(props: &Props, key: &str) -> i64 {
    match props.get(key) {
        Some(crate::engine::graph::Value::Int(n)) => *n,
        _ => 0,
    }
}

pub(crate) fn prop_bool(props: &Props, key: &str) -> bool {
    props.get(key).and_then(|v| v.as_bool()).unwrap_or(false)
}

pub(crate) fn prop_strs(props: &Props, key: &str) -> Vec<String> {
    props
        .get(key)
        .map(|v| {
            v.as_list()
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Items in `want` and not in `have`.
pub(crate) fn missing<T: PartialEq + Clone>(want: &[T], have: &[T]) -> Vec<T> {
    want.iter().filter(|w| !have.contains(w)).cloned().collect()
}

/// Deletes tolerate "not found": the goal is that the thing is gone.
pub(crate) fn gone_ok(result: Result<(), AwsError>) -> Result<(), AwsError> {
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}
