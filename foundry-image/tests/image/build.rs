//! cargo builds and reproducible images.

use std::fs;
use std::time::{Duration, SystemTime};

use foundry_image::{BuildError, BuildRequest, NoProgress, Progress};

use crate::support::{assemble_fixture, fixture_copy};

fn build_in(crate_dir: &std::path::Path, target_dir: &std::path::Path) -> foundry_image::Built {
    let mut request = BuildRequest::new(crate_dir, "dev");
    request.target_dir = Some(target_dir.to_owned());
    foundry_image::build(&request, &NoProgress).expect("the crate builds")
}

#[test]
fn the_same_tree_gives_the_same_digest_and_only_a_code_change_changes_it() {
    let tree = fixture_copy();
    let (first_target, second_target) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    let first = build_in(tree.path(), first_target.path());
    let (_d1, _l1, image) = assemble_fixture(&first.binary);

    // Built again from scratch in another target directory.
    let second = build_in(tree.path(), second_target.path());
    assert!(!second.fresh);
    let (_d2, _l2, again) = assemble_fixture(&second.binary);
    assert_eq!(
        again, image,
        "a clean rebuild of the same tree gives the same image"
    );

    // Only the source file's mtime changes: cargo recompiles, same image.
    let main = tree.path().join("src/main.rs");
    let later = SystemTime::now() + Duration::from_secs(60);
    fs::File::options()
        .write(true)
        .open(&main)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let touched = build_in(tree.path(), first_target.path());
    assert!(!touched.fresh, "cargo rebuilt after the touch");
    let (_d3, _l3, after_touch) = assemble_fixture(&touched.binary);
    assert_eq!(after_touch.manifest_digest, image.manifest_digest);

    // A code change: a new app layer and digest, the same base layer.
    let source = fs::read_to_string(&main)
        .unwrap()
        .replace("\"ok\\n\"", "\"fine\\n\"");
    fs::write(&main, source).unwrap();
    let changed = build_in(tree.path(), first_target.path());
    let (_d4, _l4, after_change) = assemble_fixture(&changed.binary);
    assert_ne!(after_change.manifest_digest, image.manifest_digest);
    assert_eq!(after_change.layer_digests[0], image.layer_digests[0]);
    assert_ne!(after_change.layer_digests[1], image.layer_digests[1]);
}

#[derive(Default)]
struct CargoLines(std::sync::Mutex<Vec<String>>);

impl Progress for CargoLines {
    fn cargo_line(&self, line: &str) {
        self.0.lock().unwrap().push(line.to_owned());
    }
}

#[test]
fn a_crate_that_does_not_compile_fails_with_rustcs_message_and_cargo_lines_stream() {
    let tree = fixture_copy();
    fs::write(
        tree.path().join("src/main.rs"),
        "fn main() { let port: u16 = \"8080\"; }\n",
    )
    .unwrap();
    let target = tempfile::tempdir().unwrap();
    let mut request = BuildRequest::new(tree.path(), "dev");
    request.target_dir = Some(target.path().to_owned());
    let lines = CargoLines::default();

    let err = foundry_image::build(&request, &lines).unwrap_err();

    let BuildError::CargoFailed { message, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        message.contains("error[E0308]: mismatched types"),
        "{message}"
    );
    assert!(message.contains("src/main.rs:1"), "{message}");
    assert!(
        err.to_string().contains("does not build; cargo said:"),
        "{err}"
    );
    let lines = lines.0.lock().unwrap();
    assert!(
        lines.iter().any(|l| l.contains("Compiling hello-http")),
        "{lines:?}"
    );
}

#[test]
fn a_broken_manifest_fails_with_cargos_own_message() {
    let tree = fixture_copy();
    fs::write(
        tree.path().join("Cargo.toml"),
        "[package]\nname = \"hello-http\"\nversion = \n",
    )
    .unwrap();
    let err =
        foundry_image::build(&BuildRequest::new(tree.path(), "dev"), &NoProgress).unwrap_err();
    let BuildError::CargoFailed { message, .. } = &err else {
        panic!("{err}")
    };
    assert!(message.contains("Cargo.toml"), "{message}");
}

#[test]
fn a_directory_without_a_crate_or_binary_says_so() {
    let empty = tempfile::tempdir().unwrap();
    let err =
        foundry_image::build(&BuildRequest::new(empty.path(), "dev"), &NoProgress).unwrap_err();
    assert!(matches!(err, BuildError::NotACrate { .. }), "{err}");

    let tree = fixture_copy();
    let target = tempfile::tempdir().unwrap();
    let mut request = BuildRequest::new(tree.path(), "dev");
    request.target_dir = Some(target.path().to_owned());
    request.binary = Some("api".into());
    let err = foundry_image::build(&request, &NoProgress).unwrap_err();
    let BuildError::CargoFailed { message, .. } = &err else {
        panic!("{err}")
    };
    assert!(message.contains("no bin target named `api`"), "{message}");
}

#[test]
fn the_layout_is_one_skopeo_reads_with_the_config_foundry_wrote() {
    let built = crate::support::build_fixture();
    let (_dir, layout, image) = assemble_fixture(&built.binary);
    let config = crate::support::image_config(&layout, &image);
    let reference = format!("oci:{}:{}", layout.root().display(), image.tag);
    let inspected = crate::support::skopeo_json(&["inspect", "--config", &reference]);
    assert_eq!(
        inspected["config"]["Entrypoint"],
        config["config"]["Entrypoint"]
    );
    assert_eq!(
        inspected["rootfs"]["diff_ids"],
        config["rootfs"]["diff_ids"]
    );
    assert_eq!(inspected["created"], "2023-11-14T22:13:20Z");
}
