use std::process::ExitCode;

use foundry::engine::outputs;
use foundry::engine::policy::DataLossConsent;
use foundry::engine::progress::Progress;
use foundry::engine::render;
use foundry::release;

use crate::cli::Global;

pub async fn run(
    g: &Global,
    yes: bool,
    concurrency: usize,
    consent: DataLossConsent,
    profile: &str,
) -> anyhow::Result<ExitCode> {
    let mut session = super::open(g, Some("foundry up")).await?;
    let prepared = session.plan().await.map_err(super::engine_error)?;
    let (stack, env) = (session.stack.name.clone(), session.stack.env.clone());
    print!("{}", render::human(&prepared.plan, &stack, &env));
    for note in render::compute_notes(&prepared.plan, &session.stack) {
        println!("\n{note}");
    }
    let first = release::without_image(&session);
    print!("{}", running_note(&session.running_images));
    print!(
        "{}",
        first_images_note(&first, &release::without_source(&session))
    );
    if let Ok(prices) = foundry::pricing::for_region(&session.stack.region) {
        let cost = foundry::pricing::plan_cost_with_usage(&session.aws, &prepared, &prices).await;
        print!("{}", foundry::pricing::human(&cost, &stack, &env));
    }
    session
        .check_data_loss(&prepared, consent)
        .await
        .map_err(super::engine_error)?;
    if !prepared.plan.is_empty() || !first.is_empty() {
        if !yes && !super::confirm(&format!("\nApply these changes to {stack}/{env}?"), "yes")? {
            println!("Nothing changed.");
            return Ok(ExitCode::FAILURE);
        }
        println!();
    }
    let progress = Progress::new();
    let outputs = session
        .apply(
            &prepared,
            &progress,
            concurrency,
            consent.force_empty_buckets,
        )
        .await
        .map_err(super::engine_error)?;
    let mut outputs = outputs;
    if !first.is_empty() {
        let printer = super::build::Printer::new();
        let images = release::push_first_images(
            &mut session,
            &first,
            &super::stack_dir(g),
            profile,
            &printer,
        )
        .await?;
        if !images.pushed.is_empty() {
            let prepared = session.plan().await.map_err(super::engine_error)?;
            print!("{}", render::human(&prepared.plan, &stack, &env));
            for note in render::compute_notes(&prepared.plan, &session.stack) {
                println!("\n{note}");
            }
            outputs = session
                .apply(
                    &prepared,
                    &progress,
                    concurrency,
                    consent.force_empty_buckets,
                )
                .await
                .map_err(super::engine_error)?;
        }
        let recorded = release::record_first_release(&session, &images.pushed, &printer).await?;
        let running: Vec<String> = recorded
            .as_ref()
            .map(|r| r.services.keys().cloned().collect())
            .unwrap_or_default();
        if let Some(recorded) = &recorded {
            println!(
                "\nRelease {} records the first images of {}.",
                recorded.number,
                running.join(", ")
            );
        }
        let idle: Vec<String> = first
            .iter()
            .filter(|s| !running.contains(s))
            .cloned()
            .collect();
        for (service, secrets) in &images.started_without {
            println!(
                "\n{service} started without {} (no value yet): the local ai service answers with its echo provider until a key is set (`foundry --local secret set {} --env {env}`, then `foundry --local deploy {service} --env {env}`).",
                secrets.join(", "),
                secrets[0]
            );
        }
        if !idle.is_empty() {
            println!("\n{}", waiting_note(&idle, &images.waiting, &env));
        }
    }
    if !prepared.plan.is_empty() || !first.is_empty() {
        println!("\nApply complete: {stack}/{env} matches the stack file.");
    }
    println!("\nOutputs:\n{}", outputs::human(&outputs));
    if session.aws.local
        && let Some(url) = outputs["service_urls"]["api"].as_str()
    {
        println!("\n{}", try_it_note(url, g));
    }
    Ok(ExitCode::SUCCESS)
}

/// The Quick start's last word: a GraphQL request to the local api with a
/// token from the local issuer, ready to paste.
fn try_it_note(url: &str, g: &Global) -> String {
    // Locally a service answers plain HTTP on its URL's address.
    let address = url.trim_start_matches("https://");
    let foundry = std::env::current_exe()
        .map(|p| {
            let path = p.display().to_string();
            // Rebuilt since it started: the path is still where it is.
            path.trim_end_matches(" (deleted)").to_owned()
        })
        .unwrap_or_else(|_| "foundry".into());
    let stack = g.stack.display();
    format!(
        "Try it: the api answers on http://{address}\n  TOKEN=$({foundry} --stack {stack} local token)\n  curl -s http://{address}/graphql -H \"authorization: Bearer $TOKEN\" -H 'content-type: application/json' \\\n    -d '{{\"query\":\"mutation {{ createDocument(title: \\\"Hello\\\") {{ document {{ id title }} }} }}\"}}'"
    )
}

/// What runs, shown as information: `up` never changes it (`deploy` and
/// `rollback` do), so a different digest is not drift.
pub(super) fn running_note(running: &std::collections::BTreeMap<String, String>) -> String {
    if running.is_empty() {
        return String::new();
    }
    let mut note = String::from("\nRunning (changed only by `deploy` and `rollback`):\n");
    for (service, image) in running {
        note.push_str(&format!(
            "    {service}: {}\n",
            super::deploy::short_image(image)
        ));
    }
    note
}

/// Why services are not running after `up`, and what to do.
fn waiting_note(
    idle: &[String],
    waiting: &std::collections::BTreeMap<String, Vec<String>>,
    env: &str,
) -> String {
    let mut lines = vec![format!("Not running yet: {}.", idle.join(", "))];
    for (service, secrets) in waiting {
        let commands: Vec<String> = secrets
            .iter()
            .map(|s| format!("`foundry secret set {s} --env {env}`"))
            .collect();
        lines.push(format!(
            "  {service} reads secrets with no value yet; set them: {}",
            commands.join(", ")
        ));
    }
    let blocked: Vec<&str> = idle
        .iter()
        .filter(|s| !waiting.contains_key(*s))
        .map(String::as_str)
        .collect();
    if !blocked.is_empty() {
        lines.push(format!(
            "  {} need{} the URL of a service above.",
            blocked.join(", "),
            if blocked.len() == 1 { "s" } else { "" }
        ));
    }
    lines.push("Then run `foundry up` again.".into());
    lines.join("\n")
}

/// What `up` does after the plan for services without an image: said in
/// the plan, since their resources are planned only once the image exists.
pub(super) fn first_images_note(first: &[String], unbuildable: &[String]) -> String {
    let mut note = String::new();
    if !first.is_empty() {
        note.push_str(&format!(
            "\nThen, for {} (no image yet): build and push the first image, then plan and create the service{} with it.\n",
            first.join(", "),
            if first.len() == 1 { "" } else { "s" }
        ));
    }
    if !unbuildable.is_empty() {
        note.push_str(&format!(
            "\n{} ha{} no `source` and no release, so nothing runs {} yet: add `source = \"path/to/crate\"` under [services.NAME] and run `foundry up` again.\n",
            unbuildable.join(", "),
            if unbuildable.len() == 1 { "s" } else { "ve" },
            if unbuildable.len() == 1 { "it" } else { "them" }
        ));
    }
    note
}
