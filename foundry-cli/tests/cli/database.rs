//! The database tier (seed 002 §4, §15) against moto's RDS, checked with
//! independent SDK calls: private, encrypted, Multi-AZ where the overlay says
//! so, in the data subnets, reachable only from the services that connect to
//! it; in-place changes, replacements that need consent, protected destroys.

use aws_sdk_ec2::types::Filter;
use aws_sdk_rds::types::DbInstance;

use crate::support::{REFERENCE, TestEnv, state_text};

async fn rds(env: &TestEnv) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(&env.sdk_config().await)
}

async fn instance(rds: &aws_sdk_rds::Client, identifier: &str) -> DbInstance {
    rds.describe_db_instances()
        .db_instance_identifier(identifier)
        .send()
        .await
        .unwrap()
        .db_instances()
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("{identifier} exists"))
}

async fn instance_count(rds: &aws_sdk_rds::Client) -> usize {
    rds.describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
        .len()
}

/// Ids of the subnets tagged with `foundry:id` starting with `prefix`.
async fn subnets(env: &TestEnv, env_name: &str, prefix: &str) -> Vec<String> {
    let out = env
        .ec2
        .describe_subnets()
        .set_filters(Some(crate::support::tag_filters("acme", env_name)))
        .send()
        .await
        .unwrap();
    let mut ids: Vec<String> = out
        .subnets()
        .iter()
        .filter(|s| {
            s.tags().iter().any(|t| {
                t.key() == Some("foundry:id") && t.value().is_some_and(|v| v.starts_with(prefix))
            })
        })
        .filter_map(|s| s.subnet_id().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

async fn group_id(env: &TestEnv, name: &str) -> String {
    env.ec2
        .describe_security_groups()
        .filters(Filter::builder().name("group-name").values(name).build())
        .send()
        .await
        .unwrap()
        .security_groups()
        .first()
        .and_then(|g| g.group_id())
        .unwrap_or_else(|| panic!("security group {name} exists"))
        .to_string()
}

#[tokio::test]
async fn prod_database_is_private_encrypted_multi_az_backed_up_and_reachable_only_from_the_services_that_connect()
 {
    let env = TestEnv::start().await;
    let rds = rds(&env).await;
    let up = env.foundry(&["up", "--env", "prod", "--yes"]).success();

    let db = instance(&rds, "acme-prod-db").await;
    assert_eq!(db.engine(), Some("postgres"));
    assert_eq!(db.publicly_accessible(), Some(false), "private");
    assert_eq!(db.storage_encrypted(), Some(true), "encrypted");
    assert_eq!(db.multi_az(), Some(true), "Multi-AZ in prod");
    assert!(
        db.backup_retention_period().unwrap() >= 7,
        "a week of backups"
    );
    assert_eq!(db.deletion_protection(), Some(true));
    assert_eq!(db.db_instance_class(), Some("db.m6g.large"));
    assert_eq!(db.max_allocated_storage(), Some(100), "storage autoscaling");

    // In the data subnets, and only those.
    let group = db.db_subnet_group().expect("a subnet group");
    let mut placed: Vec<String> = group
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_string))
        .collect();
    placed.sort();
    assert_eq!(placed, subnets(&env, "prod", "subnet-data-").await);
    assert_eq!(placed.len(), 2);

    // Reachable only from the security groups of the services that connect
    // (api and ai: its token caps live there), on 5432.
    let db_groups: Vec<&str> = db
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id())
        .collect();
    let database_sg = group_id(&env, "acme-prod-database").await;
    assert_eq!(db_groups, [database_sg.as_str()]);
    let mut connecting = [
        group_id(&env, "acme-prod-api").await,
        group_id(&env, "acme-prod-ai").await,
    ];
    connecting.sort();
    let sg = env
        .ec2
        .describe_security_groups()
        .group_ids(&database_sg)
        .send()
        .await
        .unwrap();
    let rules = sg.security_groups()[0].ip_permissions();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].from_port(), Some(5432));
    assert_eq!(rules[0].to_port(), Some(5432));
    assert!(rules[0].ip_ranges().is_empty(), "no CIDR sources");
    let mut sources: Vec<String> = rules[0]
        .user_id_group_pairs()
        .iter()
        .filter_map(|p| p.group_id().map(str::to_owned))
        .collect();
    sources.sort();
    assert_eq!(sources, connecting, "exactly the services that connect");

    // Parameters: timeouts, slow statements, TLS only.
    let params_name = db.db_parameter_groups()[0]
        .db_parameter_group_name()
        .unwrap()
        .to_string();
    assert_eq!(params_name, "acme-prod-db-params-postgres16");
    let params = rds
        .describe_db_parameters()
        .db_parameter_group_name(&params_name)
        .send()
        .await
        .unwrap();
    let value = |name: &str| {
        params
            .parameters()
            .iter()
            .find(|p| p.parameter_name() == Some(name))
            .and_then(|p| p.parameter_value())
            .map(str::to_string)
    };
    assert_eq!(value("statement_timeout").as_deref(), Some("30000"));
    assert_eq!(value("log_min_duration_statement").as_deref(), Some("500"));
    assert_eq!(value("rds.force_ssl").as_deref(), Some("1"));

    // The master password lives in a secret RDS manages; foundry outputs its
    // ARN and never the value.
    let secret_arn = db
        .master_user_secret()
        .and_then(|s| s.secret_arn())
        .expect("RDS manages the master password")
        .to_string();
    let sm = aws_sdk_secretsmanager::Client::new(&env.sdk_config().await);
    let password = sm
        .get_secret_value()
        .secret_id(&secret_arn)
        .send()
        .await
        .unwrap()
        .secret_string()
        .unwrap()
        .to_string();
    let outputs = env
        .foundry(&["outputs", "--env", "prod", "--json"])
        .success()
        .stdout();
    let outputs: serde_json::Value = serde_json::from_str(&outputs).unwrap();
    assert_eq!(outputs["database_secret_arn"], secret_arn.as_str());
    assert_eq!(
        outputs["database_endpoint"],
        db.endpoint().unwrap().address().unwrap()
    );
    // The api role's grant (see registry_secrets) names this secret by the tag
    // RDS puts on it.
    let described = sm
        .describe_secret()
        .secret_id(&secret_arn)
        .send()
        .await
        .unwrap();
    assert!(described.name().unwrap().starts_with("rds!db-"));
    let owner = described
        .tags()
        .iter()
        .find(|t| t.key() == Some("aws:rds:primaryDBInstanceArn"))
        .and_then(|t| t.value());
    assert_eq!(owner, db.db_instance_arn());
    let password: serde_json::Value = serde_json::from_str(&password).unwrap();
    let password = password["password"].as_str().unwrap();
    assert!(password.len() >= 8, "RDS generated a password");
    let printed = format!("{}{}{outputs}", up.stdout(), up.stderr());
    assert!(!printed.contains(password), "password printed");
    assert!(!state_text(&env).contains(password), "password stored");

    // The RDS alarms watch this instance.
    let cw = aws_sdk_cloudwatch::Client::new(&env.sdk_config().await);
    let alarms = cw
        .describe_alarms()
        .alarm_name_prefix("acme-prod-alarm-db-")
        .send()
        .await
        .unwrap();
    let mut seen: Vec<(String, String, f64)> = alarms
        .metric_alarms()
        .iter()
        .map(|a| {
            assert_eq!(a.namespace(), Some("AWS/RDS"));
            assert_eq!(a.dimensions()[0].name(), Some("DBInstanceIdentifier"));
            assert_eq!(a.dimensions()[0].value(), Some("acme-prod-db"));
            (
                a.metric_name().unwrap().to_string(),
                a.comparison_operator().unwrap().as_str().to_string(),
                a.threshold().unwrap(),
            )
        })
        .collect();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        [
            ("CPUUtilization".into(), "GreaterThanThreshold".into(), 80.0),
            (
                "DatabaseConnections".into(),
                "GreaterThanThreshold".into(),
                100.0
            ),
            (
                "FreeStorageSpace".into(),
                "LessThanThreshold".into(),
                (20u64 * 1024 * 1024 * 1024 / 10) as f64
            ),
        ]
    );

    let plan = env.foundry(&["plan", "--env", "prod", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(0), "no-op: {}", plan.stdout());

    // Deletion protection blocks destroy, and nothing is deleted.
    let refused = env.foundry(&["destroy", "--env", "prod", "--yes", "--confirm", "acme"]);
    assert_eq!(refused.code(), Some(1), "{}", refused.stdout());
    let err = refused.stderr();
    assert!(
        err.contains("database acme-prod-db has deletion protection on"),
        "{err}"
    );
    assert!(err.contains("deletion_protection = false"), "{err}");
    assert!(err.contains("Nothing was changed"), "{err}");
    let plan = env.foundry(&["plan", "--env", "prod", "--detailed-exitcode"]);
    assert_eq!(
        plan.code(),
        Some(0),
        "nothing was deleted: {}",
        plan.stdout()
    );
}

