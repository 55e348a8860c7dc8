//! The CloudFront edge of seed 002 §5 (origin access control, distribution,
//! web bucket policy), checked with independent CloudFront and S3 calls.

use aws_sdk_cloudfront::types::{DistributionSummary, FunctionStage};

use crate::support::{REFERENCE, TestEnv};

const WEB_BUCKET: &str = "acme-prod-web-123456789012";
const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
const ALL_VIEWER_EXCEPT_HOST: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

/// `text` with `[cdn] price_class` set to `class`.
fn with_price_class(text: &str, class: &str) -> String {
    let api = "api_domain = \"api.acme.example\"\n";
    assert!(text.contains(api), "the stack's [cdn] names the api origin");
    text.replace(api, &format!("{api}price_class = \"{class}\"\n"))
}

/// Runs the published function's code in Node (CloudFront's runtime is
/// ECMAScript 5.1 with parts of ES6, which this code stays within) on the
/// viewer requests the web behaviour gets: the client's routes become
/// `/index.html`, files keep their path.
fn assert_spa_routes(code: &str) {
    let script = format!(
        "{code}\nconst cases = {{'/': '/index.html', '/documents': '/index.html', '/documents/42/edit': '/index.html', '/index.html': '/index.html', '/assets/index-3f2a1b.js': '/assets/index-3f2a1b.js', '/favicon.ico': '/favicon.ico'}};\nfor (const [uri, want] of Object.entries(cases)) {{ const got = handler({{ request: {{ uri, method: 'GET', headers: {{}} }} }}).uri; if (got !== want) {{ console.error(uri + ' -> ' + got + ', want ' + want); process.exit(1); }} }}\n"
    );
    let out = std::process::Command::new("node")
        .args(["-e", &script])
        .output()
        .expect("node must be installed (the web client's tests need it too)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn cloudfront(env: &TestEnv) -> aws_sdk_cloudfront::Client {
    aws_sdk_cloudfront::Client::new(&env.sdk_config().await)
}

async fn distributions(cf: &aws_sdk_cloudfront::Client) -> Vec<DistributionSummary> {
    cf.list_distributions()
        .send()
        .await
        .unwrap()
        .distribution_list()
        .map(|l| l.items().to_vec())
        .unwrap_or_default()
}

async fn oac_names(cf: &aws_sdk_cloudfront::Client) -> Vec<String> {
    cf.list_origin_access_controls()
        .send()
        .await
        .unwrap()
        .origin_access_control_list()
        .map(|l| l.items().iter().map(|o| o.name().to_string()).collect())
        .unwrap_or_default()
}

fn sorted(items: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<String> {
    let mut v: Vec<String> = items.into_iter().map(|s| s.as_ref().to_string()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn the_distribution_serves_the_private_web_bucket_and_the_api_uncached() {
    let env = TestEnv::start().await;
    let cf = cloudfront(&env).await;
    env.foundry(&["up", "--env", "prod", "--yes"]).success();

    let oacs = cf
        .list_origin_access_controls()
        .send()
        .await
        .unwrap()
        .origin_access_control_list()
        .unwrap()
        .items()
        .to_vec();
    assert_eq!(oacs.len(), 1, "{oacs:?}");
    let oac = &oacs[0];
    assert_eq!(oac.name(), "acme-prod-oac-web");
    assert_eq!(oac.signing_protocol().as_str(), "sigv4");
    assert_eq!(oac.signing_behavior().as_str(), "always");
    assert_eq!(oac.origin_access_control_origin_type().as_str(), "s3");

    let listed = distributions(&cf).await;
    assert_eq!(listed.len(), 1, "one distribution");
    let d = &listed[0];
    let config = cf
        .get_distribution_config()
        .id(d.id())
        .send()
        .await
        .unwrap()
        .distribution_config()
        .unwrap()
        .clone();
    assert!(config.enabled());
    assert_eq!(config.default_root_object(), Some("index.html"));

    let origins = config.origins().unwrap().items();
    assert_eq!(origins.len(), 2, "{origins:?}");
    let web = origins.iter().find(|o| o.id() == "web").unwrap();
    assert_eq!(
        web.domain_name(),
        format!("{WEB_BUCKET}.s3.us-east-1.amazonaws.com")
    );
    // moto 5.2 keeps neither OriginAccessControlId nor S3OriginConfig of an
    // origin; where it reports them, they must be the OAC and no legacy OAI.
    if let Some(attached) = web.origin_access_control_id() {
        assert_eq!(attached, oac.id());
    }
    if let Some(s3) = web.s3_origin_config() {
        assert_eq!(s3.origin_access_identity(), "");
    }
    let api = origins.iter().find(|o| o.id() == "api").unwrap();
    assert_eq!(api.domain_name(), "api.acme.example");
    let custom = api.custom_origin_config().unwrap();
    assert_eq!(custom.origin_protocol_policy().as_str(), "https-only");
    assert_eq!(custom.https_port(), 443);

    let default = config.default_cache_behavior().unwrap();
    assert_eq!(default.target_origin_id(), "web");
    assert_eq!(
        default.viewer_protocol_policy().as_str(),
        "redirect-to-https"
    );
    assert_eq!(default.cache_policy_id(), Some(CACHING_OPTIMIZED));
    let behaviors = config.cache_behaviors().unwrap().items();
    assert_eq!(
        sorted(behaviors.iter().map(|b| b.path_pattern())),
        ["/api/*", "/graphql"]
    );
    for b in behaviors {
        assert_eq!(b.target_origin_id(), "api", "{}", b.path_pattern());
        assert_eq!(b.viewer_protocol_policy().as_str(), "redirect-to-https");
        assert_eq!(b.cache_policy_id(), Some(CACHING_DISABLED));
        assert_eq!(b.origin_request_policy_id(), Some(ALL_VIEWER_EXCEPT_HOST));
        let methods = b
            .allowed_methods()
            .unwrap()
            .items()
            .iter()
            .map(|m| m.as_str());
        assert_eq!(
            sorted(methods),
            ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
        );
    }

    // The SPA fallback: one published CloudFront Function, run on viewer
    // requests of the web behaviour only (the api's paths never see it).
    let live = cf
        .describe_function()
        .name("acme-prod-fn-spa")
        .stage(FunctionStage::Live)
        .send()
        .await
        .expect("the function is published");
    let arn = live
        .function_summary()
        .and_then(|s| s.function_metadata())
        .map(|m| m.function_arn().to_owned())
        .unwrap();
    let associated: Vec<(String, String)> = default
        .function_associations()
        .map(|f| f.items())
        .unwrap_or_default()
        .iter()
        .map(|f| {
            (
                f.function_arn().to_owned(),
                f.event_type().as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(associated, [(arn, "viewer-request".to_owned())]);
    for b in behaviors {
        assert_eq!(
            b.function_associations().map(|f| f.quantity()).unwrap_or(0),
            0,
            "{}",
            b.path_pattern()
        );
    }
    let code = cf
        .get_function()
        .name("acme-prod-fn-spa")
        .stage(FunctionStage::Live)
        .send()
        .await
        .unwrap()
        .function_code()
        .map(|b| String::from_utf8(b.as_ref().to_vec()).unwrap())
        .unwrap();
    assert_spa_routes(&code);

    let tags = cf
        .list_tags_for_resource()
        .resource(d.arn())
        .send()
        .await
        .unwrap();
    let tag = |k: &str| {
        tags.tags()
            .unwrap()
            .items()
            .iter()
            .find(|t| t.key() == k)
            .and_then(|t| t.value())
            .map(str::to_string)
    };
    assert_eq!(tag("foundry:stack").as_deref(), Some("acme"));
    assert_eq!(tag("foundry:env").as_deref(), Some("prod"));
    assert_eq!(tag("foundry:id").as_deref(), Some("cdn"));
    assert_eq!(tag("Name").as_deref(), Some("acme-prod-cdn"));

    let s3 = env.s3().await;
    let policy = s3
        .get_bucket_policy()
        .bucket(WEB_BUCKET)
        .send()
        .await
        .unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    let allows: Vec<_> = statements
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .collect();
    assert_eq!(allows.len(), 1, "only CloudFront is allowed in: {policy}");
    let allow = allows[0];
    assert_eq!(
        allow["Principal"],
        serde_json::json!({ "Service": "cloudfront.amazonaws.com" })
    );
    assert_eq!(allow["Action"], "s3:GetObject");
    assert_eq!(allow["Resource"], format!("arn:aws:s3:::{WEB_BUCKET}/*"));
    assert_eq!(
        allow["Condition"]["StringEquals"]["AWS:SourceArn"],
        d.arn(),
        "only this distribution"
    );
    let deny = statements
        .iter()
        .find(|s| s["Sid"] == "DenyInsecureTransport")
        .expect("still TLS-only");
    assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");

    let plan = env.foundry(&["plan", "--env", "prod", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(0), "{}{}", plan.stdout(), plan.stderr());
}

#[tokio::test]
async fn a_new_price_class_updates_in_place_and_destroy_removes_the_edge() {
    let env = TestEnv::start().await;
    // The database is not under test here; unprotected, the destroy can end it.
    let stack = REFERENCE.replace("deletion_protection = true", "deletion_protection = false");
    env.write("foundry.toml", &stack);
    let cf = cloudfront(&env).await;
    env.foundry(&["up", "--env", "prod", "--yes"]).success();
    let listed = distributions(&cf).await;
    assert_eq!(listed.len(), 1);
    let (id, arn) = (listed[0].id().to_string(), listed[0].arn().to_string());
    assert_eq!(listed[0].price_class().as_str(), "PriceClass_100");

    env.write("foundry.toml", &with_price_class(&stack, "PriceClass_200"));
    let plan = env.foundry(&["plan", "--env", "prod"]).success();
    let out = plan.stdout();
    assert!(
        out.contains("Plan: 0 to create, 1 to update, 0 to replace, 0 to delete."),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "~ cdn (distribution) {arn} will be updated in place"
        )),
        "{out}"
    );
    assert!(
        out.contains("\"PriceClass_100\" -> \"PriceClass_200\""),
        "{out}"
    );
    env.foundry(&["up", "--env", "prod", "--yes"]).success();
    let config = cf
        .get_distribution_config()
        .id(&id)
        .send()
        .await
        .unwrap()
        .distribution_config()
        .unwrap()
        .clone();
    assert_eq!(
        config.price_class().map(|p| p.as_str()),
        Some("PriceClass_200")
    );
    assert_eq!(
        distributions(&cf)
            .await
            .iter()
            .map(|d| d.id().to_string())
            .collect::<Vec<_>>(),
        [id],
        "the same distribution, updated"
    );
    let plan = env.foundry(&["plan", "--env", "prod", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(0), "{}{}", plan.stdout(), plan.stderr());

    env.foundry(&["destroy", "--env", "prod", "--yes", "--confirm", "acme"])
        .success();
    assert!(distributions(&cf).await.is_empty(), "distribution deleted");
    assert!(
        oac_names(&cf).await.is_empty(),
        "origin access control deleted"
    );
    let functions = cf.list_functions().send().await.unwrap();
    assert_eq!(
        functions.function_list().map(|l| l.quantity()),
        Some(0),
        "the SPA function deleted"
    );
}

/// A listing that does not show a distribution the state recorded (moto
/// 5.2.1's ListDistributions omits the comment foundry lists by): foundry
/// looks it up by its ARN and never creates a second one.
#[tokio::test]
async fn a_distribution_the_listing_hides_is_found_by_its_id_not_created_again() {
    let env = TestEnv::start().await;
    let cf = cloudfront(&env).await;
    env.foundry(&["up", "--env", "prod", "--yes"]).success();
    assert_eq!(distributions(&cf).await.len(), 1);

    let hidden = |args: &[&str]| {
        let out = env
            .command(args)
            .env("FOUNDRY_FAULT", "hide@observe:cdn")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = hidden(&["plan", "--env", "prod", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "no change planned: {out}");
    let (code, out) = hidden(&["up", "--env", "prod", "--yes"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(distributions(&cf).await.len(), 1, "still exactly one");
}

/// A distribution takes minutes to deploy on AWS; `up` goes on only once it
/// is `Deployed`. moto is made to take 3 s instead of no time at all.
#[tokio::test]
async fn up_waits_until_the_distribution_is_deployed() {
    let env = TestEnv::start().await;
    let cf = cloudfront(&env).await;
    env.slow_transition("cloudfront::distribution", 3);
    let up = env.foundry(&["up", "--env", "dev", "--yes"]).success();
    let listed = distributions(&cf).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].status(),
        "Deployed",
        "up returned before the deploy"
    );
    // The progress line shows how long the step took: at least the 3 s.
    let out = up.stdout() + &up.stderr();
    let line = out
        .lines()
        .find(|l| l.contains("cdn (distribution) created"))
        .unwrap_or_else(|| panic!("a progress line for the distribution in:\n{out}"));
    let seconds: f64 = line
        .rsplit('[')
        .next()
        .and_then(|s| s.strip_suffix("s]"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("elapsed time in {line}"));
    assert!(seconds >= 3.0, "{line}");
}
