use std::process::Command;

use crate::support::REFERENCE;

fn scratch(stack: &str) -> (tempfile::TempDir, Command) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("foundry.toml"), stack).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_foundry"));
    cmd.current_dir(dir.path())
        // Any AWS call would fail on this closed port: validation must not make one.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("FOUNDRY_ENV")
        .env_remove("FOUNDRY_STACK");
    (dir, cmd)
}

/// Every kind of bad input: one error naming file, line and column with a hint, exit 1.
#[test]
fn bad_stack_files_fail_before_any_aws_call_with_located_errors() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "unknown key",
            "nats = \"single\"",
            "foundry.toml:5:1: unknown field `nats`",
            "did you mean `nat`?",
        ),
        (
            "wrong type",
            "azs = \"two\"",
            "foundry.toml:5:7: invalid type: string \"two\", expected u8",
            "foundry schema",
        ),
        (
            "bad CIDR",
            "cidr = \"10.0.0.0/33\"",
            "foundry.toml:5:8: `10.0.0.0/33` is not an IPv4 CIDR block",
            "10.0.0.0/16",
        ),
        (
            "host bits",
            "cidr = \"10.0.0.1/16\"",
            "foundry.toml:5:8: `10.0.0.1/16` has host bits set",
            "did you mean 10.0.0.0/16?",
        ),
        (
            "bad NAT mode",
            "nat = \"perz\"",
            "foundry.toml:5:7: unknown variant `perz`",
            "did you mean `per-az`?",
        ),
        (
            "undefined endpoint service",
            "endpoints = [\"sts\", \"secretsmanagr\"]",
            "foundry.toml:5:21: unknown endpoint service `secretsmanagr`",
            "did you mean `secretsmanager`?",
        ),
    ];
    for (what, line, expected, help) in cases {
        let text =
            format!("name = \"acme\"\nregion = \"us-east-1\"\n\n[network]\n{line}\n\n[env.dev]\n");
        let (_dir, mut cmd) = scratch(&text);
        let out = cmd.args(["plan", "--env", "dev"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {err}");
        assert!(
            err.contains(expected),
            "{what}: expected `{expected}` in:\n{err}"
        );
        assert!(
            err.contains(help),
            "{what}: expected hint `{help}` in:\n{err}"
        );
        assert!(err.contains("Nothing was sent to AWS."), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
}

#[test]
fn overlapping_and_ill_fitting_subnets_and_unknown_envs_are_located() {
    let overlapping = REFERENCE.replace("app = [\"10.0.16.0/20\"", "app = [\"10.0.0.0/20\"");
    let (_d, mut cmd) = scratch(&overlapping);
    let out = cmd.args(["validate"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("foundry.toml:21:8: subnet 10.0.0.0/20 overlaps subnet 10.0.0.0/24"),
        "{err}"
    );

    let outside = REFERENCE.replace("data = [\"10.0.64.0/22\"", "data = [\"10.1.64.0/22\"");
    let (_d, mut cmd) = scratch(&outside);
    let out = cmd.args(["validate"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("foundry.toml:22:9: subnet 10.1.64.0/22 does not fit in the VPC 10.0.0.0/16"),
        "{err}"
    );
    assert!(
        err.contains("help: choose a range inside 10.0.0.0/16"),
        "{err}"
    );

    let prod_only = REFERENCE.replace("network.nat = \"per-az\"", "network.azs = 9");
    let (_d, mut cmd) = scratch(&prod_only);
    let out = cmd.args(["validate"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("foundry.toml:29:15: azs = 9 is out of range"),
        "an overlay's error points into its env table: {err}"
    );

    let (_d, mut cmd) = scratch(&REFERENCE);
    let out = cmd.args(["plan", "--env", "stagin"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("unknown environment `stagin`") && err.contains("did you mean `staging`?"),
        "{err}"
    );

    let (_d, mut cmd) = scratch(&REFERENCE);
    let out = cmd.args(["plan"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("this command needs --env NAME") && err.contains("dev, prod, staging"),
        "{err}"
    );

    let (_d, mut cmd) = scratch(&REFERENCE);
    let out = cmd
        .args(["--stack", "missing.toml", "validate"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot read the stack file missing.toml") && err.contains("--stack PATH"),
        "{err}"
    );
}

/// Paragraph = no blank line inside, no panic, no SDK debug dump.
fn assert_one_paragraph(err: &str) {
    assert!(
        !err.trim().contains("\n\n"),
        "one paragraph expected:\n{err}"
    );
    for dump in [
        "panicked",
        "DispatchFailure",
        "ConnectorError",
        "SdkError",
        "{ ",
        "RUST_BACKTRACE",
    ] {
        assert!(!err.contains(dump), "debug output `{dump}` in:\n{err}");
    }
}

#[test]
fn unreachable_endpoint_gives_one_clear_paragraph() {
    let (_d, mut cmd) = scratch(&REFERENCE);
    let out = cmd.args(["plan", "--env", "dev"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: could not reach AWS for "), "{err}");
    assert!(err.contains("AWS_ENDPOINT_URL"), "{err}");
    assert_one_paragraph(&err);
}

#[test]
fn missing_credentials_give_one_clear_paragraph() {
    let (_d, mut cmd) = scratch(&REFERENCE);
    let out = cmd
        .args(["plan", "--env", "dev"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .env("AWS_CONFIG_FILE", "/nonexistent/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: no usable AWS credentials"), "{err}");
    assert!(err.contains("AWS_PROFILE"), "{err}");
    assert_one_paragraph(&err);
}

/// The database, CDN and connection sections fail the same way: located,
/// with a hint, before any AWS call.
#[test]
fn bad_database_and_cdn_sections_are_located_errors() {
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        (
            "misspelt engine",
            "[database]",
            "engine = \"postgress\"",
            "unknown variant `postgress`",
            "did you mean `postgres`?",
        ),
        (
            "minor version",
            "[database]",
            "version = \"16.4\"",
            "`16.4` is not a major postgres version",
            "write the major version only",
        ),
        (
            "backups off",
            "[database]",
            "backup_retention_days = 0",
            "backup_retention_days = 0 is out of range",
            "1 to 35 days",
        ),
        (
            "autoscaling below storage",
            "[database]",
            "max_storage_gb = 100\nstorage_gb = 200",
            "max_storage_gb = 100 is below storage_gb (200)",
            "autoscaling ceiling",
        ),
        (
            "undeclared web bucket",
            "[cdn]",
            "web_bucket = \"wbe\"\napi_domain = \"api.acme.example\"",
            "cdn.web_bucket `wbe` is not declared",
            "did you mean `web`?",
        ),
        (
            "aliases without certificate",
            "[cdn]",
            "aliases = [\"acme.example\"]\nweb_bucket = \"web\"\napi_domain = \"api.acme.example\"",
            "cdn.aliases need a TLS certificate",
            "certificate_arn",
        ),
        (
            "api origin with a scheme",
            "[cdn]",
            "api_domain = \"https://api.acme.example/\"\nweb_bucket = \"web\"",
            "is not a domain name",
            "without https://",
        ),
    ];
    for (what, table, body, expected, help) in cases {
        let text = format!(
            "name = \"acme\"\nregion = \"us-east-1\"\n\n[buckets.web]\n\n{table}\n{body}\n\n[env.dev]\n"
        );
        let (_dir, mut cmd) = scratch(&text);
        let out = cmd.args(["plan", "--env", "dev"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {err}");
        assert!(
            err.contains("foundry.toml:7:"),
            "{what}: located on line 7:\n{err}"
        );
        assert!(
            err.contains(expected),
            "{what}: expected `{expected}` in:\n{err}"
        );
        assert!(
            err.contains(help),
            "{what}: expected hint `{help}` in:\n{err}"
        );
        assert!(err.contains("Nothing was sent to AWS."), "{what}: {err}");
    }

    // A connection to a database the stack does not declare, or to nothing known.
    for (connect, expected, help) in [
        (
            "database",
            "service `api` connects to the database, but the stack declares none",
            "declare it with a [database] table",
        ),
        (
            "cache",
            "service `api` connects to `cache`, which is neither \"database\" nor a declared service",
            "connect to \"database\" or to another service's name",
        ),
    ] {
        let text = format!(
            "name = \"acme\"\nregion = \"us-east-1\"\n\n[services.api]\nconnect = [\"{connect}\"]\n\n[env.dev]\n"
        );
        let (_dir, mut cmd) = scratch(&text);
        let out = cmd.args(["validate"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("foundry.toml:5:12:"), "{err}");
        assert!(err.contains(expected), "{err}");
        assert!(err.contains(help), "{err}");
    }
}

/// `foundry validate | head -0` and `foundry schema | head -0`: the reader
/// closes early; foundry ends quietly, as `ls | head` does, never with a
/// panic (exit 101) on the broken pipe.
#[test]
fn a_reader_that_closes_early_ends_foundry_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;

    for args in [&["schema"][..], &["validate"][..]] {
        let (_dir, mut cmd) = scratch(&REFERENCE);
        let mut child = cmd
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Hang up before foundry starts writing: its first write hits a
        // closed pipe.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        let quiet = out.status.success() || out.status.signal() == Some(libc::SIGPIPE);
        assert!(quiet, "{args:?}: {:?} {err}", out.status);
    }
}
