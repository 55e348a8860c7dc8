//! `[database]` → security groups (one per service, one for the database that
//! admits the services which `connect` to it), DB subnet group over the data
//! subnets, parameter group, the instance and its alarms.

use crate::engine::graph::Resource;
use crate::resources::{Kind, Scope};
use crate::stack::{ComputeTarget, Stack, Tier};
use crate::vocab::Value;

use super::ids;

pub fn database(stack: &Stack) -> Vec<Resource> {
    let scope = Scope::new(&stack.name, &stack.env);
    // Every service gets the security group its VPC connector will use, so
    // that connections can name it whether or not a database exists.
    let mut out: Vec<Resource> = stack
        .services
        .iter()
        .map(|s| {
            Resource::new(ids::service_sg(&s.name), Kind::SecurityGroup)
                .prop("vpc_id", Value::reference(ids::VPC))
                .prop("group_name", Value::str(scope.name(&s.name)))
                .prop(
                    "description",
                    Value::str(format!(
                        "Service {}: outbound from its VPC connector",
                        s.name
                    )),
                )
                // On ECS the service's tasks take requests from its load
                // balancer; App Runner's connector only sends.
                .prop(
                    "ingress",
                    if stack.compute == ComputeTarget::Ecs {
                        super::ecs::service_ingress(s)
                    } else {
                        Value::set([])
                    },
                )
        })
        .collect();
    let Some(db) = &stack.database else {
        return out;
    };
    let port = db.engine.port();
    let ingress = stack
        .services
        .iter()
        .filter(|s| s.connects_to_database)
        .map(|s| {
            Value::map([
                ("protocol", Value::str("tcp")),
                ("from_port", Value::Int(port)),
                ("to_port", Value::Int(port)),
                ("source_group", Value::reference(ids::service_sg(&s.name))),
            ])
        });
    out.push(
        Resource::new(ids::SG_DATABASE, Kind::SecurityGroup)
            .prop("vpc_id", Value::reference(ids::VPC))
            .prop("group_name", Value::str(scope.name("database")))
            .prop(
                "description",
                Value::str(format!(
                    "Database: port {port} from the services that connect to it"
                )),
            )
            .prop("ingress", Value::set(ingress)),
    );
    let azs = stack.network.azs as usize;
    out.push(
        Resource::new(ids::DB_SUBNETS, Kind::DbSubnetGroup)
            .prop("name", Value::str(scope.name(ids::DB_SUBNETS)))
            .prop(
                "description",
                Value::str(format!(
                    "{}/{}: the private data subnets",
                    stack.name, stack.env
                )),
            )
            .prop(
                "subnet_ids",
                Value::set((0..azs).map(|az| Value::reference(ids::subnet(Tier::Data, az)))),
            ),
    );
    let family = db.family();
    let params_id = ids::db_params(&family);
    out.push(
        Resource::new(&params_id, Kind::DbParameterGroup)
            .prop("name", Value::str(scope.name(&params_id)))
            .prop("family", Value::str(&family))
            .prop(
                "description",
                Value::str(format!("{}/{}: {family}", stack.name, stack.env)),
            )
            .prop(
                "parameters",
                Value::map(db.parameters().into_iter().map(|(k, v)| (k, Value::str(v)))),
            ),
    );
    let mut instance = Resource::new(ids::DB, Kind::DbInstance)
        .prop("identifier", Value::str(scope.name(ids::DB)))
        .prop("engine", Value::str(db.engine.name()))
        .prop("engine_version", Value::str(&db.version))
        .prop("instance_class", Value::str(&db.instance_class))
        .prop("allocated_storage", Value::Int(db.storage_gb.into()))
        .prop(
            "max_allocated_storage",
            Value::Int(db.max_storage_gb.into()),
        )
        .prop("multi_az", Value::Bool(db.multi_az))
        .prop(
            "backup_retention_days",
            Value::Int(db.backup_retention_days.into()),
        )
        .prop("deletion_protection", Value::Bool(db.deletion_protection))
        .prop("final_snapshot", Value::Bool(db.final_snapshot))
        .prop("storage_encrypted", Value::Bool(true))
        .prop("publicly_accessible", Value::Bool(false))
        .prop("manage_master_password", Value::Bool(true))
        .prop("db_name", Value::str(&db.db_name))
        .prop("username", Value::str(&db.username))
        .prop("port", Value::Int(port))
        .prop("subnet_group", Value::reference(ids::DB_SUBNETS))
        .prop("parameter_group", Value::reference(&params_id))
        .prop(
            "security_group_ids",
            Value::set([Value::reference(ids::SG_DATABASE)]),
        );
    if let Some(key) = &db.kms_key_id {
        instance = instance.prop("kms_key_id", Value::str(key));
    }
    out.push(instance);
    out
}

