//! Test harness: a moto server per test, a scratch directory holding a stack
//! file, the real `foundry` binary run the way a user runs it, and an
//! independent EC2 client for checking what exists.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::LazyLock;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::Filter;
use localenv::moto::MotoServer;

/// The reference stack as the engine tests provision it: its services
/// without `source`, so `up` makes their repositories, roles and security
/// groups and runs nothing (deploy.rs runs services), and the CDN's api
/// origin given as a domain, since no api service runs to be its origin.
pub static REFERENCE: LazyLock<String> = LazyLock::new(|| {
    let file = include_str!("../../../stacks/reference.toml");
    let kept: Vec<&str> = file
        .lines()
        .filter(|line| !line.starts_with("source = "))
        .collect();
    (kept.join("\n") + "\n").replace("api_service = \"api\"", "api_domain = \"api.acme.example\"")
});

pub struct TestEnv {
    pub moto: MotoServer,
    pub dir: tempfile::TempDir,
    pub ec2: Client,
}

/// What one `foundry` run printed and how it ended.
pub struct Run {
    pub output: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    #[track_caller]
    pub fn success(self) -> Self {
        assert!(
            self.output.status.success(),
            "foundry failed ({:?}):\n{}\n{}",
            self.output.status,
            self.stdout(),
            self.stderr()
        );
        self
    }
}

impl TestEnv {
    pub async fn start() -> Self {
        let moto = MotoServer::start().expect(
            "moto server must start (needs python3 with venv and PyPI access on first use)",
        );
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("foundry.toml"), REFERENCE.as_str())
            .expect("write stack file");
        let config = sdk_config(&moto.endpoint()).await;
        let ec2 = Client::new(&config);
        Self { moto, dir, ec2 }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a stack file named `name` into the scratch directory.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, text).expect("write stack file");
        path
    }

    pub fn command(&self, args: &[&str]) -> Command {
        // FOUNDRY_TEST_BIN: a copy of this tree's binary, for machines where
        // another worktree building into the same target directory replaces
        // target/debug/foundry while these tests run.
        let bin = std::env::var_os("FOUNDRY_TEST_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_foundry").into());
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .current_dir(self.path())
            .env("AWS_ENDPOINT_URL", self.moto.endpoint())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_REGION")
            .env_remove("FOUNDRY_FAULT")
            .env_remove("FOUNDRY_ENV")
            .env_remove("FOUNDRY_STACK")
            .stdin(Stdio::null());
        cmd
    }

    pub fn foundry(&self, args: &[&str]) -> Run {
        Run {
            output: self.command(args).output().expect("run foundry"),
        }
    }

    pub fn spawn(&self, args: &[&str], fault: Option<&str>) -> Child {
        let mut cmd = self.command(args);
        if let Some(f) = fault {
            cmd.env("FOUNDRY_FAULT", f);
        }
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn foundry")
    }

    pub fn state_dir(&self, stack: &str, env: &str) -> PathBuf {
        self.path().join(".foundry/state").join(stack).join(env)
    }
}

/// SDK configuration for independent checks against the test's moto.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await
}

impl TestEnv {
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config(&self.moto.endpoint()).await
    }

    /// S3 with path-style addressing, as moto needs.
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let config = self.sdk_config().await;
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        )
    }
}

pub fn tag_filters(stack: &str, env: &str) -> Vec<Filter> {
    vec![
        Filter::builder()
            .name("tag:foundry:stack")
            .values(stack)
            .build(),
        Filter::builder()
            .name("tag:foundry:env")
            .values(env)
            .build(),
    ]
}

pub fn vpc_filter(vpc: &str) -> Filter {
    Filter::builder().name("vpc-id").values(vpc).build()
}

/// Counts of what exists, read with independent SDK calls.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Census {
    pub vpcs: usize,
    pub subnets: usize,
    pub igws: usize,
    pub nats: usize,
    pub eips: usize,
    pub route_tables: usize,
    pub gateway_endpoints: usize,
    pub interface_endpoints: usize,
    pub security_groups: usize,
}

