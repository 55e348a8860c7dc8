use std::process::ExitCode;

use foundry::engine::render;

use crate::cli::Global;

pub async fn run(g: &Global, json: bool, detailed_exitcode: bool) -> anyhow::Result<ExitCode> {
    let session = super::open(g, None).await?;
    let prepared = session.plan().await.map_err(super::engine_error)?;
    let (stack, env) = (&session.stack.name, &session.stack.env);
    let first = foundry::release::without_image(&session);
    let cost = match foundry::pricing::for_region(&session.stack.region) {
        Ok(prices) => {
            Ok(foundry::pricing::plan_cost_with_usage(&session.aws, &prepared, &prices).await)
        }
        Err(e) => Err(e),
    };
    if json {
        let mut plan = render::json(&prepared.plan, stack, env);
        if let Some(object) = plan.as_object_mut() {
            object.insert("first_images".into(), serde_json::json!(first));
            object.insert(
                "notes".into(),
                serde_json::json!(render::compute_notes(&prepared.plan, &session.stack)),
            );
            object.insert(
                "running_images".into(),
                serde_json::json!(session.running_images),
            );
            object.insert(
                "cost".into(),
                match &cost {
                    Ok(cost) => serde_json::to_value(cost)?,
                    Err(e) => serde_json::json!({ "error": e.to_string() }),
                },
            );
        }
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        print!("{}", render::human(&prepared.plan, stack, env));
        for note in render::compute_notes(&prepared.plan, &session.stack) {
            println!("\n{note}");
        }
        print!("{}", super::up::running_note(&session.running_images));
        let unbuildable = foundry::release::without_source(&session);
        print!("{}", super::up::first_images_note(&first, &unbuildable));
        match &cost {
            Ok(cost) => print!("{}", foundry::pricing::human(cost, stack, env)),
            Err(e) => println!("\nNo cost estimate: {e}"),
        }
    }
    let code = if detailed_exitcode && (!prepared.plan.is_empty() || !first.is_empty()) {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    };
    Ok(code)
}
