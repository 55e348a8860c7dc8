//! auth-401s: the services refuse every bearer token when the issuer they
//! expect is not the one that signs (a trailing slash is enough), when its
//! keys cannot be fetched (from this machine, or from the services'
//! network, which has no way out without a NAT), or when a service runs
//! with an issuer or keys URL the stack file no longer says.

use std::time::Duration;

use super::checks::{CheckError, Context, Fix, Outcome, StackEdit, Status};
use crate::stack::references::AuthAttribute;
use crate::stack::{EnvValue, Reference};

const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// GETs `url` as JSON; the error is one sentence.
async fn fetch_json(url: &str) -> Result<serde_json::Value, String> {
    let client = crate::http::client(FETCH_TIMEOUT)?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: no answer ({})", crate::aws::root_cause(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("GET {url}: {}", crate::aws::root_cause(&e)))?;
    serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not JSON ({e})"))
}

fn no_auth() -> Outcome {
    Outcome::pass("the stack has no [auth]: the services check no tokens")
}

pub async fn discovery(cx: &Context<'_>) -> Outcome {
    let Some(auth) = &cx.stack.auth else {
        return no_auth();
    };
    let url = format!("{}/.well-known/openid-configuration", auth.issuer);
    let document = match fetch_json(&url).await {
        Ok(d) => d,
        Err(e) => {
            return Outcome::pass("the issuer's discovery document cannot be read")
                .evidence(vec![e])
                .with(
                    Status::Fail,
                    Fix::Manual {
                        description: format!(
                            "check auth.issuer: it must be the Frontend API URL of the Clerk instance that signs the tokens ({url} must answer)"
                        ),
                    },
                );
        }
    };
    let issuer = document["issuer"].as_str().unwrap_or_default().to_owned();
    let jwks_uri = document["jwks_uri"].as_str().unwrap_or_default().to_owned();
    let evidence = vec![
        format!("{url}: issuer {issuer:?}, jwks_uri {jwks_uri:?}"),
        format!(
            "the stack file: issuer {:?}, jwks_url {:?}",
            auth.issuer, auth.jwks_url
        ),
    ];
    if issuer != auth.issuer && issuer.trim_end_matches('/') == auth.issuer {
        return Outcome::pass(format!(
            "tokens carry iss {issuer:?} with its trailing slash, the services expect {:?}: every token is refused",
            auth.issuer
        ))
        .evidence(evidence)
        .with(
            Status::Fail,
            Fix::Manual {
                description: "foundry writes issuers without a trailing slash; configure the issuer (Clerk: the instance's Frontend API URL) to sign without one".into(),
            },
        );
    }
    if issuer != auth.issuer {
        return Outcome::pass(format!(
            "tokens carry iss {issuer:?}, the services expect {:?}: every token is refused",
            auth.issuer
        ))
        .evidence(evidence)
        .with(
            Status::Fail,
            Fix::Stack {
                description: format!(
                    "set auth.issuer = {issuer:?}, the issuer's own spelling, then `foundry deploy` the services that read it"
                ),
                edits: vec![StackEdit::Set {
                    path: vec!["auth".into(), "issuer".into()],
                    value: issuer,
                }],
            },
        );
    }
    if !jwks_uri.is_empty() && jwks_uri != auth.jwks_url {
        return Outcome::pass(format!(
            "the issuer publishes its keys at {jwks_uri}, the services fetch {}",
            auth.jwks_url
        ))
        .evidence(evidence)
        .with(
            Status::Warn,
            Fix::Stack {
                description: format!("set auth.jwks_url = {jwks_uri:?}"),
                edits: vec![StackEdit::Set {
                    path: vec!["auth".into(), "jwks_url".into()],
                    value: jwks_uri,
                }],
            },
        );
    }
    Outcome::pass("the issuer's discovery document names the issuer and keys the stack uses")
        .evidence(evidence)
}

pub async fn keys(cx: &Context<'_>) -> Outcome {
    let Some(auth) = &cx.stack.auth else {
        return no_auth();
    };
    let fail = |summary: String, evidence: Vec<String>| {
        Outcome::pass(summary).evidence(evidence).with(
            Status::Fail,
            Fix::Manual {
                description: format!(
                    "the services verify tokens with the keys at {}; check the URL (auth.jwks_url) and that the issuer publishes RSA keys with a kid",
                    auth.jwks_url
                ),
            },
        )
    };
    let document = match fetch_json(&auth.jwks_url).await {
        Ok(d) => d,
        Err(e) => {
            return fail(
                "the signing keys cannot be fetched: every token is refused".into(),
                vec![e],
            );
        }
    };
    let keys = document["keys"].as_array().cloned().unwrap_or_default();
    let described: Vec<String> = keys
        .iter()
        .map(|k| {
            format!(
                "{} ({} {})",
                k["kid"].as_str().unwrap_or("no kid"),
                k["kty"].as_str().unwrap_or("?"),
                k["alg"].as_str().unwrap_or("no alg")
            )
        })
        .collect();
    let usable = keys.iter().filter(|k| {
        k["kty"] == "RSA" && k["kid"].is_string() && k["alg"].as_str().is_none_or(|a| a == "RS256")
    });
    let evidence = vec![format!(
        "{}: {} key(s): {}",
        auth.jwks_url,
        keys.len(),
        described.join(", ")
    )];
    if usable.count() == 0 {
        return fail(
            "the issuer publishes no RS256 key with a kid: the services can verify no token".into(),
            evidence,
        );
    }
    Outcome::pass("the signing keys are published").evidence(evidence)
}

