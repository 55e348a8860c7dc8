//! `foundry logs`: a service's output from CloudWatch Logs, where its
//! compute target writes it (App Runner: the service's `application` group,
//! one stream per instance), merged across streams in time order.
//!
//! Filtering is CloudWatch's own (`FilterLogEvents`' filter pattern, applied
//! server-side), so a narrow filter over a long window moves only what
//! matches. Following polls with a bounded interval that backs off while
//! nothing arrives and snaps back when something does.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::types::FilteredLogEvent;
use serde::Serialize;
use serde_json::Value;

use crate::aws::{Aws, AwsError, SdkResultExt};
use crate::engine::Session;
use crate::release::{self, ReleaseError};

/// The first wait of `--follow`, and the longest once nothing arrives.
const FOLLOW_FIRST: Duration = Duration::from_millis(500);
const FOLLOW_LONGEST: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error(transparent)]
    Release(#[from] ReleaseError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("release {0} does not exist: `foundry releases` lists them")]
    NoRelease(u32),
    #[error("release {release} does not include service `{service}`")]
    NotInRelease { release: u32, service: String },
    #[error("`{0}` is neither a duration (30s, 10m, 2h, 1d) nor a time (2026-12-02T10:00:00Z)")]
    BadSince(String),
}

#[derive(Debug, Clone)]
pub struct LogsOptions {
    pub service: String,
    /// From when: `10m` back from now, or an RFC 3339 time.
    pub since: String,
    /// CloudWatch filter pattern, applied server-side.
    pub filter: Option<String>,
    /// Only while this release's version of the service ran.
    pub release: Option<u32>,
}

/// What to ask CloudWatch for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    pub group: String,
    /// Milliseconds since the epoch, inclusive.
    pub start_ms: i64,
    /// Exclusive; `None` is "until now" (or forever, when following).
    pub end_ms: Option<i64>,
    pub filter: Option<String>,
}

/// One line a service wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEvent {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// RFC 3339 with milliseconds, UTC.
    pub time: String,
    /// The log stream: App Runner's `instance/<id>`.
    pub stream: String,
    pub message: String,
    pub event_id: String,
}

/// The query for a service: its group, and the window `--since` or
/// `--release` gives. `None` when the service does not exist yet.
pub async fn query(
    session: &Session,
    options: &LogsOptions,
) -> Result<Option<LogQuery>, LogsError> {
    crate::images::select(&session.stack, std::slice::from_ref(&options.service))
        .map_err(ReleaseError::from)?;
    let compute = release::compute_of(session)?;
    let Some(group) = compute
        .log_group(&options.service)
        .await
        .map_err(ReleaseError::from)?
    else {
        return Ok(None);
    };
    let (mut start_ms, mut end_ms) = (since_ms(&options.since, SystemTime::now())?, None);
    if let Some(number) = options.release {
        let history = release::load(&session.state)
            .await
            .map_err(ReleaseError::from)?;
        let (from, to) = release_window(&history, number, &options.service)?;
        start_ms = from;
        end_ms = to;
    }
    Ok(Some(LogQuery {
        group,
        start_ms,
        end_ms,
        filter: options.filter.clone(),
    }))
}

/// From when `--since` means, in milliseconds since the epoch.
pub fn since_ms(since: &str, now: SystemTime) -> Result<i64, LogsError> {
    let at = match humantime::parse_duration(since) {
        Ok(back) => now.checked_sub(back).unwrap_or(UNIX_EPOCH),
        Err(_) => humantime::parse_rfc3339_weak(since)
            .map_err(|_| LogsError::BadSince(since.to_owned()))?,
    };
    Ok(millis(at))
}

