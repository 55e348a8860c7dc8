//! How a service runs: ingress, size, health path, environment (with its
//! references checked against what the file declares) and scaling.

use std::collections::BTreeMap;

use super::super::file::{EnvOverlay, Ingress, ScalingSpec, ServiceSpec};
use super::super::references::{self, Reference};
use super::super::{Diagnostic, EnvValue, EnvVar, Locator, Scaling, Service, StackFile};
use crate::stack::did_you_mean;

pub(super) const DEFAULT_CPU: u32 = 1024;
pub(super) const DEFAULT_MEMORY: u32 = 2048;
pub(super) const DEFAULT_HEALTH_PATH: &str = "/healthz";
const DEFAULT_SCALING: Scaling = Scaling {
    min: 1,
    max: 4,
    concurrency: 100,
};

/// CPU units and the memory sizes (MiB) App Runner offers with each.
const SIZES: &[(u32, &[u32])] = &[
    (256, &[512, 1024]),
    (512, &[1024]),
    (1024, &[2048, 3072, 4096]),
    (2048, &[4096, 6144]),
    (4096, &[8192, 10240, 12288]),
];

/// Variables the platform sets itself.
const RESERVED_PREFIX: &str = "AWSAPPRUNNER";

pub(super) struct Runtime {
    pub ingress: Ingress,
    pub cpu: u32,
    pub memory: u32,
    pub health_path: String,
    pub env: Vec<EnvVar>,
    pub scaling: Scaling,
}

pub(super) fn resolve(
    file: &StackFile,
    overlay: &EnvOverlay,
    env: &str,
    name: &str,
    spec: &ServiceSpec,
    locator: &Locator,
    diags: &mut Vec<Diagnostic>,
) -> Runtime {
    let over = overlay.services.get(name);
    let at = |key: &str, overridden: bool| {
        if overridden {
            locator.span(&["env", env, "services", name, key])
        } else {
            locator.span(&["services", name, key])
        }
    };
    let cpu_over = over.and_then(|o| o.cpu);
    let memory_over = over.and_then(|o| o.memory);
    let cpu = cpu_over.or(spec.cpu).unwrap_or(DEFAULT_CPU);
    let memory = memory_over.or(spec.memory).unwrap_or(DEFAULT_MEMORY);
    match SIZES.iter().find(|(c, _)| *c == cpu) {
        None => diags.push(
            Diagnostic::new(format!(
                "service `{name}`: cpu = {cpu} is not a size App Runner offers"
            ))
            .at(at("cpu", cpu_over.is_some()))
            .help("use 256, 512, 1024 (one vCPU), 2048 or 4096"),
        ),
        Some((_, memories)) if !memories.contains(&memory) => {
            let fits: Vec<String> = memories.iter().map(u32::to_string).collect();
            diags.push(
                Diagnostic::new(format!(
                    "service `{name}`: memory = {memory} does not go with cpu = {cpu}"
                ))
                .at(at("memory", memory_over.is_some()))
                .help(format!(
                    "with cpu = {cpu}, use memory = {}",
                    fits.join(" or ")
                )),
            );
        }
        Some(_) => {}
    }

    let health_path = spec
        .health
        .clone()
        .unwrap_or_else(|| DEFAULT_HEALTH_PATH.to_owned());
    if !health_path.starts_with('/') || health_path.contains(char::is_whitespace) {
        diags.push(
            Diagnostic::new(format!(
                "service `{name}`: health = \"{health_path}\" is not a path"
            ))
            .at(at("health", false))
            .help("write the path that answers 200 when the service is healthy, e.g. \"/healthz\""),
        );
    }

    let scaling = scaling(
        name,
        spec.scaling,
        over.and_then(|o| o.scaling),
        at("scaling", over.and_then(|o| o.scaling).is_some()),
        diags,
    );
    Runtime {
        ingress: spec.ingress.unwrap_or(Ingress::Public),
        cpu,
        memory,
        health_path,
        env: environment(file, name, spec, locator, diags),
        scaling,
    }
}