/// The services whose environment names `[auth]`.
fn verifiers<'a>(cx: &Context<'a>) -> Vec<&'a crate::stack::Service> {
    cx.stack
        .services
        .iter()
        .filter(|s| {
            s.env.iter().any(|v| match &v.value {
                EnvValue::Text(t) => t.references().any(|r| matches!(r, Reference::Auth(_))),
                EnvValue::Secret(_) => false,
            })
        })
        .collect()
}

/// A service with a VPC connector sends all its outbound traffic into the
/// VPC: the keys' URL is on the internet, so its subnets need a NAT.
pub fn reachable_from_services(cx: &Context<'_>) -> Outcome {
    if cx.stack.auth.is_none() {
        return no_auth();
    }
    let mut evidence = Vec::new();
    let mut cut_off = Vec::new();
    let app_tables: Vec<_> = cx
        .network
        .route_tables
        .iter()
        .filter(|t| {
            t.subnet_ids.iter().any(|id| {
                cx.network
                    .subnets
                    .iter()
                    .any(|s| &s.id == id && s.logical_id.starts_with("subnet-app"))
            })
        })
        .collect();
    for service in verifiers(cx) {
        let through_vpc = service.connects_to_database || !service.connects_to.is_empty();
        if !through_vpc {
            evidence.push(format!(
                "{}: no VPC connector, its requests leave through App Runner's own network",
                service.name
            ));
            continue;
        }
        let without: Vec<&str> = app_tables
            .iter()
            .filter(|t| t.nat_gateway_id.is_none())
            .map(|t| t.id.as_str())
            .collect();
        if app_tables.is_empty() || !without.is_empty() {
            cut_off.push(service.name.clone());
            evidence.push(format!(
                "{}: its VPC connector's subnets route nowhere outside the VPC (route table(s) {} without a NAT)",
                service.name,
                if without.is_empty() { "(none)".to_owned() } else { without.join(", ") }
            ));
        } else {
            evidence.push(format!(
                "{}: out through its VPC connector and {}",
                service.name,
                app_tables
                    .iter()
                    .map(|t| format!("{} → {}", t.id, t.nat_gateway_id.as_deref().unwrap_or("?")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if cut_off.is_empty() {
        return Outcome::pass("the services that verify tokens can reach the keys' URL")
            .evidence(evidence);
    }
    let fix = if cx.stack.network.nat == crate::stack::NatMode::None {
        Fix::Stack {
            description: format!(
                "set network.nat = \"single\" for {}: the services' subnets get a way to the issuer",
                cx.stack.env
            ),
            edits: vec![StackEdit::Set {
                path: vec![
                    "env".into(),
                    cx.stack.env.clone(),
                    "network".into(),
                    "nat".into(),
                ],
                value: "single".into(),
            }],
        }
    } else {
        Fix::Apply {
            description: "the stack file routes the app subnets through a NAT; `foundry up` restores the routes".into(),
        }
    };
    Outcome::pass(format!(
        "{} cannot fetch the issuer's keys from inside the VPC: every token is refused",
        cut_off.join(", ")
    ))
    .evidence(evidence)
    .with(Status::Fail, fix)
}

/// The issuer and keys URL each running service was started with, against
/// the stack file's.
pub async fn service_settings(cx: &Context<'_>) -> Result<Outcome, CheckError> {
    let Some(auth) = &cx.stack.auth else {
        return Ok(no_auth());
    };
    let history = crate::release::load(&cx.session.state)
        .await
        .map_err(crate::release::ReleaseError::from)?;
    let Some(current) = history.current() else {
        return Ok(Outcome::pass("no release yet: no service runs"));
    };
    let mut evidence = Vec::new();
    let mut stale = Vec::new();
    for service in verifiers(cx) {
        let Some(released) = current.services.get(&service.name) else {
            continue;
        };
        let running = super::database::running_env_all(cx, &service.name).await?;
        let env = running.as_ref().unwrap_or(&released.env);
        for var in &service.env {
            let EnvValue::Text(template) = &var.value else {
                continue;
            };
            let Some(attribute) = template.references().find_map(|r| match r {
                Reference::Auth(a) => Some(*a),
                _ => None,
            }) else {
                continue;
            };
            let expected = auth.get(attribute);
            let live = env.get(&var.name).map_or("(unset)", String::as_str);
            if template.references().count() == 1 && !live.contains(expected) {
                stale.push(service.name.clone());
                evidence.push(format!(
                    "{} runs with {}={live}; the stack file says {expected} ({})",
                    service.name,
                    var.name,
                    match attribute {
                        AuthAttribute::Issuer => "auth.issuer",
                        AuthAttribute::JwksUrl => "auth.jwks_url",
                    }
                ));
            } else {
                evidence.push(format!("{}: {}={live}", service.name, var.name));
            }
        }
        for optional in ["CLERK_AUDIENCE", "CLERK_AUTHORIZED_PARTIES"] {
            if let Some(value) = env.get(optional) {
                evidence.push(format!(
                    "{}: {optional}={value} (tokens without it in aud / azp are refused)",
                    service.name
                ));
            }
        }
    }
    stale.dedup();
    if stale.is_empty() {
        return Ok(Outcome::pass(if evidence.is_empty() {
            "no running service verifies tokens".to_owned()
        } else {
            "the running services expect the stack file's issuer and keys".to_owned()
        })
        .evidence(evidence));
    }
    Ok(Outcome::pass(format!(
        "{} run(s) with an issuer or keys URL the stack file no longer says",
        stale.join(", ")
    ))
    .evidence(evidence)
    .with(
        Status::Fail,
        Fix::Restart {
            description: format!(
                "restart {} on its current image: a release resolves the env from the stack file again",
                stale.join(", ")
            ),
            services: stale,
        },
    ))
}
