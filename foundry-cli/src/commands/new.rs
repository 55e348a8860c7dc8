use std::path::PathBuf;
use std::process::ExitCode;

use foundry::scaffold::{self, Answers, NewOptions};

use crate::cli::NewArgs;

pub fn run(args: NewArgs) -> anyhow::Result<ExitCode> {
    let options = NewOptions {
        dir: args.dir.unwrap_or_else(|| PathBuf::from(&args.name)),
        answers: Answers {
            name: args.name,
            region: args.region,
            github: args.github,
            compute: args.compute,
        },
        git: !args.no_git,
    };
    let created = scaffold::create(&options)?;
    let dir = created.dir.display();
    println!(
        "Created {} in {dir}: {} files{}.",
        options.answers.name,
        created.files,
        if created.committed {
            ", first commit made"
        } else {
            ""
        }
    );
    println!(
        "\nNext:\n  cd {dir}\n  foundry --local up --env dev --yes   # the stack on local stand-ins\n  cargo nextest run --workspace        # the app's tests"
    );
    if options.answers.github.is_none() {
        println!(
            "\nCI deploys through GitHub OIDC: add `[ci] github = \"ORG/REPO\"` to foundry.toml (see README.md)."
        );
    }
    Ok(ExitCode::SUCCESS)
}
