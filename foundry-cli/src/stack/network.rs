//! `[network]` resolution: defaults, CIDR arithmetic and its checks.

use ipnet::Ipv4Net;
use std::fmt;

use super::file::{NatMode, NetworkSpec};
use super::layered::{Layered, span};
use super::{Diagnostic, Locator, did_you_mean};

/// The three subnet tiers of seed 002 §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    Public,
    App,
    Data,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Public, Tier::App, Tier::Data];

    pub fn key(self) -> &'static str {
        match self {
            Tier::Public => "public",
            Tier::App => "app",
            Tier::Data => "data",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Interface endpoint services foundry knows how to name
/// (`com.amazonaws.<region>.<service>`).
pub const INTERFACE_SERVICES: &[&str] = &[
    "secretsmanager",
    "ecr.api",
    "ecr.dkr",
    "logs",
    "sts",
    "ssm",
    "ssmmessages",
    "kms",
    "monitoring",
    "sqs",
    "sns",
    "bedrock-runtime",
    "execute-api",
];

/// Gateway endpoint services.
pub const GATEWAY_SERVICES: &[&str] = &["s3", "dynamodb"];

/// The resolved network of one environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub cidr: Ipv4Net,
    pub azs: u8,
    pub nat: NatMode,
    pub interface_endpoints: Vec<String>,
    pub gateway_endpoints: Vec<String>,
    /// One CIDR per AZ for each tier, in tier order public, app, data.
    pub subnets: [Vec<Ipv4Net>; 3],
}

impl Network {
    pub fn subnets(&self, tier: Tier) -> &[Ipv4Net] {
        &self.subnets[tier as usize]
    }
}

fn child(path: &[String], key: impl ToString) -> Vec<String> {
    let mut p = path.to_vec();
    p.push(key.to_string());
    p
}

/// Resolves `[network]` for `env`; pushes every problem into `diags`.
pub fn resolve(
    base: &NetworkSpec,
    over: &NetworkSpec,
    env: &str,
    locator: &Locator,
    diags: &mut Vec<Diagnostic>,
) -> Option<Network> {
    let layered = Layered {
        base,
        over,
        env,
        section: "network",
    };
    let errors_before = diags.len();

    let cidr = match layered.pick(|n| n.cidr.as_deref(), &["cidr"]) {
        None => "10.0.0.0/16".parse().expect("default CIDR parses"),
        Some((text, path)) => match parse_cidr(text) {
            Ok(net) if !(16..=24).contains(&net.prefix_len()) => {
                diags.push(
                    Diagnostic::new(format!("VPC CIDR {net} has a /{} prefix; AWS allows /16 to /28 and foundry needs room for three subnet tiers", net.prefix_len()))
                        .at(span(locator, &path))
                        .help("use a prefix from /16 to /24, e.g. 10.0.0.0/16"),
                );
                net
            }
            Ok(net) => {
                if !is_private(net) {
                    diags.push(
                        Diagnostic::new(format!(
                            "VPC CIDR {net} is not in a private (RFC 1918) range"
                        ))
                        .at(span(locator, &path))
                        .help("use a range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"),
                    );
                }
                net
            }
            Err(d) => {
                diags.push(d.at(span(locator, &path)));
                return None;
            }
        },
    };

    let azs = match layered.pick(|n| n.azs.as_ref(), &["azs"]) {
        None => 2,
        Some((&n, path)) => {
            if !(1..=6).contains(&n) {
                diags.push(
                    Diagnostic::new(format!("azs = {n} is out of range"))
                        .at(span(locator, &path))
                        .help("use 2 (the reference architecture) or any number from 1 to 6"),
                );
                return None;
            }
            n
        }
    };
    let nat = layered
        .pick(|n| n.nat.as_ref(), &["nat"])
        .map_or(NatMode::Single, |(m, _)| *m);

    let interface_endpoints = check_services(
        &layered,
        |n| n.endpoints.as_deref(),
        "endpoints",
        INTERFACE_SERVICES,
        locator,
        diags,
    );
    let gateway_endpoints =
        match layered.pick(|n| n.gateway_endpoints.as_deref(), &["gateway_endpoints"]) {
            None => vec!["s3".to_string()],
            Some(_) => check_services(
                &layered,
                |n| n.gateway_endpoints.as_deref(),
                "gateway_endpoints",
                GATEWAY_SERVICES,
                locator,
                diags,
            ),
        };

    let subnets = resolve_subnets(&layered, cidr, azs, locator, diags);
    if diags.len() > errors_before {
        return None;
    }
    Some(Network {
        cidr,
        azs,
        nat,
        interface_endpoints,
        gateway_endpoints,
        subnets: subnets?,
    })
}

fn check_services(
    layered: &Layered<NetworkSpec>,
    get: impl Fn(&NetworkSpec) -> Option<&[String]>,
    key: &str,
    known: &[&str],
    locator: &Locator,
    diags: &mut Vec<Diagnostic>,
) -> Vec<String> {
    let Some((list, path)) = layered.pick(get, &[key]) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for (i, name) in list.iter().enumerate() {
        let at = span(locator, &child(&path, i));
        if !known.contains(&name.as_str()) {
            let d = Diagnostic::new(format!("unknown endpoint service `{name}` in {key}")).at(at);
            diags.push(d.help(did_you_mean(name, known.iter().copied(), || {
                format!("foundry knows: {}", known.join(", "))
            })));
        } else if out.contains(name) {
            diags.push(
                Diagnostic::new(format!("endpoint service `{name}` is listed twice"))
                    .at(at)
                    .help("remove the second entry"),
            );
        } else {
            out.push(name.clone());
        }
    }
    out
}