/// The time release `number`'s version of `service` ran: from the release's
/// start until the next release that succeeded with something else for it
/// began (or now). App Runner does not say which instance a deployment
/// started, so the window is by time: events of an instance that a failed
/// release tried (and App Runner refused) in between show too.
fn release_window(
    history: &release::History,
    number: u32,
    service: &str,
) -> Result<(i64, Option<i64>), LogsError> {
    let position = history
        .releases
        .iter()
        .position(|r| r.number == number)
        .ok_or(LogsError::NoRelease(number))?;
    let chosen = &history.releases[position];
    let ran = chosen
        .services
        .get(service)
        .ok_or_else(|| LogsError::NotInRelease {
            release: number,
            service: service.to_owned(),
        })?;
    let time = |t: &str| humantime::parse_rfc3339_weak(t).ok().map(millis);
    let start = time(&chosen.started_at).unwrap_or(0);
    let end = history.releases[position + 1..]
        .iter()
        .filter(|r| r.outcome == release::Outcome::Succeeded)
        .find(|r| {
            r.services.get(service).is_none_or(|s| {
                s.image != ran.image || s.env != ran.env || s.secrets != ran.secrets
            })
        })
        .and_then(|r| time(&r.started_at));
    Ok((start, end))
}

/// Milliseconds since the epoch, as CloudWatch Logs counts time.
pub fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Every event the query matches, oldest first; none while the group does
/// not exist (a service that has not written anything yet).
pub async fn fetch(aws: &Aws, query: &LogQuery) -> Result<Vec<LogEvent>, AwsError> {
    let mut events = Vec::new();
    let mut pages = aws
        .logs
        .filter_log_events()
        .log_group_name(&query.group)
        .start_time(query.start_ms)
        .set_end_time(query.end_ms)
        .set_filter_pattern(query.filter.clone())
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match AwsError::none_if_not_found(page.or_aws("FilterLogEvents"))? {
            Some(page) => page,
            None => return Ok(Vec::new()),
        };
        events.extend(page.events().iter().map(event));
    }
    // Pages come stream by stream; a stable sort keeps each stream's order
    // among events of the same millisecond.
    events.sort_by_key(|e| e.timestamp);
    Ok(events)
}

