use crate::support::{Census, DataCensus, REFERENCE, REFERENCE_DATA, TestEnv, reference_census};

#[tokio::test]
async fn destroy_removes_its_stack_and_env_and_nothing_else() {
    let env = TestEnv::start().await;
    let other = REFERENCE.replace("name = \"acme\"", "name = \"other\"");
    env.write("other.toml", &other);
    env.foundry(&["up", "--env", "dev", "--yes"]).success();
    env.foundry(&["up", "--env", "staging", "--yes"]).success();
    env.foundry(&["--stack", "other.toml", "up", "--env", "dev", "--yes"])
        .success();

    let out = env.foundry(&["destroy", "--env", "dev", "--yes"]).success();
    assert!(
        out.stdout()
            .contains("Plan: 0 to create, 0 to update, 0 to replace, 46 to delete."),
        "{}",
        out.stdout()
    );
    assert_eq!(env.census("acme", "dev").await, Census::default());
    assert_eq!(env.data_census("acme", "dev").await, DataCensus::default());
    assert_eq!(env.census("acme", "staging").await, reference_census(1));
    assert_eq!(env.data_census("acme", "staging").await, REFERENCE_DATA);
    assert_eq!(env.census("other", "dev").await, reference_census(1));
    assert_eq!(env.data_census("other", "dev").await, REFERENCE_DATA);
    for args in [
        &["plan", "--env", "staging", "--detailed-exitcode"][..],
        &[
            "--stack",
            "other.toml",
            "plan",
            "--env",
            "dev",
            "--detailed-exitcode",
        ],
    ] {
        let plan = env.foundry(args);
        assert_eq!(plan.code(), Some(0), "{}", plan.stdout());
    }
    let again = env.foundry(&["destroy", "--env", "dev", "--yes"]).success();
    assert!(
        again.stdout().contains("Nothing to destroy"),
        "{}",
        again.stdout()
    );

    // Within the secrets' recovery window, standing the environment up again
    // restores them instead of failing on their names.
    env.foundry(&["up", "--env", "dev", "--yes"]).success();
    assert_eq!(env.census("acme", "dev").await, reference_census(1));
    let plan = env.foundry(&["plan", "--env", "dev", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(0), "{}", plan.stdout());
}

#[tokio::test]
async fn destroying_prod_needs_the_stack_name_and_without_it_deletes_nothing() {
    let env = TestEnv::start().await;
    env.foundry(&["up", "--env", "prod", "--yes"]).success();
    let refused = env.foundry(&["destroy", "--env", "prod", "--yes"]);
    assert_eq!(refused.code(), Some(1));
    assert!(
        refused.stderr().contains("pass --confirm acme"),
        "{}",
        refused.stderr()
    );
    let wrong = env.foundry(&["destroy", "--env", "prod", "--yes", "--confirm", "acne"]);
    assert_eq!(wrong.code(), Some(1));
    assert_eq!(env.census("acme", "prod").await, reference_census(2));

    // The database's deletion protection holds until the stack file lifts it.
    let refused = env.foundry(&["destroy", "--env", "prod", "--yes", "--confirm", "acme"]);
    assert_eq!(refused.code(), Some(1));
    assert!(
        refused.stderr().contains("deletion protection on"),
        "{}",
        refused.stderr()
    );
    assert_eq!(env.data_census("acme", "prod").await, REFERENCE_DATA);
    env.write(
        "foundry.toml",
        &REFERENCE.replace("deletion_protection = true", "deletion_protection = false"),
    );
    env.foundry(&["up", "--env", "prod", "--yes"]).success();
    let no_tty = env.foundry(&["destroy", "--env", "prod"]);
    assert_eq!(no_tty.code(), Some(1));
    assert!(
        no_tty.stderr().contains("without a terminal"),
        "{}",
        no_tty.stderr()
    );
    assert_eq!(env.census("acme", "prod").await, reference_census(2));
    assert_eq!(env.data_census("acme", "prod").await, REFERENCE_DATA);

    env.foundry(&["destroy", "--env", "prod", "--yes", "--confirm", "acme"])
        .success();
    assert_eq!(env.census("acme", "prod").await, Census::default());
    assert_eq!(env.data_census("acme", "prod").await, DataCensus::default());
}