/// Lets a service that connects to the database read the master password's
/// secret. RDS names that secret itself (`rds!db-<uuid>`), so the grant names
/// the instance instead: only a secret whose `aws:rds:primaryDBInstanceArn`
/// tag (set by RDS) is this stack's instance.
pub fn secret_statement(stack: &Stack, account: &str) -> Value {
    let scope = Scope::new(&stack.name, &stack.env);
    let instance_arn = format!(
        "arn:aws:rds:{}:{account}:db:{}",
        stack.region,
        scope.name(ids::DB)
    );
    Value::map([
        ("Sid", Value::str("ReadDatabaseSecret")),
        ("Effect", Value::str("Allow")),
        (
            "Action",
            Value::set([Value::str("secretsmanager:GetSecretValue")]),
        ),
        (
            "Resource",
            Value::set([Value::str(format!(
                "arn:aws:secretsmanager:{}:{account}:secret:rds!db-*",
                stack.region
            ))]),
        ),
        (
            "Condition",
            Value::map([(
                "StringEquals",
                Value::map([(
                    "aws:ResourceTag/aws:rds:primaryDBInstanceArn",
                    Value::str(instance_arn),
                )]),
            )]),
        ),
    ])
}

/// RDS alarms of seed 002 §10: CPU above 80 %, free storage below a tenth of
/// the allocation, connections above the stack's threshold.
pub fn alarms(stack: &Stack, actions: &Value) -> Vec<Resource> {
    let Some(db) = &stack.database else {
        return Vec::new();
    };
    let scope = Scope::new(&stack.name, &stack.env);
    let free_storage_floor = i64::from(db.storage_gb) * 1024 * 1024 * 1024 / 10;
    let specs = [
        (
            "alarm-db-cpu",
            "Database CPU above 80 % for 15 minutes",
            "CPUUtilization",
            "Average",
            3,
            80,
            "GreaterThanThreshold",
        ),
        (
            "alarm-db-storage",
            "Database free storage below 10 % of its allocation",
            "FreeStorageSpace",
            "Minimum",
            1,
            free_storage_floor,
            "LessThanThreshold",
        ),
        (
            "alarm-db-connections",
            "Database connections high",
            "DatabaseConnections",
            "Maximum",
            2,
            i64::from(db.alarm_connections),
            "GreaterThanThreshold",
        ),
    ];
    specs
        .into_iter()
        .map(
            |(id, description, metric, statistic, periods, threshold, comparison)| {
                Resource::new(id, Kind::Alarm)
                    .prop("name", Value::str(scope.name(id)))
                    .prop("description", Value::str(description))
                    .prop("namespace", Value::str("AWS/RDS"))
                    .prop("metric_name", Value::str(metric))
                    .prop(
                        "dimensions",
                        Value::map([("DBInstanceIdentifier", Value::reference(ids::DB))]),
                    )
                    .prop("statistic", Value::str(statistic))
                    .prop("period", Value::Int(300))
                    .prop("evaluation_periods", Value::Int(periods))
                    .prop("threshold", Value::Int(threshold))
                    .prop("comparison", Value::str(comparison))
                    .prop("alarm_actions", actions.clone())
            },
        )
        .collect()
}
