//! The App Runner resource types (auto scaling, observability, VPC
//! connector, service, VPC ingress connection) driven by the real engine —
//! observe, diff, the DAG executor — against the App Runner emulator, with
//! IAM roles and a secret in moto and the image in a real registry:
//! create, a second plan that is a no-op, an update of the service's shape
//! that leaves what runs alone, replacements of immutable configurations, a
//! create repeated after a lost state that finds instead of duplicating, and
//! delete (also of what is already gone).

use std::time::Duration;

use apprunner_emulator::{Config, Emulator};
use foundry::aws::Aws;
use foundry::engine::execute::Executor;
use foundry::engine::expand::ECR_ACCESS_POLICY;
use foundry::engine::graph::{Graph, Resource};
use foundry::engine::observe::{World, observe};
use foundry::engine::plan::{Action, LastApplied, Plan, diff};
use foundry::engine::progress::Progress;
use foundry::resources::{Kind, Scope, iam_role};
use foundry::state::{StateDir, Store};
use foundry::vocab::{CREATE_ONLY_GENERATE, Value};
use foundry_image::{BuildRequest, ImageSpec, NoProgress, OciLayout, PushTarget, Registry};
use localenv::moto::MotoServer;
use localenv::registry::RegistryServer;

const ECR_HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const APPRUNNER_KINDS: [Kind; 5] = [
    Kind::ApprunnerAutoScaling,
    Kind::ApprunnerObservability,
    Kind::ApprunnerVpcConnector,
    Kind::ApprunnerService,
    Kind::ApprunnerVpcIngressConnection,
];

