use std::process::ExitCode;

use anyhow::bail;
use foundry::logs::{self, LogsOptions};

use crate::cli::{Global, LogsArgs};

pub async fn run(g: &Global, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let session = super::open(g, None).await?;
    let options = LogsOptions {
        service: args.service.clone(),
        since: args.since,
        filter: args.filter,
        release: args.release,
    };
    let Some(query) = logs::query(&session, &options).await? else {
        bail!(
            "service `{}` does not exist in {}/{} yet, so it has no logs: run `foundry up` for this environment first",
            args.service,
            session.stack.name,
            session.stack.env
        );
    };
    let json = args.json;
    let mut print = |e: &logs::LogEvent| {
        if json {
            println!("{}", serde_json::to_string(e).unwrap_or_default());
        } else {
            println!("{}", logs::render(e));
        }
    };
    if args.follow {
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        logs::follow(&session.aws, &query, &mut print, stop).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let events = logs::fetch(&session.aws, &query).await?;
    if events.is_empty() && !json {
        eprintln!(
            "No log events from {} in {} for this window{}.",
            args.service,
            query.group,
            if query.filter.is_some() {
                " and filter"
            } else {
                ""
            }
        );
    }
    events.iter().for_each(print);
    Ok(ExitCode::SUCCESS)
}