impl TestEnv {
    pub async fn vpc_ids(&self, stack: &str, env: &str) -> Vec<String> {
        let out = self
            .ec2
            .describe_vpcs()
            .set_filters(Some(tag_filters(stack, env)))
            .send()
            .await
            .unwrap();
        out.vpcs()
            .iter()
            .filter_map(|v| v.vpc_id().map(str::to_string))
            .collect()
    }

    /// Everything of `stack`/`env`: found through its VPC(s) and tags.
    pub async fn census(&self, stack: &str, env: &str) -> Census {
        let ec2 = &self.ec2;
        let vpcs = self.vpc_ids(stack, env).await;
        let mut c = Census {
            vpcs: vpcs.len(),
            ..Census::default()
        };
        for vpc in &vpcs {
            c.subnets += ec2
                .describe_subnets()
                .filters(vpc_filter(vpc))
                .send()
                .await
                .unwrap()
                .subnets()
                .len();
            c.igws += ec2
                .describe_internet_gateways()
                .filters(
                    Filter::builder()
                        .name("attachment.vpc-id")
                        .values(vpc)
                        .build(),
                )
                .send()
                .await
                .unwrap()
                .internet_gateways()
                .len();
            c.nats += ec2
                .describe_nat_gateways()
                .filter(vpc_filter(vpc))
                .send()
                .await
                .unwrap()
                .nat_gateways()
                .iter()
                .filter(|n| {
                    n.state()
                        .is_some_and(|s| s.as_str() == "available" || s.as_str() == "pending")
                })
                .count();
            // The main route table AWS creates with every VPC is not foundry's.
            c.route_tables += ec2
                .describe_route_tables()
                .filters(vpc_filter(vpc))
                .send()
                .await
                .unwrap()
                .route_tables()
                .iter()
                .filter(|t| !t.associations().iter().any(|a| a.main() == Some(true)))
                .count();
            let endpoints = ec2
                .describe_vpc_endpoints()
                .filters(vpc_filter(vpc))
                .send()
                .await
                .unwrap();
            for e in endpoints.vpc_endpoints() {
                if e.state()
                    .is_some_and(|s| s.as_str().eq_ignore_ascii_case("deleted"))
                {
                    continue;
                }
                match e.vpc_endpoint_type().map(|t| t.as_str()) {
                    Some("Interface") => c.interface_endpoints += 1,
                    _ => c.gateway_endpoints += 1,
                }
            }
            c.security_groups += ec2
                .describe_security_groups()
                .filters(vpc_filter(vpc))
                .send()
                .await
                .unwrap()
                .security_groups()
                .iter()
                .filter(|g| g.group_name() != Some("default"))
                .count();
        }
        let addresses = ec2.describe_addresses().send().await.unwrap();
        c.eips = addresses
            .addresses()
            .iter()
            .filter(|a| {
                let tag = |k: &str| {
                    a.tags()
                        .iter()
                        .find(|t| t.key() == Some(k))
                        .and_then(|t| t.value())
                };
                tag("foundry:stack") == Some(stack) && tag("foundry:env") == Some(env)
            })
            .count();
        c
    }
}

/// The reference network's expected census for a NAT count.
pub fn reference_census(nats: usize) -> Census {
    Census {
        vpcs: 1,
        subnets: 6,
        igws: 1,
        nats,
        eips: nats,
        route_tables: 4,
        gateway_endpoints: 1,
        // The five of `endpoints`, and `apprunner.requests` for the private ai.
        interface_endpoints: 6,
        // Interface endpoints, the api and ai services, the database.
        security_groups: 4,
    }
}

/// Every file under the scratch directory's `.foundry`, concatenated: for
/// checking that no secret value was ever stored.
pub fn state_text(env: &TestEnv) -> String {
    fn walk(dir: &Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    let mut out = String::new();
    walk(&env.path().join(".foundry"), &mut out);
    out
}

/// Counts of the data and edge tier of `stack`/`env`, read with independent
/// SDK calls: what must exist exactly once after any run converges.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DataCensus {
    pub db_instances: usize,
    pub db_subnet_groups: usize,
    pub db_parameter_groups: usize,
    pub distributions: usize,
    pub origin_access_controls: usize,
    pub buckets: usize,
}

