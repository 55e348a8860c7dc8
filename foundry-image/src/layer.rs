//! Layers as reproducible gzip'd tar archives: entries sorted by path, every
//! timestamp the same fixed value, owners given explicitly (never the build
//! machine's), and a fixed compressor setting, so equal contents give equal
//! bytes.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};

use crate::Digest;
use crate::digest::HashingWriter;

/// gzip level 6 (zlib's default); part of the image's identity: changing it
/// changes every digest.
const GZIP_LEVEL: u32 = 6;
/// gzip header OS byte "unknown", as Go's and Docker's writers use.
const GZIP_OS_UNKNOWN: u8 = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner {
    pub uid: u64,
    pub gid: u64,
}

impl Owner {
    pub(crate) const ROOT: Owner = Owner { uid: 0, gid: 0 };
}

#[derive(Debug)]
enum Content {
    Bytes(Vec<u8>),
    /// Read when the layer is written, following symlinks.
    File(PathBuf),
}

#[derive(Debug)]
enum Entry {
    Dir {
        mode: u32,
        owner: Owner,
    },
    File {
        content: Content,
        mode: u32,
        owner: Owner,
    },
}

/// What a written layer is: `digest` and `size` of the compressed blob (the
/// manifest's descriptor), `diff_id` of the uncompressed tar (the config's
/// rootfs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WrittenLayer {
    pub digest: Digest,
    pub size: u64,
    pub diff_id: Digest,
}

/// The files of one layer, keyed by their path inside the image without the
/// leading `/`; a `BTreeMap` so that writing visits them in sorted order and
/// parents come before their children.
#[derive(Debug)]
pub(crate) struct LayerBuilder {
    entries: BTreeMap<String, Entry>,
    mtime: u64,
}

impl LayerBuilder {
    pub(crate) fn new(mtime: u64) -> Self {
        LayerBuilder {
            entries: BTreeMap::new(),
            mtime,
        }
    }

    pub(crate) fn dir(&mut self, path: &str, mode: u32, owner: Owner) -> Result<(), String> {
        let key = self.parents_of(path)?;
        match self.entries.get(&key) {
            Some(Entry::File { .. }) => Err(format!("/{key} is both a file and a directory")),
            _ => {
                self.entries.insert(key, Entry::Dir { mode, owner });
                Ok(())
            }
        }
    }

    pub(crate) fn file_bytes(
        &mut self,
        path: &str,
        bytes: Vec<u8>,
        mode: u32,
        owner: Owner,
    ) -> Result<(), String> {
        self.file(path, Content::Bytes(bytes), mode, owner)
    }

    pub(crate) fn file_from(
        &mut self,
        path: &str,
        source: &Path,
        mode: u32,
        owner: Owner,
    ) -> Result<(), String> {
        self.file(path, Content::File(source.to_owned()), mode, owner)
    }

    fn file(
        &mut self,
        path: &str,
        content: Content,
        mode: u32,
        owner: Owner,
    ) -> Result<(), String> {
        let key = self.parents_of(path)?;
        match self.entries.get(&key) {
            Some(Entry::Dir { .. }) => Err(format!("/{key} is both a directory and a file")),
            Some(Entry::File { .. }) => Err(format!("/{key} is given twice")),
            None => {
                self.entries.insert(
                    key,
                    Entry::File {
                        content,
                        mode,
                        owner,
                    },
                );
                Ok(())
            }
        }
    }

    /// Checks `path` and adds its missing parent directories (0755, root).
    fn parents_of(&mut self, path: &str) -> Result<String, String> {
        let key = normalize(path)?;
        let mut end = 0;
        while let Some(slash) = key[end..].find('/') {
            let parent = &key[..end + slash];
            match self.entries.get(parent) {
                Some(Entry::File { .. }) => {
                    return Err(format!(
                        "/{parent} is a file, so /{key} cannot be inside it"
                    ));
                }
                Some(Entry::Dir { .. }) => {}
                None => {
                    self.entries.insert(
                        parent.to_owned(),
                        Entry::Dir {
                            mode: 0o755,
                            owner: Owner::ROOT,
                        },
                    );
                }
            }
            end += slash + 1;
        }
        Ok(key)
    }

    /// Writes the gzip'd tar to `out` and returns its digests and size.
    pub(crate) fn write_to<W: Write>(&self, out: W) -> io::Result<(W, WrittenLayer)> {
        let compressed = HashingWriter::new(out);
        let gzip = GzBuilder::new()
            .mtime(0)
            .operating_system(GZIP_OS_UNKNOWN)
            .write(compressed, Compression::new(GZIP_LEVEL));
        let mut tar = tar::Builder::new(HashingWriter::new(gzip));
        for (path, entry) in &self.entries {
            self.append(&mut tar, path, entry)?;
        }
        let (gzip, diff_id, _) = tar.into_inner()?.finish();
        let (out, digest, size) = gzip.finish()?.finish();
        Ok((
            out,
            WrittenLayer {
                digest,
                size,
                diff_id,
            },
        ))
    }

