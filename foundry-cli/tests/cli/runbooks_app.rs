//! The app's runbooks that need no running service, against moto and the
//! reference stack: api-cant-reach-db (the instance, the security-group
//! path, the VPC's DNS), s3-upload-failures (the clock against moto's
//! `Date`, CORS, policies and grants, the URL lifetime) and auth-401s (a
//! real HTTPS issuer on loopback, its discovery document and keys, the way
//! out of the services' subnets). Each passes on the healthy stack, catches
//! a setup broken by hand with its evidence, and — where its fix is the
//! stack file's — `--fix` puts it back.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use aws_sdk_ec2::types::{AttributeBooleanValue, IpPermission, UserIdGroupPair};
use serde_json::Value;

use crate::runbooks::check;
use crate::support::{REFERENCE, Run, TestEnv, tag_filters};

fn report(run: &Run, code: i32) -> Value {
    assert_eq!(
        run.code(),
        Some(code),
        "exit code\nstdout:\n{}\nstderr:\n{}",
        run.stdout(),
        run.stderr()
    );
    serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout()))
}

fn statuses(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}={}",
                c["id"].as_str().unwrap(),
                c["status"].as_str().unwrap()
            )
        })
        .collect()
}

/// An HTTPS server on loopback (Python's, with a certificate signed by a CA
/// made here) serving the files of `root`; killed on drop.
struct Issuer {
    child: Child,
    url: String,
    root: PathBuf,
    ca: PathBuf,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const SERVE: &str = r#"
import http.server, ssl, sys, os
os.chdir(sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

impl Issuer {
    fn start(dir: &Path) -> Issuer {
        let tls = dir.join("tls");
        let root = dir.join("www");
        std::fs::create_dir_all(&tls).unwrap();
        std::fs::create_dir_all(root.join(".well-known")).unwrap();
        openssl(
            &tls,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=foundry test CA",
            ],
        );
        openssl(
            &tls,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "leaf.key",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        );
        std::fs::write(
            tls.join("leaf.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            &tls,
            &[
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "leaf.pem",
                "-days",
                "2",
                "-extfile",
                "leaf.ext",
            ],
        );
        let mut child = Command::new("python3")
            .args(["-c", SERVE])
            .arg(&root)
            .arg(tls.join("leaf.pem"))
            .arg(tls.join("leaf.key"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().expect("the server prints its port");
        Issuer {
            child,
            url: format!("https://127.0.0.1:{port}"),
            root,
            ca: tls.join("ca.pem"),
        }
    }

    /// Publishes a discovery document naming `issuer`, and `keys`.
    fn publish(&self, issuer: &str, keys: Value) {
        let known = self.root.join(".well-known");
        std::fs::write(
            known.join("openid-configuration"),
            serde_json::json!({
                "issuer": issuer,
                "jwks_uri": format!("{}/.well-known/jwks.json", self.url),
            })
            .to_string(),
        )
        .unwrap();
        std::fs::write(
            known.join("jwks.json"),
            serde_json::json!({ "keys": keys }).to_string(),
        )
        .unwrap();
    }
}

fn one_key() -> Value {
    serde_json::json!([{ "kty": "RSA", "kid": "ins_2x", "alg": "RS256", "use": "sig", "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw", "e": "AQAB" }])
}

fn run(env: &TestEnv, ca: &Path, args: &[&str]) -> Run {
    Run {
        output: env
            .command(args)
            .env("SSL_CERT_FILE", ca)
            .output()
            .expect("run foundry"),
    }
}

#[tokio::test]
async fn database_upload_and_auth_runbooks_pass_healthy_and_catch_what_breaks() {
    let env = TestEnv::start().await;
    let issuer = Issuer::start(env.path());
    issuer.publish(&issuer.url, one_key());
    env.write(
        "foundry.toml",
        &REFERENCE.replace("https://clerk.acme.example", &issuer.url),
    );
    let foundry = |args: &[&str]| run(&env, &issuer.ca, args);
    foundry(&["up", "--env", "dev", "--yes"]).success();

    // Healthy: every check of the three runbooks passes, with evidence.
    let db = report(
        &foundry(&["runbook", "api-cant-reach-db", "--env", "dev", "--json"]),
        0,
    );
    let instance = check(&db, "instance")["evidence"].to_string();
    assert!(
        instance.contains("acme-dev-db: available at "),
        "{instance}"
    );
    let path = check(&db, "security-groups")["evidence"].to_string();
    assert!(
        path.contains("api connects from the security group the stack gives its connector (it has no release yet)"),
        "{path}"
    );
    assert!(path.contains("ai connects from"), "{path}");
    let dns = check(&db, "vpc-dns")["evidence"].to_string();
    assert!(dns.contains("enableDnsSupport = true"), "{dns}");
    assert!(dns.contains("enableDnsHostnames = true"), "{dns}");

    let uploads = report(
        &foundry(&["runbook", "s3-upload-failures", "--env", "dev", "--json"]),
        0,
    );
    let clock = check(&uploads, "clock")["evidence"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(clock.contains("this machine's clock is"), "{clock}");
    let cors = check(&uploads, "cors")["evidence"].to_string();
    assert!(
        cors.contains("CORS admits PUT from https://app.acme.example"),
        "{cors}"
    );
    let grants = check(&uploads, "policy-and-grants")["evidence"].to_string();
    assert!(
        grants.contains("api's role may s3:PutObject on arn:aws:s3:::acme-dev-uploads-"),
        "{grants}"
    );
    assert!(grants.contains("/uploads/*"), "{grants}");
    let ttl = check(&uploads, "url-lifetime")["evidence"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(ttl.contains("api pre-signs upload URLs for 300 s"), "{ttl}");

    let auth = report(
        &foundry(&["runbook", "auth-401s", "--env", "dev", "--json"]),
        0,
    );
    let keys = check(&auth, "keys")["evidence"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(keys.contains("1 key(s): ins_2x (RSA RS256)"), "{keys}");
    let out = check(&auth, "keys-from-services")["evidence"].to_string();
    assert!(
        out.contains("api: out through its VPC connector and rtb-"),
        "{out}"
    );

    // Broken by hand: the database's rule for the api revoked, DNS
    // hostnames off, the uploads bucket's CORS replaced.
    let ec2 = &env.ec2;
    let groups = ec2
        .describe_security_groups()
        .set_filters(Some(tag_filters("acme", "dev")))
        .send()
        .await
        .unwrap();
    let id_named = |suffix: &str| {
        groups
            .security_groups()
            .iter()
            .find(|g| g.group_name().unwrap().ends_with(suffix))
            .and_then(|g| g.group_id())
            .unwrap_or_else(|| panic!("a group named *{suffix}"))
            .to_owned()
    };
    let (database_sg, api_sg) = (id_named("-database"), id_named("-api"));
    ec2.revoke_security_group_ingress()
        .group_id(&database_sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(5432)
                .to_port(5432)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(&api_sg).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let vpc = env.vpc_ids("acme", "dev").await.remove(0);
    ec2.modify_vpc_attribute()
        .vpc_id(&vpc)
        .enable_dns_hostnames(AttributeBooleanValue::builder().value(false).build())
        .send()
        .await
        .unwrap();
    let s3 = env.s3().await;
    let uploads_bucket = s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name())
        .find(|n| n.starts_with("acme-dev-uploads-"))
        .unwrap()
        .to_owned();
    s3.put_bucket_cors()
        .bucket(&uploads_bucket)
        .cors_configuration(
            aws_sdk_s3::types::CorsConfiguration::builder()
                .cors_rules(
                    aws_sdk_s3::types::CorsRule::builder()
                        .allowed_origins("https://old.acme.example")
                        .allowed_methods("PUT")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let db = report(
        &foundry(&["runbook", "api-cant-reach-db", "--env", "dev", "--json"]),
        3,
    );
    assert_eq!(
        statuses(&db),
        ["instance=pass", "security-groups=fail", "vpc-dns=fail"],
        "{db:#}"
    );
    let path = check(&db, "security-groups");
    assert_eq!(
        path["summary"],
        format!("{database_sg} admit(s) nothing from api's {api_sg} on port 5432"),
        "{path:#}"
    );
    assert_eq!(path["fix"]["kind"], "apply");
    let dns = check(&db, "vpc-dns");
    assert!(
        dns["summary"]
            .as_str()
            .unwrap()
            .starts_with("enableDnsHostnames off"),
        "{dns:#}"
    );
    let uploads = report(
        &foundry(&["runbook", "s3-upload-failures", "--env", "dev", "--json"]),
        3,
    );
    assert_eq!(
        statuses(&uploads),
        [
            "clock=pass",
            "cors=fail",
            "policy-and-grants=pass",
            "url-lifetime=pass"
        ],
        "{uploads:#}"
    );
    assert_eq!(
        check(&uploads, "cors")["summary"],
        format!(
            "{uploads_bucket} does not admit PUT from https://app.acme.example: browsers there block the upload before it starts"
        )
    );

    // --fix applies the stack file: the rule, the attribute and the CORS
    // are back, and both runbooks pass again.
    let fixed = foundry(&[
        "runbook",
        "api-cant-reach-db",
        "--env",
        "dev",
        "--fix",
        "--yes",
    ]);
    assert_eq!(
        fixed.code(),
        Some(0),
        "{}\n{}",
        fixed.stdout(),
        fixed.stderr()
    );
    report(
        &foundry(&["runbook", "api-cant-reach-db", "--env", "dev", "--json"]),
        0,
    );
    report(
        &foundry(&["runbook", "s3-upload-failures", "--env", "dev", "--json"]),
        0,
    );

    // The issuer moves (another Clerk instance signs) and drops its keys.
    issuer.publish("https://clerk.other.example", serde_json::json!([]));
    let auth = report(
        &foundry(&["runbook", "auth-401s", "--env", "dev", "--json"]),
        3,
    );
    assert_eq!(
        statuses(&auth),
        [
            "issuer=fail",
            "keys=fail",
            "keys-from-services=pass",
            "running-settings=pass"
        ],
        "{auth:#}"
    );
    let moved = check(&auth, "issuer");
    assert_eq!(
        moved["summary"],
        format!(
            "tokens carry iss \"https://clerk.other.example\", the services expect \"{}\": every token is refused",
            issuer.url
        )
    );
    assert_eq!(
        moved["fix"]["edits"][0]["path"],
        serde_json::json!(["auth", "issuer"])
    );
    assert_eq!(
        moved["fix"]["edits"][0]["value"],
        "https://clerk.other.example"
    );
    assert!(
        check(&auth, "keys")["evidence"][0]
            .as_str()
            .unwrap()
            .ends_with("0 key(s): "),
        "{auth:#}"
    );
}
