//! `[ci] github`: the account's GitHub OIDC provider, shared by the stacks
//! that name one, and a deploy role per environment that only the named
//! repository's workflows may assume — checked with independent IAM calls.

use aws_sdk_iam::Client as Iam;
use serde_json::Value;

use crate::support::TestEnv;

const ACME: &str = r#"
name = "acme"
region = "us-east-1"

[network]
azs = 1

[services.api]
port = 8080

[state]
backend = "s3"
bucket = "acme-state"

[ci]
github = "acme/app"

[env.staging]

[env.prod]
"#;

const BETA: &str = r#"
name = "beta"
region = "us-east-1"

[network]
azs = 1

[ci]
github = "beta/web"

[env.dev]
"#;

const GITHUB: &str = "token.actions.githubusercontent.com";

/// The GitHub providers of the account, with their tag keys.
async fn providers(iam: &Iam) -> Vec<(String, Vec<String>)> {
    let listed = iam.list_open_id_connect_providers().send().await.unwrap();
    let mut out = Vec::new();
    for arn in listed
        .open_id_connect_provider_list()
        .iter()
        .filter_map(|p| p.arn())
        .filter(|a| a.ends_with(GITHUB))
    {
        let provider = iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
            .unwrap();
        assert_eq!(provider.client_id_list(), ["sts.amazonaws.com"]);
        let mut keys: Vec<String> = provider.tags().iter().map(|t| t.key().to_owned()).collect();
        keys.sort();
        out.push((arn.to_owned(), keys));
    }
    out
}

fn document(text: &str) -> Value {
    let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
    serde_json::from_str(&decoded).unwrap()
}

/// The trust policy and the inline policy of the deploy role of `env`.
async fn deploy_role(iam: &Iam, stack: &str, env: &str) -> (String, Value, Value) {
    let name = format!("{stack}-{env}-ci-deploy");
    let role = iam.get_role().role_name(&name).send().await.unwrap();
    let role = role.role().unwrap();
    assert_eq!(role.path(), format!("/foundry/{stack}/{env}/"));
    let trust = document(role.assume_role_policy_document().unwrap());
    let inline = iam
        .get_role_policy()
        .role_name(&name)
        .policy_name("foundry")
        .send()
        .await
        .unwrap();
    (
        role.arn().to_owned(),
        trust,
        document(inline.policy_document()),
    )
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|s| s.as_str().unwrap().to_owned()).collect(),
        other => panic!("not a string or a list: {other}"),
    }
}

/// No write beyond the environment's own names: a statement on `*` holds
/// only reads (and ECR's account-wide login token); every other resource
/// is one of the environment's.
fn assert_scoped_to(policy: &Value, stack: &str, env: &str) {
    let own = [
        format!("arn:aws:ecr:us-east-1:123456789012:repository/{stack}/{env}/*"),
        format!("arn:aws:apprunner:us-east-1:123456789012:service/{stack}-{env}-*"),
        format!("arn:aws:iam::123456789012:role/foundry/{stack}/{env}/{stack}-{env}-api"),
        format!("arn:aws:iam::123456789012:role/foundry/{stack}/{env}/{stack}-{env}-apprunner-ecr"),
        format!("arn:aws:s3:::acme-state/foundry/{stack}/{env}/*"),
        "arn:aws:s3:::acme-state".to_owned(),
    ];
    let statements = policy["Statement"].as_array().unwrap();
    let mut sids: Vec<&str> = statements
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    sids.sort();
    assert_eq!(
        sids,
        [
            "KeepState",
            "ListState",
            "ObserveTheStack",
            "PassServiceRoles",
            "PushImages",
            "RollOutServices"
        ],
        "{policy:#}"
    );
    for statement in statements {
        assert_eq!(statement["Effect"], "Allow");
        let actions = strings(&statement["Action"]);
        for resource in strings(&statement["Resource"]) {
            if resource == "*" {
                for action in &actions {
                    let verb = action.split_once(':').unwrap().1;
                    assert!(
                        ["Describe", "List", "Get"]
                            .iter()
                            .any(|r| verb.starts_with(r)),
                        "{action} on *: {policy:#}"
                    );
                }
            } else {
                assert!(own.contains(&resource), "{resource} is not {stack}/{env}'s");
            }
        }
        if statement["Sid"] == "ListState" {
            assert_eq!(
                statement["Condition"]["StringLike"]["s3:prefix"],
                format!("foundry/{stack}/{env}/*")
            );
        }
    }
    let writes: Vec<String> = statements
        .iter()
        .filter(|s| s["Sid"] != "ObserveTheStack")
        .flat_map(|s| strings(&s["Action"]))
        .collect();
    for needed in [
        "ecr:PutImage",
        "apprunner:UpdateService",
        "iam:PassRole",
        "s3:PutObject",
    ] {
        assert!(
            writes.iter().any(|w| w == needed),
            "{needed} missing: {policy:#}"
        );
    }
}

