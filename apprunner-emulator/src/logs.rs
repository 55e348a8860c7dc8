//! App Runner's application logs: every instance's stdout and stderr, line
//! by line, into CloudWatch Logs (moto, locally) under the names App Runner
//! uses — group `/aws/apprunner/<ServiceName>/<ServiceId>/application`,
//! stream `instance/<instance id>` — so that whatever reads App Runner's logs
//! on AWS (`foundry logs`) reads the emulator's the same way.
//!
//! A tail, not a pipe: the instance writes its files as before (they stay,
//! for `ServiceLogs`); a task ships the complete lines that are new every
//! [`POLL`], and once more when the instance ends, so that its last words —
//! a crash, a failed health check — are shipped too. An event's timestamp is
//! when the tail read it: at most one poll late, in the order written.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use tokio::sync::oneshot;

use crate::Config;
use crate::model::Service;
use crate::runner::events;

/// How often a tail looks for new lines.
const POLL: Duration = Duration::from_millis(200);
/// PutLogEvents takes at most 10,000 events and 1 MiB; a batch stays far
/// below both.
const BATCH_EVENTS: usize = 1_000;
/// CloudWatch's limit for one event is 256 KiB, less 26 bytes of overhead.
const EVENT_BYTES: usize = 256 * 1024 - 26;

/// The group App Runner writes a service's application output to.
pub(crate) fn application_group(service: &Service) -> String {
    format!(
        "/aws/apprunner/{}/{}/application",
        service.service_name, service.service_id
    )
}

pub(crate) struct LogsClient {
    endpoint: Option<String>,
    region: String,
    client: OnceLock<Client>,
}

/// Ends its tail when dropped (with the instance): the tail ships what is
/// left and stops.
pub(crate) struct Tail {
    _stop: oneshot::Sender<()>,
}

impl LogsClient {
    pub fn new(config: &Config) -> LogsClient {
        LogsClient {
            endpoint: config.logs_endpoint.clone(),
            region: config.region.clone(),
            client: OnceLock::new(),
        }
    }

    fn client(&self) -> Option<Client> {
        let endpoint = self.endpoint.as_deref()?;
        Some(
            self.client
                .get_or_init(|| {
                    // A local stand-in (moto) takes any signature.
                    let config = aws_sdk_cloudwatchlogs::Config::builder()
                        .behavior_version(BehaviorVersion::latest())
                        .region(Region::new(self.region.clone()))
                        .endpoint_url(endpoint)
                        .credentials_provider(Credentials::new(
                            "emulator",
                            "emulator",
                            None,
                            None,
                            "apprunner-emulator",
                        ))
                        .build();
                    Client::from_conf(config)
                })
                .clone(),
        )
    }

    /// Starts shipping the instance in `dir` (its `stdout.log` and
    /// `stderr.log`); `None` when the emulator has no logs endpoint.
    pub fn tail(&self, service: &Service, dir: &Path) -> Option<Tail> {
        let client = self.client()?;
        let instance = dir
            .file_name()
            .map(|n| n.to_string_lossy().replace('-', ""))
            .unwrap_or_default();
        let shipper = Shipper {
            client,
            group: application_group(service),
            stream: format!("instance/{instance}"),
            dir: dir.to_owned(),
        };
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(shipper.run(stopped));
        Some(Tail { _stop: stop })
    }
}

struct Shipper {
    client: Client,
    group: String,
    stream: String,
    /// The instance's directory: its files, and its events for our errors.
    dir: PathBuf,
}

