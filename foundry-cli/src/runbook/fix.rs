//! `--fix` for fixes that belong in the stack file: edits made with
//! `toml_edit`, so that comments, order and layout stay as the team wrote
//! them, and a diff of the lines that changed.

use super::StackEdit;

#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error("the stack file does not parse as TOML any more: {0}")]
    Parse(String),
    #[error(
        "cannot apply the fix at `{path}`: {found} is in the way (edit the stack file by hand)"
    )]
    InTheWay { path: String, found: &'static str },
}

/// The stack file's text with `edits` applied.
pub fn apply(text: &str, edits: &[StackEdit]) -> Result<String, FixError> {
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| FixError::Parse(e.to_string()))?;
    for edit in edits {
        match edit {
            StackEdit::Set { path, value } => {
                let (last, parents) = path.split_last().expect("an edit names a key");
                let table = table_at(doc.as_item_mut(), parents, path)?;
                table.insert(last, toml_edit::value(value.as_str()));
            }
            StackEdit::Add { path, item } => {
                let (last, parents) = path.split_last().expect("an edit names a key");
                let table = table_at(doc.as_item_mut(), parents, path)?;
                let list = table
                    .entry(last)
                    .or_insert(toml_edit::value(toml_edit::Array::new()));
                let array = list.as_array_mut().ok_or_else(|| FixError::InTheWay {
                    path: path.join("."),
                    found: "a value that is not a list",
                })?;
                if !array.iter().any(|v| v.as_str() == Some(item)) {
                    array.push(item.as_str());
                }
            }
        }
    }
    Ok(doc.to_string())
}

/// The table at `parents`, created where missing: as dotted keys inside an
/// existing table (`network.nat = …` under `[env.dev]`, as the reference
/// stack writes overlays), so no new section header appears.
fn table_at<'d>(
    root: &'d mut toml_edit::Item,
    parents: &[String],
    path: &[String],
) -> Result<&'d mut dyn toml_edit::TableLike, FixError> {
    let mut current = root;
    for key in parents {
        let table = current
            .as_table_like_mut()
            .ok_or_else(|| FixError::InTheWay {
                path: path.join("."),
                found: "a value that is not a table",
            })?;
        if table.get(key).is_none() {
            let mut new = toml_edit::Table::new();
            new.set_dotted(true);
            table.insert(key, toml_edit::Item::Table(new));
        }
        current = table.get_mut(key).expect("just ensured");
    }
    current
        .as_table_like_mut()
        .ok_or_else(|| FixError::InTheWay {
            path: path.join("."),
            found: "a value that is not a table",
        })
}

/// The lines that differ between `before` and `after`, as `-`/`+` lines with
/// their line numbers (a longest-common-subsequence diff; stack files are
/// small).
pub fn diff(before: &str, after: &str) -> String {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("+{:>4} {}\n", j + 1, b[j]));
            j += 1;
        } else {
            out.push_str(&format!("-{:>4} {}\n", i + 1, a[i]));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: &str = r#"# The team's comment stays.
name = "acme"

[network]
nat = "per-az" # also this one
endpoints = ["logs"]

[env.dev]
# dev overrides below

[env.prod]
"#;

    fn set(path: &[&str], value: &str) -> StackEdit {
        StackEdit::Set {
            path: path.iter().map(|s| s.to_string()).collect(),
            value: value.into(),
        }
    }

    fn add(path: &[&str], item: &str) -> StackEdit {
        StackEdit::Add {
            path: path.iter().map(|s| s.to_string()).collect(),
            item: item.into(),
        }
    }

    #[test]
    fn edits_keep_comments_and_write_overlays_as_dotted_keys() {
        let after = apply(
            STACK,
            &[
                set(&["env", "dev", "network", "nat"], "single"),
                add(&["network", "gateway_endpoints"], "s3"),
                add(&["network", "endpoints"], "logs"),
                add(&["network", "endpoints"], "sts"),
            ],
        )
        .unwrap();
        expect_test::expect![[r##"
            # The team's comment stays.
            name = "acme"

            [network]
            nat = "per-az" # also this one
            endpoints = ["logs", "sts"]
            gateway_endpoints = ["s3"]

            [env.dev]
            network.nat = "single"
            # dev overrides below

            [env.prod]
        "##]]
        .assert_eq(&after);
        let parsed: toml::Table = toml::from_str(&after).unwrap();
        assert_eq!(
            parsed["env"]["dev"]["network"]["nat"].as_str(),
            Some("single")
        );
        expect_test::expect![[r#"
            +   6 endpoints = ["logs", "sts"]
            +   7 gateway_endpoints = ["s3"]
            -   6 endpoints = ["logs"]
            +  10 network.nat = "single"
        "#]]
        .assert_eq(&diff(STACK, &after));
    }

    #[test]
    fn a_value_in_the_way_is_an_error_not_an_overwrite() {
        let err = apply(STACK, &[add(&["network", "nat"], "x")]).unwrap_err();
        assert!(err.to_string().contains("`network.nat`"), "{err}");
    }
}