#[tokio::test]
async fn ci_github_creates_one_shared_provider_and_a_deploy_role_per_env_trusting_only_the_repository()
 {
    let env = TestEnv::start().await;
    let config = env.sdk_config().await;
    let iam = Iam::new(&config);
    env.s3()
        .await
        .create_bucket()
        .bucket("acme-state")
        .send()
        .await
        .unwrap();
    env.write("foundry.toml", ACME);
    env.write("beta.toml", BETA);

    env.foundry(&["up", "--env", "staging", "--yes"]).success();
    env.foundry(&["up", "--env", "prod", "--yes"]).success();
    env.foundry(&["--stack", "beta.toml", "up", "--env", "dev", "--yes"])
        .success();

    // One provider for the account, tagged by each environment using it.
    let found = providers(&iam).await;
    assert_eq!(found.len(), 1, "{found:?}");
    let (provider_arn, tags) = &found[0];
    assert_eq!(
        provider_arn,
        &format!("arn:aws:iam::123456789012:oidc-provider/{GITHUB}")
    );
    for user in ["acme/prod", "acme/staging", "beta/dev"] {
        assert!(tags.contains(&format!("foundry:uses:{user}")), "{tags:?}");
    }

    // Each role trusts exactly the repository's main branch (staging) or
    // its production environment (prod), through that provider.
    for (stack, stage, subject) in [
        ("acme", "staging", "repo:acme/app:ref:refs/heads/main"),
        ("acme", "prod", "repo:acme/app:environment:production"),
        ("beta", "dev", "repo:beta/web:ref:refs/heads/main"),
    ] {
        let (_, trust, _) = deploy_role(&iam, stack, stage).await;
        let statements = trust["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 1, "{trust:#}");
        let statement = &statements[0];
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(statement["Principal"]["Federated"], provider_arn.as_str());
        assert_eq!(statement["Action"], "sts:AssumeRoleWithWebIdentity");
        assert_eq!(
            statement["Condition"],
            serde_json::json!({ "StringEquals": {
                format!("{GITHUB}:aud"): "sts.amazonaws.com",
                format!("{GITHUB}:sub"): subject,
            }})
        );
    }
    for stage in ["staging", "prod"] {
        let (arn, _, policy) = deploy_role(&iam, "acme", stage).await;
        assert_scoped_to(&policy, "acme", stage);
        let outputs: Value = serde_json::from_str(
            &env.foundry(&["outputs", "--env", stage, "--json"])
                .success()
                .stdout(),
        )
        .unwrap();
        assert_eq!(outputs["ci_deploy_role_arn"], arn.as_str());
        // What was applied reads back the same: nothing to change.
        let plan = env.foundry(&["plan", "--env", stage, "--detailed-exitcode"]);
        assert_eq!(plan.code(), Some(0), "{}\n{}", plan.stdout(), plan.stderr());
    }

    // Destroying one environment keeps the provider for the others.
    env.foundry(&["destroy", "--env", "staging", "--yes"])
        .success();
    let found = providers(&iam).await;
    assert_eq!(found.len(), 1);
    assert!(!found[0].1.contains(&"foundry:uses:acme/staging".to_owned()));
    assert!(
        iam.get_role()
            .role_name("acme-staging-ci-deploy")
            .send()
            .await
            .is_err()
    );
    env.foundry(&["destroy", "--env", "prod", "--yes", "--confirm", "acme"])
        .success();
    let found = providers(&iam).await;
    assert_eq!(found.len(), 1, "beta still uses it");
    assert!(found[0].1.contains(&"foundry:uses:beta/dev".to_owned()));
    // The last user's destroy deletes it.
    env.foundry(&["--stack", "beta.toml", "destroy", "--env", "dev", "--yes"])
        .success();
    assert_eq!(providers(&iam).await, []);
}

/// A provider the account already had (made by hand) is adopted, and left
/// in place when the stack goes.
#[tokio::test]
async fn an_existing_provider_is_adopted_and_never_deleted() {
    let env = TestEnv::start().await;
    let iam = Iam::new(&env.sdk_config().await);
    iam.create_open_id_connect_provider()
        .url(format!("https://{GITHUB}"))
        .client_id_list("sts.amazonaws.com")
        .send()
        .await
        .unwrap();
    env.write("foundry.toml", BETA);
    env.foundry(&["up", "--env", "dev", "--yes"]).success();
    let found = providers(&iam).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1, ["foundry:uses:beta/dev"]);
    let plan = env.foundry(&["plan", "--env", "dev", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(0), "{}", plan.stdout());
    env.foundry(&["destroy", "--env", "dev", "--yes"]).success();
    let found = providers(&iam).await;
    assert_eq!(found.len(), 1, "someone else's provider stays");
    assert!(found[0].1.is_empty(), "{found:?}");
}
