//! The stack file as users write it: serde types, also the source of
//! `foundry schema`. Every section is optional field by field so that the same
//! type serves as base and as `[env.<name>]` overlay; `resolve` fills defaults
//! and checks what serde cannot.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A foundry stack file (`foundry.toml`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackFile {
    /// Stack name: lowercase letters, digits and hyphens, starting with a
    /// letter. It prefixes every resource name and tags every resource.
    pub name: String,
    /// AWS region the stack lives in, e.g. `us-east-1`.
    pub region: String,
    /// The network tier: VPC, subnets, NAT, endpoints.
    #[serde(default)]
    pub network: NetworkSpec,
    /// Where the services run (`[compute] target`).
    #[serde(default)]
    pub compute: ComputeSpec,
    /// The services of the app; each gets an ECR repository and reads the
    /// secrets it lists.
    #[serde(default)]
    pub services: BTreeMap<String, ServiceSpec>,
    /// Named secrets in Secrets Manager. Values never appear in plans,
    /// outputs or state; set them with `foundry secret set NAME --env ENV`.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretSpec>,
    /// S3 buckets, named `<stack>-<env>-<name>-<account>`.
    #[serde(default)]
    pub buckets: BTreeMap<String, BucketSpec>,
    /// The RDS Postgres database: private, encrypted, in the data subnets.
    #[serde(default)]
    pub database: Option<DatabaseSpec>,
    /// The CloudFront distribution in front of the web bucket and the api.
    #[serde(default)]
    pub cdn: Option<CdnSpec>,
    /// Who signs the bearer tokens the services accept.
    #[serde(default)]
    pub auth: Option<AuthSpec>,
    /// Alarms and where they notify.
    #[serde(default)]
    pub alarms: AlarmsSpec,
    /// The repository whose CI deploys the stack (`[ci] github`).
    #[serde(default)]
    pub ci: Option<CiSpec>,
    /// Container registry settings.
    #[serde(default)]
    pub registry: RegistrySpec,
    /// Where foundry keeps its state (journal, cache, lock).
    #[serde(default)]
    pub state: StateSpec,
    /// Per-environment overlays: `[env.dev]`, `[env.staging]`, `[env.prod]`.
    /// A value set here replaces the base value for that environment.
    #[serde(default)]
    pub env: BTreeMap<String, EnvOverlay>,
}

/// What an environment may override.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvOverlay {
    #[serde(default)]
    pub network: NetworkSpec,
    #[serde(default)]
    pub compute: ComputeSpec,
    /// Per service: its size and scaling in this environment.
    #[serde(default)]
    pub services: BTreeMap<String, ServiceOverlay>,
    #[serde(default)]
    pub registry: RegistrySpec,
    #[serde(default)]
    pub alarms: AlarmsSpec,
    #[serde(default)]
    pub database: DatabaseSpec,
    #[serde(default)]
    pub cdn: CdnSpec,
    #[serde(default)]
    pub auth: AuthSpec,
}

/// `[auth]`: the issuer of the bearer tokens the services accept (Clerk, or
/// any OpenID issuer that publishes a JWKS). Services read it through
/// `${auth.issuer}` and `${auth.jwks_url}`; with `--local`, both name
/// foundry's local issuer instead (`foundry local token`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthSpec {
    /// The tokens' `iss`, an https URL, e.g. `https://clerk.acme.example`.
    pub issuer: Option<String>,
    /// Where the issuer's signing keys are (https); default
    /// `<issuer>/.well-known/jwks.json`.
    pub jwks_url: Option<String>,
    /// Clerk's publishable key (`pk_live_…`, `pk_test_…`; public by
    /// design): `foundry deploy web` builds the client with it, which then
    /// signs in with Clerk. Without it the client asks for a pasted token.
    pub publishable_key: Option<String>,
}

/// `[ci]`: continuous deployment from GitHub Actions. foundry creates the
/// account's GitHub OIDC identity provider (shared by every stack that
/// names one) and, per environment, a deploy role that only this
/// repository's workflows may assume: its `main` branch, or for prod its
/// `production` environment.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CiSpec {
    /// `ORG/REPO`, e.g. `acme/app`.
    pub github: Option<String>,
}

/// Database engines foundry provisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// PostgreSQL (what the bundled api service needs).
    Postgres,
    /// MySQL, for apps that bring their own.
    Mysql,
}

