//! A local OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`):
//! where assembled images wait to be pushed, and what `skopeo` and other OCI
//! tools read as `oci:<dir>:<tag>`.
//!
//! Blobs are content-addressed and written by rename, so a crash leaves no
//! half blob under a digest; `index.json` maps tags to manifests. One writer
//! per layout at a time (the CLI builds each service into its own).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::layer::{LayerBuilder, WrittenLayer};
use crate::{AssembleError, Digest};

pub(crate) const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub(crate) const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Manifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Index {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    manifests: Vec<Descriptor>,
}

/// An image in a layout: its manifest and the tag `index.json` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutImage {
    pub manifest_digest: Digest,
    pub manifest_size: u64,
    pub tag: Option<String>,
}

/// What [`crate::assemble()`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembled {
    /// What gets deployed: the manifest's digest.
    pub manifest_digest: Digest,
    pub tag: String,
    pub config_digest: Digest,
    /// Layer digests, base layer first.
    pub layer_digests: Vec<Digest>,
    /// Manifest, config and compressed layers together, in bytes: what a
    /// first push to an empty registry uploads (less the manifest).
    pub size: u64,
    /// The OCI architecture the binary runs on (`amd64`, `arm64`).
    pub architecture: String,
}

/// A directory holding an OCI image layout.
#[derive(Debug, Clone)]
pub struct OciLayout {
    root: PathBuf,
}