fn resolve_subnets(
    layered: &Layered<NetworkSpec>,
    vpc: Ipv4Net,
    azs: u8,
    locator: &Locator,
    diags: &mut Vec<Diagnostic>,
) -> Option<[Vec<Ipv4Net>; 3]> {
    let errors_before = diags.len();
    let mut tiers: [Vec<Ipv4Net>; 3] = Default::default();
    // Where each explicit subnet was written, for overlap errors.
    let mut placed: Vec<(Ipv4Net, Vec<String>)> = Vec::new();
    let default_prefix = vpc.prefix_len() + 4;
    let mut carved = vpc.subnets(default_prefix).ok().into_iter().flatten();
    for tier in Tier::ALL {
        let explicit = layered.pick(
            |n| {
                n.subnets.as_ref().and_then(|s| match tier {
                    Tier::Public => s.public.as_deref(),
                    Tier::App => s.app.as_deref(),
                    Tier::Data => s.data.as_deref(),
                })
            },
            &["subnets", tier.key()],
        );
        match explicit {
            Some((list, path)) => {
                if list.len() != azs as usize {
                    diags.push(
                        Diagnostic::new(format!(
                            "{} {tier} subnet(s) listed but azs = {azs}",
                            list.len()
                        ))
                        .at(span(locator, &path))
                        .help(format!("list exactly one CIDR per AZ ({azs})")),
                    );
                }
                for (i, text) in list.iter().enumerate() {
                    let here = child(&path, i);
                    match parse_cidr(text) {
                        Err(d) => diags.push(d.at(span(locator, &here))),
                        Ok(net) if !vpc.contains(&net) => diags.push(
                            Diagnostic::new(format!("subnet {net} does not fit in the VPC {vpc}"))
                                .at(span(locator, &here))
                                .help(format!("choose a range inside {vpc}")),
                        ),
                        Ok(net) if net.prefix_len() > 28 => diags.push(
                            Diagnostic::new(format!(
                                "subnet {net} is smaller than /28, the smallest AWS allows"
                            ))
                            .at(span(locator, &here))
                            .help("use a prefix of /28 or shorter"),
                        ),
                        Ok(net) => {
                            if let Some((other, _)) = placed.iter().find(|(o, _)| overlaps(*o, net))
                            {
                                diags.push(
                                    Diagnostic::new(format!(
                                        "subnet {net} overlaps subnet {other}"
                                    ))
                                    .at(span(locator, &here))
                                    .help("give every subnet its own range"),
                                );
                            }
                            placed.push((net, here));
                            tiers[tier as usize].push(net);
                        }
                    }
                }
            }
            None => {
                for _ in 0..azs {
                    match carved.next() {
                        Some(net) => tiers[tier as usize].push(net),
                        None => {
                            diags.push(
                                Diagnostic::new(format!(
                                    "the VPC {vpc} is too small for 3 tiers × {azs} AZs of /{default_prefix} subnets"
                                ))
                                .at(span(locator, &layered.pick(|n| n.cidr.as_deref(), &["cidr"]).map(|p| p.1).unwrap_or_default()))
                                .help("widen the VPC CIDR, lower azs, or list subnets explicitly under [network.subnets]"),
                            );
                            return None;
                        }
                    }
                }
            }
        }
    }
    // Computed subnets must not collide with explicit ones.
    for tier in Tier::ALL {
        for net in &tiers[tier as usize] {
            if placed.iter().any(|(p, _)| p == net) {
                continue;
            }
            if let Some((other, path)) = placed.iter().find(|(o, _)| overlaps(*o, *net)) {
                diags.push(
                    Diagnostic::new(format!(
                        "subnet {other} overlaps the default {tier} subnet {net}"
                    ))
                    .at(span(locator, path))
                    .help(format!(
                        "list the {tier} subnets explicitly too, or move this one"
                    )),
                );
            }
        }
    }
    (diags.len() == errors_before).then_some(tiers)
}

fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn is_private(net: Ipv4Net) -> bool {
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
        .iter()
        .any(|r| r.parse::<Ipv4Net>().expect("literal").contains(&net))
}

/// Parses `a.b.c.d/n` and insists on a network address (no host bits).
pub fn parse_cidr(text: &str) -> Result<Ipv4Net, Diagnostic> {
    let net: Ipv4Net = text.parse().map_err(|_| {
        Diagnostic::new(format!("`{text}` is not an IPv4 CIDR block"))
            .help("write it as address/prefix, e.g. 10.0.0.0/16")
    })?;
    if net.addr() != net.network() {
        return Err(Diagnostic::new(format!("`{text}` has host bits set"))
            .help(format!("did you mean {}?", net.trunc())));
    }
    Ok(net)
}
