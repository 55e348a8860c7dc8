//! One file per AWS resource type, each implementing [`ResourceType`]. The
//! engine knows nothing of AWS APIs; these files know nothing of plans.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::aws::{Aws, AwsError};
use crate::vocab::{Props, Schema};

pub use crate::vocab::Scope;

/// Registers every resource type foundry manages, one row each:
/// `Variant => "snake_name", module::Type`. The row declares the module, the
/// `Kind` variant, its place in `Kind::ALL` (what `observe` describes), its
/// name (in plans, state and JSON) and its implementation, so none of them can
/// be forgotten. Adding a type: see "Adding a resource type" in ARCHITECTURE.md.
macro_rules! resource_types {
    ($($variant:ident => $name:literal, $module:ident :: $handler:ident;)+) => {
        $(pub mod $module;)+

        /// Every resource type foundry manages.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind {
            $($variant,)+
        }

        impl Kind {
            /// Every type, in registration order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)+];

            pub fn name(self) -> &'static str {
                match self {
                    $(Kind::$variant => $name,)+
                }
            }

            /// The implementation of this type.
            pub fn handler(self) -> &'static dyn ResourceType {
                match self {
                    $(Kind::$variant => &$module::$handler,)+
                }
            }
        }
    };
}

resource_types! {
    Vpc => "vpc", vpc::Vpc;
    Subnet => "subnet", subnet::Subnet;
    InternetGateway => "internet_gateway", internet_gateway::InternetGateway;
    ElasticIp => "elastic_ip", elastic_ip::ElasticIp;
    NatGateway => "nat_gateway", nat_gateway::NatGateway;
    RouteTable => "route_table", route_table::RouteTable;
    SecurityGroup => "security_group", security_group::SecurityGroup;
    VpcEndpoint => "vpc_endpoint", vpc_endpoint::VpcEndpoint;
    EcrRepository => "ecr_repository", ecr_repository::EcrRepository;
    Secret => "secret", secret::Secret;
    IamOidcProvider => "iam_oidc_provider", iam_oidc_provider::IamOidcProvider;
    IamRole => "iam_role", iam_role::IamRole;
    Bucket => "bucket", bucket::Bucket;
    SnsTopic => "sns_topic", sns_topic::SnsTopic;
    Alarm => "alarm", alarm::Alarm;
    DbSubnetGroup => "db_subnet_group", db_subnet_group::DbSubnetGroup;
    DbParameterGroup => "db_parameter_group", db_parameter_group::DbParameterGroup;
    DbInstance => "db_instance", db_instance::DbInstance;
    OriginAccessControl => "origin_access_control", origin_access_control::OriginAccessControl;
    CloudfrontFunction => "cloudfront_function", cloudfront_function::CloudfrontFunction;
    Distribution => "distribution", distribution::Distribution;
    ApprunnerAutoScaling => "apprunner_auto_scaling", apprunner_auto_scaling::ApprunnerAutoScaling;
    ApprunnerObservability => "apprunner_observability", apprunner_observability::ApprunnerObservability;
    ApprunnerVpcConnector => "apprunner_vpc_connector", apprunner_vpc_connector::ApprunnerVpcConnector;
    ApprunnerService => "apprunner_service", apprunner_service::ApprunnerService;
    ApprunnerVpcIngressConnection => "apprunner_vpc_ingress_connection", apprunner_vpc_ingress_connection::ApprunnerVpcIngressConnection;
    EcsCluster => "ecs_cluster", ecs_cluster::EcsCluster;
    LogGroup => "log_group", log_group::LogGroup;
    EcsTaskDefinition => "ecs_task_definition", ecs_task_definition::EcsTaskDefinition;
    LoadBalancer => "load_balancer", load_balancer::LoadBalancer;
    TargetGroup => "target_group", target_group::TargetGroup;
    Listener => "listener", listener::Listener;
    EcsService => "ecs_service", ecs_service::EcsService;
    ScalingTarget => "scaling_target", scaling_target::ScalingTarget;
    ScalingPolicy => "scaling_policy", scaling_policy::ScalingPolicy;
}

