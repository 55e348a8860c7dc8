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
        "3:2: unknown field `netwrk`, expected one of `name`, `region`, `network`, `compute`, `services`, `secrets`, `buckets`, `database`, `cdn`, `auth`, `alarms`, `ci`, `registry`, `state`, `env` [did you mean `network`?]",
    );
}

/// A stack with a database, a bucket, a secret and two services to refer to.
const APP: &str = "[env.dev]\n[env.prod]\n[database]\n[buckets.uploads]\n[secrets.key]\n[services.ai]\ningress = \"private\"\nsecrets = [\"key\"]\n";

#[test]
fn service_environments_take_references_checked_against_the_file() {
    check(
        &format!(
            "{APP}[services.api]\nconnect = [\"database\", \"ai\"]\nbuckets = {{ uploads = \"u/\" }}\nsecrets = [\"key\"]\nenv = {{ AI_URL = \"${{services.ai.url}}\", DB = \"${{database.endpoint}}:${{database.port}}\", BUCKET = \"${{buckets.uploads.name}}\", AI_KEY = \"${{secrets.key}}\" }}\n"
        ),
        "dev",
        "ok",
    );
    check(
        &format!(
            "{APP}[services.api]\nenv = {{ A = \"${{services.a1.url}}\", B = \"${{buckets.upload.name}}\", C = \"${{database.host}}\" }}\n"
        ),
        "dev",
        "12:13: service `api`: `${services.a1.url}` names service `a1`, which is not declared [did you mean `ai`?]\n\
         12:39: service `api`: `${buckets.upload.name}` names bucket `upload`, which is not declared [did you mean `uploads`?]\n\
         12:69: service `api`: env `C`: `${database.host}`: the database has no attribute `host` [use endpoint, port, name or secret_arn]",
    );
}

#[test]
fn a_reference_needs_the_access_it_implies() {
    check(
        &format!(
            "{APP}[services.api]\nenv = {{ AI = \"${{services.ai.url}}\", DB = \"${{database.name}}\", K = \"${{secrets.key}}\", U = \"${{buckets.uploads.name}}\" }}\n"
        ),
        "dev",
        "12:14: service `api` calls `ai`, which is private, without connecting to it [add \"ai\" to `connect` of [services.api]]\n\
         12:41: service `api` reads `${database.name}` without connecting to the database [add \"database\" to `connect` of [services.api]]\n\
         12:65: service `api`: `${secrets.key}` is not among the secrets the service reads [add \"key\" to `secrets` of [services.api]: that grants it read access]\n\
         12:87: service `api`: `${buckets.uploads.name}` names a bucket the service has no access to [add it to the service's buckets, e.g. buckets = { uploads = \"\" }]",
    );
}

#[test]
fn secrets_are_whole_values_and_names_do_not_clash() {
    check(
        &format!(
            "{APP}[services.api]\nsecrets = [\"key\"]\nenv = {{ A = \"Bearer ${{secrets.key}}\", KEY = \"x\", PORT = \"1\" }}\n"
        ),
        "dev",
        "13:13: service `api`: env `A` mixes a secret with other text [a secret is injected by ARN as a whole value: write the reference alone, e.g. KEY = \"${secrets.NAME}\"]\n\
         13:56: service `api`: env `PORT` is set by foundry from the service's `port` [use letters, digits and `_`, not starting with a digit; foundry sets PORT from `port`]\n\
         13:44: service `api`: env `KEY` is set, and secret `key` would be injected under the same name [rename the variable, or set it to \"${secrets.key}\"]",
    );
}

