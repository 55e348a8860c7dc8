use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use crate::support::{REFERENCE_DATA, TestEnv, reference_census};

/// Killed with SIGKILL at chosen points (each in a stack of its own, so the
/// point is always reached), every rerun converges: each resource exists
/// exactly once and nothing is left over.
#[tokio::test]
async fn up_killed_at_any_point_converges_with_each_resource_exactly_once() {
    let env = TestEnv::start().await;
    let points = [
        "before-create:vpc",
        "after-create:vpc",
        "after-create:subnet-public-a",
        "after-journal:igw",
        "after-create:eip-nat-a",
        "after-create:nat-a",
        "after-create:rt-app-a",
        "after-create:sg-endpoints",
        "after-create:vpce-s3",
        "after-create:vpce-ecr-api",
        "after-create:sg-database",
        "after-create:db-subnets",
        "after-create:db-params-postgres16",
        "after-create:db",
        "after-journal:db",
        "after-create:oac-web",
        "after-create:cdn",
        "after-create:bucket-web",
        "after-create:alarm-db-cpu",
    ];
    for (i, point) in points.iter().enumerate() {
        let stack = format!("crash{i}");
        let file = format!("{stack}.toml");
        env.write(
            &file,
            &crate::support::REFERENCE.replace("name = \"acme\"", &format!("name = \"{stack}\"")),
        );
        let args = ["--stack", file.as_str(), "up", "--env", "dev", "--yes"];
        let out = env
            .spawn(&args, Some(&format!("kill@{point}")))
            .wait_with_output()
            .unwrap();
        assert_eq!(
            out.status.signal(),
            Some(9),
            "{point}: expected SIGKILL, got {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        env.foundry(&args).success();
        assert_eq!(
            env.census(&stack, "dev").await,
            reference_census(1),
            "after a kill at {point}"
        );
        assert_eq!(
            env.data_census(&stack, "dev").await,
            REFERENCE_DATA,
            "after a kill at {point}"
        );
        let plan = env.foundry(&[
            "--stack",
            file.as_str(),
            "plan",
            "--env",
            "dev",
            "--detailed-exitcode",
        ]);
        assert_eq!(
            plan.code(),
            Some(0),
            "after a kill at {point}: {}",
            plan.stdout()
        );
    }
}

/// Killed from outside at arbitrary moments while switching NAT modes back
/// and forth, the last run still converges.
#[tokio::test]
async fn up_killed_from_outside_at_arbitrary_moments_converges() {
    let env = TestEnv::start().await;
    let per_az = crate::support::REFERENCE.replace("nat = \"single\"", "nat = \"per-az\"");
    for delay_ms in [40, 120, 250, 400] {
        for text in [per_az.as_str(), crate::support::REFERENCE.as_str()] {
            env.write("foundry.toml", text);
            let mut child = env.spawn(&["up", "--env", "dev", "--yes"], None);
            std::thread::sleep(Duration::from_millis(delay_ms));
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
    env.foundry(&["up", "--env", "dev", "--yes"]).success();
    assert_eq!(env.census("acme", "dev").await, reference_census(1));
    assert_eq!(env.data_census("acme", "dev").await, REFERENCE_DATA);
    let plan = env.foundry(&["plan", "--env", "dev", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(0), "{}", plan.stdout());
}

#[tokio::test]
async fn a_second_up_fails_fast_naming_the_lock_holder_and_state_stays_intact() {
    let env = TestEnv::start().await;
    // One step at a time, so that nothing moves while the first run stalls.
    let mut first = env.spawn(
        &["up", "--env", "dev", "--yes", "--concurrency", "1"],
        Some("stall@after-journal:igw"),
    );
    let journal = env.state_dir("acme", "dev").join("journal.jsonl");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&journal).is_ok_and(|j| {
        j.lines()
            .any(|l| l.contains("\"created\"") && l.contains("\"igw\""))
    }) {
        assert!(
            Instant::now() < deadline,
            "the first up never created its internet gateway"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let state_before = std::fs::read(env.state_dir("acme", "dev").join("state.json")).unwrap();

    let started = Instant::now();
    let second = env.foundry(&["up", "--env", "dev", "--yes"]);
    assert_eq!(second.code(), Some(1));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the second run must fail fast"
    );
    let err = second.stderr();
    assert!(err.contains("another foundry run holds the lock"), "{err}");
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    assert!(err.contains("`foundry up`"), "{err}");
    assert_eq!(
        std::fs::read(env.state_dir("acme", "dev").join("state.json")).unwrap(),
        state_before,
        "state untouched"
    );

    // The holder dies: its OS lock dies with it and the next run converges.
    first.kill().unwrap();
    first.wait().unwrap();
    env.foundry(&["up", "--env", "dev", "--yes"]).success();
    assert_eq!(env.census("acme", "dev").await, reference_census(1));
}

/// AWS's eventual consistency (a fresh id unknown to the next call) is ridden
/// out: a create that failed before creating is retried; one that failed after
/// creating is completed in place, never created twice.
#[tokio::test]
async fn not_found_right_after_a_create_is_retried_without_duplicates() {
    let env = TestEnv::start().await;
    for (i, point) in [
        "before-create:subnet-app-a",
        "after-create:igw",
        "mid-create:rt-app-b",
    ]
    .iter()
    .enumerate()
    {
        let stack = format!("consistency{i}");
        let file = format!("{stack}.toml");
        env.write(
            &file,
            &crate::support::REFERENCE.replace("name = \"acme\"", &format!("name = \"{stack}\"")),
        );
        let args = ["--stack", file.as_str(), "up", "--env", "dev", "--yes"];
        let out = env
            .spawn(&args, Some(&format!("notfound@{point}")))
            .wait_with_output()
            .unwrap();
        assert!(
            out.status.success(),
            "{point}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            env.census(&stack, "dev").await,
            reference_census(1),
            "after NotFound at {point}"
        );
        let plan = env.foundry(&[
            "--stack",
            file.as_str(),
            "plan",
            "--env",
            "dev",
            "--detailed-exitcode",
        ]);
        assert_eq!(
            plan.code(),
            Some(0),
            "after NotFound at {point}: {}",
            plan.stdout()
        );
    }
}
