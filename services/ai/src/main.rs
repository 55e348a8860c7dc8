use ai::{config::Config, startup::Application, telemetry};

#[tokio::main]
async fn main() {
    telemetry::init();
    // Start-up errors are one clear line naming what is wrong, then exit 1.
    let config = match Config::load(&|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("ai: configuration error: {err}");
            std::process::exit(1);
        }
    };
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("ai: start-up failed: {err:#}");
            std::process::exit(1);
        }
    };
    tracing::info!(address = %app.local_addr(), "ai gateway listening");
    if let Err(err) = app.run_until_stopped().await {
        eprintln!("ai: server error: {err:#}");
        std::process::exit(1);
    }
}