#[test]
fn sizes_and_scaling_are_what_app_runner_offers_and_envs_may_change_them() {
    check(
        &format!(
            "{APP}[services.api]\ncpu = 1024\nmemory = 1024\nscaling = {{ min = 3, max = 2 }}\n[env.prod.services.api]\ncpu = 3000\n"
        ),
        "dev",
        "13:10: service `api`: memory = 1024 does not go with cpu = 1024 [with cpu = 1024, use memory = 2048 or 3072 or 4096]\n\
         14:11: service `api`: scaling max = 2 must be from min (3) to 25 [instances go from 1 to 25 (min ≤ max); concurrency from 1 to 200 requests per instance]",
    );
    check(
        &format!(
            "{APP}[services.api]\n[env.prod.services.api]\ncpu = 3000\n[env.prod.services.web]\n"
        ),
        "prod",
        "13:7: service `api`: cpu = 3000 is not a size App Runner offers [use 256, 512, 1024 (one vCPU), 2048 or 4096]\n\
         14:1: [env.prod.services.web] changes a service the stack does not declare [declare it with a [services.web] table]",
    );
}

#[test]
fn services_cannot_need_each_others_urls_in_a_ring() {
    check(
        "[env.dev]\n[services.a]\nenv = { B = \"${services.b.url}\" }\n[services.b]\nenv = { A = \"${services.a.url}\" }\n",
        "dev",
        "5:7: services reference each other's URLs in a ring: a → b → a [one of them must learn the other's URL another way (e.g. at run time), so that it can be created first]",
    );
}

#[test]
fn connections_name_the_database_or_another_service() {
    check(
        &format!("{APP}[services.api]\nconnect = [\"api\", \"aj\"]\n"),
        "dev",
        "12:12: service `api` connects to itself [remove it: a service always reaches itself]\n\
         12:19: service `api` connects to `aj`, which is neither \"database\" nor a declared service [did you mean `ai`?]",
    );
}

#[test]
fn the_ecs_target_takes_a_regional_certificate_and_a_retention_logs_offer() {
    check("[env.dev]\n[compute]\ntarget = \"ecs\"\n", "dev", "ok");
    check(
        "[compute]\ntarget = \"ecs\"\ncertificate_arn = \"arn:aws:acm:us-east-1:123456789012:certificate/abc\"\nlog_retention_days = 14\n[env.dev]\n",
        "dev",
        "ok",
    );
    check(
        "[compute]\ncertificate_arn = \"arn:aws:acm:eu-west-1:123456789012:certificate/abc\"\nlog_retention_days = 10\n[env.dev]\n",
        "dev",
        "4:19: certificate `arn:aws:acm:eu-west-1:123456789012:certificate/abc` is in eu-west-1, not in the stack's region us-east-1 [a load balancer uses ACM certificates of its own region; request or import one there]\n\
         5:22: log_retention_days = 10 is not a retention CloudWatch Logs offers [use one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]",
    );
    check(
        "[env.prod.compute]\ncertificate_arn = \"not-an-arn\"\n",
        "prod",
        "4:19: `not-an-arn` is not an ACM certificate ARN [give arn:aws:acm:<region>:<account>:certificate/<id>]",
    );
}

#[test]
fn auth_names_an_https_issuer_that_services_reference() {
    let service =
        "[services.api]\nenv = { ISS = \"${auth.issuer}\", JWKS = \"${auth.jwks_url}\" }\n";
    check(
        &format!("{service}[auth]\nissuer = \"https://clerk.acme.example\"\n[env.dev]\n"),
        "dev",
        "ok",
    );
    check(
        &format!("{service}[env.dev]\n"),
        "dev",
        "4:15: service `api`: `${auth.issuer}` names the token issuer, but the stack declares no [auth] [declare it, e.g. [auth] issuer = \"https://clerk.example.com\"]\n\
         4:40: service `api`: `${auth.jwks_url}` names the token issuer, but the stack declares no [auth] [declare it, e.g. [auth] issuer = \"https://clerk.example.com\"]",
    );
    check(
        "[auth]\nissuer = \"http://clerk.acme.example\"\n[env.dev]\n",
        "dev",
        "4:10: auth.issuer `http://clerk.acme.example` is not an https URL [write the issuer's https URL, e.g. \"https://clerk.acme.example\"]",
    );
    check(
        "[auth]\njwks_url = \"https://k.example/jwks\"\n[env.dev]\n",
        "dev",
        "3:1: [auth] needs issuer [name the tokens' issuer, e.g. issuer = \"https://clerk.acme.example\"]",
    );
    check(
        "[auth]\nissuer = \"https://clerk.acme.example\"\npublishable_key = \"pk_test_Y2xlcmsuYWNtZS5leGFtcGxlJA\"\n[env.dev]\n",
        "dev",
        "ok",
    );
    check(
        "[auth]\nissuer = \"https://clerk.acme.example\"\npublishable_key = \"sk_live_not_for_here\"\n[env.dev]\n",
        "dev",
        "5:19: auth.publishable_key holds a Clerk secret key (sk_…), which must never be in the stack file [remove it, roll the key in Clerk's dashboard (it may have been committed), and copy the publishable key (pk_…) instead]",
    );
    check(
        "[services.api]\nenv = { X = \"${auth.audience}\" }\n[env.dev]\n",
        "dev",
        "4:13: service `api`: env `X`: `${auth.audience}`: auth has no attribute `audience` [use issuer or jwks_url]",
    );
}

