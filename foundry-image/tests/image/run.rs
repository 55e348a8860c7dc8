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

/// The real api service, debug build, against a real Postgres (it checks
/// or migrates its schema before it serves; outside the chroot, the
/// network is the host's, so the cluster on loopback is reachable).
#[test]
fn the_api_service_image_answers_healthz() {
    let postgres = localenv::postgres::PostgresServer::start().expect("postgres starts");
    let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../services/api");
    let mut request = BuildRequest::new(crate_dir, "dev");
    request.incremental = true;
    let built = foundry_image::build(&request, &NoProgress).expect("services/api builds");
    let (dir, layout, image) = assemble_fixture(&built.binary);
    let root = dir.path().join("rootfs");
    std::fs::create_dir(&root).unwrap();
    unpack(&layout, &image, &root);
    let config = image_config(&layout, &image);

    let port = free_port();
    let env = [
        ("PORT", port.to_string()),
        ("HOST", "127.0.0.1".to_owned()),
        ("APP_ENV", "dev".to_owned()),
        ("DATABASE_URL", postgres.info().database_url("postgres")),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("S3_BUCKET_UPLOADS", "uploads".to_owned()),
        ("CLERK_JWKS_URL", "http://127.0.0.1:9/jwks".to_owned()),
        ("CLERK_ISSUER", "https://clerk.example".to_owned()),
        ("AI_SERVICE_URL", "http://127.0.0.1:9".to_owned()),
        (
            "AI_INTERNAL_API_KEY",
            "test-internal-key-0123456789".to_owned(),
        ),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut running = RunningImage::start(&config, &root, port, &env);

    let body = running.get_ok("/healthz", Duration::from_secs(60));
    assert!(body.contains("ok"), "{body}");
    running.get_ok("/readyz", Duration::from_secs(10));
}

/// The real ai service, debug build (warm in the shared target directory
/// once the workspace's own tests have built it; cold, it costs minutes).
#[test]
fn the_ai_service_image_answers_healthz() {
    let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../services/ai");
    let mut request = BuildRequest::new(crate_dir, "dev");
    // Reuse the workspace's incremental dev build instead of recompiling the
    // service: this test is about running the image, not reproducibility.
    request.incremental = true;
    let built = foundry_image::build(&request, &NoProgress).expect("services/ai builds");
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

#[test]
fn a_static_binary_gets_no_loader_or_libraries_and_still_runs() {
    let tree = crate::support::fixture_copy();
    std::fs::create_dir(tree.path().join(".cargo")).unwrap();
    std::fs::write(
        tree.path().join(".cargo/config.toml"),
        "[build]\nrustflags = [\"-C\", \"target-feature=+crt-static\"]\n",
    )
    .unwrap();
    let target = tempfile::tempdir().unwrap();
    let mut request = BuildRequest::new(tree.path(), "dev");
    request.target_dir = Some(target.path().to_owned());
    let built = foundry_image::build(&request, &NoProgress).expect("the static fixture builds");
    let (dir, layout, image) = assemble_fixture(&built.binary);
    let root = dir.path().join("rootfs");
    std::fs::create_dir(&root).unwrap();
    unpack(&layout, &image, &root);

    let mut files = Vec::new();
    collect_files(&root, &root, &mut files);
    files.sort();
    assert_eq!(
        files,
        [
            "app/hello-http",
            "etc/group",
            "etc/nsswitch.conf",
            "etc/passwd",
            "etc/ssl/certs/ca-certificates.crt"
        ]
    );
    let config = image_config(&layout, &image);
    let port = free_port();
    let mut running = RunningImage::start(&config, &root, port, &[("PORT", &port.to_string())]);
    assert_eq!(running.get_ok("/healthz", Duration::from_secs(10)), "ok\n");
}

fn collect_files(root: &std::path::Path, dir: &std::path::Path, files: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(root, &path, files);
        } else {
            files.push(
                path.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
}