/// The reference stack's data and edge tier.
pub const REFERENCE_DATA: DataCensus = DataCensus {
    db_instances: 1,
    db_subnet_groups: 1,
    db_parameter_groups: 1,
    distributions: 1,
    origin_access_controls: 1,
    buckets: 2,
};

impl TestEnv {
    pub async fn data_census(&self, stack: &str, env: &str) -> DataCensus {
        let config = self.sdk_config().await;
        let rds = aws_sdk_rds::Client::new(&config);
        let cloudfront = aws_sdk_cloudfront::Client::new(&config);
        let prefix = format!("{stack}-{env}-");
        let instances = rds.describe_db_instances().send().await.unwrap();
        let subnet_groups = rds.describe_db_subnet_groups().send().await.unwrap();
        let parameter_groups = rds.describe_db_parameter_groups().send().await.unwrap();
        let oacs = cloudfront
            .list_origin_access_controls()
            .send()
            .await
            .unwrap();
        let mut distributions = 0;
        let list = cloudfront.list_distributions().send().await.unwrap();
        let summaries = list
            .distribution_list()
            .map(|l| l.items().to_vec())
            .unwrap_or_default();
        for d in summaries {
            let tags = cloudfront
                .list_tags_for_resource()
                .resource(d.arn())
                .send()
                .await
                .unwrap();
            let tag = |k: &str| {
                tags.tags()
                    .and_then(|t| t.items().iter().find(|t| t.key() == k))
                    .and_then(|t| t.value())
                    .map(str::to_string)
            };
            if tag("foundry:stack").as_deref() == Some(stack)
                && tag("foundry:env").as_deref() == Some(env)
            {
                distributions += 1;
            }
        }
        let buckets = self.s3().await.list_buckets().send().await.unwrap();
        DataCensus {
            db_instances: instances
                .db_instances()
                .iter()
                .filter(|i| i.db_instance_identifier() == Some(&format!("{prefix}db")))
                .count(),
            db_subnet_groups: subnet_groups
                .db_subnet_groups()
                .iter()
                .filter(|g| {
                    g.db_subnet_group_name()
                        .is_some_and(|n| n.starts_with(&prefix))
                })
                .count(),
            db_parameter_groups: parameter_groups
                .db_parameter_groups()
                .iter()
                .filter(|g| {
                    g.db_parameter_group_name()
                        .is_some_and(|n| n.starts_with(&prefix))
                })
                .count(),
            distributions,
            origin_access_controls: oacs
                .origin_access_control_list()
                .map(|l| {
                    l.items()
                        .iter()
                        .filter(|o| o.name().starts_with(&prefix))
                        .count()
                })
                .unwrap_or_default(),
            buckets: buckets
                .buckets()
                .iter()
                .filter(|b| b.name().is_some_and(|n| n.starts_with(&prefix)))
                .count(),
        }
    }
}

impl TestEnv {
    /// Makes moto move `model` (e.g. `cloudfront::distribution`) to its next
    /// state only after `seconds`, as AWS does, instead of at once; for
    /// showing that foundry waits. POSTs to moto's own state-manager API.
    pub fn slow_transition(&self, model: &str, seconds: u64) {
        use std::io::{Read, Write};
        let body = format!(
            r#"{{"model_name": "{model}", "transition": {{"progression": "time", "seconds": {seconds}}}}}"#
        );
        let mut stream =
            std::net::TcpStream::connect(("127.0.0.1", self.moto.port())).expect("connect to moto");
        write!(
            stream,
            "POST /moto-api/state-manager/set-transition HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("send to moto");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("moto answers");
        assert!(answer.starts_with("HTTP/1.1 201"), "moto: {answer}");
    }
}

/// `git` in `dir` with a fixed identity; its standard output.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}
