//! `[database]` resolution: defaults per engine, ranges, names RDS accepts.

use super::file::{DatabaseSpec, Engine};
use super::layered::{Layered, span};
use super::{Diagnostic, Locator};

/// The resolved database of one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    pub engine: Engine,
    /// Major version as given, e.g. `16` or `8.0`.
    pub version: String,
    pub instance_class: String,
    pub storage_gb: u32,
    pub max_storage_gb: u32,
    pub multi_az: bool,
    pub backup_retention_days: u32,
    pub deletion_protection: bool,
    pub final_snapshot: bool,
    pub kms_key_id: Option<String>,
    pub db_name: String,
    pub username: String,
    pub statement_timeout_ms: u32,
    pub log_slow_statements_ms: u32,
    pub alarm_connections: u32,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
        }
    }

    pub fn default_version(self) -> &'static str {
        match self {
            Engine::Postgres => "16",
            Engine::Mysql => "8.0",
        }
    }

    pub fn port(self) -> i64 {
        match self {
            Engine::Postgres => 5432,
            Engine::Mysql => 3306,
        }
    }
}

impl Database {
    /// The parameter group family: `postgres16`, `mysql8.0`.
    pub fn family(&self) -> String {
        match self.engine {
            Engine::Postgres => {
                let major = self.version.split('.').next().unwrap_or_default();
                format!("postgres{major}")
            }
            Engine::Mysql => format!("mysql{}", self.version),
        }
    }

    /// The engine's parameters foundry sets: timeouts, slow-query logging
    /// and TLS-only connections.
    pub fn parameters(&self) -> Vec<(&'static str, String)> {
        match self.engine {
            Engine::Postgres => vec![
                ("statement_timeout", self.statement_timeout_ms.to_string()),
                (
                    "log_min_duration_statement",
                    self.log_slow_statements_ms.to_string(),
                ),
                ("rds.force_ssl", "1".to_string()),
            ],
            Engine::Mysql => vec![
                ("max_execution_time", self.statement_timeout_ms.to_string()),
                ("slow_query_log", "1".to_string()),
                (
                    "long_query_time",
                    format!("{}", f64::from(self.log_slow_statements_ms) / 1000.0),
                ),
                ("require_secure_transport", "1".to_string()),
            ],
        }
    }
}

/// Resolves `[database]` for `env`; pushes every problem into `diags`.
pub fn resolve(
    base: &DatabaseSpec,
    over: &DatabaseSpec,
    env: &str,
    locator: &Locator,
    diags: &mut Vec<Diagnostic>,
) -> Database {
    let l = Layered {
        base,
        over,
        env,
        section: "database",
    };
    let mut problem = |path: &[String], message: String, help: &str| {
        diags.push(
            Diagnostic::new(message)
                .at(span(locator, path))
                .help(help.to_string()),
        );
    };
    let (engine, _) = l.value(|d| d.engine.as_ref(), "engine", Engine::Postgres);
    let version = match l.pick(|d| d.version.as_deref(), &["version"]) {
        None => engine.default_version().to_string(),
        Some((v, path)) => {
            let numeric = !v.is_empty()
                && v.split('.')
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
            let parts = v.split('.').count();
            let fits = match engine {
                Engine::Postgres => parts == 1,
                Engine::Mysql => parts == 2,
            };
            if !numeric || !fits {
                let example = engine.default_version();
                problem(
                    &path,
                    format!("`{v}` is not a major {} version", engine.name()),
                    &format!(
                        "write the major version only, e.g. \"{example}\"; RDS applies minor versions itself"
                    ),
                );
            }
            v.to_string()
        }
    };
    let instance_class = match l.pick(|d| d.instance_class.as_deref(), &["instance_class"]) {
        None => "db.t4g.micro".to_string(),
        Some((c, path)) => {
            if !c.starts_with("db.") || c.split('.').count() != 3 {
                problem(
                    &path,
                    format!("`{c}` is not an RDS instance class"),
                    "use a class such as db.t4g.micro or db.m6g.large",
                );
            }
            c.to_string()
        }
    };
    let (storage_gb, storage_path) = l.value(|d| d.storage_gb.as_ref(), "storage_gb", 20);
    if !(20..=65536).contains(&storage_gb) {
        problem(
            &storage_path,
            format!("storage_gb = {storage_gb} is out of range"),
            "RDS for this engine allocates 20 to 65536 GiB",
        );
    }
    let (max_storage_gb, max_path) = l.value(
        |d| d.max_storage_gb.as_ref(),
        "max_storage_gb",
        100.max(storage_gb),
    );
    if max_storage_gb < storage_gb || max_storage_gb > 65536 {
        problem(
            &max_path,
            format!(
                "max_storage_gb = {max_storage_gb} is below storage_gb ({storage_gb}) or above 65536"
            ),
            "set the autoscaling ceiling at or above storage_gb (equal turns autoscaling off)",
        );
    }
    let (multi_az, _) = l.value(|d| d.multi_az.as_ref(), "multi_az", false);
    let (backup_retention_days, backup_path) = l.value(
        |d| d.backup_retention_days.as_ref(),
        "backup_retention_days",
        1,
    );
    if !(1..=35).contains(&backup_retention_days) {
        problem(
            &backup_path,
            format!("backup_retention_days = {backup_retention_days} is out of range"),
            "keep automated backups for 1 to 35 days; foundry does not turn them off",
        );
    }
    let (deletion_protection, _) = l.value(
        |d| d.deletion_protection.as_ref(),
        "deletion_protection",
        false,
    );
    let (final_snapshot, _) = l.value(|d| d.final_snapshot.as_ref(), "final_snapshot", true);
    let kms_key_id = l
        .pick(|d| d.kms_key_id.as_deref(), &["kms_key_id"])
        .map(|(k, _)| k.to_string());
    let mut identifier = |key: &'static str, get: fn(&DatabaseSpec) -> Option<&str>| match l
        .pick(get, &[key])
    {
        None => "app".to_string(),
        Some((name, path)) => {
            let mut chars = name.chars();
            let ok = matches!(chars.next(), Some('a'..='z' | 'A'..='Z'))
                && name.len() <= 63
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok || name.eq_ignore_ascii_case("rdsadmin") {
                problem(
                    &path,
                    format!("`{name}` cannot be a database {key}"),
                    "use letters, digits and `_`, starting with a letter (at most 63); `rdsadmin` is reserved",
                );
            }
            name.to_string()
        }
    };
    let db_name = identifier("db_name", |d| d.db_name.as_deref());
    let username = identifier("username", |d| d.username.as_deref());
    let (statement_timeout_ms, _) = l.value(
        |d| d.statement_timeout_ms.as_ref(),
        "statement_timeout_ms",
        30_000,
    );
    let (log_slow_statements_ms, _) = l.value(
        |d| d.log_slow_statements_ms.as_ref(),
        "log_slow_statements_ms",
        500,
    );
    let (alarm_connections, _) =
        l.value(|d| d.alarm_connections.as_ref(), "alarm_connections", 100);
    Database {
        engine,
        version,
        instance_class,
        storage_gb,
        max_storage_gb,
        multi_az,
        backup_retention_days,
        deletion_protection,
        final_snapshot,
        kms_key_id,
        db_name,
        username,
        statement_timeout_ms,
        log_slow_statements_ms,
        alarm_connections,
    }
}
