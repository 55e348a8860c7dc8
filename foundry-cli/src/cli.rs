//! Command-line surface. Global options work before or after the command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "foundry",
    version,
    about = "Provision and operate an AI-app stack on AWS from a stack file"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Stack file.
    #[arg(
        long,
        global = true,
        default_value = "foundry.toml",
        env = "FOUNDRY_STACK"
    )]
    pub stack: PathBuf,
    /// Environment: one of the stack file's [env.<name>] tables.
    #[arg(long, global = true, env = "FOUNDRY_ENV")]
    pub env: Option<String>,
    /// Run against the local AWS emulator foundry manages (moto), starting it if needed.
    #[arg(long, global = true)]
    pub local: bool,
    /// Print the number of AWS requests and the wall time at the end.
    #[arg(long, global = true)]
    pub stats: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the stack file (every environment, or only --env) without calling AWS.
    Validate,
    /// Print the JSON Schema of the stack file, for editors.
    Schema,
    /// Compile services into reproducible OCI images without Docker, and push them.
    Build(BuildArgs),
    /// Build, push and roll out services as one release, health-gated; on
    /// failure every service goes back to the release before.
    Deploy(DeployArgs),
    /// Return services to an earlier release (image and configuration), without building.
    Rollback(RollbackArgs),
    /// What runs and whether it is healthy: per service the release, the
    /// compute target's state, a health probe and scaling; firing alarms.
    /// Exits 0 when all is healthy, 3 when something is not (1 on errors).
    Status(StatusArgs),
    /// A service's logs from CloudWatch Logs, merged in time order.
    Logs(LogsArgs),
    /// Run an operational runbook against the live stack (`runbook list`
    /// names them): evidence, dollars and fixes; exits 3 on findings.
    Runbook(RunbookArgs),
    /// The release history, newest first, with what changed in each.
    Releases {
        /// Only this service's part of each release.
        service: Option<String>,
        /// Machine-readable history on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Show what `up` would change, compared with what AWS reports now.
    Plan {
        /// Machine-readable plan on stdout.
        #[arg(long)]
        json: bool,
        /// Exit 0 when there are no changes, 2 when there are, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Create or update everything the stack file declares.
    Up {
        /// Apply without asking.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Steps run at once.
        #[arg(long, default_value_t = foundry::engine::policy::DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u16).range(1..=64))]
        concurrency: u16,
        /// Delete the contents of buckets that the plan deletes (refused otherwise).
        #[arg(long)]
        force_empty_buckets: bool,
        /// Replace or delete databases the plan marks as losing their data (refused otherwise).
        #[arg(long)]
        allow_data_loss: bool,
        /// The cargo profile of a new service's first image.
        #[arg(long, default_value = "release")]
        profile: String,
    },
    /// Delete everything of this stack and environment, in reverse dependency order.
    Destroy {
        /// Delete without asking.
        #[arg(long, short = 'y')]
        yes: bool,
        /// The stack name, required for a production environment.
        #[arg(long, value_name = "STACK")]
        confirm: Option<String>,
        /// Delete the contents of non-empty buckets too (refused otherwise).
        #[arg(long)]
        force_empty_buckets: bool,
    },
    /// Print the stack's outputs recorded by the last `up`.
    Outputs {
        #[arg(long)]
        json: bool,
    },
    /// Manage secret values (never printed or stored by foundry).
    Secret {
        #[command(subcommand)]
        action: SecretAction,
    },
    /// Remove a remote (S3) state lock left behind by a run that crashed.
    Unlock,
    /// Manage what --local runs against: moto, a registry and the App Runner emulator.
    Local {
        #[command(subcommand)]
        action: LocalAction,
    },
    /// Create a new app: its services, web client, stack file, CI workflows
    /// and a first commit.
    New(NewArgs),
    /// Merge this foundry's template changes into an app `foundry new` made.
    /// Exits 3 when conflicts are left to resolve.
    Upgrade(UpgradeArgs),
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The app's name: it names the stack, the directory and AWS resources.
    pub name: String,
    /// The app's directory (default: ./NAME); must be new or empty.
    #[arg(long, value_name = "PATH")]
    pub dir: Option<PathBuf>,
    /// The AWS region of the stack.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// The GitHub repository (ORG/REPO) whose Actions deploy the app.
    #[arg(long, value_name = "ORG/REPO")]
    pub github: Option<String>,
    /// Where the services run.
    #[arg(long, default_value = "apprunner", value_parser = ["apprunner", "ecs"])]
    pub compute: String,
    /// Skip `git init` and the first commit.
    #[arg(long)]
    pub no_git: bool,
}

#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// The app's root directory.
    #[arg(long, value_name = "PATH", default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Services to build (default: every service of the stack file).
    pub services: Vec<String>,
    /// Push each image to its service's ECR repository (or to --registry).
    #[arg(long)]
    pub push: bool,
    /// Push to this OCI registry instead of ECR: host[:port][/prefix].
    #[arg(long, env = "FOUNDRY_REGISTRY", value_name = "REGISTRY")]
    pub registry: Option<String>,
    /// The cargo profile (`dev` builds faster, for trying things out).
    #[arg(long, default_value = "release")]
    pub profile: String,
    /// Print each service's tag, digest, size and push figures as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Services to deploy (default: every service of the stack file,
    /// static ones after the containers).
    pub services: Vec<String>,
    /// Static services: upload this build output instead of running npm.
    #[arg(long, value_name = "PATH")]
    pub dist: Option<std::path::PathBuf>,
    /// Deploy this image instead of building: a digest (sha256:…) in the
    /// service's repository, e.g. one `foundry build --push` printed.
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// If the release fails, leave the services as they are for debugging
    /// instead of going back to the release before.
    #[arg(long)]
    pub keep_failed: bool,
    /// The cargo profile images are built with.
    #[arg(long, default_value = "release")]
    pub profile: String,
    /// Deploy without asking (a deploy always asks nothing today; accepted for scripts).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print the release as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunbookArgs {
    /// The runbook (`nat-bill`, …), or `list`.
    pub name: String,
    /// The window of the metrics the checks read, in days.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Apply the fixes that are stack-file changes (edited in place, comments
    /// kept, the diff shown), then plan and apply as `up` does.
    #[arg(long)]
    pub fix: bool,
    /// With --fix: apply without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Services to show (default: every service of the stack file).
    pub services: Vec<String>,
    /// Print the report as JSON on stdout (one object per refresh with --watch).
    #[arg(long)]
    pub json: bool,
    /// Refresh in place until Ctrl-C; the exit code is the last report's.
    #[arg(long)]
    pub watch: bool,
    /// Seconds between refreshes with --watch.
    #[arg(long, default_value_t = 2, value_name = "SECONDS")]
    pub interval: u64,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The service whose logs to show.
    pub service: String,
    /// From when: a duration back from now (30s, 10m, 2h, 1d) or a time (RFC 3339).
    #[arg(long, default_value = "10m")]
    pub since: String,
    /// Keep printing new events until Ctrl-C.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// CloudWatch Logs filter pattern, applied by CloudWatch (e.g. `ERROR`,
    /// `"timed out"`, `{ $.level = "WARN" }`).
    #[arg(long, value_name = "PATTERN")]
    pub filter: Option<String>,
    /// Only the time release N's version of the service ran (overrides --since).
    #[arg(long, value_name = "N")]
    pub release: Option<u32>,
    /// One JSON object per event on stdout (time, stream, raw message).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Services to roll back (default: all of the target release's
    /// containers). A static service is rolled back on its own: `rollback web`.
    pub services: Vec<String>,
    /// The release to return to (default: the newest good one before the current).
    #[arg(long, value_name = "RELEASE")]
    pub to: Option<u32>,
    /// Roll back without asking (a rollback always asks nothing today; accepted for scripts).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print the release as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum LocalAction {
    /// Start moto, the local registry, the App Runner emulator and the token
    /// issuer (installing moto into a private virtualenv on first use).
    Start,
    /// Stop them all and the local databases, keeping everything they hold
    /// for the next start.
    Stop {
        /// Also delete everything local: resources, images, services, data.
        #[arg(long)]
        purge: bool,
    },
    /// Print a token the local stack's api accepts (its issuer is the local
    /// one, so no api on AWS accepts it).
    Token {
        /// The user the token speaks for (`sub`).
        #[arg(long, default_value = "user_local")]
        user: String,
        /// The organization (`org_id`).
        #[arg(long, default_value = "org_local")]
        org: String,
        /// The user's e-mail address.
        #[arg(long, default_value = "dev@foundry.local")]
        email: String,
        /// How long it stays valid, e.g. 1h or 30m.
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        ttl: std::time::Duration,
        /// The token with its issuer and expiry as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Tell whether they run and where.
    Status {
        /// Each stand-in, its endpoint and pid as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Run the local App Runner emulator in this process until SIGTERM
    /// (what `start` runs in the background).
    #[command(hide = true)]
    ServeApprunner {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        state_dir: std::path::PathBuf,
        /// The local registry every image is pulled from (host:port).
        #[arg(long)]
        registry: String,
        /// moto's endpoint, for runtime secrets and the services' AWS calls.
        #[arg(long)]
        moto: String,
    },
    /// Serve the local token issuer's keys in this process (what `start`
    /// runs in the background).
    #[command(hide = true)]
    ServeIssuer {
        #[arg(long)]
        port: u16,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretAction {
    /// Store a new value for a declared secret, read from stdin (hidden prompt on a terminal).
    Set {
        /// The secret's name under [secrets].
        name: String,
    },
    /// Store a new generated value for a secret declared with `generate =
    /// true`. The services that read it keep the old value until they
    /// restart: `foundry runbook secrets-rotation --fix` restarts them.
    Rotate {
        /// The secret's name under [secrets].
        name: String,
    },
}
