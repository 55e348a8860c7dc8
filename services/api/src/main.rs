//! `api [serve]` runs the service; `api migrate` applies the embedded
//! migrations (only the database variables are needed for that: DATABASE_URL,
//! or DATABASE_HOST/PORT/NAME/SECRET_ARN with the AWS SDK's usual settings);
//! `api schema` prints the GraphQL schema (SDL) that clients compile against
//! (no configuration needed).

use std::process::ExitCode;

use api::config::DatabaseSource;
use api::{Application, Config, db};

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => {
            let config = match Config::from_env() {
                Ok(config) => config,
                Err(err) => {
                    eprintln!("api: {err}");
                    return ExitCode::from(2);
                }
            };
            // One worker per core (WORKER_THREADS): a request is CPU work
            // between waits on Postgres, so more workers than cores only
            // add switches; blocking work (the trace exporter's flush) runs
            // on tokio's separate blocking pool.
            match runtime(config.worker_threads) {
                Ok(runtime) => runtime.block_on(serve(config)),
                Err(code) => code,
            }
        }
        Some("migrate") => match runtime(1) {
            Ok(runtime) => runtime.block_on(migrate()),
            Err(code) => code,
        },
        Some("schema") => {
            print!("{}", api::graphql::sdl());
            ExitCode::SUCCESS
        }
        Some(_) => {
            eprintln!("usage: api [serve|migrate|schema]");
            ExitCode::from(2)
        }
    }
}

fn runtime(worker_threads: usize) -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads)
        .enable_all()
        .build()
        .map_err(|err| {
            eprintln!("api: cannot start the async runtime: {err}");
            ExitCode::FAILURE
        })
}

async fn serve(config: Config) -> ExitCode {
    let telemetry = match api::telemetry::init(config.otel_exporter_otlp_endpoint.as_deref()) {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("api: {err}");
            return ExitCode::from(2);
        }
    };
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("api: {err}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %app.local_addr(), "listening");
    let served = app.run_until_stopped(shutdown_signal()).await;
    // Export the last spans before exiting (a blocking flush).
    tokio::task::spawn_blocking(move || drop(telemetry))
        .await
        .ok();
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("api: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate() -> ExitCode {
    let _telemetry = api::telemetry::init(None);
    let source = match DatabaseSource::from_lookup(|name| std::env::var(name).ok()) {
        Ok(source) => source,
        Err(err) => {
            eprintln!("api: {err}");
            return ExitCode::from(2);
        }
    };
    let result = async {
        let secrets = match &source {
            // Region, credentials and AWS_ENDPOINT_URL(_SECRETS_MANAGER) as
            // the SDK reads them from the environment.
            DatabaseSource::Secret(_) => Some(aws_sdk_secretsmanager::Client::new(
                &aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
            )),
            DatabaseSource::Url(_) => None,
        };
        let db = db::connect(&source, secrets, 2).await?;
        db::migrate(&db).await
    }
    .await;
    match result {
        Ok(()) => {
            println!("migrations applied");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("api: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C or SIGTERM (what App Runner/ECS send before stopping a task).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
