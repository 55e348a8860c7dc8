//! `[services.*]` and `[secrets.*]` resolution: names, connections, every
//! secret a service reads is declared; `runtime` checks how each one runs.

mod runtime;

use super::file::{ComputeTarget, EnvOverlay};
use super::sites::is_static;
use super::{
    DEFAULT_SERVICE_PORT, Diagnostic, EcsSettings, Locator, Secret, Service, StackFile,
    did_you_mean,
};

/// The retention periods CloudWatch Logs offers, in days.
const LOG_RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// `[compute]`, with the environment's overlay.
pub(super) fn resolve_compute(
    file: &StackFile,
    overlay: &EnvOverlay,
    env: &str,
    locator: &Locator,
    diags: &mut Vec<Diagnostic>,
) -> (ComputeTarget, EcsSettings) {
    let target = overlay
        .compute
        .target
        .or(file.compute.target)
        .unwrap_or(ComputeTarget::Apprunner);
    let pick = |base: Option<&str>, over: Option<&str>, key: &'static str| match (over, base) {
        (Some(v), _) => Some((v.to_string(), vec!["env", env, "compute", key])),
        (None, Some(v)) => Some((v.to_string(), vec!["compute", key])),
        (None, None) => None,
    };
    let certificate_arn = pick(
        file.compute.certificate_arn.as_deref(),
        overlay.compute.certificate_arn.as_deref(),
        "certificate_arn",
    )
    .map(|(arn, path)| {
        let region = arn.split(':').nth(3).unwrap_or_default();
        if !arn.starts_with("arn:aws") || !arn.contains(":acm:") {
            diags.push(
                Diagnostic::new(format!("`{arn}` is not an ACM certificate ARN"))
                    .at(locator.span(&path))
                    .help("give arn:aws:acm:<region>:<account>:certificate/<id>"),
            );
        } else if region != file.region {
            diags.push(
                Diagnostic::new(format!(
                    "certificate `{arn}` is in {region}, not in the stack's region {}",
                    file.region
                ))
                .at(locator.span(&path))
                .help("a load balancer uses ACM certificates of its own region; request or import one there"),
            );
        }
        arn
    });
    let (log_retention_days, path) = match (
        overlay.compute.log_retention_days,
        file.compute.log_retention_days,
    ) {
        (Some(d), _) => (d, vec!["env", env, "compute", "log_retention_days"]),
        (None, Some(d)) => (d, vec!["compute", "log_retention_days"]),
        (None, None) => (30, Vec::new()),
    };
    if !LOG_RETENTION_DAYS.contains(&log_retention_days) {
        diags.push(
            Diagnostic::new(format!(
                "log_retention_days = {log_retention_days} is not a retention CloudWatch Logs offers"
            ))
            .at(locator.span(&path))
            .help(format!(
                "use one of {}",
                LOG_RETENTION_DAYS.map(|d| d.to_string()).join(", ")
            )),
        );
    }
    (
        target,
        EcsSettings {
            certificate_arn,
            log_retention_days,
        },
    )
}

