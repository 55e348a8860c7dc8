//! Images run: unpacked into an empty directory, entrypoint started under
//! `chroot --userspec` as the image's user, with nothing from the host.

use std::time::Duration;

use foundry_image::{BuildRequest, NoProgress};

use crate::support::{
    RunningImage, assemble_fixture, build_fixture, free_port, image_config, unpack,
};

#[test]
fn the_fixture_image_answers_healthz_as_its_non_root_user() {
    let built = build_fixture();
    let (dir, layout, image) = assemble_fixture(&built.binary);
    let root = dir.path().join("rootfs");
    std::fs::create_dir(&root).unwrap();
    unpack(&layout, &image, &root);
    let config = image_config(&layout, &image);

    let port = free_port();
    let mut running = RunningImage::start(&config, &root, port, &[("PORT", &port.to_string())]);

    assert_eq!(running.get_ok("/healthz", Duration::from_secs(10)), "ok\n");
    assert_eq!(
        running.get_ok("/whoami", Duration::from_secs(1)),
        "10001:10001\n"
    );
}

/// The real ai service, debug build (warm in the shared target directory
/// after the workspace's own tests have built it).
#[test]
fn the_ai_service_image_answers_healthz() {
    let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../services/ai");
    let built = foundry_image::build(&BuildRequest::new(crate_dir, "dev"), &NoProgress)
        .expect("services/ai builds");
    let (dir, layout, image) = assemble_fixture(&built.binary);
    let root = dir.path().join("rootfs");
    std::fs::create_dir(&root).unwrap();
    unpack(&layout, &image, &root);
    let config = image_config(&layout, &image);

    let port = free_port();
    let env = [
        ("PORT", port.to_string()),
        ("AI_BIND_ADDRESS", "127.0.0.1".to_owned()),
        (
            "AI_INTERNAL_API_KEY",
            "test-internal-key-0123456789".to_owned(),
        ),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut running = RunningImage::start(&config, &root, port, &env);

    running.get_ok("/healthz", Duration::from_secs(30));
}
