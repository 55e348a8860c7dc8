//! Snapshots of the reference stack's expansion, without AWS: what `up`
//! would ask for, resource by resource. A change to expansion shows here as a
//! reviewable diff; `UPDATE_EXPECT=1 cargo test -p foundry-cli expand` rewrites
//! the snapshots after a deliberate change.
//!
//! Each case names the environment, the services that have an image (their
//! current release) and an edit of the reference stack file.

use std::fmt::Write;

use expect_test::{ExpectFile, expect_file};

use super::{Facts, expand};
use crate::stack::Source;

const REGISTRY: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

/// The reference stack's `[cdn]` api origin: its api service.
const API_SERVICE: &str = "api_service = \"api\"";

fn check(env: &str, images: &[&str], edit: &dyn Fn(String) -> String, expect: ExpectFile) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../stacks/reference.toml");
    let path = std::path::Path::new(path);
    let text = edit(std::fs::read_to_string(path).unwrap());
    let stack = Source::parse(path, text).unwrap().resolve(env).unwrap();
    let facts = Facts {
        azs: ["us-east-1a", "us-east-1b", "us-east-1c"]
            .into_iter()
            .take(stack.network.azs as usize)
            .map(str::to_string)
            .collect(),
        account: "123456789012".into(),
        images: images
            .iter()
            .map(|s| {
                (
                    s.to_string(),
                    format!("{REGISTRY}/acme/{env}/{s}@sha256:{}", "ab".repeat(32)),
                )
            })
            .collect(),
        cloudfront_prefix_list: Some("pl-3b927c52".into()),
    };
    let graph = expand(&stack, &facts).unwrap();
    let mut text = String::new();
    for r in graph.resources() {
        writeln!(text, "{} {}", r.kind, r.id).unwrap();
        for (key, value) in &r.props {
            writeln!(text, "    {key} = {value}").unwrap();
        }
    }
    expect.assert_eq(&text);
}

fn as_written(text: String) -> String {
    text
}

/// `[cdn]` with the api origin typed by hand instead.
fn api_origin_by_hand(text: String) -> String {
    assert!(text.contains(API_SERVICE));
    text.replace(API_SERVICE, "api_domain = \"api.acme.example\"")
}

/// Before any release, with the api origin typed by hand: the network,
/// data and edge tiers, no service on App Runner.
#[test]
fn reference_stack_dev() {
    check(
        "dev",
        &[],
        &api_origin_by_hand,
        expect_file!["snapshots/reference-dev.txt"],
    );
}

/// Before any release, as written: the distribution waits for its api origin.
#[test]
fn reference_stack_prod() {
    check(
        "prod",
        &[],
        &as_written,
        expect_file!["snapshots/reference-prod.txt"],
    );
}

/// Both services released: the public api with a VPC connector (database,
/// private ai), the private ai with its ingress connection; the api's env
/// resolves ai's URL, the bucket's name and the secret by ARN.
#[test]
fn reference_stack_dev_with_images() {
    check(
        "dev",
        &["api", "ai"],
        &as_written,
        expect_file!["snapshots/reference-dev-images.txt"],
    );
}

/// Only the api has an image, but its env names ai's URL: neither runs
/// yet, and a CDN whose api origin is the api service waits as well.
#[test]
fn a_service_waits_for_the_services_its_env_names() {
    check(
        "dev",
        &["api"],
        &as_written,
        expect_file!["snapshots/reference-dev-api-waits.txt"],
    );
}

/// `[env.dev] compute.target = "ecs"`, both services released: the cluster,
/// per service a log group, task definition, load balancer (the api's
/// internet-facing, ai's internal), target group, HTTP listener, service and
/// scaling; execution roles; security groups CloudFront → api's load
/// balancer → api → ai's load balancer → ai, api → database; the CDN's api
/// origin is the api's load balancer over HTTP; no App Runner anything.
#[test]
fn reference_stack_dev_on_ecs() {
    check(
        "dev",
        &["api", "ai"],
        &|text| text.replace("[env.dev]\n", "[env.dev]\ncompute.target = \"ecs\"\n"),
        expect_file!["snapshots/reference-dev-ecs.txt"],
    );
}

/// With the api running, the distribution's api origin is its URL.
#[test]
fn the_cdn_follows_the_api_service() {
    check(
        "prod",
        &["api", "ai"],
        &as_written,
        expect_file!["snapshots/reference-prod-cdn-follows-api.txt"],
    );
}
