//! The history's rules, as scripts: `check(script, expect)` runs one step
//! per line against an empty history and renders the result one release per
//! line (`#n kind outcome service=digest…`).
//!
//! Steps: `deploy api=a ai=b` (begin), `rollback:N api=a` (begin a rollback
//! to N), `ok N`, `fail N`, `keep N` (finish), `env api K=V` on the next
//! begin is spelled `api=a+K=V`.

use std::collections::BTreeMap;

use super::*;

fn services(words: &[&str]) -> BTreeMap<String, ServiceRelease> {
    words
        .iter()
        .map(|w| {
            let (name, rest) = w.split_once('=').expect("service=image");
            let mut parts = rest.split('+');
            let image = parts.next().unwrap();
            let env = parts
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.to_owned(), v.to_owned())
                })
                .collect();
            (
                name.to_owned(),
                ServiceRelease {
                    image: format!("r/{name}@sha256:{image}"),
                    git_sha: None,
                    env,
                    secrets: BTreeMap::new(),
                    handle: None,
                },
            )
        })
        .collect()
}

fn run(script: &str) -> (History, Vec<u32>) {
    let mut history = History::default();
    let mut begun = Vec::new();
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[0] {
            "deploy" => {
                begun.push(history.begin(ReleaseKind::Deploy, services(&words[1..]), "me", "t"))
            }
            w if w.starts_with("rollback:") => begun.push(history.begin(
                ReleaseKind::Rollback {
                    to: w["rollback:".len()..].parse().unwrap(),
                },
                services(&words[1..]),
                "me",
                "t",
            )),
            verb @ ("ok" | "fail" | "keep") => {
                let outcome = match verb {
                    "ok" => Outcome::Succeeded,
                    "fail" => Outcome::Failed {
                        reason: "health".into(),
                    },
                    _ => Outcome::FailedKept {
                        reason: "health".into(),
                    },
                };
                history.finish(words[1].parse().unwrap(), outcome, "t2");
            }
            other => panic!("unknown step {other}"),
        }
    }
    (history, begun)
}

fn render(history: &History) -> String {
    history
        .releases
        .iter()
        .map(|r| {
            let kind = match &r.kind {
                ReleaseKind::Deploy => "deploy".to_owned(),
                ReleaseKind::Rollback { to } => format!("rollback:{to}"),
            };
            let outcome = match &r.outcome {
                Outcome::InProgress => "in_progress",
                Outcome::Succeeded => "succeeded",
                Outcome::Failed { .. } => "failed",
                Outcome::FailedKept { .. } => "failed_kept",
                Outcome::Interrupted => "interrupted",
            };
            let services: Vec<String> = r
                .services
                .iter()
                .map(|(n, s)| format!("{n}={}", s.image.rsplit(':').next().unwrap()))
                .collect();
            format!("#{} {kind} {outcome} {}", r.number, services.join(" "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[track_caller]
fn check(script: &str, expect: &str) {
    let (history, _) = run(script);
    assert_eq!(render(&history), expect.trim());
    let back = History::from_json(&history.to_json()).unwrap();
    assert_eq!(back, history, "the JSON form round-trips");
}

#[test]
fn releases_are_numbered_and_finished() {
    check(
        "deploy api=a ai=b\n ok 1\n deploy api=c ai=b\n fail 2\n deploy api=d ai=b\n keep 3",
        "#1 deploy succeeded ai=b api=a\n#2 deploy failed ai=b api=c\n#3 deploy failed_kept ai=b api=d",
    );
}

#[test]
fn a_killed_deploy_is_resumed_by_the_same_deploy_and_interrupted_by_another() {
    // Killed after begin; the same deploy again: one record, finished once.
    check(
        "deploy api=a\n ok 1\n deploy api=b\n deploy api=b\n ok 2",
        "#1 deploy succeeded api=a\n#2 deploy succeeded api=b",
    );
    // Killed; then a different image: the old record says what happened.
    check(
        "deploy api=a\n ok 1\n deploy api=b\n deploy api=c\n ok 3",
        "#1 deploy succeeded api=a\n#2 deploy interrupted api=b\n#3 deploy succeeded api=c",
    );
    // A changed env is a different intent too.
    check(
        "deploy api=a\n deploy api=a+K=1\n ok 2",
        "#1 deploy interrupted api=a\n#2 deploy succeeded api=a",
    );
}

#[test]
fn rollback_goes_to_the_newest_good_release_with_something_different() {
    let (history, _) = run(
        "deploy api=a\n ok 1\n deploy api=b\n fail 2\n deploy api=c\n ok 3\n deploy api=c\n ok 4",
    );
    assert_eq!(history.current().map(|r| r.number), Some(4));
    // 3 runs the same as 4; 2 failed: back to 1.
    assert_eq!(history.previous_good().map(|r| r.number), Some(1));

    let (history, _) = run("deploy api=a\n ok 1");
    assert_eq!(history.previous_good(), None, "nothing to go back to");
    let (history, _) = run("deploy api=a\n fail 1");
    assert_eq!(history.current(), None);
}

#[test]
fn changes_are_listed_against_the_last_good_release() {
    let (mut history, _) = run(
        "deploy api=a+A=1+B=2 ai=x\n ok 1\n deploy api=b+A=1+C=3\n fail 2\n deploy api=a+A=2+B=2 web=w\n ok 3",
    );
    history.releases[2]
        .services
        .get_mut("api")
        .unwrap()
        .secrets
        .insert(
            "KEY".into(),
            SecretRef {
                arn: "arn:secret".into(),
                version_id: Some("v2".into()),
            },
        );
    let listed: Vec<String> = history
        .with_changes()
        .iter()
        .map(|(r, changes)| format!("#{} {changes:?}", r.number))
        .collect();
    assert_eq!(
        listed,
        [
            // Against 1, since 2 failed.
            "#3 {\"ai\": [Removed], \"api\": [EnvChanged(\"A\"), Secret(\"KEY\")], \"web\": [Added]}",
            "#2 {\"ai\": [Removed], \"api\": [Image { from: \"r/api@sha256:a\", to: \"r/api@sha256:b\" }, EnvAdded(\"C\"), EnvRemoved(\"B\")]}",
            "#1 {\"ai\": [Added], \"api\": [Added]}",
        ]
    );
}
