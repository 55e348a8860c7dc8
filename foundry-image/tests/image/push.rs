//! Pushing to a real registry, read back with skopeo.

use foundry_image::{
    BlobOutcome, Credentials, Digest, NoProgress, Progress, PushError, PushTarget, Registry,
};

use crate::support::{
    CountingProxy, REVISION, SOURCE, TestRegistry, assemble_fixture, build_fixture, skopeo_json,
};

/// bcrypt (cost 4, so each request checks fast) of "right-password".
const HTPASSWD_HASH: &str = "$2b$04$DHBDKWkxpzA1BweYieKTsuqYnuCmdVKjjrzoGzMqwRvDr5ouE9PWK";

fn registry(host: &str, credentials: Credentials) -> Registry {
    Registry {
        host: host.to_owned(),
        insecure_http: true,
        credentials,
    }
}

fn target(repository: &str) -> PushTarget {
    PushTarget {
        repository: repository.into(),
        tag: REVISION.into(),
        mount_from: vec![],
    }
}

#[derive(Default)]
struct Blobs(std::sync::Mutex<Vec<(Digest, u64, BlobOutcome)>>);

impl Progress for Blobs {
    fn blob(&self, digest: &Digest, size: u64, outcome: BlobOutcome) {
        self.0.lock().unwrap().push((digest.clone(), size, outcome));
    }
}

#[tokio::test]
async fn a_pushed_image_reads_back_with_skopeo_and_a_second_push_uploads_no_blob() {
    let registry_server = TestRegistry::start();
    let proxy = CountingProxy::start(&registry_server.host);
    let built = build_fixture();
    let (_dir, layout, image) = assemble_fixture(&built.binary);
    let to = registry(&proxy.host, Credentials::Anonymous);
    let progress = Blobs::default();

    let first = foundry_image::push(&layout, &image.tag, &to, &target("shop/dev/api"), &progress)
        .await
        .unwrap();

    let blob_sizes: u64 = progress.0.lock().unwrap().iter().map(|b| b.1).sum();
    assert_eq!(first.blobs_uploaded, 3, "two layers and the config");
    assert_eq!(first.bytes_uploaded, blob_sizes);
    assert!(
        first.bytes_uploaded > 100_000,
        "the binary is in there: {first:?}"
    );
    let sent_first = proxy.bytes_sent();
    assert!(
        sent_first >= first.bytes_uploaded,
        "{sent_first} sent for {first:?}"
    );
    assert_eq!(first.manifest_digest, image.manifest_digest);
    assert_eq!(
        first.pinned_reference,
        format!("{}/shop/dev/api@{}", proxy.host, image.manifest_digest)
    );

    let reference = format!("docker://{}/shop/dev/api:{REVISION}", registry_server.host);
    let inspected = skopeo_json(&["inspect", "--tls-verify=false", &reference]);
    assert_eq!(inspected["Digest"], image.manifest_digest.as_str());
    assert_eq!(
        inspected["Labels"]["org.opencontainers.image.revision"],
        REVISION
    );
    assert_eq!(
        inspected["Labels"]["org.opencontainers.image.source"],
        SOURCE
    );
    assert_eq!(inspected["Architecture"], image.architecture.as_str());
    let config = skopeo_json(&["inspect", "--tls-verify=false", "--config", &reference]);
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/app/hello-http"])
    );
    assert_eq!(config["config"]["User"], "10001:10001");
    assert!(
        config["config"]["ExposedPorts"]["8080/tcp"].is_object(),
        "{config}"
    );

    let second = foundry_image::push(
        &layout,
        &image.tag,
        &to,
        &target("shop/dev/api"),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(
        (
            second.bytes_uploaded,
            second.blobs_uploaded,
            second.blobs_present
        ),
        (0, 0, 3)
    );
    let sent_second = proxy.bytes_sent() - sent_first;
    assert!(
        sent_second < 16 * 1024,
        "a push of what the registry has sent {sent_second} bytes"
    );
}

#[tokio::test]
async fn blobs_in_another_repository_of_the_registry_are_mounted_not_uploaded() {
    let registry_server = TestRegistry::start();
    let built = build_fixture();
    let (_dir, layout, image) = assemble_fixture(&built.binary);
    let to = registry(&registry_server.host, Credentials::Anonymous);
    foundry_image::push(
        &layout,
        &image.tag,
        &to,
        &target("shop/dev/api"),
        &NoProgress,
    )
    .await
    .unwrap();

    let mut other = target("shop/prod/api");
    other.mount_from = vec!["shop/staging/api".into(), "shop/dev/api".into()];
    let report = foundry_image::push(
        &layout,
        image.manifest_digest.as_str(),
        &to,
        &other,
        &NoProgress,
    )
    .await
    .unwrap();

    assert_eq!(
        (report.bytes_uploaded, report.blobs_mounted),
        (0, 3),
        "{report:?}"
    );
    let reference = format!("docker://{}/shop/prod/api:{REVISION}", registry_server.host);
    let inspected = skopeo_json(&["inspect", "--tls-verify=false", &reference]);
    assert_eq!(inspected["Digest"], image.manifest_digest.as_str());
}

#[tokio::test]
async fn a_registry_with_basic_auth_refuses_a_wrong_password_and_takes_the_right_one() {
    let registry_server = TestRegistry::start_with_basic_auth("AWS", HTPASSWD_HASH);
    let built = build_fixture();
    let (_dir, layout, image) = assemble_fixture(&built.binary);
    let basic = |password: &str| Credentials::Basic {
        username: "AWS".into(),
        password: password.into(),
    };

    let wrong = registry(&registry_server.host, basic("wrong-password"));
    let err = foundry_image::push(
        &layout,
        &image.tag,
        &wrong,
        &target("shop/dev/api"),
        &NoProgress,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PushError::Unauthorized { .. }), "{err}");
    assert!(err.to_string().contains("refused the credentials"), "{err}");
    assert!(!err.to_string().contains("wrong-password"), "{err}");

    let right = registry(&registry_server.host, basic("right-password"));
    let report = foundry_image::push(
        &layout,
        &image.tag,
        &right,
        &target("shop/dev/api"),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(report.blobs_uploaded, 3);
}

#[tokio::test]
async fn nothing_listening_is_unreachable_and_an_unknown_tag_is_not_in_the_layout() {
    let built = build_fixture();
    let (_dir, layout, image) = assemble_fixture(&built.binary);
    let nowhere = registry(
        &format!("127.0.0.1:{}", crate::support::free_port()),
        Credentials::Anonymous,
    );

    let err = foundry_image::push(
        &layout,
        &image.tag,
        &nowhere,
        &target("shop/dev/api"),
        &NoProgress,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PushError::Unreachable { .. }), "{err}");

    let err = foundry_image::push(
        &layout,
        "no-such-tag",
        &nowhere,
        &target("shop/dev/api"),
        &NoProgress,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PushError::NotInLayout { .. }), "{err}");
}