impl Kind {
    /// An App Runner type.
    pub fn is_app_runner(self) -> bool {
        self.name().starts_with("apprunner_")
    }

    /// A type of the ECS target (its services, load balancers, scaling and
    /// log groups).
    pub fn is_ecs(self) -> bool {
        matches!(
            self,
            Kind::EcsCluster
                | Kind::LogGroup
                | Kind::EcsTaskDefinition
                | Kind::LoadBalancer
                | Kind::TargetGroup
                | Kind::Listener
                | Kind::EcsService
                | Kind::ScalingTarget
                | Kind::ScalingPolicy
        )
    }

    /// The optional feature this type belongs to: its types are observed
    /// only where a stack uses one of them (`engine::observe::kinds`).
    pub fn feature(self) -> Option<&'static str> {
        if self.is_app_runner() {
            Some("apprunner")
        } else if self.is_ecs() {
            Some("ecs")
        } else if self == Kind::IamOidcProvider {
            Some("ci")
        } else {
            None
        }
    }

    /// The type named `name` (as `name()` spells it).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.name() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Serialised by `name()`, so state files, JSON plans and the registry can
/// never disagree on a type's name.
impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Kind::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown resource type `{name}`")))
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
    /// Every property this type takes, declared once: its type, whether it
    /// is required, and whether changing it needs a new resource. Every
    /// expanded graph is checked against it before anything is planned.
    fn schema(&self) -> &'static Schema;

    /// Whether changing `key` needs a new resource.
    fn forces_new(&self, key: &str) -> bool {
        self.schema().iter().any(|p| p.key == key && p.force_new)
    }

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

    /// The resource with this physical id, looked up directly, when the state
    /// recorded it but the batched listing did not show it: `None` only when
    /// it is really gone or not this scope's. Types whose listing is narrowed
    /// by something other than tags or the name foundry gives (a
    /// distribution's comment) must override it, so that a listing that
    /// omits that field never makes foundry create a second one.
    async fn find(
        &self,
        _aws: &Aws,
        _scope: &Scope,
        _physical_id: &str,
    ) -> Result<Option<Observed>, AwsError> {
        Ok(None)
    }

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

/// The readers the resource files share: a missing or mistyped property is
/// an error, never a silent default.
pub(crate) use crate::vocab::{prop_bool, prop_int, prop_str, prop_strs};

/// A list as AWS reported it: what AWS did not report (or a resource made a
/// moment ago, observed as nothing) reads as empty. Only for observed
/// properties; desired ones are checked against the schema and read with
/// [`prop_strs`].
pub(crate) fn seen_strs(observed: &Props, key: &str) -> Vec<String> {
    observed
        .get(key)
        .map(|v| {
            v.as_list()
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A flag as AWS reported it; unreported reads as false.
pub(crate) fn seen_bool(observed: &Props, key: &str) -> bool {
    observed.get(key).and_then(|v| v.as_bool()).unwrap_or(false)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The registry row is the only place a type is declared: a resource
    /// file without a row would never be compiled, observed or planned.
    #[test]
    fn every_resource_file_is_registered_under_its_own_name() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/resources");
        let mut unregistered = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            if stem != "mod" && Kind::from_name(&stem).is_none() {
                unregistered.push(stem);
            }
        }
        assert!(
            unregistered.is_empty(),
            "not in resource_types!: {unregistered:?}"
        );
    }

    #[test]
    fn names_are_unique_and_round_trip_through_serde() {
        let mut names: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Kind::ALL.len());
        for &kind in Kind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
            assert_eq!(serde_json::from_str::<Kind>(&json).unwrap(), kind);
        }
        let err = serde_json::from_str::<Kind>("\"nat_gatewy\"").unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown resource type `nat_gatewy`")
        );
    }

    /// Every force-new key is a declared key, and no key is declared twice.
    #[test]
    fn schemas_declare_each_key_once() {
        for &kind in Kind::ALL {
            let mut keys: Vec<_> = kind.handler().schema().iter().map(|p| p.key).collect();
            let n = keys.len();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), n, "{kind} declares a key twice");
        }
    }
}