fn scaling(
    name: &str,
    base: Option<ScalingSpec>,
    over: Option<ScalingSpec>,
    at: Option<std::ops::Range<usize>>,
    diags: &mut Vec<Diagnostic>,
) -> Scaling {
    let pick = |f: fn(&ScalingSpec) -> Option<u32>, default: u32| {
        over.as_ref()
            .and_then(f)
            .or_else(|| base.as_ref().and_then(f))
            .unwrap_or(default)
    };
    let scaling = Scaling {
        min: pick(|s| s.min, DEFAULT_SCALING.min),
        max: pick(|s| s.max, DEFAULT_SCALING.max),
        concurrency: pick(|s| s.concurrency, DEFAULT_SCALING.concurrency),
    };
    let problem = if !(1..=25).contains(&scaling.min) {
        Some(format!("min = {} is out of range", scaling.min))
    } else if scaling.max < scaling.min || scaling.max > 25 {
        Some(format!(
            "max = {} must be from min ({}) to 25",
            scaling.max, scaling.min
        ))
    } else if !(1..=200).contains(&scaling.concurrency) {
        Some(format!(
            "concurrency = {} is out of range",
            scaling.concurrency
        ))
    } else {
        None
    };
    if let Some(problem) = problem {
        diags.push(
            Diagnostic::new(format!("service `{name}`: scaling {problem}"))
                .at(at)
                .help("instances go from 1 to 25 (min ≤ max); concurrency from 1 to 200 requests per instance"),
        );
    }
    scaling
}

/// The `env` table with references checked, then each listed secret that
/// no `${secrets.…}` value injects already, under its upper-case name.
fn environment(
    file: &StackFile,
    name: &str,
    spec: &ServiceSpec,
    locator: &Locator,
    diags: &mut Vec<Diagnostic>,
) -> Vec<EnvVar> {
    let mut vars: BTreeMap<String, EnvValue> = BTreeMap::new();
    for (key, raw) in &spec.env {
        let at = locator.span(&["services", name, "env", key]);
        if let Some(problem) = bad_variable_name(key) {
            diags.push(
                Diagnostic::new(format!("service `{name}`: env `{key}` {problem}"))
                    .at(at.clone())
                    .help("use letters, digits and `_`, not starting with a digit; foundry sets PORT from `port`"),
            );
            continue;
        }
        let template = match references::parse(raw) {
            Ok(t) => t,
            Err(e) => {
                diags.push(
                    Diagnostic::new(format!("service `{name}`: env `{key}`: {}", e.message))
                        .at(at)
                        .help(e.help),
                );
                continue;
            }
        };
        let mut ok = true;
        for reference in template.references() {
            if let Some(d) = dangling(file, name, spec, reference) {
                diags.push(d.at(at.clone()));
                ok = false;
            }
        }
        let value = match template.0.as_slice() {
            [references::Part::Ref(Reference::Secret(secret))] => EnvValue::Secret(secret.clone()),
            parts
                if parts
                    .iter()
                    .any(|p| matches!(p, references::Part::Ref(Reference::Secret(_)))) =>
            {
                diags.push(
                    Diagnostic::new(format!(
                        "service `{name}`: env `{key}` mixes a secret with other text"
                    ))
                    .at(at)
                    .help("a secret is injected by ARN as a whole value: write the reference alone, e.g. KEY = \"${secrets.NAME}\""),
                );
                continue;
            }
            _ => EnvValue::Text(template),
        };
        if ok {
            vars.insert(key.clone(), value);
        }
    }
    for secret in &spec.secrets {
        let injected = vars
            .values()
            .any(|v| matches!(v, EnvValue::Secret(s) if s == secret));
        if injected {
            continue;
        }
        let key = secret.to_ascii_uppercase().replace('-', "_");
        if vars.contains_key(&key) || spec.env.contains_key(&key) {
            diags.push(
                Diagnostic::new(format!(
                    "service `{name}`: env `{key}` is set, and secret `{secret}` would be injected under the same name"
                ))
                .at(locator.span(&["services", name, "env", &key]))
                .help(format!("rename the variable, or set it to \"${{secrets.{secret}}}\"")),
            );
            continue;
        }
        vars.insert(key, EnvValue::Secret(secret.clone()));
    }
    vars.into_iter()
        .map(|(name, value)| EnvVar { name, value })
        .collect()
}

fn bad_variable_name(key: &str) -> Option<&'static str> {
    let mut chars = key.chars();
    let well_formed = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !well_formed {
        Some("is not a valid variable name")
    } else if key == "PORT" {
        Some("is set by foundry from the service's `port`")
    } else if key.to_ascii_uppercase().starts_with(RESERVED_PREFIX) {
        Some("starts with AWSAPPRUNNER, which App Runner reserves")
    } else {
        None
    }
}

