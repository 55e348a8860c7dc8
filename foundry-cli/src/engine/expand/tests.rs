//! Snapshots of the reference stack's expansion, without AWS: what `up`
//! would ask for, resource by resource. A change to expansion shows here as a
//! reviewable diff; `UPDATE_EXPECT=1 cargo test -p foundry-cli expand` rewrites
//! the snapshots after a deliberate change.

use std::fmt::Write;

use expect_test::{ExpectFile, expect_file};

use super::{Facts, expand};
use crate::stack::Source;

fn check(env: &str, expect: ExpectFile) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../stacks/reference.toml");
    let stack = Source::load(std::path::Path::new(path))
        .unwrap()
        .resolve(env)
        .unwrap();
    let facts = Facts {
        azs: ["us-east-1a", "us-east-1b", "us-east-1c"]
            .into_iter()
            .take(stack.network.azs as usize)
            .map(str::to_string)
            .collect(),
        account: "123456789012".into(),
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

#[test]
fn reference_stack_dev() {
    check("dev", expect_file!["snapshots/reference-dev.txt"]);
}

#[test]
fn reference_stack_prod() {
    check("prod", expect_file!["snapshots/reference-prod.txt"]);
}
