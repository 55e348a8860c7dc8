//! ECR repositories and Secrets Manager secrets of the reference stack,
//! checked with independent SDK calls.

use std::io::Write;
use std::process::Stdio;

use crate::support::{TestEnv, state_text};

async fn clients(
    env: &TestEnv,
) -> (
    aws_sdk_ecr::Client,
    aws_sdk_secretsmanager::Client,
    aws_sdk_iam::Client,
) {
    let config = env.sdk_config().await;
    (
        aws_sdk_ecr::Client::new(&config),
        aws_sdk_secretsmanager::Client::new(&config),
        aws_sdk_iam::Client::new(&config),
    )
}

#[tokio::test]
async fn repositories_scan_on_push_and_secret_values_never_leave_aws() {
    let env = TestEnv::start().await;
    let (ecr, sm, iam) = clients(&env).await;
    let up = env.foundry(&["up", "--env", "prod", "--yes"]).success();

    let repos = ecr.describe_repositories().send().await.unwrap();
    let mut names: Vec<_> = repos
        .repositories()
        .iter()
        .filter_map(|r| r.repository_name())
        .collect();
    names.sort();
    assert_eq!(names, ["acme/prod/ai", "acme/prod/api"]);
    for r in repos.repositories() {
        assert!(
            r.image_scanning_configuration()
                .is_some_and(|c| c.scan_on_push()),
            "{r:?}"
        );
        assert_eq!(
            r.image_tag_mutability().map(|m| m.as_str()),
            Some("IMMUTABLE")
        );
        let policy = ecr
            .get_lifecycle_policy()
            .repository_name(r.repository_name().unwrap())
            .send()
            .await
            .unwrap();
        let policy: serde_json::Value =
            serde_json::from_str(policy.lifecycle_policy_text().unwrap()).unwrap();
        assert_eq!(policy["rules"][0]["selection"]["countNumber"], 30);
    }

    let generated = sm
        .get_secret_value()
        .secret_id("acme/prod/internal_api_key")
        .send()
        .await
        .unwrap();
    let value = generated.secret_string().unwrap().to_string();
    assert!(value.len() >= 32, "a strong generated key");
    let empty = sm
        .get_secret_value()
        .secret_id("acme/prod/openai_api_key")
        .send()
        .await;
    assert!(
        empty.is_err(),
        "a secret foundry does not generate starts without a value"
    );
    let described = sm
        .describe_secret()
        .secret_id("acme/prod/openai_api_key")
        .send()
        .await
        .unwrap();
    let tag = |k: &str| {
        described
            .tags()
            .iter()
            .find(|t| t.key() == Some(k))
            .and_then(|t| t.value())
            .map(str::to_string)
    };
    assert_eq!(tag("foundry:id").as_deref(), Some("secret-openai_api_key"));

    // `secret set` reads stdin; the value reaches AWS and nothing else.
    let mut child = env
        .command(&["secret", "set", "openai_api_key", "--env", "prod"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"sk-test-not-a-real-key-1234\n")
        .unwrap();
    let set = child.wait_with_output().unwrap();
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let stored = sm
        .get_secret_value()
        .secret_id("acme/prod/openai_api_key")
        .send()
        .await
        .unwrap();
    assert_eq!(stored.secret_string(), Some("sk-test-not-a-real-key-1234"));

    let outputs = env
        .foundry(&["outputs", "--env", "prod", "--json"])
        .success();
    let plan = env.foundry(&["plan", "--env", "prod", "--json"]).success();
    let printed = [
        up.stdout(),
        up.stderr(),
        String::from_utf8_lossy(&set.stdout).into_owned(),
        String::from_utf8_lossy(&set.stderr).into_owned(),
        outputs.stdout(),
        plan.stdout(),
        state_text(&env),
    ]
    .concat();
    for secret in [value.as_str(), "sk-test-not-a-real-key-1234"] {
        assert!(
            !printed.contains(secret),
            "a secret value leaked into output or state"
        );
    }
    let outputs: serde_json::Value = serde_json::from_str(&outputs.stdout()).unwrap();
    assert!(
        outputs["repository_uris"]["api"]
            .as_str()
            .unwrap()
            .contains("acme/prod/api")
    );
    assert!(
        outputs["secret_arns"]["internal_api_key"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:secretsmanager:")
    );

    // IAM: App Runner trusts, and inline policies naming exactly the secrets
    // each service reads: no wildcard action or resource.
    let secret_arn = |name: &str| outputs["secret_arns"][name].as_str().unwrap().to_string();
    let uploads = "arn:aws:s3:::acme-prod-uploads-123456789012/uploads/*".to_string();
    // RDS names the database's secret; the grant names its instance by tag.
    let db_secrets = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-*".to_string();
    let expectations = [
        (
            "acme-prod-api",
            vec![secret_arn("internal_api_key"), uploads, db_secrets.clone()],
            vec![
                "s3:DeleteObject",
                "s3:GetObject",
                "s3:PutObject",
                "secretsmanager:GetSecretValue",
                "secretsmanager:GetSecretValue",
            ],
        ),
        (
            "acme-prod-ai",
            // ai connects to the database (its token caps), so it reads the
            // RDS-managed secret as the api does.
            vec![
                secret_arn("anthropic_api_key"),
                secret_arn("internal_api_key"),
                secret_arn("openai_api_key"),
                db_secrets,
            ],
            vec![
                "secretsmanager:GetSecretValue",
                "secretsmanager:GetSecretValue",
            ],
        ),
    ];
    for (role, mut resources, actions_wanted) in expectations {
        let got = iam.get_role().role_name(role).send().await.unwrap();
        let trust = percent_decode(got.role().unwrap().assume_role_policy_document().unwrap());
        assert!(trust.contains("tasks.apprunner.amazonaws.com"), "{trust}");
        let policy = iam
            .get_role_policy()
            .role_name(role)
            .policy_name("foundry")
            .send()
            .await
            .unwrap();
        let doc: serde_json::Value =
            serde_json::from_str(&percent_decode(policy.policy_document())).unwrap();
        let statements = doc["Statement"].as_array().unwrap();
        let strings = |key: &str| -> Vec<String> {
            let mut v: Vec<String> = statements
                .iter()
                .flat_map(|s| s[key].as_array().unwrap())
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            strings("Action"),
            actions_wanted,
            "{role}: exactly the actions its connections need"
        );
        resources.sort();
        assert_eq!(
            strings("Resource"),
            resources,
            "{role}: exactly its declared secrets and bucket prefix"
        );
        // The only `*`s: the declared prefix's own object wildcard, and the
        // database secret's name, held to this stack's instance by its tag.
        for r in strings("Resource").iter().chain(&strings("Action")) {
            assert!(
                !r.contains('*') || r.ends_with("/uploads/*") || r.ends_with(":secret:rds!db-*"),
                "wildcard {r} in {role}"
            );
        }
        for s in statements {
            let resources = s["Resource"].as_array().unwrap();
            if resources
                .iter()
                .any(|r| r.as_str().unwrap().ends_with("rds!db-*"))
            {
                assert_eq!(
                    s["Condition"]["StringEquals"]["aws:ResourceTag/aws:rds:primaryDBInstanceArn"],
                    "arn:aws:rds:us-east-1:123456789012:db:acme-prod-db",
                    "{role}: only the secret of this stack's database"
                );
            }
        }
    }
    let ecr_role = iam
        .get_role()
        .role_name("acme-prod-apprunner-ecr")
        .send()
        .await
        .unwrap();
    assert!(
        percent_decode(
            ecr_role
                .role()
                .unwrap()
                .assume_role_policy_document()
                .unwrap()
        )
        .contains("build.apprunner.amazonaws.com")
    );
    let attached = iam
        .list_attached_role_policies()
        .role_name("acme-prod-apprunner-ecr")
        .send()
        .await
        .unwrap();
    let arns: Vec<_> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
        .collect();
    assert_eq!(
        arns,
        ["arn:aws:iam::aws:policy/service-role/AWSAppRunnerServicePolicyForECRAccess"]
    );

    let noop = env.foundry(&["plan", "--env", "prod", "--detailed-exitcode"]);
    assert_eq!(noop.code(), Some(0), "{}", noop.stdout());

    let unknown = env.foundry(&["secret", "set", "openai_key", "--env", "prod"]);
    assert_eq!(unknown.code(), Some(1));
    assert!(
        unknown.stderr().contains("did you mean `openai_api_key`?"),
        "{}",
        unknown.stderr()
    );

    // Changing the number of kept images is an in-place update of the lifecycle policy.
    env.write(
        "foundry.toml",
        &crate::support::REFERENCE.replace("keep_images = 30", "keep_images = 10"),
    );
    let plan = env.foundry(&["plan", "--env", "prod"]).success();
    assert!(
        plan.stdout()
            .contains("Plan: 0 to create, 2 to update, 0 to replace, 0 to delete."),
        "{}",
        plan.stdout()
    );
    env.foundry(&["up", "--env", "prod", "--yes"]).success();
    let policy = ecr
        .get_lifecycle_policy()
        .repository_name("acme/prod/api")
        .send()
        .await
        .unwrap();
    assert!(
        policy
            .lifecycle_policy_text()
            .unwrap()
            .contains("\"countNumber\":10")
    );
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[test]
fn a_service_reading_an_undeclared_secret_is_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let text = crate::support::REFERENCE.replace("\"anthropic_api_key\"]", "\"antropic_api_key\"]");
    std::fs::write(dir.path().join("foundry.toml"), &text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_foundry"))
        .current_dir(dir.path())
        .arg("validate")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("service `ai` reads secret `antropic_api_key`, which is not declared"),
        "{err}"
    );
    assert!(err.contains("did you mean `anthropic_api_key`?"), "{err}");
    let line = 1 + text
        .lines()
        .position(|l| l.contains("antropic_api_key"))
        .unwrap();
    assert!(err.contains(&format!("foundry.toml:{line}:")), "{err}");
}
