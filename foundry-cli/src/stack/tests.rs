//! Stack-file checks without AWS or the binary: `check(file, env, expect)`
//! takes a stack file and the environment to resolve, and lists every
//! problem as `line:col: message [help]`, or `ok`.

use std::path::Path;

use super::Source;

const HEAD: &str = "name = \"acme\"\nregion = \"us-east-1\"\n";

fn check(body: &str, env: &str, expect: &str) {
    let text = format!("{HEAD}{body}");
    let source = match Source::parse(Path::new("foundry.toml"), text.clone()) {
        Ok(source) => source,
        Err(super::LoadError::Invalid(e)) => return assert_eq!(render(&text, &e), expect),
        Err(e) => panic!("{e}"),
    };
    let got = match source.resolve(env) {
        Ok(_) => "ok".to_string(),
        Err(e) => render(&text, &e),
    };
    assert_eq!(got, expect);
}

fn render(text: &str, e: &super::StackFileError) -> String {
    e.diagnostics
        .iter()
        .map(|d| {
            let place = d.span.as_ref().map_or("-".to_string(), |span| {
                let before = &text[..span.start];
                let line = before.matches('\n').count() + 1;
                let col = span.start - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("{line}:{col}")
            });
            match &d.help {
                Some(h) => format!("{place}: {} [{h}]", d.message),
                None => format!("{place}: {}", d.message),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_reference_stack_resolves_in_every_environment() {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../stacks/reference.toml"
    ));
    let source = Source::load(path).unwrap();
    for env in source.envs() {
        source.resolve(env).unwrap_or_else(|e| panic!("{env}: {e}"));
    }
}

#[test]
fn a_minimal_stack_resolves() {
    check("[env.dev]\n", "dev", "ok");
}

#[test]
fn an_unknown_environment_names_the_close_one() {
    check(
        "[env.dev]\n[env.prod]\n",
        "prd",
        "3:2: unknown environment `prd` [did you mean `prod`? declared: dev, prod]",
    );
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    check(
        "[env.Dev]\n[state]\nbucket = \"b\"\n",
        "Dev",
        "3:1: invalid environment name `Dev` [use 1 to 16 lowercase letters, digits or hyphens, starting with a letter]\n\
         5:10: state.bucket is set but the state backend is local [add backend = \"s3\" to [state], or remove bucket]",
    );
}

#[test]
fn an_s3_backend_needs_a_valid_bucket() {
    check(
        "[env.dev]\n[state]\nbackend = \"s3\"\n",
        "dev",
        "4:1: backend = \"s3\" needs a bucket [add bucket = \"<an existing S3 bucket>\" to [state]]",
    );
    check(
        "[env.dev]\n[state]\nbackend = \"s3\"\nbucket = \"No_Such\"\n",
        "dev",
        "6:10: `No_Such` is not a valid S3 bucket name [use 3 to 63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit]",
    );
}

#[test]
fn a_misspelt_key_gets_a_suggestion() {
    check(
        "[netwrk]\n[env.dev]\n",
        "dev",
        "3:2: unknown field `netwrk`, expected one of `name`, `region`, `network`, `services`, `secrets`, `buckets`, `database`, `cdn`, `alarms`, `registry`, `state`, `env` [did you mean `network`?]",
    );
}
