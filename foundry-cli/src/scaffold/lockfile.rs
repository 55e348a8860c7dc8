//! The app's `Cargo.lock`: foundry's own, cut to the packages the app's
//! crates reach, so the app builds with exactly the versions foundry was
//! built and tested with.

use std::collections::{BTreeSet, HashMap};

const PACKAGE: &str = "\n[[package]]\n";

/// The blocks of `lock` for `members` and everything they depend on, in
/// their order and formatting (cargo's own).
pub fn subset(lock: &str, members: &[&str]) -> String {
    let mut blocks = lock.split(PACKAGE);
    let header = blocks.next().unwrap_or_default();
    let packages: Vec<(&str, Package)> = blocks.map(|b| (b, Package::parse(b))).collect();

    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (_, p)) in packages.iter().enumerate() {
        by_name.entry(p.name.as_str()).or_default().push(i);
    }
    // A dependency is `name`, `name version` or `name version (source)`.
    let find = |dep: &str| -> Option<usize> {
        let mut parts = dep.split(' ');
        let name = parts.next()?;
        let version = parts.next();
        let candidates = by_name.get(name)?;
        candidates
            .iter()
            .copied()
            .find(|&i| version.is_none_or(|v| packages[i].1.version == v))
    };

    let mut kept = BTreeSet::new();
    let mut todo: Vec<usize> = members
        .iter()
        .filter_map(|m| by_name.get(m).and_then(|c| c.first().copied()))
        .collect();
    while let Some(i) = todo.pop() {
        if kept.insert(i) {
            todo.extend(packages[i].1.dependencies.iter().filter_map(|d| find(d)));
        }
    }
    let mut out = header.to_string();
    for i in kept {
        out.push_str(PACKAGE);
        out.push_str(packages[i].0);
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[derive(Debug, serde::Deserialize)]
struct Package {
    name: String,
    version: String,
    #[serde(default)]
    dependencies: Vec<String>,
}

impl Package {
    fn parse(block: &str) -> Package {
        toml::from_str(block).expect("Cargo.lock's package blocks are TOML (checked by a test)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_the_members_reach_and_drops_the_rest() {
        let lock = "# header\nversion = 4\n\n[[package]]\nname = \"a\"\nversion = \"0.1.0\"\ndependencies = [\n \"b 1.0.0\",\n \"c\",\n]\n\n[[package]]\nname = \"b\"\nversion = \"1.0.0\"\n\n[[package]]\nname = \"b\"\nversion = \"2.0.0\"\n\n[[package]]\nname = \"c\"\nversion = \"0.3.0\"\n\n[[package]]\nname = \"unused\"\nversion = \"0.1.0\"\ndependencies = [\n \"b 2.0.0\",\n]\n";
        let out = subset(lock, &["a"]);
        assert_eq!(
            out,
            "# header\nversion = 4\n\n[[package]]\nname = \"a\"\nversion = \"0.1.0\"\ndependencies = [\n \"b 1.0.0\",\n \"c\",\n]\n\n[[package]]\nname = \"b\"\nversion = \"1.0.0\"\n\n[[package]]\nname = \"c\"\nversion = \"0.3.0\"\n"
        );
    }

    #[test]
    fn foundrys_own_lock_file_parses() {
        let out = subset(super::super::embedded::WORKSPACE_LOCK, &["api", "ai"]);
        assert!(out.contains("name = \"axum\""));
        assert!(!out.contains("name = \"foundry-cli\""));
        assert!(!out.contains("name = \"indicatif\""));
    }
}
