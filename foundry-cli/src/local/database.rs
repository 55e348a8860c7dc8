//! `--local`'s databases: a real PostgreSQL behind each RDS instance moto
//! knows. App Runner instances get the environment they would get on AWS;
//! just before one starts, [`map_endpoints`] finds the RDS endpoints in it,
//! makes sure a local cluster answers for each (created on first use with
//! RDS's master user, the password from its RDS-managed secret in moto, and
//! the database RDS would have created), and rewrites the endpoint's host
//! to the loopback address that cluster listens on, at RDS's port. Nothing
//! outside `--local` ever sees the mapping.
//!
//! Each cluster keeps its data across `foundry local stop` (it is stopped,
//! not deleted) until `foundry local stop --purge`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::PathBuf;

use localenv::postgres::{DurableCluster, DurableSettings};
use serde::{Deserialize, Serialize};

/// RDS endpoints end so; nothing else in an environment does.
const RDS_DOMAIN: &str = ".rds.amazonaws.com";

/// One local database: which RDS instance, and where it really listens.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LocalDatabase {
    pub identifier: String,
    pub endpoint: String,
    pub listen: IpAddr,
    pub port: u16,
    pub root: PathBuf,
}

fn records_dir() -> PathBuf {
    super::dir().join("databases")
}

fn record_path(identifier: &str) -> PathBuf {
    records_dir().join(format!("{identifier}.json"))
}

/// Every local database foundry has created, running or not.
pub fn all() -> Vec<LocalDatabase> {
    let Ok(entries) = std::fs::read_dir(records_dir()) else {
        return Vec::new();
    };
    let mut all: Vec<LocalDatabase> = entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|text| serde_json::from_str(&text).ok())
        .collect();
    all.sort_by(|a, b| a.identifier.cmp(&b.identifier));
    all
}

impl LocalDatabase {
    pub fn cluster(&self) -> DurableCluster {
        DurableCluster::at(&self.root)
    }

    pub fn is_running(&self) -> bool {
        self.cluster().is_running()
    }
}

/// Where a database's files go. `initdb` and `postgres` run as the
/// `postgres` user when foundry runs as root, and root's home is closed to
/// it: then the files live under /var/tmp (which outlives reboots), in a
/// directory named after the foundry home so two homes never share one.
fn cluster_root(identifier: &str) -> PathBuf {
    let home = localenv::foundry_home();
    let is_root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    if is_root {
        let digest =
            ring::digest::digest(&ring::digest::SHA256, home.as_os_str().as_encoded_bytes());
        let tag: String = digest.as_ref()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        PathBuf::from(format!("/var/tmp/foundry-local-{tag}")).join(identifier)
    } else {
        super::dir().join("postgres").join(identifier)
    }
}

/// A loopback address where `port` is free, chosen once per database: the
/// service keeps RDS's port, so only the host changes. Linux answers on all
/// of 127.0.0.0/8; 127.77.x.y keeps clear of the usual 127.0.0.1 and
/// 127.0.0.53.
fn free_loopback(identifier: &str, port: u16) -> Result<IpAddr, String> {
    let digest = ring::digest::digest(&ring::digest::SHA256, identifier.as_bytes());
    let start = u16::from_be_bytes([digest.as_ref()[0], digest.as_ref()[1]]);
    for i in 0..512u16 {
        let n = start.wrapping_add(i);
        let (x, y) = ((n >> 8) as u8, (n as u8).max(1));
        let ip = IpAddr::V4(Ipv4Addr::new(127, 77, x, y));
        if all().iter().any(|d| d.listen == ip && d.port == port) {
            continue;
        }
        if TcpListener::bind((ip, port)).is_ok() {
            return Ok(ip);
        }
    }
    Err(format!(
        "no loopback address has port {port} free for the local database `{identifier}` (is another PostgreSQL listening on every address? stop it, or give the database another port in the stack file)"
    ))
}