/// The emulator's probe (std only), built once and pushed to `registry` as
/// `repository`; its ECR-style identifier by digest.
async fn push_probe(registry: &RegistryServer, repository: &str) -> String {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../apprunner-emulator/tests/fixtures/probe-http");
    let mut request = BuildRequest::new(fixture, "dev");
    request.target_dir = Some(localenv::fixtures_target_dir("apprunner-emulator-fixtures"));
    let binary = tokio::task::spawn_blocking(move || {
        foundry_image::build(&request, &NoProgress)
            .expect("the probe fixture builds")
            .binary
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::open_or_create(dir.path().join("layout")).unwrap();
    let mut spec = ImageSpec::new(binary, "v1", "0123456789abcdef", 1_700_000_000);
    spec.port = Some(8080);
    let image = foundry_image::assemble(&spec, &layout).expect("the probe image assembles");
    let target = Registry {
        host: registry.host().to_owned(),
        insecure_http: true,
        credentials: foundry_image::Credentials::Anonymous,
    };
    let push = PushTarget {
        repository: repository.into(),
        tag: "v1".into(),
        mount_from: vec![],
    };
    let report = foundry_image::push(&layout, &image.tag, &target, &push, &NoProgress)
        .await
        .expect("the probe image pushes");
    format!("{ECR_HOST}/{repository}@{}", report.manifest_digest)
}

/// foundry's clients: App Runner to the emulator, everything else to moto.
async fn clients(moto: &MotoServer, emulator: &Emulator) -> Aws {
    let moto_config = crate::support::sdk_config(&moto.endpoint()).await;
    let apprunner_config = crate::support::sdk_config(&emulator.endpoint()).await;
    Aws {
        ec2: aws_sdk_ec2::Client::new(&moto_config),
        s3: aws_sdk_s3::Client::new(&moto_config),
        ecr: aws_sdk_ecr::Client::new(&moto_config),
        secrets: aws_sdk_secretsmanager::Client::new(&moto_config),
        iam: aws_sdk_iam::Client::new(&moto_config),
        sts: aws_sdk_sts::Client::new(&moto_config),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&moto_config),
        sns: aws_sdk_sns::Client::new(&moto_config),
        rds: aws_sdk_rds::Client::new(&moto_config),
        cloudfront: aws_sdk_cloudfront::Client::new(&moto_config),
        apprunner: aws_sdk_apprunner::Client::new(&apprunner_config),
        logs: aws_sdk_cloudwatchlogs::Client::new(&moto_config),
        ecs: aws_sdk_ecs::Client::new(&moto_config),
        elb: aws_sdk_elasticloadbalancingv2::Client::new(&moto_config),
        autoscaling: aws_sdk_applicationautoscaling::Client::new(&moto_config),
        region: "us-east-1".into(),
        registry_override: None,
        local: false,
        endpoint_url: Some(moto.endpoint()),
    }
}

/// What one stack would ask for: roles and a secret (moto), and one private
/// service with every App Runner resource type. `min` and `memory`, `port`
/// and `endpoint` are what the test changes.
fn graph(scope: &Scope, image: &str, min: i64, memory: &str, port: i64, endpoint: &str) -> Graph {
    let role = |id: &str, trust: &str, managed: &[&str]| {
        Resource::new(id, Kind::IamRole)
            .prop("name", Value::str(scope.name(id)))
            .prop("path", Value::str(iam_role::path(scope)))
            .prop("trust_service", Value::str(trust))
            .prop("policy", Value::map([("Statement", Value::set([]))]))
            .prop(
                "managed_policy_arns",
                Value::set(managed.iter().map(|a| Value::str(*a))),
            )
    };
    let name = |id: &str| Value::str(scope.name(id));
    Graph::new(vec![
        role(
            "role-apprunner-ecr",
            "build.apprunner.amazonaws.com",
            &[ECR_ACCESS_POLICY],
        ),
        role("role-web", "tasks.apprunner.amazonaws.com", &[]),
        Resource::new("secret-key", Kind::Secret)
            .prop(
                "name",
                Value::str(format!("{}/{}/key", scope.stack, scope.env)),
            )
            .prop("description", Value::str("a key the service reads"))
            .prop(CREATE_ONLY_GENERATE, Value::Bool(true)),
        Resource::new("scale-web", Kind::ApprunnerAutoScaling)
            .prop("name", name("scale-web"))
            .prop("min_size", Value::Int(min))
            .prop("max_size", Value::Int(3))
            .prop("max_concurrency", Value::Int(50)),
        Resource::new("obs-web", Kind::ApprunnerObservability)
            .prop("name", name("obs-web"))
            .prop("tracing", Value::Bool(true)),
        Resource::new("vpcc-web", Kind::ApprunnerVpcConnector)
            .prop("name", name("vpcc-web"))
            .prop(
                "subnet_ids",
                Value::set([Value::str("subnet-a"), Value::str("subnet-b")]),
            )
            .prop("security_group_ids", Value::set([Value::str("sg-web")])),
        Resource::new("svc-web", Kind::ApprunnerService)
            .prop("name", name("svc-web"))
            .prop("port", Value::Int(port))
            .prop("cpu", Value::str("1024"))
            .prop("memory", Value::str(memory))
            .prop("health_path", Value::str("/healthz"))
            .prop("publicly_accessible", Value::Bool(false))
            .prop("vpc_connector_arn", Value::reference("vpcc-web"))
            .prop(
                "auto_scaling_configuration_arn",
                Value::reference("scale-web"),
            )
            .prop(
                "observability_configuration_arn",
                Value::reference("obs-web"),
            )
            .prop("instance_role_arn", Value::attr("role-web", "arn"))
            .prop("access_role_arn", Value::attr("role-apprunner-ecr", "arn"))
            .prop("create:image", Value::str(image))
            .prop(
                "create:env",
                Value::map([
                    ("GREETING", Value::str("hello")),
                    (
                        "ROLE",
                        Value::concat(vec![Value::str("role="), Value::attr("role-web", "arn")]),
                    ),
                ]),
            )
            .prop(
                "create:secrets",
                Value::map([("KEY", Value::reference("secret-key"))]),
            ),
        Resource::new("ingress-web", Kind::ApprunnerVpcIngressConnection)
            .prop("name", name("ingress-web"))
            .prop("service_arn", Value::reference("svc-web"))
            .prop("vpc_id", Value::str("vpc-1"))
            .prop("vpc_endpoint_id", Value::str(endpoint)),
    ])
    .unwrap()
}

struct Stand {
    aws: Aws,
    scope: Scope,
    state: Store,
    _dir: tempfile::TempDir,
}

impl Stand {
    /// What AWS reports, every type observed (App Runner's included).
    async fn world(&self) -> World {
        let recorded = self.state.load().await.unwrap();
        observe(&self.aws, &self.scope, &recorded, Kind::ALL)
            .await
            .unwrap()
    }

    async fn plan(&self, graph: &Graph) -> (Plan, World) {
        let world = self.world().await;
        (diff(graph, &world, &LastApplied::new()), world)
    }

    async fn apply(&self, graph: &Graph) -> Plan {
        let (plan, world) = self.plan(graph).await;
        let progress = Progress::new();
        Executor {
            aws: &self.aws,
            scope: &self.scope,
            state: &self.state,
            progress: &progress,
            concurrency: 4,
            force_empty: false,
        }
        .apply(&plan, graph, &world)
        .await
        .unwrap_or_else(|e| panic!("apply failed: {e}"));
        plan
    }
}

/// The body of `GET path` from a service URL (a host without scheme).
fn http_get(host: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// `id action` per change, in plan order.
fn summary(plan: &Plan) -> Vec<String> {
    let mut lines: Vec<String> = plan
        .changes
        .iter()
        .map(|c| format!("{} {}", c.action.symbol(), c.id))
        .collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn app_runner_resources_are_created_observed_updated_found_again_and_deleted() {
    let moto = MotoServer::start().expect("moto starts");
    let registry = RegistryServer::start().unwrap_or_else(|e| panic!("{e}"));
    let state_dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(state_dir.path().join("emulator"));
    config.operation_delay = Duration::from_millis(20);
    config.health_check_second = Duration::from_millis(20);
    config
        .registry_map
        .insert(ECR_HOST.into(), registry.host().to_owned());
    config.secrets_endpoint = Some(moto.endpoint());
    let emulator = Emulator::start(config).expect("the emulator starts");
    let image = push_probe(&registry, "acme/test/web").await;
    let aws = clients(&moto, &emulator).await;
    let scope = Scope::new("acme", "test");
    let stand = Stand {
        state: Store::Local(StateDir::new(state_dir.path(), "acme", "test")),
        aws,
        scope,
        _dir: state_dir,
    };

    // Create: every resource, the service's env resolved from the role
    // created in the same run (its `arn`, read back after the create).
    let desired = graph(&stand.scope, &image, 1, "2048", 8080, "vpce-1");
    let created = stand.apply(&desired).await;
    assert_eq!(created.count(Action::Create), 8, "{:?}", summary(&created));
    let world = stand.world().await;
    let service = world.get("svc-web").expect("the service is observed");
    let role_arn = &world.get("role-web").unwrap().attrs["arn"];
    for attr in ["url", "arn", "status", "image", "operation_id"] {
        assert!(
            service.attrs.contains_key(attr),
            "no {attr}: {:?}",
            service.attrs
        );
    }
    assert_eq!(service.attrs["image"], image);
    assert_eq!(service.attrs["status"], "RUNNING");
    assert_eq!(service.attrs["arn"], service.physical_id);
    let described = stand
        .aws
        .apprunner
        .describe_service()
        .service_arn(&service.physical_id)
        .send()
        .await
        .unwrap()
        .service
        .unwrap();
    let runs = |s: &aws_sdk_apprunner::types::Service| {
        s.source_configuration()
            .and_then(|c| c.image_repository())
            .and_then(|i| i.image_configuration())
            .cloned()
            .unwrap()
    };
    let first = runs(&described);
    let env = first.runtime_environment_variables().unwrap();
    assert_eq!(env["GREETING"], "hello");
    assert_eq!(env["ROLE"], format!("role={role_arn}"));
    let secret_arn = &world.get("secret-key").unwrap().physical_id;
    assert_eq!(
        first.runtime_environment_secrets().unwrap()["KEY"],
        *secret_arn
    );
    assert_eq!(
        described
            .source_configuration()
            .and_then(|c| c.auto_deployments_enabled()),
        Some(false)
    );
    // The secret reached the instance by ARN (its name is in the env).
    let url = &service.attrs["url"];
    let names = http_get(url, "/env");
    assert!(names.lines().any(|l| l == "KEY"), "{names}");
    // Tags from creation on every App Runner resource.
    for &kind in &APPRUNNER_KINDS {
        let id = match kind {
            Kind::ApprunnerAutoScaling => "scale-web",
            Kind::ApprunnerObservability => "obs-web",
            Kind::ApprunnerVpcConnector => "vpcc-web",
            Kind::ApprunnerService => "svc-web",
            _ => "ingress-web",
        };
        let arn = &world.get(id).unwrap().physical_id;
        let tags = stand
            .aws
            .apprunner
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .unwrap();
        let mut tags: Vec<(String, String)> = tags
            .tags()
            .iter()
            .map(|t| (t.key().unwrap().into(), t.value().unwrap().into()))
            .collect();
        tags.sort();
        assert_eq!(
            tags,
            [
                ("Name".into(), format!("acme-test-{id}")),
                ("foundry:env".into(), "test".into()),
                ("foundry:id".into(), id.into()),
                ("foundry:stack".into(), "acme".into()),
            ],
            "{kind}"
        );
    }

    // What AWS reports equals what was asked for: nothing to do.
    let (again, _) = stand.plan(&desired).await;
    assert!(again.is_empty(), "{:?}", summary(&again));

    // A create repeated after its answer was lost (state gone, resource
    // there) finds the resource instead of making a second.
    for &kind in &APPRUNNER_KINDS {
        for o in world.resources.values().filter(|o| o.kind == kind) {
            let props = desired
                .get(&o.id)
                .unwrap()
                .props
                .iter()
                .map(|(k, v)| (k.clone(), world.resolve(v)))
                .collect();
            let again = kind
                .handler()
                .create(&stand.aws, &stand.scope, &o.id, &props, "token")
                .await
                .unwrap();
            assert_eq!(again, o.physical_id, "{kind} was created twice");
        }
        let listed = kind
            .handler()
            .observe(&stand.aws, &stand.scope)
            .await
            .unwrap();
        assert_eq!(listed.len(), 1, "{kind}: {listed:?}");
    }

    // Shape changes: memory and port update the service in place (what
    // runs stays: image, env, secrets); a new scaling minimum is a new
    // configuration the service moves to; another endpoint is a new ingress
    // connection.
    let changed = graph(&stand.scope, &image, 2, "3072", 8081, "vpce-2");
    let (plan, _) = stand.plan(&changed).await;
    assert_eq!(
        summary(&plan),
        ["-/+ ingress-web", "-/+ scale-web", "~ svc-web"],
    );
    stand.apply(&changed).await;
    let world = stand.world().await;
    let service = world.get("svc-web").unwrap();
    assert_eq!(service.props["memory"], Value::str("3072"));
    assert_eq!(service.props["port"], Value::Int(8081));
    assert_eq!(
        service.props["auto_scaling_configuration_arn"],
        Value::str(&world.get("scale-web").unwrap().physical_id)
    );
    assert_eq!(service.attrs["image"], image);
    let updated = stand
        .aws
        .apprunner
        .describe_service()
        .service_arn(&service.physical_id)
        .send()
        .await
        .unwrap()
        .service
        .unwrap();
    let now = runs(&updated);
    assert_eq!(
        now.runtime_environment_variables(),
        first.runtime_environment_variables()
    );
    assert_eq!(
        now.runtime_environment_secrets(),
        first.runtime_environment_secrets()
    );
    let (again, _) = stand.plan(&changed).await;
    assert!(again.is_empty(), "{:?}", summary(&again));

    // Delete everything; a delete of what is already gone succeeds.
    let gone: Vec<_> = world
        .resources
        .values()
        .filter(|o| APPRUNNER_KINDS.contains(&o.kind))
        .cloned()
        .collect();
    let deleted = stand.apply(&Graph::default()).await;
    assert_eq!(deleted.count(Action::Delete), 8, "{:?}", summary(&deleted));
    for &kind in &APPRUNNER_KINDS {
        let listed = kind
            .handler()
            .observe(&stand.aws, &stand.scope)
            .await
            .unwrap();
        assert!(listed.is_empty(), "{kind}: {listed:?}");
    }
    for o in &gone {
        o.kind.handler().delete(&stand.aws, o).await.unwrap();
    }
}