/// A reference to something the file does not declare, or that this service
/// has no access to.
fn dangling(
    file: &StackFile,
    name: &str,
    spec: &ServiceSpec,
    reference: &Reference,
) -> Option<Diagnostic> {
    let listed = |what: &str, declared: Vec<&str>, wanted: &str, table: &str| {
        let d = Diagnostic::new(format!(
            "service `{name}`: `{reference}` names {what} `{wanted}`, which is not declared"
        ));
        d.help(did_you_mean(wanted, declared, || {
            format!("declare it with a [{table}.{wanted}] table")
        }))
    };
    match reference {
        Reference::ServiceUrl(other) => {
            let Some(target) = file.services.get(other) else {
                let declared = file.services.keys().map(String::as_str).collect();
                return Some(listed("service", declared, other, "services"));
            };
            if crate::stack::sites::is_static(target) {
                return Some(
                    Diagnostic::new(format!(
                        "service `{name}`: `{reference}` names static service `{other}`, which has no URL of its own"
                    ))
                    .help("a static service is served by the CDN at `/`; use the CDN's domain"),
                );
            }
            if other == name {
                return Some(
                    Diagnostic::new(format!("service `{name}`: `{reference}` is its own URL"))
                        .help("a service reaches itself on localhost and its `port`"),
                );
            }
            let private = target.ingress == Some(Ingress::Private);
            (private && !spec.connect.contains(other)).then(|| {
                Diagnostic::new(format!(
                    "service `{name}` calls `{other}`, which is private, without connecting to it"
                ))
                .help(format!("add \"{other}\" to `connect` of [services.{name}]"))
            })
        }
        Reference::BucketName(bucket) => {
            if !file.buckets.contains_key(bucket) {
                let declared = file.buckets.keys().map(String::as_str).collect();
                return Some(listed("bucket", declared, bucket, "buckets"));
            }
            (!spec.buckets.contains_key(bucket)).then(|| {
                Diagnostic::new(format!(
                    "service `{name}`: `{reference}` names a bucket the service has no access to"
                ))
                .help(format!(
                    "add it to the service's buckets, e.g. buckets = {{ {bucket} = \"\" }}"
                ))
            })
        }
        Reference::Database(_) => {
            if file.database.is_none() {
                return Some(
                    Diagnostic::new(format!(
                        "service `{name}`: `{reference}` names the database, but the stack declares none"
                    ))
                    .help("declare it with a [database] table"),
                );
            }
            (!spec.connect.iter().any(|c| c == "database")).then(|| {
                Diagnostic::new(format!(
                    "service `{name}` reads `{reference}` without connecting to the database"
                ))
                .help(format!(
                    "add \"database\" to `connect` of [services.{name}]"
                ))
            })
        }
        Reference::Auth(_) => file.auth.is_none().then(|| {
            Diagnostic::new(format!(
                "service `{name}`: `{reference}` names the token issuer, but the stack declares no [auth]"
            ))
            .help("declare it, e.g. [auth] issuer = \"https://clerk.example.com\"")
        }),
        Reference::Secret(secret) => {
            if !file.secrets.contains_key(secret) {
                let declared = file.secrets.keys().map(String::as_str).collect();
                return Some(listed("secret", declared, secret, "secrets"));
            }
            (!spec.secrets.contains(secret)).then(|| {
                Diagnostic::new(format!(
                    "service `{name}`: `{reference}` is not among the secrets the service reads"
                ))
                .help(format!(
                    "add \"{secret}\" to `secrets` of [services.{name}]: that grants it read access"
                ))
            })
        }
    }
}

/// Services whose URLs reference each other in a ring cannot be created:
/// each needs the other's URL first.
pub(super) fn check_url_cycles(
    services: &[Service],
    locator: &Locator,
    diags: &mut Vec<Diagnostic>,
) {
    let calls = |service: &Service| -> Vec<String> {
        service
            .env
            .iter()
            .filter_map(|v| match &v.value {
                EnvValue::Text(t) => Some(t.references().filter_map(|r| match r {
                    Reference::ServiceUrl(other) => Some(other.clone()),
                    _ => None,
                })),
                EnvValue::Secret(_) => None,
            })
            .flatten()
            .collect()
    };
    let graph: BTreeMap<&str, Vec<String>> = services
        .iter()
        .map(|s| (s.name.as_str(), calls(s)))
        .collect();
    for start in graph.keys() {
        // Depth-first from each service; a path that comes back to it is a ring.
        let mut stack = vec![(start.to_string(), vec![start.to_string()])];
        while let Some((at, path)) = stack.pop() {
            for next in graph.get(at.as_str()).into_iter().flatten() {
                if next == start {
                    // Reported once, from the ring's alphabetically first service.
                    if path.iter().all(|p| p.as_str() >= *start) {
                        let ring = format!("{} → {start}", path.join(" → "));
                        diags.push(
                            Diagnostic::new(format!("services reference each other's URLs in a ring: {ring}"))
                                .at(locator.span(&["services", start, "env"]))
                                .help("one of them must learn the other's URL another way (e.g. at run time), so that it can be created first"),
                        );
                    }
                } else if !path.contains(next) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
}
