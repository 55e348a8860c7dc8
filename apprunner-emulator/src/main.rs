//! `apprunner-emulator`: the App Runner emulator as a process (what
//! `foundry local start` spawns). Usage in the crate docs and `--help`.

use std::process::ExitCode;
use std::time::Duration;

use apprunner_emulator::Config;

const USAGE: &str = "\
apprunner-emulator: a local AWS App Runner that runs the services' images

USAGE:
    apprunner-emulator --state-dir DIR [OPTIONS]

OPTIONS:
    --port PORT                 API port on 127.0.0.1 (default: a free one, printed)
    --state-dir DIR             pulled layers, unpacked images, logs (required)
    --registry-map HOST=LOCAL   pull images named HOST/... from LOCAL (host:port,
                                plain HTTP); HOST `*` matches any (repeatable)
    --secrets-endpoint URL      Secrets Manager endpoint for runtime secrets
                                (default: $AWS_ENDPOINT_URL_SECRETS_MANAGER or $AWS_ENDPOINT_URL)
    --logs-endpoint URL         CloudWatch Logs endpoint that instances' output is shipped to
                                (default: $AWS_ENDPOINT_URL_CLOUDWATCH_LOGS or $AWS_ENDPOINT_URL)
    --region REGION             default: us-east-1
    --account-id ID             default: 123456789012
    --delay-ms MS               time every operation takes before its work (default 200)
    --health-second-ms MS       length of one health-check second (default 100)
    --instance-env KEY=VALUE    added to every instance's environment (repeatable)
";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("apprunner-emulator: {message}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut state_dir = None;
    let mut config = Config::new("");
    config.secrets_endpoint = std::env::var("AWS_ENDPOINT_URL_SECRETS_MANAGER")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .ok();
    config.logs_endpoint = std::env::var("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .ok();
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            print!("{USAGE}");
            return Ok(());
        }
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))
        };
        let number = |text: String| {
            text.parse::<u64>()
                .map_err(|_| format!("{flag} takes a number, not {text:?}"))
        };
        let pair = |text: String| {
            text.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| format!("{flag} takes KEY=VALUE, not {text:?}"))
        };
        match flag.as_str() {
            "--port" => {
                config.port = number(value()?)?
                    .try_into()
                    .map_err(|_| "--port is at most 65535")?
            }
            "--state-dir" => state_dir = Some(value()?),
            "--registry-map" => {
                let (host, local) = pair(value()?)?;
                config.registry_map.insert(host, local);
            }
            "--secrets-endpoint" => config.secrets_endpoint = Some(value()?),
            "--logs-endpoint" => config.logs_endpoint = Some(value()?),
            "--region" => config.region = value()?,
            "--account-id" => config.account_id = value()?,
            "--delay-ms" => config.operation_delay = Duration::from_millis(number(value()?)?),
            "--health-second-ms" => {
                config.health_check_second = Duration::from_millis(number(value()?)?)
            }
            "--instance-env" => {
                let (key, val) = pair(value()?)?;
                config.instance_env.insert(key, val);
            }
            other => return Err(format!("unknown option {other}\n\n{USAGE}")),
        }
    }
    config.state_dir = state_dir
        .ok_or_else(|| format!("--state-dir is required\n\n{USAGE}"))?
        .into();

    apprunner_emulator::serve_until_signal(config, |endpoint| {
        println!("apprunner-emulator listening on {endpoint}");
    })
    .map_err(|e| e.to_string())?;
    eprintln!("apprunner-emulator: stopped every service");
    Ok(())
}
