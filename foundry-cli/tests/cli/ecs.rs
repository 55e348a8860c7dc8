//! Services on ECS Fargate (issue 12), end to end against moto's ECS, ELBv2,
//! Application Auto Scaling, EC2, IAM and CloudWatch Logs: `up` with
//! `target = "ecs"` creates the cluster, task definitions, services, load
//! balancers, target groups, listeners and scaling with foundry's tags and
//! exactly the derived security group rules; a second plan is a no-op;
//! deploy registers a revision with the new digest, rollback goes back to
//! the previous revision without registering one or building; a deployment
//! the circuit breaker fails rolls the release back; destroy leaves nothing.
//!
//! Stand-ins, where moto runs nothing: moto's ECS gets deployments from
//! `localenv/src/moto_ecs_deployments.py` (a revision whose environment
//! sets MOTO_ECS_FAIL_DEPLOYMENT=true fails as the circuit breaker fails
//! it), and the load balancers' DNS names, which resolve nowhere, are
//! reached through an HTTP proxy (`HTTP_PROXY`, which foundry's health
//! probe honours) that answers for them: 200 on the health path, as a load
//! balancer with healthy targets would.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_ecs::types::{ServiceField, TaskDefinitionStatus};

use crate::deploy::{ComputeEnv, STACK, subnet_ids_named};
use crate::support::Run;

const ENV_DEV: &str = "[env.dev]\n";

/// The deploy tests' stack on ECS, with a database the api connects to.
fn ecs_stack() -> String {
    let connect = "connect = [\"ai\"]";
    assert!(STACK.contains(ENV_DEV) && STACK.contains(connect));
    STACK
        .replace(ENV_DEV, "[env.dev]\ncompute.target = \"ecs\"\n")
        .replace(connect, "connect = [\"ai\", \"database\"]")
        + "\n[database]\nengine = \"postgres\"\ndeletion_protection = false\nfinal_snapshot = false\n"
}

/// The load balancers' stand-in: an HTTP proxy answering every GET with
/// 200, counting the health probes it answered.
struct LoadBalancers {
    address: String,
    probes: Arc<AtomicUsize>,
}

impl LoadBalancers {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let probes = Arc::new(AtomicUsize::new(0));
        let counted = probes.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let counted = counted.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(&stream);
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).is_err() {
                        return;
                    }
                    // Through a proxy the request names the whole URL.
                    if request_line.contains(".elb.amazonaws.com/healthz") {
                        counted.fetch_add(1, Ordering::SeqCst);
                    }
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                        line.clear();
                    }
                    let _ = (&stream).write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    );
                });
            }
        });
        LoadBalancers { address, probes }
    }
}

fn foundry(app: &ComputeEnv, lbs: &LoadBalancers, args: &[&str]) -> Run {
    let mut command = app.command(args);
    command
        .env("HTTP_PROXY", format!("http://{}", lbs.address))
        .env("NO_PROXY", "127.0.0.1,localhost");
    Run {
        output: command.output().expect("run foundry"),
    }
}

struct Clients {
    ecs: aws_sdk_ecs::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    scaling: aws_sdk_applicationautoscaling::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
}

impl Clients {
    async fn new(app: &ComputeEnv) -> Self {
        let config = app.env.sdk_config().await;
        Clients {
            ecs: aws_sdk_ecs::Client::new(&config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&config),
            scaling: aws_sdk_applicationautoscaling::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
        }
    }

    async fn service(&self, name: &str) -> aws_sdk_ecs::types::Service {
        self.ecs
            .describe_services()
            .cluster("shop-dev-cluster")
            .services(format!("shop-dev-ecs-{name}"))
            .include(ServiceField::Tags)
            .send()
            .await
            .unwrap()
            .services()
            .first()
            .cloned()
            .unwrap_or_else(|| panic!("no ECS service {name}"))
    }

    async fn task(&self, arn: &str) -> aws_sdk_ecs::types::TaskDefinition {
        self.ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .unwrap()
            .task_definition
            .unwrap()
    }

    async fn revisions(&self, family: &str) -> Vec<String> {
        self.ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(TaskDefinitionStatus::Active)
            .send()
            .await
            .unwrap()
            .task_definition_arns()
            .to_vec()
    }
}