/// Services and secrets: valid names, and every secret a service reads is declared.
pub(super) fn resolve_services(
    file: &StackFile,
    overlay: &EnvOverlay,
    env: &str,
    locator: &Locator,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<Service>, Vec<Secret>) {
    let declared: Vec<&str> = file.secrets.keys().map(String::as_str).collect();
    for (kind, names) in [
        ("service", file.services.keys().collect::<Vec<_>>()),
        ("secret", file.secrets.keys().collect()),
    ] {
        for name in names {
            if !is_key_name(name) {
                diags.push(
                    Diagnostic::new(format!("invalid {kind} name `{name}`"))
                        .at(locator.span(&[&format!("{kind}s"), name]))
                        .help("use lowercase letters, digits, `_` or `-`, starting with a letter (at most 32)"),
                );
            }
        }
    }
    let mut services = Vec::new();
    // Static services are `sites.rs`'s: nothing of a container applies.
    for (name, spec) in file.services.iter().filter(|(_, s)| !is_static(s)) {
        for (i, secret) in spec.secrets.iter().enumerate() {
            if !declared.contains(&secret.as_str()) {
                let d = Diagnostic::new(format!(
                    "service `{name}` reads secret `{secret}`, which is not declared"
                ))
                .at(locator.span(&["services", name, "secrets", &i.to_string()]));
                diags.push(d.help(did_you_mean(secret, declared.iter().copied(), || {
                    format!("declare it with a [secrets.{secret}] table")
                })));
            }
        }
        let buckets: Vec<&str> = file.buckets.keys().map(String::as_str).collect();
        for (bucket, prefix) in &spec.buckets {
            let at = locator.span(&["services", name, "buckets", bucket]);
            if !buckets.contains(&bucket.as_str()) {
                let d = Diagnostic::new(format!(
                    "service `{name}` uses bucket `{bucket}`, which is not declared"
                ))
                .at(at);
                diags.push(d.help(did_you_mean(bucket, buckets.iter().copied(), || {
                    format!("declare it with a [buckets.{bucket}] table")
                })));
            } else if prefix.contains('*') || prefix.starts_with('/') {
                diags.push(
                    Diagnostic::new(format!("`{prefix}` is not a key prefix"))
                        .at(at)
                        .help("write a plain prefix such as \"uploads/\" (or \"\" for the whole bucket); no wildcards"),
                );
            }
        }
        for (i, target) in spec.connect.iter().enumerate() {
            let at = locator.span(&["services", name, "connect", &i.to_string()]);
            if target == name {
                diags.push(
                    Diagnostic::new(format!("service `{name}` connects to itself"))
                        .at(at)
                        .help("remove it: a service always reaches itself"),
                );
            } else if file.services.get(target).is_some_and(is_static) {
                diags.push(
                    Diagnostic::new(format!(
                        "service `{name}` connects to `{target}`, a static service: its files are served by the CDN, not by anything in the VPC"
                    ))
                    .at(at)
                    .help(format!("remove \"{target}\" from `connect`")),
                );
            } else if file.services.contains_key(target) {
                // A path to another service: checked with the runtime keys.
            } else if target != "database" {
                let known = file.services.keys().map(String::as_str).chain(["database"]);
                let d = Diagnostic::new(format!(
                    "service `{name}` connects to `{target}`, which is neither \"database\" nor a declared service"
                ))
                .at(at);
                diags.push(d.help(did_you_mean(target, known, || {
                    "connect to \"database\" or to another service's name".to_string()
                })));
            } else if file.database.is_none() {
                diags.push(
                    Diagnostic::new(format!(
                        "service `{name}` connects to the database, but the stack declares none"
                    ))
                    .at(at)
                    .help("declare it with a [database] table, or remove the connection"),
                );
            }
        }
        if let Some(source) = &spec.source
            && source.trim().is_empty()
        {
            diags.push(
                Diagnostic::new(format!("service `{name}` has an empty `source`"))
                    .at(locator.span(&["services", name, "source"]))
                    .help("name the service's crate directory, relative to the stack file, e.g. source = \"services/api\""),
            );
        }
        if spec.port == Some(0) {
            diags.push(
                Diagnostic::new(format!("service `{name}` listens on port 0"))
                    .at(locator.span(&["services", name, "port"]))
                    .help("give the port the service binds, e.g. port = 8080"),
            );
        }
        let runtime = runtime::resolve(file, overlay, env, name, spec, locator, diags);
        services.push(Service {
            name: name.clone(),
            source: spec.source.clone(),
            port: spec.port.unwrap_or(DEFAULT_SERVICE_PORT),
            ingress: runtime.ingress,
            cpu: runtime.cpu,
            memory: runtime.memory,
            health_path: runtime.health_path,
            env: runtime.env,
            scaling: runtime.scaling,
            connects_to: spec
                .connect
                .iter()
                .filter(|c| *c != name && file.services.get(*c).is_some_and(|s| !is_static(s)))
                .cloned()
                .collect(),
            connects_to_database: spec.connect.iter().any(|c| c == "database"),
            secrets: spec.secrets.clone(),
            buckets: spec
                .buckets
                .iter()
                .map(|(b, p)| (b.clone(), p.clone()))
                .collect(),
        });
    }
    for unknown in overlay
        .services
        .keys()
        .filter(|n| !file.services.contains_key(*n))
    {
        let d = Diagnostic::new(format!(
            "[env.{env}.services.{unknown}] changes a service the stack does not declare"
        ))
        .at(locator.span(&["env", env, "services", unknown]));
        diags.push(d.help(did_you_mean(
            unknown,
            file.services.keys().map(String::as_str),
            || format!("declare it with a [services.{unknown}] table"),
        )));
    }
    runtime::check_url_cycles(&services, locator, diags);
    let secrets = file
        .secrets
        .iter()
        .map(|(name, spec)| Secret {
            name: name.clone(),
            description: spec
                .description
                .clone()
                .unwrap_or_else(|| format!("{name} (set with foundry secret set {name})")),
            generate: spec.generate,
        })
        .collect();
    (services, secrets)
}

pub(super) fn is_key_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && s.len() <= 32
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}
