//! Remote state in an S3 bucket, for teams: `<prefix>/<stack>/<env>/` holds
//! `state.json`, `journal.jsonl` and `lock.json`. The lock is created with a
//! conditional write (`If-None-Match: *`), so exactly one run gets it; a run
//! that crashes leaves it behind until `foundry unlock` removes it.

use std::collections::BTreeMap;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use tokio::sync::Mutex;

use super::{JournalEntry, LockError, LockHolder, Snapshot, StateError, pending_from_lines};

/// `<prefix>/<stack>/<env>`: where one environment's state objects live
/// (an empty prefix is left out).
pub fn base_key(prefix: &str, stack: &str, env: &str) -> String {
    [prefix, stack, env]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/")
}

pub struct S3State {
    client: aws_sdk_s3::Client,
    bucket: String,
    base: String,
    env: String,
    /// The journal's lines, loaded on first append; S3 objects cannot be
    /// appended to, so each append rewrites the (small) object.
    journal: Mutex<Option<Vec<String>>>,
}

/// The remote lock; deleted when dropped.
pub struct S3Lock {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
}

fn s3_error<E: ProvideErrorMetadata>(
    bucket: &str,
    what: &str,
    err: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> StateError {
    let detail = match err {
        SdkError::ServiceError(s) => s
            .err()
            .message()
            .or(s.err().code())
            .unwrap_or("unknown error")
            .to_string(),
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            "the endpoint could not be reached".to_string()
        }
        other => other.to_string(),
    };
    let hint = if err.code() == Some("NoSuchBucket") {
        "; create the bucket first (versioning on is recommended)"
    } else {
        ""
    };
    StateError::S3 {
        bucket: bucket.to_string(),
        message: format!("{what}: {detail}{hint}"),
    }
}

impl S3State {
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: &str,
        prefix: &str,
        stack: &str,
        env: &str,
    ) -> Self {
        let base = base_key(prefix, stack, env);
        Self {
            client,
            bucket: bucket.to_string(),
            base,
            env: env.to_string(),
            journal: Mutex::new(None),
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.base)
    }

    pub async fn read_document(&self, name: &str) -> Result<Option<Vec<u8>>, StateError> {
        self.get(name).await
    }

    pub async fn write_document(&self, name: &str, bytes: Vec<u8>) -> Result<(), StateError> {
        self.put(name, bytes).await
    }

    async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StateError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(name))
            .send()
            .await;
        let object = match result {
            Ok(o) => o,
            Err(e) if e.code() == Some("NoSuchKey") => return Ok(None),
            Err(e) => return Err(s3_error(&self.bucket, &format!("reading {name}"), &e)),
        };
        let bytes = object.body.collect().await.map_err(|e| StateError::S3 {
            bucket: self.bucket.clone(),
            message: format!("reading {name}: {e}"),
        })?;
        Ok(Some(bytes.to_vec()))
    }

    async fn put(&self, name: &str, bytes: Vec<u8>) -> Result<(), StateError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(name))
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| s3_error(&self.bucket, &format!("writing {name}"), &e))?;
        Ok(())
    }

    async fn delete(&self, name: &str) -> Result<(), StateError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.key(name))
            .send()
            .await
            .map_err(|e| s3_error(&self.bucket, &format!("deleting {name}"), &e))?;
        Ok(())
    }

    pub async fn lock(&self, command: &str) -> Result<S3Lock, StateError> {
        let holder = LockHolder::current(command);
        let key = self.key("lock.json");
        let result = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .if_none_match("*")
            .body(ByteStream::from(
                serde_json::to_vec(&holder).expect("holder serialises"),
            ))
            .send()
            .await;
        match result {
            Ok(_) => Ok(S3Lock {
                client: self.client.clone(),
                bucket: self.bucket.clone(),
                key,
            }),
            Err(e)
                if matches!(
                    e.code(),
                    Some("PreconditionFailed" | "ConditionalRequestConflict")
                ) || e.raw_response().is_some_and(|r| r.status().as_u16() == 412) =>
            {
                let holder = match self.get("lock.json").await? {
                    Some(bytes) => serde_json::from_slice::<LockHolder>(&bytes).map_or_else(
                        |_| "an unreadable lock object".to_string(),
                        |h| h.to_string(),
                    ),
                    None => "a run that has just released it (try again)".to_string(),
                };
                Err(LockError::HeldRemote {
                    location: self.describe(),
                    holder,
                    env: self.env.clone(),
                }
                .into())
            }
            Err(e) => Err(s3_error(&self.bucket, "taking the lock", &e)),
        }
    }

    pub async fn unlock(&self) -> Result<LockHolder, StateError> {
        let Some(bytes) = self.get("lock.json").await? else {
            return Err(StateError::NothingToUnlock(format!(
                "no lock is held at {}",
                self.describe()
            )));
        };
        let holder = serde_json::from_slice::<LockHolder>(&bytes)
            .unwrap_or_else(|_| LockHolder::current("unknown"));
        self.delete("lock.json").await?;
        Ok(holder)
    }

    pub async fn load(&self) -> Result<Snapshot, StateError> {
        match self.get("state.json").await? {
            None => Ok(Snapshot::default()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt {
                path: format!("{}/state.json", self.describe()).into(),
                source,
            }),
        }
    }

    pub async fn save(&self, snapshot: &Snapshot) -> Result<(), StateError> {
        self.put(
            "state.json",
            serde_json::to_vec_pretty(snapshot).expect("state serialises"),
        )
        .await
    }

    async fn lines(&self) -> Result<Vec<String>, StateError> {
        Ok(self
            .get("journal.jsonl")
            .await?
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .lines()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default())
    }

    pub async fn journal(&self, entry: &JournalEntry) -> Result<(), StateError> {
        let mut cached = self.journal.lock().await;
        if cached.is_none() {
            *cached = Some(self.lines().await?);
        }
        let lines = cached.as_mut().expect("loaded above");
        lines.push(serde_json::to_string(entry).expect("journal entry serialises"));
        self.put("journal.jsonl", (lines.join("\n") + "\n").into_bytes())
            .await
    }

    pub async fn pending_intents(&self) -> Result<BTreeMap<String, String>, StateError> {
        let lines = self.lines().await?;
        Ok(pending_from_lines(lines.iter().map(String::as_str)))
    }

    pub async fn clear_journal(&self) -> Result<(), StateError> {
        let mut cached = self.journal.lock().await;
        self.delete("journal.jsonl").await?;
        *cached = Some(Vec::new());
        Ok(())
    }
}

impl Drop for S3Lock {
    fn drop(&mut self) {
        let request = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(&self.key);
        // Drop cannot await; the CLI runs on a multi-threaded runtime, where
        // blocking this worker for one request is allowed.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            tokio::task::block_in_place(|| {
                let _ = handle.block_on(request.send());
            });
        }
    }
}