/// `[database]`: one RDS instance. Every key is optional; an environment's
/// `[env.<name>.database]` overrides key by key.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSpec {
    /// `postgres` (default) or `mysql`. Changing it replaces the database:
    /// its data is lost unless restored from a snapshot.
    pub engine: Option<Engine>,
    /// Major engine version, e.g. `"16"` for Postgres (default) or `"8.0"`
    /// for MySQL; the parameter group family follows it.
    pub version: Option<String>,
    /// Instance class, e.g. `db.t4g.micro` (default) or `db.m6g.large`.
    pub instance_class: Option<String>,
    /// Allocated storage in GiB (default 20).
    pub storage_gb: Option<u32>,
    /// Storage autoscaling ceiling in GiB (default 100; equal to storage_gb
    /// turns autoscaling off).
    pub max_storage_gb: Option<u32>,
    /// A standby in a second availability zone (default false).
    pub multi_az: Option<bool>,
    /// Days of automated backups and point-in-time recovery, 1 to 35 (default 1).
    pub backup_retention_days: Option<u32>,
    /// Refuse deletion until this is lifted (default false).
    pub deletion_protection: Option<bool>,
    /// Take a snapshot when the database is deleted (default true).
    pub final_snapshot: Option<bool>,
    /// KMS key for storage encryption; default the AWS-managed `aws/rds` key.
    /// Changing it replaces the database.
    pub kms_key_id: Option<String>,
    /// Name of the database created in the instance (default `app`).
    pub db_name: Option<String>,
    /// Master user name (default `app`); RDS keeps its password in Secrets
    /// Manager and foundry never sees it.
    pub username: Option<String>,
    /// Statements running longer are cancelled, in milliseconds (default 30000).
    pub statement_timeout_ms: Option<u32>,
    /// Statements slower than this are logged, in milliseconds (default 500).
    pub log_slow_statements_ms: Option<u32>,
    /// Connections alarm threshold (default 100).
    pub alarm_connections: Option<u32>,
}

/// `[cdn]`: a CloudFront distribution with two origins: `web` (an S3 bucket,
/// readable only through the distribution) and `api`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CdnSpec {
    /// The bucket under `[buckets]` that holds the web app's static files.
    pub web_bucket: Option<String>,
    /// The public service under `[services]` that serves `/graphql` and
    /// `/api/*` (uncached): the distribution's api origin is its App Runner
    /// URL. Default: the service named `api`.
    pub api_service: Option<String>,
    /// Domain of the API origin (HTTPS), e.g. `api.acme.example`, when the
    /// api is served from a domain of your own instead of `api_service`.
    pub api_domain: Option<String>,
    /// Alternate domain names; they need `certificate_arn`.
    pub aliases: Option<Vec<String>>,
    /// ACM certificate in us-east-1 covering the aliases.
    pub certificate_arn: Option<String>,
    /// AWS WAF web ACL (ARN) to attach.
    pub web_acl_arn: Option<String>,
    /// `PriceClass_100` (default), `PriceClass_200` or `PriceClass_All`.
    pub price_class: Option<String>,
}

/// `[alarms]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlarmsSpec {
    /// E-mail addresses notified through an SNS topic (each must confirm).
    pub emails: Option<Vec<String>>,
    /// NAT egress alarm: bytes out to destinations per 5 minutes, per NAT
    /// gateway (default 5 GB).
    pub nat_bytes_out_per_5min: Option<u64>,
}

/// `[services.<name>]`: a container the compute target runs, or (`kind =
/// "static"`) a web app's files the CDN serves from its web bucket.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// `container` (default): an image on the compute target. `static`: a
    /// web app built with npm (`npm ci`, `npm run build`) whose files
    /// `foundry deploy` uploads to `[cdn] web_bucket`, served at `/`.
    pub kind: Option<ServiceKind>,
    /// The crate `foundry build` compiles into the service's image, relative
    /// to the stack file: `source = "services/api"`. For a static service,
    /// the npm project (the directory holding package.json): `source = "web"`.
    pub source: Option<String>,
    /// Static services: the build's output directory, relative to `source`
    /// (default `dist`, as Vite writes it).
    pub dist: Option<String>,
    /// Static services: the directory under `dist` whose file names carry a
    /// hash of their content (default `assets`, Vite's `build.assetsDir`).
    /// They are cached for a year as immutable; every other file is an
    /// entry document (`index.html`, `favicon.svg`), never cached stale.
    pub assets: Option<String>,
    /// Static services: releases whose files stay in the bucket, so that
    /// `foundry rollback` can return to them (default 5).
    pub keep_releases: Option<u32>,
    /// The port the service listens on (its image exposes it; default 8080).
    pub port: Option<u16>,
    /// `public` (default): reachable from the internet (the CDN's api
    /// origin); `private`: reachable only from inside the VPC.
    pub ingress: Option<Ingress>,
    /// CPU units (1024 = one vCPU; default 1024).
    pub cpu: Option<u32>,
    /// Memory in MiB (default 2048).
    pub memory: Option<u32>,
    /// The HTTP path that answers 200 when the service is healthy (default
    /// `/healthz`); deploys wait for it.
    pub health: Option<String>,
    /// Environment variables. Values may hold references, one syntax
    /// everywhere: `${services.ai.url}`, `${buckets.uploads.name}`,
    /// `${database.endpoint}` (also `port`, `name`, `secret_arn`) and
    /// `${secrets.NAME}` (a whole value only; injected by ARN, never as text).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Instances and requests per instance; an environment may override it.
    pub scaling: Option<ScalingSpec>,
    /// Secrets (names under `[secrets]`) this service reads.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Buckets this service reads and writes, each limited to a key prefix:
    /// `buckets = { uploads = "uploads/" }`.
    #[serde(default)]
    pub buckets: BTreeMap<String, String>,
    /// What the service may open connections to: `"database"` admits its
    /// security group to the database's port; another service's name gives
    /// a path to that service (needed to call a private one).
    #[serde(default)]
    pub connect: Vec<String>,
}