/// The environment with every RDS endpoint in it led to a local cluster,
/// each started (and created, the first time) as needed.
pub async fn map_endpoints(
    mut env: BTreeMap<String, String>,
    moto: String,
) -> Result<BTreeMap<String, String>, String> {
    if !env.values().any(|v| v.contains(RDS_DOMAIN)) {
        return Ok(env);
    }
    let region = env
        .get("AWS_REGION")
        .cloned()
        .unwrap_or_else(|| "us-east-1".into());
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .endpoint_url(moto)
        .credentials_provider(aws_credential_types::Credentials::new(
            "foundry-local",
            "foundry-local",
            None,
            None,
            "foundry-local",
        ))
        .load()
        .await;
    let rds = aws_sdk_rds::Client::new(&config);
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let instances = rds.describe_db_instances().send().await.map_err(|e| {
        format!(
            "cannot list the local RDS instances: {}",
            aws_sdk_rds::error::DisplayErrorContext(e)
        )
    })?;
    for instance in instances.db_instances() {
        let Some(endpoint) = instance.endpoint().and_then(|e| e.address()) else {
            continue;
        };
        if !env.values().any(|v| v.contains(endpoint)) {
            continue;
        }
        let identifier = instance
            .db_instance_identifier()
            .unwrap_or_default()
            .to_owned();
        let port = instance
            .endpoint()
            .and_then(|e| e.port())
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(5432);
        let database = match std::fs::read_to_string(record_path(&identifier))
            .ok()
            .and_then(|t| serde_json::from_str::<LocalDatabase>(&t).ok())
        {
            Some(known) if known.endpoint == endpoint && known.port == port => known,
            _ => {
                let secret_arn = instance
                    .master_user_secret()
                    .and_then(|s| s.secret_arn())
                    .ok_or_else(|| {
                        format!("RDS instance `{identifier}` keeps no master password in Secrets Manager (ManageMasterUserPassword), so the local database cannot be given one")
                    })?;
                let value = secrets
                    .get_secret_value()
                    .secret_id(secret_arn)
                    .send()
                    .await
                    .map_err(|e| {
                        format!(
                            "cannot read the master password of `{identifier}`: {}",
                            aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                        )
                    })?;
                let credentials: serde_json::Value =
                    serde_json::from_str(value.secret_string().unwrap_or("{}"))
                        .map_err(|_| format!("the master secret of `{identifier}` is not JSON"))?;
                // The services sign in as the secret says (moto's RDS writes
                // `admin` there whatever the master user is).
                let user = credentials["username"]
                    .as_str()
                    .or(instance.master_username())
                    .unwrap_or("postgres")
                    .to_owned();
                let password = credentials["password"]
                    .as_str()
                    .ok_or_else(|| {
                        format!("the master secret of `{identifier}` holds no password")
                    })?
                    .to_owned();
                let name = instance.db_name().unwrap_or("postgres").to_owned();
                let record = LocalDatabase {
                    listen: free_loopback(&identifier, port)?,
                    identifier: identifier.clone(),
                    endpoint: endpoint.to_owned(),
                    port,
                    root: cluster_root(&identifier),
                };
                let created = record.clone();
                tokio::task::spawn_blocking(move || {
                    let cluster = created.cluster();
                    if cluster.exists() {
                        return Ok(());
                    }
                    cluster.create(&DurableSettings {
                        superuser: &user,
                        password: &password,
                        database: &name,
                        listen: created.listen,
                        port: created.port,
                    })
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("cannot create the local database `{identifier}`: {e}"))?;
                let path = record_path(&identifier);
                std::fs::create_dir_all(records_dir()).map_err(|e| e.to_string())?;
                std::fs::write(
                    &path,
                    serde_json::to_string_pretty(&record).expect("serialises"),
                )
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                record
            }
        };
        let started = database.clone();
        tokio::task::spawn_blocking(move || {
            let cluster = started.cluster();
            if cluster.is_running() {
                Ok(())
            } else {
                cluster.start(started.listen, started.port)
            }
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot start the local database `{identifier}`: {e}"))?;
        let local = database.listen.to_string();
        for value in env.values_mut() {
            if value.contains(endpoint) {
                *value = value.replace(endpoint, &local);
            }
        }
    }
    Ok(env)
}

/// Stops every local database; their data stays.
pub fn stop_all() -> Vec<LocalDatabase> {
    all()
        .into_iter()
        .filter(|d| d.is_running() && d.cluster().stop().is_ok())
        .collect()
}

/// Stops and deletes every local database.
pub fn purge_all() {
    for database in all() {
        let _ = database.cluster().stop();
        let _ = std::fs::remove_dir_all(&database.root);
        let _ = std::fs::remove_file(record_path(&database.identifier));
    }
}