    fn append<W: Write>(
        &self,
        tar: &mut tar::Builder<W>,
        path: &str,
        entry: &Entry,
    ) -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(self.mtime);
        match entry {
            Entry::Dir { mode, owner } => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(*mode);
                set_owner(&mut header, *owner);
                header.set_size(0);
                tar.append_data(&mut header, format!("{path}/"), io::empty())
            }
            Entry::File {
                content,
                mode,
                owner,
            } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                set_owner(&mut header, *owner);
                match content {
                    Content::Bytes(bytes) => {
                        header.set_size(bytes.len() as u64);
                        tar.append_data(&mut header, path, bytes.as_slice())
                    }
                    Content::File(source) => {
                        let file = File::open(source).map_err(|e| {
                            io::Error::new(e.kind(), format!("{}: {e}", source.display()))
                        })?;
                        header.set_size(file.metadata()?.len());
                        tar.append_data(&mut header, path, file)
                    }
                }
            }
        }
    }
}

fn set_owner(header: &mut tar::Header, owner: Owner) {
    header.set_uid(owner.uid);
    header.set_gid(owner.gid);
}

/// `/etc/passwd` → `etc/passwd`; refuses relative paths, `.`/`..`, empty
/// components and the root itself, so no entry can land outside the image.
fn normalize(path: &str) -> Result<String, String> {
    let Some(inner) = path.strip_prefix('/') else {
        return Err(format!("{path:?} is not an absolute path inside the image"));
    };
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    if inner.is_empty()
        || inner
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(format!("{path:?} is not a plain path inside the image"));
    }
    Ok(inner.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// path, type, mode, uid, gid, mtime, content
    type TarEntry = (String, tar::EntryType, u32, u64, u64, u64, Vec<u8>);

    fn entries(layer: &[u8]) -> Vec<TarEntry> {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(layer));
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let h = e.header().clone();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                let path = e.path().unwrap().to_string_lossy().into_owned();
                (
                    path,
                    h.entry_type(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                    h.mtime().unwrap(),
                    data,
                )
            })
            .collect()
    }

    #[test]
    fn entries_come_out_sorted_with_parents_first_and_fixed_metadata() {
        let mut layer = LayerBuilder::new(1_700_000_000);
        layer
            .file_bytes("/usr/lib/b.so", b"b".to_vec(), 0o755, Owner::ROOT)
            .unwrap();
        layer.dir("/tmp", 0o1777, Owner::ROOT).unwrap();
        layer
            .file_bytes(
                "/etc/passwd",
                b"p".to_vec(),
                0o644,
                Owner { uid: 7, gid: 8 },
            )
            .unwrap();
        let (bytes, _) = layer.write_to(Vec::new()).unwrap();
        let got = entries(&bytes);
        let paths: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            paths,
            [
                "etc/",
                "etc/passwd",
                "tmp/",
                "usr/",
                "usr/lib/",
                "usr/lib/b.so"
            ]
        );
        assert!(got.iter().all(|e| e.5 == 1_700_000_000));
        assert_eq!(
            (got[1].2, got[1].3, got[1].4, got[1].6.as_slice()),
            (0o644, 7, 8, &b"p"[..])
        );
        assert_eq!((got[2].1, got[2].2), (tar::EntryType::Directory, 0o1777));
    }

    #[test]
    fn same_entries_in_any_insertion_order_give_the_same_bytes_and_digests() {
        let build = |order: &[usize]| {
            let files = [("/a/x", "1"), ("/b", "2"), ("/a/y/z", "3")];
            let mut layer = LayerBuilder::new(5);
            for &i in order {
                layer
                    .file_bytes(files[i].0, files[i].1.into(), 0o644, Owner::ROOT)
                    .unwrap();
            }
            layer.write_to(Vec::new()).unwrap()
        };
        let (first, first_info) = build(&[0, 1, 2]);
        let (second, second_info) = build(&[2, 0, 1]);
        assert_eq!(first, second);
        assert_eq!(first_info, second_info);
        assert_eq!(first_info.digest, Digest::of(&first));
        assert_eq!(first_info.size, first.len() as u64);
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(first.as_slice())
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(first_info.diff_id, Digest::of(&tar));
    }

    #[test]
    fn a_different_mtime_gives_a_different_digest() {
        let digest = |mtime| {
            let mut layer = LayerBuilder::new(mtime);
            layer
                .file_bytes("/f", b"x".to_vec(), 0o644, Owner::ROOT)
                .unwrap();
            layer.write_to(Vec::new()).unwrap().1.digest
        };
        assert_eq!(digest(1), digest(1));
        assert_ne!(digest(1), digest(2));
    }

    #[test]
    fn paths_that_could_escape_or_conflict_are_refused() {
        let mut layer = LayerBuilder::new(0);
        for bad in ["relative", "/", "/a/../b", "/a//b", "/./a"] {
            assert!(
                layer.file_bytes(bad, vec![], 0o644, Owner::ROOT).is_err(),
                "{bad}"
            );
        }
        layer.file_bytes("/f", vec![], 0o644, Owner::ROOT).unwrap();
        assert!(layer.file_bytes("/f", vec![], 0o644, Owner::ROOT).is_err());
        assert!(
            layer
                .file_bytes("/f/inside", vec![], 0o644, Owner::ROOT)
                .is_err()
        );
        assert!(layer.dir("/f", 0o755, Owner::ROOT).is_err());
    }
}