/// What a service is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    /// An image the compute target runs.
    Container,
    /// Files served by the CDN from its web bucket.
    Static,
}

/// `[compute]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComputeSpec {
    /// `apprunner` (default) or `ecs`.
    pub target: Option<ComputeTarget>,
    /// `ecs`: ACM certificate (in the stack's region) for the public load
    /// balancers' HTTPS listeners; without one they listen on HTTP.
    pub certificate_arn: Option<String>,
    /// `ecs`: days the services' CloudWatch log groups keep their output
    /// (default 30; one of the values CloudWatch Logs offers).
    pub log_retention_days: Option<u32>,
}

/// Where services run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ComputeTarget {
    /// AWS App Runner (closed to new AWS accounts since 2026-04-30).
    Apprunner,
    /// ECS Fargate behind Application Load Balancers.
    Ecs,
}

/// Who can reach a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Ingress {
    Public,
    Private,
}

/// `scaling = { min, max, concurrency }`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScalingSpec {
    /// Fewest instances (default 1).
    pub min: Option<u32>,
    /// Most instances (default 4).
    pub max: Option<u32>,
    /// Concurrent requests per instance before another starts (default 100).
    pub concurrency: Option<u32>,
}

/// `[env.<name>.services.<service>]`: what an environment may change.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceOverlay {
    pub cpu: Option<u32>,
    pub memory: Option<u32>,
    pub scaling: Option<ScalingSpec>,
}

/// `[buckets.<name>]`: private, encrypted, TLS-only S3 buckets.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BucketSpec {
    /// Keep every version of every object (default true).
    pub versioning: Option<bool>,
    /// Move objects to Infrequent Access after this many days.
    pub ia_after_days: Option<u32>,
    /// Move objects to Glacier after this many days.
    pub glacier_after_days: Option<u32>,
    /// Browser origins allowed to PUT to pre-signed URLs (CORS).
    #[serde(default)]
    pub cors_origins: Vec<String>,
}

/// `[secrets.<name>]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretSpec {
    /// What the secret is for; shown in the AWS console.
    pub description: Option<String>,
    /// Generate a random value at creation (e.g. an internal API key);
    /// otherwise the secret starts empty until `foundry secret set`.
    #[serde(default)]
    pub generate: bool,
}

/// `[registry]`: the ECR repositories of the services.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrySpec {
    /// Images kept per repository; older ones expire (default 30).
    pub keep_images: Option<u32>,
}

/// How private subnets reach the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NatMode {
    /// One NAT gateway in the first AZ, shared by every private-app subnet.
    Single,
    /// One NAT gateway per AZ; each private-app subnet uses its own AZ's.
    PerAz,
    /// No NAT: private subnets have no route to the internet.
    None,
}

/// `[network]`: every key optional, defaults filled at resolution.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// IPv4 CIDR of the VPC, /16 to /24, e.g. `10.0.0.0/16`.
    pub cidr: Option<String>,
    /// Number of availability zones (1 to 6); each gets one subnet per tier.
    pub azs: Option<u8>,
    /// NAT gateways: `single`, `per-az` or `none`.
    pub nat: Option<NatMode>,
    /// Interface endpoints (PrivateLink) in the private-app subnets, by
    /// service: `secretsmanager`, `ecr.api`, `ecr.dkr`, `logs`, `sts`, ...
    pub endpoints: Option<Vec<String>>,
    /// Gateway endpoints on every private route table: `s3`, `dynamodb`.
    pub gateway_endpoints: Option<Vec<String>>,
    /// Explicit subnet CIDRs per tier, one per AZ. Omitted tiers are carved
    /// from the VPC CIDR in equal blocks four bits longer than it.
    pub subnets: Option<SubnetsSpec>,
}

/// `[network.subnets]`: one CIDR per AZ for each tier.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubnetsSpec {
    /// Public subnets (internet gateway, NAT gateways).
    pub public: Option<Vec<String>>,
    /// Private application subnets (VPC connectors, interface endpoints).
    pub app: Option<Vec<String>>,
    /// Private data subnets (databases); no route to the internet.
    pub data: Option<Vec<String>>,
}

/// `[state]`: local files beside the stack file (default), or an S3 bucket
/// shared by a team (with a lock object that `foundry unlock` clears).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateSpec {
    /// `local` (default) or `s3`.
    pub backend: Option<StateBackendKind>,
    /// S3 bucket for `backend = "s3"`; it must exist (versioning recommended).
    pub bucket: Option<String>,
    /// Key prefix inside the bucket; default `foundry`.
    pub prefix: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StateBackendKind {
    Local,
    S3,
}