#[test]
fn ci_names_a_github_repository() {
    check("[ci]\ngithub = \"acme/app\"\n[env.dev]\n", "dev", "ok");
    check(
        "[ci]\ngithub = \"acme\"\n[env.dev]\n",
        "dev",
        "4:10: ci.github `acme` is not a GitHub repository [write it as ORG/REPO, e.g. github = \"acme/app\"]",
    );
    check(
        "[ci]\n[env.dev]\n",
        "dev",
        "3:1: [ci] needs github [name the repository whose workflows deploy, e.g. github = \"acme/app\"]",
    );
}

const WEB: &str =
    "[env.dev]\n[buckets.web]\n[cdn]\nweb_bucket = \"web\"\napi_domain = \"api.acme.example\"\n";

/// Static services: what applies to them, and what they need.
#[test]
fn static_services_are_checked_where_they_are_written() {
    let cases: &[(&str, &str)] = &[
        (
            "[services.web]\nkind = \"static\"\nsource = \"web\"\n",
            "ok",
        ),
        (
            "[services.web]\nkind = \"static\"\nport = 8080\n",
            "10:8: `port` does not apply to static service `web` [a static service is files the CDN serves from its web bucket: nothing runs, so remove the key]",
        ),
        (
            "[services.web]\nkind = \"static\"\ndist = \"../out\"\n",
            "10:8: static service `web`: `../out` is not a directory inside the npm project [write a relative path without `..`, e.g. dist = \"dist\"]",
        ),
        (
            "[services.web]\nkind = \"static\"\nkeep_releases = 0\n",
            "10:17: keep_releases = 0 is out of range [keep from 1 to 100 releases (the current one counts)]",
        ),
        (
            "[services.api]\nkeep_releases = 3\n",
            "9:17: `keep_releases` applies to static services only, and `api` is a container [add kind = \"static\" to [services.api] if it is a web app the CDN serves, or remove `keep_releases`]",
        ),
        (
            "[services.web]\nkind = \"static\"\n[services.admin]\nkind = \"static\"\n",
            "9:8: static services `admin` and `web`: the CDN serves one web app, at `/` [keep one static service; the other's files can live in its build]",
        ),
        (
            "[services.web]\nkind = \"static\"\n[services.api]\nconnect = [\"web\"]\n",
            "11:12: service `api` connects to `web`, a static service: its files are served by the CDN, not by anything in the VPC [remove \"web\" from `connect`]",
        ),
    ];
    for (body, expect) in cases {
        check(&format!("{WEB}{body}"), "dev", expect);
    }
    check(
        "[env.dev]\n[services.web]\nkind = \"static\"\n",
        "dev",
        "5:8: static service `web` is served by the CDN, and the stack declares no [cdn] [add a [cdn] table whose web_bucket names the bucket under [buckets] that holds the files, e.g. web_bucket = \"web\"]",
    );
}