impl OciLayout {
    /// Opens the layout at `root`, creating an empty one if needed.
    pub fn open_or_create(root: impl Into<PathBuf>) -> Result<OciLayout, AssembleError> {
        let layout = OciLayout { root: root.into() };
        let blobs = layout.root.join("blobs/sha256");
        fs::create_dir_all(&blobs).map_err(|source| AssembleError::Write {
            path: blobs,
            source,
        })?;
        let marker = layout.root.join("oci-layout");
        if !marker.exists() {
            layout.write_atomically(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        if !layout.index_path().exists() {
            layout.write_index(&Index {
                schema_version: 2,
                media_type: Some(INDEX_MEDIA_TYPE.into()),
                manifests: vec![],
            })?;
        }
        Ok(layout)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    /// Stores `bytes` as a blob and returns its digest.
    pub(crate) fn write_blob(&self, bytes: &[u8]) -> Result<Digest, AssembleError> {
        let digest = Digest::of(bytes);
        let path = self.blob_path(&digest);
        if !path.exists() {
            self.write_atomically(&path, bytes)?;
        }
        Ok(digest)
    }

    /// Writes a layer's gzip'd tar as a blob.
    pub(crate) fn write_layer(&self, layer: &LayerBuilder) -> Result<WrittenLayer, AssembleError> {
        let temp = self.temp_path();
        let write = |source| AssembleError::Write {
            path: temp.clone(),
            source,
        };
        let file = File::create(&temp).map_err(write)?;
        let written = layer
            .write_to(BufWriter::new(file))
            .and_then(|(out, written)| {
                out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                Ok(written)
            })
            .inspect_err(|_| {
                let _ = fs::remove_file(&temp);
            })
            .map_err(write)?;
        let path = self.blob_path(&written.digest);
        fs::rename(&temp, &path).map_err(|source| AssembleError::Write { path, source })?;
        Ok(written)
    }

    pub(crate) fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>, AssembleError> {
        let path = self.blob_path(digest);
        let bytes = fs::read(&path).map_err(|source| AssembleError::Read {
            path: path.clone(),
            source,
        })?;
        if Digest::of(&bytes) != *digest {
            return Err(AssembleError::BadLayout {
                path,
                reason: "a blob's content does not match its digest".into(),
            });
        }
        Ok(bytes)
    }

    pub(crate) fn read_manifest(&self, digest: &Digest) -> Result<Manifest, AssembleError> {
        let bytes = self.read_blob(digest)?;
        serde_json::from_slice(&bytes).map_err(|e| AssembleError::BadLayout {
            path: self.blob_path(digest),
            reason: format!("manifest is not valid JSON: {e}"),
        })
    }

    /// Points `tag` at the manifest, replacing what the tag named before.
    pub(crate) fn tag(
        &self,
        tag: &str,
        manifest: &Digest,
        manifest_size: u64,
    ) -> Result<(), AssembleError> {
        let mut index = self.read_index()?;
        index
            .manifests
            .retain(|m| m.annotations.get(REF_NAME).map(String::as_str) != Some(tag));
        index.manifests.push(Descriptor {
            media_type: MANIFEST_MEDIA_TYPE.into(),
            digest: manifest.to_string(),
            size: manifest_size,
            annotations: BTreeMap::from([(REF_NAME.to_owned(), tag.to_owned())]),
        });
        index.manifests.sort_by(|a, b| {
            a.annotations
                .get(REF_NAME)
                .cmp(&b.annotations.get(REF_NAME))
        });
        self.write_index(&index)
    }

    /// The images of the layout, in `index.json` order.
    pub fn images(&self) -> Result<Vec<LayoutImage>, AssembleError> {
        let index = self.read_index()?;
        index
            .manifests
            .into_iter()
            .filter(|m| m.media_type == MANIFEST_MEDIA_TYPE)
            .map(|m| {
                let manifest_digest =
                    Digest::parse(&m.digest).ok_or_else(|| AssembleError::BadLayout {
                        path: self.index_path(),
                        reason: format!("unsupported digest {}", m.digest),
                    })?;
                Ok(LayoutImage {
                    manifest_digest,
                    manifest_size: m.size,
                    tag: m.annotations.get(REF_NAME).cloned(),
                })
            })
            .collect()
    }

    /// The image tagged `tag_or_digest`, or whose manifest has that digest.
    pub fn find(&self, tag_or_digest: &str) -> Result<Option<LayoutImage>, AssembleError> {
        Ok(self.images()?.into_iter().find(|image| {
            image.tag.as_deref() == Some(tag_or_digest)
                || image.manifest_digest.as_str() == tag_or_digest
        }))
    }

    fn index_path(&self) -> PathBuf {
        self.root.join("index.json")
    }

    fn read_index(&self) -> Result<Index, AssembleError> {
        let path = self.index_path();
        let bytes = fs::read(&path).map_err(|source| AssembleError::Read {
            path: path.clone(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|e| AssembleError::BadLayout {
            path,
            reason: e.to_string(),
        })
    }

    fn write_index(&self, index: &Index) -> Result<(), AssembleError> {
        let bytes = serde_json::to_vec(index).expect("index serializes");
        self.write_atomically(&self.index_path(), &bytes)
    }

    fn temp_path(&self) -> PathBuf {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        self.root
            .join(format!("blobs/.tmp-{}-{n}", std::process::id()))
    }

    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<(), AssembleError> {
        let temp = self.temp_path();
        let result = File::create(&temp)
            .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
            .and_then(|()| fs::rename(&temp, path));
        result.map_err(|source| {
            let _ = fs::remove_file(&temp);
            AssembleError::Write {
                path: path.to_owned(),
                source,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_points_at_one_manifest_and_retagging_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::open_or_create(dir.path()).unwrap();
        let first = layout.write_blob(b"{\"a\":1}").unwrap();
        let second = layout.write_blob(b"{\"a\":2}").unwrap();
        layout.tag("v1", &first, 7).unwrap();
        layout.tag("other", &second, 7).unwrap();
        layout.tag("v1", &second, 7).unwrap();
        let reopened = OciLayout::open_or_create(dir.path()).unwrap();
        let tags: Vec<_> = reopened
            .images()
            .unwrap()
            .into_iter()
            .map(|i| (i.tag.unwrap(), i.manifest_digest))
            .collect();
        assert_eq!(
            tags,
            [
                ("other".to_owned(), second.clone()),
                ("v1".to_owned(), second.clone())
            ]
        );
        assert_eq!(reopened.find(first.as_str()).unwrap(), None);
        assert_eq!(reopened.read_blob(&first).unwrap(), b"{\"a\":1}");
        assert_eq!(
            fs::read_to_string(dir.path().join("oci-layout")).unwrap(),
            r#"{"imageLayoutVersion":"1.0.0"}"#
        );
    }

    #[test]
    fn a_blob_whose_content_changed_is_reported_as_damage() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::open_or_create(dir.path()).unwrap();
        let digest = layout.write_blob(b"original").unwrap();
        fs::write(layout.blob_path(&digest), b"tampered").unwrap();
        let err = layout.read_blob(&digest).unwrap_err();
        assert!(matches!(err, AssembleError::BadLayout { .. }), "{err}");
    }
}