impl Shipper {
    async fn run(self, mut stopped: oneshot::Receiver<()>) {
        if let Err(e) = self.create_stream().await {
            events(
                &self.dir,
                &format!("Cannot create log stream {}: {e}", self.stream),
            );
            return;
        }
        let mut files = [
            FileTail::new(self.dir.join("stdout.log")),
            FileTail::new(self.dir.join("stderr.log")),
        ];
        let mut reported = false;
        loop {
            // The sender dropping (the instance ended) is the stop signal.
            let last = tokio::select! {
                _ = tokio::time::sleep(POLL) => false,
                _ = &mut stopped => true,
            };
            let mut lines = Vec::new();
            for file in &mut files {
                lines.extend(file.read_lines(last));
            }
            if let Err(e) = self.put(lines).await
                && !reported
            {
                // Said once: an unreachable endpoint would say it every poll.
                events(
                    &self.dir,
                    &format!("Cannot ship logs to {}: {e}", self.group),
                );
                reported = true;
            }
            if last {
                return;
            }
        }
    }

    async fn create_stream(&self) -> Result<(), String> {
        let group = self
            .client
            .create_log_group()
            .log_group_name(&self.group)
            .send()
            .await;
        if let Err(e) = group
            && !e
                .as_service_error()
                .is_some_and(|e| e.is_resource_already_exists_exception())
        {
            return Err(aws_sdk_cloudwatchlogs::error::DisplayErrorContext(e).to_string());
        }
        let stream = self
            .client
            .create_log_stream()
            .log_group_name(&self.group)
            .log_stream_name(&self.stream)
            .send()
            .await;
        match stream {
            Err(e)
                if !e
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_already_exists_exception()) =>
            {
                Err(aws_sdk_cloudwatchlogs::error::DisplayErrorContext(e).to_string())
            }
            _ => Ok(()),
        }
    }

    async fn put(&self, lines: Vec<String>) -> Result<(), String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as i64;
        for batch in lines.chunks(BATCH_EVENTS) {
            let events = batch
                .iter()
                .map(|line| {
                    InputLogEvent::builder()
                        .timestamp(now)
                        .message(line)
                        .build()
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.client
                .put_log_events()
                .log_group_name(&self.group)
                .log_stream_name(&self.stream)
                .set_log_events(Some(events))
                .send()
                .await
                .map_err(|e| aws_sdk_cloudwatchlogs::error::DisplayErrorContext(e).to_string())?;
        }
        Ok(())
    }
}

/// What of one file has been read: its offset and a line not yet ended.
struct FileTail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl FileTail {
    fn new(path: PathBuf) -> FileTail {
        FileTail {
            path,
            offset: 0,
            partial: Vec::new(),
        }
    }

    /// The complete lines written since the last call; with `last`, the
    /// unfinished one too. Empty lines are not events.
    fn read_lines(&mut self, last: bool) -> Vec<String> {
        let mut bytes = Vec::new();
        if let Ok(mut file) = File::open(&self.path)
            && file.seek(SeekFrom::Start(self.offset)).is_ok()
            && let Ok(n) = file.read_to_end(&mut bytes)
        {
            self.offset += n as u64;
        }
        self.partial.extend_from_slice(&bytes);
        let mut lines = Vec::new();
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            lines.push(line);
        }
        if last && !self.partial.is_empty() {
            lines.push(std::mem::take(&mut self.partial));
        }
        lines
            .into_iter()
            .filter_map(|line| {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\n', '\r']);
                (!text.is_empty()).then(|| truncate(text, EVENT_BYTES).to_owned())
            })
            .collect()
    }
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_yields_complete_lines_and_the_rest_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stdout.log");
        let mut tail = FileTail::new(path.clone());
        assert!(tail.read_lines(false).is_empty(), "no file yet");
        std::fs::write(&path, "one\n\ntwo\r\nthr").unwrap();
        assert_eq!(tail.read_lines(false), ["one", "two"]);
        std::fs::write(&path, "one\n\ntwo\r\nthree\nfour").unwrap();
        assert_eq!(tail.read_lines(false), ["three"]);
        assert_eq!(tail.read_lines(true), ["four"]);
        assert!(tail.read_lines(true).is_empty());
    }

    #[test]
    fn an_event_is_cut_at_a_character_boundary() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("hi", 10), "hi");
    }
}