#[tokio::test]
async fn dev_differs_from_prod_where_the_overlay_says_and_destroy_takes_a_final_snapshot() {
    let env = TestEnv::start().await;
    let rds = rds(&env).await;
    env.foundry(&["up", "--env", "dev", "--yes"]).success();
    env.foundry(&["up", "--env", "prod", "--yes"]).success();
    let dev = instance(&rds, "acme-dev-db").await;
    let prod = instance(&rds, "acme-prod-db").await;
    assert_eq!(dev.multi_az(), Some(false));
    assert_eq!(prod.multi_az(), Some(true));
    assert_eq!(dev.deletion_protection(), Some(false));
    assert_eq!(prod.deletion_protection(), Some(true));
    assert_eq!(dev.db_instance_class(), Some("db.t4g.micro"));
    assert_eq!(prod.db_instance_class(), Some("db.m6g.large"));
    assert_eq!(dev.backup_retention_period(), Some(1));
    assert_eq!(prod.backup_retention_period(), Some(7));
    for db in [&dev, &prod] {
        assert_eq!(db.storage_encrypted(), Some(true));
        assert_eq!(db.publicly_accessible(), Some(false));
    }

    // dev has no protection: destroy goes ahead, with a final snapshot, and
    // leaves prod alone.
    env.foundry(&["destroy", "--env", "dev", "--yes"]).success();
    let left: Vec<String> = rds
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
        .iter()
        .filter_map(|i| i.db_instance_identifier().map(str::to_string))
        .collect();
    assert_eq!(left, ["acme-prod-db"]);
    let snapshots = rds
        .describe_db_snapshots()
        .db_instance_identifier("acme-dev-db")
        .snapshot_type("manual")
        .send()
        .await
        .unwrap();
    assert_eq!(snapshots.db_snapshots().len(), 1, "one final snapshot");
    assert!(
        snapshots.db_snapshots()[0]
            .db_snapshot_identifier()
            .unwrap()
            .starts_with("acme-dev-db-final-")
    );
}

