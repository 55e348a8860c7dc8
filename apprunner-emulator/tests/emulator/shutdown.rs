//! Stopping the emulator stops every process it started: the library when
//! dropped, the binary on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::lifecycle::wait_until;
use crate::support::{
    ECR_HOST, TestRegistry, apprunner_client, get_body, healthz_check, image_source, process_exists,
};

async fn run_two_services(client: &aws_sdk_apprunner::Client, registry: &TestRegistry) -> Vec<u32> {
    let image = registry.push_probe("acme/api", "v1", &[]).await;
    let mut pids = Vec::new();
    for name in ["acme-one", "acme-two"] {
        let created = client
            .create_service()
            .service_name(name)
            .source_configuration(image_source(&image, &[], &[]))
            .health_check_configuration(healthz_check())
            .send()
            .await
            .unwrap();
        let arn = created.service().unwrap().service_arn().to_owned();
        let mut url = None;
        for _ in 0..500 {
            let service = client
                .describe_service()
                .service_arn(&arn)
                .send()
                .await
                .unwrap()
                .service
                .unwrap();
            if service.status().as_str() == "RUNNING" {
                url = service.service_url;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let url = url.expect("the service runs");
        pids.push(get_body(&url, "/pid").unwrap().trim().parse().unwrap());
    }
    pids
}

#[tokio::test]
async fn dropping_the_emulator_leaves_no_service_process() {
    let app = crate::support::spawn_app(Default::default());
    let pids = run_two_services(&app.client, &app.registry).await;
    assert!(pids.iter().all(|&pid| process_exists(pid)));
    let crate::support::TestApp {
        emulator, registry, ..
    } = app;
    drop(emulator);
    for pid in pids {
        assert!(!process_exists(pid), "instance {pid} outlived the emulator");
    }
    drop(registry);
}

#[tokio::test]
async fn the_binary_stops_every_service_process_on_sigterm() {
    let registry = TestRegistry::start();
    let state = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_apprunner-emulator"))
        .args(["--state-dir", state.path().to_str().unwrap()])
        .args(["--registry-map", &format!("{ECR_HOST}={}", registry.host)])
        .args(["--delay-ms", "10", "--health-second-ms", "20"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let endpoint = line
        .trim()
        .strip_prefix("apprunner-emulator listening on ")
        .expect(&line)
        .to_owned();
    let pids = run_two_services(&apprunner_client(&endpoint), &registry).await;

    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    for pid in pids {
        wait_until(|| !process_exists(pid), "the binary's instances stop");
    }
}