fn tagged(tags: impl IntoIterator<Item = (String, String)>, id: &str) -> bool {
    let tags: Vec<(String, String)> = tags.into_iter().collect();
    let has = |k: &str, v: &str| tags.iter().any(|(a, b)| a == k && b == v);
    has("foundry:stack", "shop") && has("foundry:env", "dev") && has("foundry:id", id)
}

fn ecs_tags(tags: &[aws_sdk_ecs::types::Tag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn elb_tags(clients: &Clients, arn: &str) -> Vec<(String, String)> {
    clients
        .elb
        .describe_tags()
        .resource_arns(arn)
        .send()
        .await
        .unwrap()
        .tag_descriptions()
        .first()
        .map(|d| {
            d.tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_owned(),
                        t.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Ingress rules of the security group tagged `id`: (port, source), the
/// source a group's `foundry:id` or a prefix list id.
async fn rules(app: &ComputeEnv, id: &str) -> Vec<(i32, String)> {
    let groups = app
        .env
        .ec2
        .describe_security_groups()
        .send()
        .await
        .unwrap()
        .security_groups()
        .to_vec();
    let id_of = |group_id: &str| {
        groups
            .iter()
            .find(|g| g.group_id() == Some(group_id))
            .and_then(|g| g.tags().iter().find(|t| t.key() == Some("foundry:id")))
            .and_then(|t| t.value())
            .unwrap_or(group_id)
            .to_owned()
    };
    let group = groups
        .iter()
        .find(|g| {
            g.tags()
                .iter()
                .any(|t| t.key() == Some("foundry:id") && t.value() == Some(id))
        })
        .unwrap_or_else(|| panic!("no security group {id}"));
    let mut out = Vec::new();
    for p in group.ip_permissions() {
        let port = p.from_port().unwrap_or(-1);
        assert_eq!(p.to_port(), Some(port), "one port per rule");
        for pair in p.user_id_group_pairs() {
            out.push((port, id_of(pair.group_id().unwrap())));
        }
        for list in p.prefix_list_ids() {
            out.push((port, list.prefix_list_id().unwrap().to_owned()));
        }
        for range in p.ip_ranges() {
            out.push((port, range.cidr_ip().unwrap().to_owned()));
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn up_on_ecs_then_deploy_rollback_a_failed_rollout_and_destroy() {
    let app = ComputeEnv::start_with(Duration::from_millis(10), &ecs_stack()).await;
    let lbs = LoadBalancers::start();
    let clients = Clients::new(&app).await;

    let up = foundry(
        &app,
        &lbs,
        &["up", "--env", "dev", "--yes", "--profile", "dev"],
    )
    .success();
    assert!(
        up.stdout().contains("build and push the first image"),
        "{}",
        up.stdout()
    );

    // The cluster, with Container Insights.
    let clusters = clients
        .ecs
        .describe_clusters()
        .clusters("shop-dev-cluster")
        .include(aws_sdk_ecs::types::ClusterField::Tags)
        .include(aws_sdk_ecs::types::ClusterField::Settings)
        .send()
        .await
        .unwrap();
    let cluster = clusters.clusters().first().expect("the cluster").clone();
    assert!(tagged(ecs_tags(cluster.tags()), "cluster"));
    assert!(
        cluster
            .settings()
            .iter()
            .any(|s| s.value() == Some("enabled")),
        "Container Insights on: {:?}",
        cluster.settings()
    );

    // Services: Fargate in the app subnets, their own group, no public IP,
    // the circuit breaker, the percentages, their target group.
    let app_subnets = subnet_ids_named(&app.env, "subnet-app").await;
    let secrets = aws_sdk_secretsmanager::Client::new(&app.env.sdk_config().await);
    let secret_arn = secrets
        .describe_secret()
        .secret_id("shop/dev/internal_api_key")
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let mut first_revision = std::collections::BTreeMap::new();
    for (name, port) in [("api", 8080), ("ai", 8081)] {
        let service = clients.service(name).await;
        assert!(tagged(ecs_tags(service.tags()), &format!("ecs-{name}")));
        assert_eq!(service.launch_type().unwrap().as_str(), "FARGATE");
        let vpc = service
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .unwrap();
        let mut subnets = vpc.subnets().to_vec();
        subnets.sort();
        assert_eq!(subnets, app_subnets, "{name} runs in the app subnets");
        assert_eq!(vpc.assign_public_ip().unwrap().as_str(), "DISABLED");
        let deployment = service.deployment_configuration().unwrap();
        let breaker = deployment.deployment_circuit_breaker().unwrap();
        assert!(breaker.enable() && breaker.rollback());
        assert_eq!(deployment.minimum_healthy_percent(), Some(100));
        assert_eq!(deployment.maximum_percent(), Some(200));
        let lb = service.load_balancers().first().unwrap();
        assert_eq!(lb.container_port(), Some(port));

        // Its task definition: Fargate, awsvpc, the image by digest, the
        // secret by ARN, logs into its group.
        let revision = service.task_definition().unwrap().to_owned();
        let task = clients.task(&revision).await;
        assert_eq!(task.network_mode().unwrap().as_str(), "awsvpc");
        assert_eq!(task.cpu(), Some("1024"));
        assert_eq!(task.memory(), Some("2048"));
        let container = task.container_definitions().first().unwrap();
        assert!(
            container.image().unwrap().contains("@sha256:"),
            "by digest: {:?}",
            container.image()
        );
        let log = container.log_configuration().unwrap();
        assert_eq!(
            log.options().unwrap()["awslogs-group"],
            format!("/foundry/shop/dev/{name}")
        );
        if name == "api" {
            assert_eq!(container.secrets().len(), 1);
            assert_eq!(container.secrets()[0].value_from(), secret_arn);
            let env = container.environment();
            let ai_url = env
                .iter()
                .find(|kv| kv.name() == Some("AI_SERVICE_URL"))
                .and_then(|kv| kv.value())
                .unwrap();
            assert!(
                ai_url.starts_with("http://internal-") || ai_url.contains("lb-ai"),
                "the api reaches ai through its internal load balancer: {ai_url}"
            );
        }
        first_revision.insert(name, revision);

        // Scaling between the file's min and max.
        let targets = clients
            .scaling
            .describe_scalable_targets()
            .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
            .resource_ids(format!("service/shop-dev-cluster/shop-dev-ecs-{name}"))
            .send()
            .await
            .unwrap();
        assert_eq!(targets.scalable_targets().len(), 1, "{name}'s scaling");
        let policies = clients
            .scaling
            .describe_scaling_policies()
            .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
            .resource_id(format!("service/shop-dev-cluster/shop-dev-ecs-{name}"))
            .send()
            .await
            .unwrap();
        assert_eq!(policies.scaling_policies().len(), 1, "{name}'s policy");

        // Its log group, tagged.
        let groups = clients
            .logs
            .describe_log_groups()
            .log_group_name_prefix(format!("/foundry/shop/dev/{name}"))
            .send()
            .await
            .unwrap();
        assert_eq!(groups.log_groups().len(), 1);
        assert_eq!(groups.log_groups()[0].retention_in_days(), Some(30));
    }

    // Load balancers: the api's internet-facing, ai's internal; target
    // groups of IP targets on the health path; HTTP listeners (no
    // certificate given); all tagged.
    let lbs_seen = clients.elb.describe_load_balancers().send().await.unwrap();
    for (name, scheme) in [("api", "internet-facing"), ("ai", "internal")] {
        let lb = lbs_seen
            .load_balancers()
            .iter()
            .find(|l| l.load_balancer_name() == Some(&format!("shop-dev-lb-{name}")))
            .unwrap_or_else(|| panic!("no load balancer for {name}"));
        assert_eq!(lb.scheme().unwrap().as_str(), scheme);
        let arn = lb.load_balancer_arn().unwrap();
        assert!(tagged(elb_tags(&clients, arn).await, &format!("lb-{name}")));
        let listeners = clients
            .elb
            .describe_listeners()
            .load_balancer_arn(arn)
            .send()
            .await
            .unwrap();
        assert_eq!(listeners.listeners().len(), 1);
        let listener = &listeners.listeners()[0];
        assert_eq!(listener.port(), Some(80));
        assert_eq!(listener.protocol().unwrap().as_str(), "HTTP");
        assert!(tagged(
            elb_tags(&clients, listener.listener_arn().unwrap()).await,
            &format!("listener-{name}")
        ));
        let groups = clients
            .elb
            .describe_target_groups()
            .names(format!("shop-dev-tg-{name}"))
            .send()
            .await
            .unwrap();
        let group = &groups.target_groups()[0];
        assert_eq!(group.target_type().unwrap().as_str(), "ip");
        assert_eq!(group.health_check_path(), Some("/healthz"));
        assert!(tagged(
            elb_tags(&clients, group.target_group_arn().unwrap()).await,
            &format!("tg-{name}")
        ));
    }

    // Security groups admit exactly the derived paths: CloudFront → api's
    // load balancer → api; api → ai's load balancer → ai.
    let cloudfront = app
        .env
        .ec2
        .describe_managed_prefix_lists()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("prefix-list-name")
                .values("com.amazonaws.global.cloudfront.origin-facing")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .prefix_lists()[0]
        .prefix_list_id()
        .unwrap()
        .to_owned();
    assert_eq!(rules(&app, "sg-lb-api").await, vec![(80, cloudfront)]);
    assert_eq!(
        rules(&app, "sg-api").await,
        vec![(8080, "sg-lb-api".into())]
    );
    assert_eq!(rules(&app, "sg-lb-ai").await, vec![(80, "sg-api".into())]);
    assert_eq!(rules(&app, "sg-ai").await, vec![(8081, "sg-lb-ai".into())]);
    assert_eq!(
        rules(&app, "sg-database").await,
        vec![(5432, "sg-api".into())]
    );

    // status reads ECS: each service ACTIVE and settled, its scaling, the
    // api's health through its load balancer.
    let run = foundry(&app, &lbs, &["status", "--env", "dev", "--json"]);
    assert_eq!(run.code(), Some(0), "{}\n{}", run.stdout(), run.stderr());
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(report["target"], "ECS", "{report:#}");
    for service in report["services"].as_array().unwrap() {
        let name = service["name"].as_str().unwrap();
        assert_eq!(service["platform"]["status"], "ACTIVE", "{name}");
        assert_eq!(service["platform"]["settled"], true, "{name}");
        assert_eq!(service["scaling"]["min"], 1, "{name}: {service}");
        assert_eq!(service["healthy"], true, "{name}: {service}");
    }

    // A second plan has nothing to do.
    let again = foundry(&app, &lbs, &["plan", "--env", "dev"]).success();
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());

    // deploy: a new revision with the new digest, the service on it, the
    // health path asked through the load balancer.
    let probes_before = lbs.probes.load(Ordering::SeqCst);
    app.edit("api", "\"api-v1\"", "\"api-v2\"");
    crate::support::git(app.env.path(), &["commit", "--quiet", "-am", "v2"]);
    foundry(
        &app,
        &lbs,
        &["deploy", "api", "--env", "dev", "--profile", "dev"],
    )
    .success();
    let api = clients.service("api").await;
    let second = api.task_definition().unwrap().to_owned();
    assert_ne!(second, first_revision["api"], "a new revision");
    let old_image = clients
        .task(&first_revision["api"])
        .await
        .container_definitions()[0]
        .image()
        .unwrap()
        .to_owned();
    let new_image = clients.task(&second).await.container_definitions()[0]
        .image()
        .unwrap()
        .to_owned();
    assert_ne!(old_image, new_image, "the new digest");
    assert!(new_image.contains("@sha256:"));
    assert!(
        lbs.probes.load(Ordering::SeqCst) > probes_before,
        "the health path was asked through the load balancer"
    );
    let releases = app.releases();
    assert_eq!(
        releases[0]["services"]["api"]["handle"],
        serde_json::Value::String(second.clone()),
        "the release records the revision: {releases:?}"
    );

    // rollback: the previous revision again, none registered, no build.
    let revisions_before = clients.revisions("shop-dev-task-api").await;
    let rollback = foundry(&app, &lbs, &["rollback", "api", "--env", "dev"]).success();
    assert!(
        !rollback.stderr().contains("Compiling"),
        "no build: {}",
        rollback.stderr()
    );
    assert_eq!(
        clients.service("api").await.task_definition(),
        Some(first_revision["api"].as_str())
    );
    assert_eq!(
        clients.revisions("shop-dev-task-api").await,
        revisions_before,
        "no revision registered"
    );

    // A rollout the circuit breaker fails: non-zero exit, the release
    // recorded as failed, the service on the revision it ran before.
    app.edit_stack(
        "GREETING = \"hello\"",
        "GREETING = \"hello\", MOTO_ECS_FAIL_DEPLOYMENT = \"true\"",
    );
    let failed = foundry(
        &app,
        &lbs,
        &["deploy", "api", "--env", "dev", "--profile", "dev"],
    );
    assert_ne!(failed.code(), Some(0), "{}", failed.stderr());
    assert!(
        failed.stderr().contains("circuit breaker"),
        "{}",
        failed.stderr()
    );
    assert_eq!(
        clients.service("api").await.task_definition(),
        Some(first_revision["api"].as_str())
    );
    let releases = app.releases();
    assert_eq!(
        releases[0]["outcome"]["status"], "failed",
        "{}",
        releases[0]
    );

    // destroy: nothing of the stack is left.
    app.edit_stack(
        "GREETING = \"hello\", MOTO_ECS_FAIL_DEPLOYMENT = \"true\"",
        "GREETING = \"hello\"",
    );
    foundry(&app, &lbs, &["destroy", "--env", "dev", "--yes"]).success();
    // moto lists deleted services (INACTIVE, as ECS shows them for a while).
    for name in ["api", "ai"] {
        let left = clients
            .ecs
            .describe_services()
            .cluster("shop-dev-cluster")
            .services(format!("shop-dev-ecs-{name}"))
            .send()
            .await
            .unwrap();
        assert!(
            left.services()
                .iter()
                .all(|s| s.status() == Some("INACTIVE")),
            "{name} is gone: {left:?}"
        );
    }
    let clusters = clients
        .ecs
        .describe_clusters()
        .clusters("shop-dev-cluster")
        .send()
        .await
        .unwrap();
    assert!(
        clusters
            .clusters()
            .iter()
            .all(|c| c.status() != Some("ACTIVE")),
        "no active cluster"
    );
    for family in ["shop-dev-task-api", "shop-dev-task-ai"] {
        assert!(clients.revisions(family).await.is_empty(), "{family}");
    }
    let left = clients.elb.describe_load_balancers().send().await.unwrap();
    assert!(left.load_balancers().is_empty(), "{left:?}");
    let left = clients.elb.describe_target_groups().send().await.unwrap();
    assert!(left.target_groups().is_empty(), "{left:?}");
    let left = clients
        .scaling
        .describe_scalable_targets()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .send()
        .await
        .unwrap();
    assert!(left.scalable_targets().is_empty(), "{left:?}");
    let left = clients
        .logs
        .describe_log_groups()
        .log_group_name_prefix("/foundry/shop/dev/")
        .send()
        .await
        .unwrap();
    assert!(left.log_groups().is_empty(), "{left:?}");
    let rds = aws_sdk_rds::Client::new(&app.env.sdk_config().await);
    let left = rds.describe_db_instances().send().await.unwrap();
    assert!(left.db_instances().is_empty(), "{left:?}");
    let census = app.env.census("shop", "dev").await;
    assert_eq!(census.vpcs, 0, "{census:?}");
    assert_eq!(census.security_groups, 0, "{census:?}");
}

/// App Runner services of the stack that are not deleted.
async fn app_runner_services(app: &ComputeEnv) -> usize {
    let listed = app.apprunner.list_services().send().await.unwrap();
    listed
        .service_summary_list()
        .iter()
        .filter(|s| s.status().is_some_and(|st| st.as_str() != "DELETED"))
        .count()
}

async fn active_ecs_services(clients: &Clients) -> usize {
    let mut active = 0;
    for name in ["api", "ai"] {
        let described = clients
            .ecs
            .describe_services()
            .cluster("shop-dev-cluster")
            .services(format!("shop-dev-ecs-{name}"))
            .send()
            .await;
        if let Ok(described) = described {
            active += described
                .services()
                .iter()
                .filter(|s| s.status() == Some("ACTIVE"))
                .count();
        }
    }
    active
}

/// The CDN's api origin domain.
async fn api_origin(app: &ComputeEnv) -> String {
    let cloudfront = aws_sdk_cloudfront::Client::new(&app.env.sdk_config().await);
    let listed = cloudfront.list_distributions().send().await.unwrap();
    let id = listed
        .distribution_list()
        .and_then(|l| l.items().first())
        .map(|d| d.id().to_owned())
        .expect("a distribution");
    let config = cloudfront
        .get_distribution_config()
        .id(id)
        .send()
        .await
        .unwrap()
        .distribution_config
        .unwrap();
    config
        .origins()
        .unwrap()
        .items()
        .iter()
        .find(|o| o.id() == "api")
        .map(|o| o.domain_name().to_owned())
        .expect("the api origin")
}

#[tokio::test(flavor = "multi_thread")]
async fn switching_dev_between_app_runner_and_ecs_converges_both_ways() {
    let app = ComputeEnv::start(Duration::from_millis(10)).await;
    let lbs = LoadBalancers::start();
    let clients = Clients::new(&app).await;
    foundry(
        &app,
        &lbs,
        &["up", "--env", "dev", "--yes", "--profile", "dev"],
    )
    .success();
    assert_eq!(app_runner_services(&app).await, 2);
    let on_app_runner = api_origin(&app).await;

    // To ECS: the plan says traffic moves; afterwards only ECS runs them,
    // the CDN's api origin is the api's load balancer, and nothing is left
    // to do.
    app.edit_stack(ENV_DEV, "[env.dev]\ncompute.target = \"ecs\"\n");
    let plan = foundry(&app, &lbs, &["plan", "--env", "dev"]).success();
    assert!(
        plan.stdout()
            .contains("Traffic moves from App Runner to ECS"),
        "{}",
        plan.stdout()
    );
    foundry(&app, &lbs, &["up", "--env", "dev", "--yes"]).success();
    assert_eq!(active_ecs_services(&clients).await, 2);
    assert_eq!(app_runner_services(&app).await, 0, "App Runner left behind");
    let on_ecs = api_origin(&app).await;
    assert!(on_ecs.starts_with("shop-dev-lb-api"), "{on_ecs}");
    let again = foundry(&app, &lbs, &["plan", "--env", "dev"]).success();
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());

    // And back: App Runner runs them again, nothing of ECS is left.
    app.edit_stack("[env.dev]\ncompute.target = \"ecs\"\n", ENV_DEV);
    let plan = foundry(&app, &lbs, &["plan", "--env", "dev"]).success();
    assert!(
        plan.stdout()
            .contains("Traffic moves from ECS to App Runner"),
        "{}",
        plan.stdout()
    );
    foundry(&app, &lbs, &["up", "--env", "dev", "--yes"]).success();
    assert_eq!(app_runner_services(&app).await, 2);
    assert_eq!(active_ecs_services(&clients).await, 0, "ECS left behind");
    assert_ne!(api_origin(&app).await, on_ecs);
    assert_ne!(
        api_origin(&app).await,
        on_app_runner,
        "a new App Runner service"
    );
    let left = clients.elb.describe_load_balancers().send().await.unwrap();
    assert!(left.load_balancers().is_empty(), "{left:?}");
    let left = clients.elb.describe_target_groups().send().await.unwrap();
    assert!(left.target_groups().is_empty(), "{left:?}");
    for family in ["shop-dev-task-api", "shop-dev-task-ai"] {
        assert!(clients.revisions(family).await.is_empty(), "{family}");
    }
    let left = clients
        .logs
        .describe_log_groups()
        .log_group_name_prefix("/foundry/shop/dev/")
        .send()
        .await
        .unwrap();
    assert!(left.log_groups().is_empty(), "{left:?}");
    let again = foundry(&app, &lbs, &["plan", "--env", "dev"]).success();
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());
}