#[tokio::test]
async fn instance_class_changes_in_place_and_an_engine_change_needs_consent_to_replace() {
    let env = TestEnv::start().await;
    let rds = rds(&env).await;
    env.foundry(&["up", "--env", "dev", "--yes"]).success();
    let before = instance(&rds, "acme-dev-db").await;

    // A new class is an in-place update of the instance alone.
    env.write(
        "foundry.toml",
        &REFERENCE.replace(
            "instance_class = \"db.t4g.micro\"",
            "instance_class = \"db.t4g.small\"",
        ),
    );
    let plan = env.foundry(&["plan", "--env", "dev"]).success().stdout();
    assert!(
        plan.contains("Plan: 0 to create, 1 to update, 0 to replace, 0 to delete."),
        "{plan}"
    );
    assert!(
        plan.contains("~ db (db_instance) acme-dev-db will be updated in place"),
        "{plan}"
    );
    assert!(
        plan.contains("\"db.t4g.micro\" -> \"db.t4g.small\""),
        "{plan}"
    );
    env.foundry(&["up", "--env", "dev", "--yes"]).success();
    let after = instance(&rds, "acme-dev-db").await;
    assert_eq!(after.db_instance_class(), Some("db.t4g.small"));
    assert_eq!(
        after.instance_create_time(),
        before.instance_create_time(),
        "the same instance"
    );

    // Another engine replaces the database: the plan says the data is lost,
    // and `up --yes` refuses without --allow-data-loss.
    let mysql = REFERENCE
        .replace(
            "instance_class = \"db.t4g.micro\"",
            "instance_class = \"db.t4g.small\"",
        )
        .replace(
            "engine = \"postgres\"\nversion = \"16\"",
            "engine = \"mysql\"\nversion = \"8.0\"",
        );
    env.write("foundry.toml", &mysql);
    let plan = env.foundry(&["plan", "--env", "dev"]).success().stdout();
    assert!(
        plan.contains("-/+ db (db_instance) acme-dev-db must be replaced"),
        "{plan}"
    );
    assert!(
        plan.contains("\"postgres\" -> \"mysql\"  # forces replacement"),
        "{plan}"
    );
    assert!(plan.contains("the data in acme-dev-db is lost"), "{plan}");
    let refused = env.foundry(&["up", "--env", "dev", "--yes"]);
    assert_eq!(refused.code(), Some(1), "{}", refused.stdout());
    let err = refused.stderr();
    assert!(
        err.contains("refusing to lose data: acme-dev-db would be replaced (because of engine)"),
        "{err}"
    );
    assert!(err.contains("--allow-data-loss"), "{err}");
    let unchanged = instance(&rds, "acme-dev-db").await;
    assert_eq!(unchanged.engine(), Some("postgres"), "nothing changed");
    assert_eq!(instance_count(&rds).await, 1);

    // With consent: a final snapshot of the old one, then the new engine.
    env.foundry(&["up", "--env", "dev", "--yes", "--allow-data-loss"])
        .success();
    let replaced = instance(&rds, "acme-dev-db").await;
    assert_eq!(replaced.engine(), Some("mysql"));
    assert_eq!(
        replaced.db_parameter_groups()[0].db_parameter_group_name(),
        Some("acme-dev-db-params-mysql8-0")
    );
    assert_eq!(instance_count(&rds).await, 1);
    let snapshots = rds
        .describe_db_snapshots()
        .db_instance_identifier("acme-dev-db")
        .snapshot_type("manual")
        .send()
        .await
        .unwrap();
    assert_eq!(
        snapshots.db_snapshots().len(),
        1,
        "the postgres data is kept in a snapshot"
    );
    let groups = rds.describe_db_parameter_groups().send().await.unwrap();
    let names: Vec<&str> = groups
        .db_parameter_groups()
        .iter()
        .filter_map(|g| g.db_parameter_group_name())
        .filter(|n| n.starts_with("acme-dev-"))
        .collect();
    assert_eq!(
        names,
        ["acme-dev-db-params-mysql8-0"],
        "the old group is gone"
    );
    let plan = env.foundry(&["plan", "--env", "dev", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(0), "{}", plan.stdout());
}

/// A database made public or stripped of backups outside foundry shows as
/// drift, and the next `up` makes it private again.
#[tokio::test]
async fn a_database_opened_up_outside_foundry_is_drift_and_up_closes_it() {
    let env = TestEnv::start().await;
    let rds = rds(&env).await;
    env.foundry(&["up", "--env", "dev", "--yes"]).success();
    rds.modify_db_instance()
        .db_instance_identifier("acme-dev-db")
        .publicly_accessible(true)
        .backup_retention_period(0)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        instance(&rds, "acme-dev-db").await.publicly_accessible(),
        Some(true)
    );
    let plan = env.foundry(&["plan", "--env", "dev"]).success().stdout();
    assert!(
        plan.contains(
            "! db (db_instance) changed outside foundry: backup_retention_days, publicly_accessible"
        ),
        "{plan}"
    );
    assert!(
        plan.contains("true -> false  # changed outside foundry"),
        "{plan}"
    );
    env.foundry(&["up", "--env", "dev", "--yes"]).success();
    let db = instance(&rds, "acme-dev-db").await;
    assert_eq!(db.publicly_accessible(), Some(false));
    assert_eq!(db.backup_retention_period(), Some(1));
    let plan = env.foundry(&["plan", "--env", "dev", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(0), "{}", plan.stdout());
}
