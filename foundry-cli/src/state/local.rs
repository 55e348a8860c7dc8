//! Local state: `.foundry/state/<stack>/<env>/` beside the stack file.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use super::{JournalEntry, Lock, Snapshot, StateError, io, pending_from_lines};

/// The state directory of one stack and environment.
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// `.foundry/state/<stack>/<env>` in `base` (the stack file's directory).
    pub fn new(base: &Path, stack: &str, env: &str) -> Self {
        Self {
            dir: base.join(".foundry").join("state").join(stack).join(env),
        }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn ensure(&self) -> Result<(), StateError> {
        fs::create_dir_all(&self.dir).map_err(io("create", &self.dir))
    }

    /// Takes the lock for this stack and environment, or fails at once
    /// naming who holds it.
    pub fn lock(&self, command: &str) -> Result<Lock, StateError> {
        self.ensure()?;
        Ok(Lock::acquire(&self.dir.join("lock"), command)?)
    }

    pub fn load(&self) -> Result<Snapshot, StateError> {
        let path = self.dir.join("state.json");
        match self.read_document("state.json")? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map_err(|source| StateError::Corrupt { path, source }),
            None => Ok(Snapshot::default()),
        }
    }

    /// Replaces the cache atomically: a crash leaves the old or the new file, never half of one.
    pub fn save(&self, snapshot: &Snapshot) -> Result<(), StateError> {
        let bytes = serde_json::to_vec_pretty(snapshot).expect("state serialises");
        self.write_document("state.json", &bytes)
    }

    /// A file of the state directory, if it exists.
    pub fn read_document(&self, name: &str) -> Result<Option<Vec<u8>>, StateError> {
        let path = self.dir.join(name);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    /// Replaces a file of the state directory atomically (write, sync, rename).
    pub fn write_document(&self, name: &str, bytes: &[u8]) -> Result<(), StateError> {
        self.ensure()?;
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let mut file = File::create(&tmp).map_err(io("write", &tmp))?;
        file.write_all(bytes)
            .and_then(|_| file.sync_all())
            .map_err(io("write", &tmp))?;
        fs::rename(&tmp, &path).map_err(io("replace", &path))
    }

    /// Appends one entry and syncs it to disk before returning.
    pub fn journal(&self, entry: &JournalEntry) -> Result<(), StateError> {
        self.ensure()?;
        let path = self.dir.join("journal.jsonl");
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io("open", &path))?;
        let mut line = serde_json::to_vec(entry).expect("journal entry serialises");
        line.push(b'\n');
        file.write_all(&line)
            .and_then(|_| file.sync_data())
            .map_err(io("append to", &path))
    }

    /// Tokens of creates that started but never finished, by logical id.
    /// A torn last line (crash mid-write) is ignored.
    pub fn pending_intents(&self) -> Result<BTreeMap<String, String>, StateError> {
        let path = self.dir.join("journal.jsonl");
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(io("read", &path)(e)),
        };
        let lines: Vec<String> = BufReader::new(file)
            .lines()
            .collect::<Result<_, _>>()
            .map_err(io("read", &path))?;
        Ok(pending_from_lines(lines.iter().map(String::as_str)))
    }

    /// Starts the journal afresh once a run has converged.
    pub fn clear_journal(&self) -> Result<(), StateError> {
        let path = self.dir.join("journal.jsonl");
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("remove", &path)(e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Kind;

    #[test]
    fn pending_intents_survive_until_created_and_torn_lines_are_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path(), "acme", "dev");
        dir.journal(&JournalEntry::Intent {
            id: "vpc".into(),
            kind: Kind::Vpc,
            token: "t1".into(),
        })
        .unwrap();
        dir.journal(&JournalEntry::Intent {
            id: "nat-a".into(),
            kind: Kind::NatGateway,
            token: "t2".into(),
        })
        .unwrap();
        dir.journal(&JournalEntry::Created {
            id: "vpc".into(),
            physical_id: "vpc-1".into(),
        })
        .unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"event\":\"crea").unwrap();
        let pending = dir.pending_intents().unwrap();
        assert_eq!(
            pending.into_iter().collect::<Vec<_>>(),
            [("nat-a".to_string(), "t2".to_string())]
        );
    }

    #[test]
    fn save_then_load_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path(), "acme", "dev");
        let mut snap = Snapshot::default();
        snap.outputs
            .insert("vpc_id".into(), serde_json::json!("vpc-1"));
        dir.save(&snap).unwrap();
        assert_eq!(dir.load().unwrap().outputs["vpc_id"], "vpc-1");
    }
}