/// Prints what the query matches, then everything that arrives after, until
/// `stop` resolves (Ctrl-C). Returns how many events it printed.
pub async fn follow(
    aws: &Aws,
    query: &LogQuery,
    print: &mut dyn FnMut(&LogEvent),
    stop: impl std::future::Future<Output = ()>,
) -> Result<u64, AwsError> {
    tokio::pin!(stop);
    let mut query = query.clone();
    // Events at the newest timestamp seen: the next poll starts there
    // (inclusive, so a late-arriving event of that millisecond is not lost)
    // and skips these.
    let mut seen_at_newest: HashSet<String> = HashSet::new();
    let mut printed = 0;
    let mut wait = FOLLOW_FIRST;
    loop {
        let mut new = 0;
        for e in fetch(aws, &query).await? {
            if e.timestamp == query.start_ms && seen_at_newest.contains(&e.event_id) {
                continue;
            }
            if e.timestamp > query.start_ms {
                query.start_ms = e.timestamp;
                seen_at_newest.clear();
            }
            seen_at_newest.insert(e.event_id.clone());
            print(&e);
            new += 1;
        }
        printed += new;
        wait = if new > 0 {
            FOLLOW_FIRST
        } else {
            (wait * 2).min(FOLLOW_LONGEST)
        };
        tokio::select! {
            _ = &mut stop => return Ok(printed),
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

fn event(e: &FilteredLogEvent) -> LogEvent {
    let timestamp = e.timestamp().unwrap_or_default();
    let time = UNIX_EPOCH + Duration::from_millis(timestamp.max(0) as u64);
    LogEvent {
        timestamp,
        time: humantime::format_rfc3339_millis(time).to_string(),
        stream: e.log_stream_name().unwrap_or_default().to_owned(),
        message: e.message().unwrap_or_default().trim_end().to_owned(),
        event_id: e.event_id().unwrap_or_default().to_owned(),
    }
}

/// One event as a line for people: time, instance, and — for the JSON lines
/// the services write (tracing's JSON format) — level, message and fields;
/// anything else as written.
pub fn render(e: &LogEvent) -> String {
    let instance = e.stream.rsplit('/').next().unwrap_or(&e.stream);
    let instance: String = instance.chars().take(8).collect();
    format!("{} {instance} {}", e.time, readable(&e.message))
}

fn readable(message: &str) -> String {
    let Ok(Value::Object(line)) = serde_json::from_str::<Value>(message) else {
        return message.to_owned();
    };
    let level = line.get("level").and_then(Value::as_str).unwrap_or("");
    let mut fields = match line.get("fields") {
        Some(Value::Object(fields)) => fields.clone(),
        _ => line.clone(),
    };
    let text = fields
        .remove("message")
        .or_else(|| fields.remove("msg"))
        .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_owned))
        .unwrap_or_default();
    for key in ["timestamp", "level", "target", "span", "spans", "fields"] {
        fields.remove(key);
    }
    let mut out = format!("{level:<5} {text}");
    for (key, value) in fields {
        let value = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        out.push_str(&format!(" {key}={value}"));
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(message: &str, expect: &str) {
        assert_eq!(readable(message), expect, "{message}");
    }

    #[test]
    fn service_json_lines_read_as_level_message_and_fields() {
        check(
            r#"{"timestamp":"2026-12-02T10:00:00Z","level":"INFO","fields":{"message":"listening","port":8080},"target":"api"}"#,
            "INFO  listening port=8080",
        );
        check(
            r#"{"level":"WARN","fields":{"message":"slow query","sql":"select 1","ms":812.5}}"#,
            "WARN  slow query ms=812.5 sql=select 1",
        );
        check(
            r#"{"level":"ERROR","msg":"flat","code":"E1"}"#,
            "ERROR flat code=E1",
        );
        check("plain text, as written", "plain text, as written");
        check("[1, 2]", "[1, 2]");
    }

    #[test]
    fn since_is_a_duration_back_or_a_time() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(since_ms("10m", now).unwrap(), (1_000_000 - 600) * 1000);
        assert_eq!(since_ms("2h", now).unwrap(), (1_000_000 - 7200) * 1000);
        assert_eq!(
            since_ms("1970-01-02T00:00:00Z", now).unwrap(),
            86_400 * 1000
        );
        assert!(matches!(
            since_ms("yesterday", now),
            Err(LogsError::BadSince(s)) if s == "yesterday"
        ));
    }

    /// Releases of `api` as (number, started_at, image, outcome).
    fn history(releases: &[(u32, &str, &str, release::Outcome)]) -> release::History {
        release::History {
            releases: releases
                .iter()
                .map(|(number, at, image, outcome)| release::Release {
                    number: *number,
                    kind: release::ReleaseKind::Deploy,
                    started_at: (*at).into(),
                    finished_at: None,
                    by: "someone".into(),
                    outcome: outcome.clone(),
                    services: [(
                        "api".to_owned(),
                        release::ServiceRelease {
                            image: (*image).into(),
                            git_sha: None,
                            env: Default::default(),
                            secrets: Default::default(),
                            handle: None,
                        },
                    )]
                    .into(),
                    sites: Default::default(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_release_window_ends_when_a_later_good_release_changed_the_service() {
        use release::Outcome::{Failed, Succeeded};
        let failed = || Failed {
            reason: "unhealthy".into(),
        };
        let h = history(&[
            (1, "1970-01-01T00:00:10Z", "a", Succeeded),
            (2, "1970-01-01T00:00:20Z", "a", Succeeded), // the same api
            (3, "1970-01-01T00:00:30Z", "b", failed()),  // refused: a kept running
            (4, "1970-01-01T00:00:40Z", "c", Succeeded),
        ]);
        assert_eq!(
            release_window(&h, 1, "api").unwrap(),
            (10_000, Some(40_000))
        );
        assert_eq!(release_window(&h, 4, "api").unwrap(), (40_000, None));
        assert!(matches!(
            release_window(&h, 9, "api"),
            Err(LogsError::NoRelease(9))
        ));
        assert!(matches!(
            release_window(&h, 1, "ai"),
            Err(LogsError::NotInRelease { release: 1, .. })
        ));
    }

    #[test]
    fn a_line_shows_time_instance_and_the_readable_message() {
        let e = LogEvent {
            timestamp: 0,
            time: "2026-12-02T10:00:00.123Z".into(),
            stream: "instance/0123456789abcdef".into(),
            message: r#"{"level":"INFO","fields":{"message":"hi"}}"#.into(),
            event_id: "1".into(),
        };
        assert_eq!(render(&e), "2026-12-02T10:00:00.123Z 01234567 INFO  hi");
    }
}
