//! What a running service's traffic says: the platform's request metrics
//! (requests, 5xx answers, the worst latency) and the lines its log holds
//! matching a CloudWatch filter pattern, counted and grouped by a field.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use super::checks::{CheckError, Context, Fix, Outcome, Status, number, text};
use super::network;
use crate::release::ReleaseError;

/// A log search stops counting here: enough to say "at least".
const MAX_LOG_LINES: usize = 10_000;

pub async fn requests(params: &toml::Table, cx: &Context<'_>) -> Result<Outcome, CheckError> {
    let name = text(params, "service");
    let warn_percent = number(params, "warn_5xx_percent");
    let warn_latency = number(params, "warn_latency_ms");
    if !cx.stack.services.iter().any(|s| s.name == name) {
        return Ok(Outcome::pass(format!("the stack has no service {name}")));
    }
    let compute = crate::release::compute_of(cx.session)?;
    let Some(metrics) = compute
        .request_metrics(name)
        .await
        .map_err(ReleaseError::from)?
    else {
        return Ok(Outcome::pass(format!("{name} does not run")).with(
            Status::Fail,
            Fix::Apply {
                description: "`foundry up` creates it".into(),
            },
        ));
    };
    let dimensions: Vec<(&str, &str)> = metrics
        .dimensions
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    let sum = |metric: &'static str| {
        network::metric_sum(
            cx.aws,
            metrics.namespace,
            metric,
            &dimensions,
            cx.days,
            cx.now,
        )
    };
    let requests = sum(metrics.requests).await?;
    let errors = sum(metrics.errors_5xx).await?;
    let latency = network::metric_max(
        cx.aws,
        metrics.namespace,
        metrics.latency,
        &dimensions,
        cx.days,
        cx.now,
    )
    .await?
    .map(|v| v * metrics.latency_to_ms);
    let percent = if requests > 0.0 {
        100.0 * errors / requests
    } else {
        0.0
    };
    let evidence = vec![
        format!(
            "{name} ({} {}): {requests:.0} requests, {errors:.0} answered 5xx ({percent:.1}%) in {} days",
            metrics.namespace,
            dimensions
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
            cx.days
        ),
        match latency {
            Some(ms) => format!("{name}: {} peaked at {ms:.0} ms", metrics.latency),
            None => format!("{name}: no {} figures", metrics.latency),
        },
    ];
    let mut problems = Vec::new();
    if percent > warn_percent {
        problems.push(format!("{percent:.1}% of requests answered 5xx"));
    }
    if let Some(ms) = latency.filter(|ms| *ms > warn_latency) {
        problems.push(format!("latency peaked at {ms:.0} ms"));
    }
    if problems.is_empty() {
        return Ok(Outcome::pass(format!(
            "{name}: 5xx at most {warn_percent}%, latency under {warn_latency:.0} ms"
        ))
        .evidence(evidence));
    }
    Ok(Outcome::pass(format!("{name}: {}", problems.join(", ")))
        .evidence(evidence)
        .with(
            Status::Warn,
            Fix::Manual {
                description: format!(
                    "`foundry logs {name} --since 1h --filter ERROR` shows the failing requests; the next checks say whether they are upstream failures or the network"
                ),
            },
        ))
}

/// Lines of the service's log matching `pattern` over the window, grouped
/// by the value of the JSON field `group_by` (a dotted path).
pub async fn log_lines(params: &toml::Table, cx: &Context<'_>) -> Result<Outcome, CheckError> {
    let name = text(params, "service");
    let pattern = text(params, "pattern");
    let group_by = text(params, "group_by");
    let warn_count = number(params, "warn_count");
    if !cx.stack.services.iter().any(|s| s.name == name) {
        return Ok(Outcome::pass(format!("the stack has no service {name}")));
    }
    let compute = crate::release::compute_of(cx.session)?;
    let Some(group) = compute.log_group(name).await.map_err(ReleaseError::from)? else {
        return Ok(Outcome::pass(format!(
            "{name} does not run: no log to read"
        )));
    };
    let start = cx
        .now
        .checked_sub(Duration::from_secs(u64::from(cx.days) * 86_400))
        .unwrap_or(UNIX_EPOCH);
    let query = crate::logs::LogQuery {
        group: group.clone(),
        start_ms: crate::logs::millis(start),
        end_ms: None,
        filter: Some(pattern.to_owned()),
    };
    let mut events = crate::logs::fetch(cx.aws, &query).await?;
    let capped = events.len() > MAX_LOG_LINES;
    events.truncate(MAX_LOG_LINES);
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    for event in &events {
        let value = serde_json::from_str::<serde_json::Value>(&event.message)
            .ok()
            .and_then(|v| {
                group_by
                    .split('.')
                    .try_fold(v, |v, key| v.get(key).cloned())
            })
            .map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .unwrap_or_else(|| "(none)".into());
        *groups.entry(value).or_default() += 1;
    }
    let count = events.len();
    let mut evidence = vec![format!(
        "{group}: {}{count} line(s) match {pattern:?} in {} days",
        if capped { "at least " } else { "" },
        cx.days
    )];
    if count > 0 {
        let mut by: Vec<(String, usize)> = groups.into_iter().collect();
        by.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        evidence.push(format!(
            "by {group_by}: {}",
            by.iter()
                .map(|(k, n)| format!("{k} × {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if let Some(last) = events.last() {
            evidence.push(format!("latest at {}: {}", last.time, last.message));
        }
    }
    if (count as f64) <= warn_count {
        return Ok(
            Outcome::pass(format!("{name}: {count} line(s) match {pattern:?}")).evidence(evidence),
        );
    }
    Ok(Outcome::pass(format!(
        "{name}: {count} line(s) match {pattern:?}, above {warn_count:.0}"
    ))
    .evidence(evidence)
    .with(
        Status::Warn,
        Fix::Manual {
            description: format!(
                "`foundry logs {name} --filter {pattern:?}` shows each; the grouping says which cause dominates"
            ),
        },
    ))
}
