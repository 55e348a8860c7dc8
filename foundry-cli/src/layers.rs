//! The layering rules of ARCHITECTURE.md ("Layers"), checked by scanning the
//! sources: a module may name only modules of a lower layer, so imports run
//! one way and the module graph has no cycle.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Top-level modules of the library and the binary, lowest layer first.
/// Modules of one layer know nothing of each other.
const LAYERS: &[&[&str]] = &[
    &["vocab"],
    &["aws", "http"],
    &["resources"],
    &["stack", "state"],
    // `local` resolves a stack's `[auth]` to the local issuer.
    &["engine", "images", "compute", "local"],
    &["release", "pricing"],
    &["status", "logs"],
    // The runbooks read services' logs as `logs` does.
    &["runbook", "scaffold"],
    // The binary (main.rs): it reaches the library as `foundry::`.
    &["cli"],
    &["commands"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a source file belongs to (`engine/plan.rs` → `engine`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Every `crate::<module>` and `foundry::<module>` a file names, outside comments.
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.starts_with("//"))
    {
        for prefix in ["crate::", "foundry::"] {
            for (i, _) in line.match_indices(prefix) {
                let preceded_by_ident = line[..i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_');
                if preceded_by_ident {
                    continue;
                }
                let rest = &line[i + prefix.len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        }
    }
    out
}

#[test]
fn imports_run_one_way_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        let Some(own) = layer_of(&module) else {
            // lib.rs, main.rs and this file sit above every layer.
            continue;
        };
        for named in named_modules(&std::fs::read_to_string(file).unwrap()) {
            match layer_of(&named) {
                Some(layer) if layer < own || named == module => {}
                Some(_) => violations.push(format!(
                    "{} ({module}) names `{named}`, which is not below it",
                    file.strip_prefix(&src).unwrap().display()
                )),
                None => {}
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering broken:\n{}",
        violations.join("\n")
    );
}

#[test]
fn every_top_level_module_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let main = std::fs::read_to_string(src.join("main.rs")).unwrap();
    for line in lib.lines().chain(main.lines()) {
        let Some(name) = line
            .strip_prefix("pub mod ")
            .or_else(|| line.strip_prefix("mod "))
            .and_then(|rest| rest.strip_suffix(';'))
        else {
            continue;
        };
        if name != "layers" {
            assert!(
                layer_of(name).is_some(),
                "module `{name}` has no layer in LAYERS"
            );
        }
    }
}

#[test]
fn the_scanner_sees_paths_and_ignores_comments() {
    let text = "use crate::aws::{Aws};\n// crate::engine is mentioned here\nlet x = foundry::stack::load();\nmy_crate::vocab";
    let found: Vec<_> = named_modules(text).into_iter().collect();
    assert_eq!(found, ["aws", "stack"]);
}
