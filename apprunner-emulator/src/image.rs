//! Fetching an image the way App Runner does, from the registry its
//! identifier names (through the registry map to a local registry), and
//! unpacking its layers into a root directory.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::{Deserialize, Serialize};

/// What the image's config says about running it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RunConfig {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: Option<Vec<String>>,
    pub working_dir: Option<String>,
}

#[derive(Deserialize)]
struct ImageConfigFile {
    config: Option<RunConfig>,
}

/// The identifier with its registry host replaced by the mapped one, and
/// whether that registry speaks plain HTTP.
pub(crate) fn map_identifier(identifier: &str, map: &BTreeMap<String, String>) -> (String, bool) {
    let (host, rest) = identifier.split_once('/').unwrap_or(("", identifier));
    match map.get(host).or_else(|| map.get("*")) {
        Some(local) => (format!("{local}/{rest}"), true),
        None => (identifier.to_owned(), false),
    }
}

/// An image as pulled: enough to unpack and run it again from `blobs/`
/// without its registry (what an instance restarted with the emulator runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PulledImage {
    /// The identifier the service named (a tag may have moved since).
    pub identifier: String,
    /// The manifest's digest.
    pub digest: String,
    /// The layers' sha256 hex digests, bottom first (files in `blobs/`).
    pub layers: Vec<String>,
    pub run: RunConfig,
}

/// Pulls `identifier` (layers cached in `blobs`) and unpacks it into `root`.
pub(crate) async fn pull_and_unpack(
    identifier: &str,
    map: &BTreeMap<String, String>,
    blobs: &Path,
    root: &Path,
) -> Result<PulledImage, String> {
    let (mapped, plain_http) = map_identifier(identifier, map);
    let reference: Reference = mapped
        .parse()
        .map_err(|e| format!("{identifier} is not an image reference: {e}"))?;
    let protocol = if plain_http {
        ClientProtocol::HttpsExcept(vec![reference.registry().to_owned()])
    } else {
        ClientProtocol::Https
    };
    let client = Client::new(ClientConfig {
        protocol,
        ..Default::default()
    });
    let (manifest, digest, config) = client
        .pull_manifest_and_config(&reference, &RegistryAuth::Anonymous)
        .await
        .map_err(|e| format!("cannot pull {identifier} (from {mapped}): {e}"))?;
    let config: ImageConfigFile = serde_json::from_str(&config)
        .map_err(|e| format!("the config of {identifier} is not valid: {e}"))?;

    fs::create_dir_all(blobs).map_err(|e| format!("{}: {e}", blobs.display()))?;
    let mut layers = Vec::new();
    let mut hexes = Vec::new();
    for layer in &manifest.layers {
        let hex = layer.digest.rsplit(':').next().unwrap_or_default();
        let path = blobs.join(hex);
        if !path.exists() {
            let partial = blobs.join(format!("{hex}.partial-{}", uuid::Uuid::new_v4().simple()));
            let file = tokio::fs::File::create(&partial)
                .await
                .map_err(|e| format!("{}: {e}", partial.display()))?;
            // oci-client checks the bytes against the layer's digest.
            client
                .pull_blob(&reference, layer, file)
                .await
                .map_err(|e| format!("cannot pull layer {} of {identifier}: {e}", layer.digest))?;
            fs::rename(&partial, &path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        layers.push(path);
        hexes.push(hex.to_owned());
    }
    unpack_all(layers, root).await?;
    Ok(PulledImage {
        identifier: identifier.to_owned(),
        digest,
        layers: hexes,
        run: config.config.unwrap_or_default(),
    })
}

/// Unpacks an image pulled before from the layers kept in `blobs`.
pub(crate) async fn unpack_pulled(
    image: &PulledImage,
    blobs: &Path,
    root: &Path,
) -> Result<(), String> {
    let mut layers = Vec::new();
    for hex in &image.layers {
        let path = blobs.join(hex);
        if !path.is_file() {
            return Err(format!(
                "layer sha256:{hex} of {} ({}) is missing from {}",
                image.identifier,
                image.digest,
                blobs.display()
            ));
        }
        layers.push(path);
    }
    unpack_all(layers, root).await
}

async fn unpack_all(layers: Vec<PathBuf>, root: &Path) -> Result<(), String> {
    let root_owned = root.to_owned();
    tokio::task::spawn_blocking(move || {
        fs::create_dir_all(&root_owned).map_err(|e| format!("{}: {e}", root_owned.display()))?;
        for layer in &layers {
            unpack_layer(layer, &root_owned)
                .map_err(|e| format!("cannot unpack {}: {e}", layer.display()))?;
        }
        Ok::<_, String>(())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// One layer onto `root`: gzip or plain tar, with OCI whiteouts (`.wh.NAME`
/// removes NAME from lower layers, `.wh..wh..opq` empties the directory).
fn unpack_layer(layer: &Path, root: &Path) -> std::io::Result<()> {
    let mut file = BufReader::new(File::open(layer)?);
    let mut magic = [0u8; 2];
    file.read_exact(&mut magic)?;
    let file = BufReader::new(File::open(layer)?);
    let reader: Box<dyn Read> = if magic == [0x1f, 0x8b] {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            entry.unpack_in(root)?;
            continue;
        };
        if let Some(hidden) = name.strip_prefix(".wh.") {
            let Some(dir) = safe_join(root, path.parent().unwrap_or(Path::new(""))) else {
                continue;
            };
            if hidden == ".wh..opq" {
                for child in fs::read_dir(&dir).into_iter().flatten().flatten() {
                    remove(&child.path());
                }
            } else {
                remove(&dir.join(hidden));
            }
            continue;
        }
        // `unpack_in` refuses paths that would leave `root`.
        entry.set_preserve_permissions(true);
        entry.set_preserve_mtime(true);
        entry.unpack_in(root)?;
    }
    Ok(())
}

fn remove(path: &Path) {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => drop(fs::remove_dir_all(path)),
        Ok(_) => drop(fs::remove_file(path)),
        Err(_) => {}
    }
}

/// `root/relative`, or `None` if `relative` climbs out of `root`.
fn safe_join(root: &Path, relative: &Path) -> Option<PathBuf> {
    let mut joined = root.to_owned();
    for component in relative.components() {
        match component {
            Component::Normal(part) => joined.push(part),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(joined)
}

/// An image path (absolute, as the image sees it) on the host, following
/// symbolic links as the image would: absolute targets stay inside `root`.
pub(crate) fn host_path(root: &Path, image_path: &str) -> Option<PathBuf> {
    let mut current = PathBuf::from("/");
    let mut pending: Vec<String> = image_path
        .split('/')
        .rev()
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "." => continue,
            ".." => {
                current.pop();
                continue;
            }
            _ => {}
        }
        let candidate = current.join(&part);
        let on_host = safe_join(root, &candidate)?;
        match fs::read_link(&on_host) {
            Ok(target) => {
                hops += 1;
                if hops > 40 {
                    return None;
                }
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    current = PathBuf::from("/");
                }
                pending.extend(
                    target
                        .split('/')
                        .rev()
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned),
                );
            }
            Err(_) => current = candidate,
        }
    }
    safe_join(root, &current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_map_to_local_registries() {
        let map = BTreeMap::from([(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com".to_owned(),
            "127.0.0.1:5000".to_owned(),
        )]);
        let cases = [
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme/api@sha256:ab",
                ("127.0.0.1:5000/acme/api@sha256:ab", true),
            ),
            (
                "public.ecr.aws/acme/api:1",
                ("public.ecr.aws/acme/api:1", false),
            ),
        ];
        for (identifier, (mapped, plain)) in cases {
            assert_eq!(map_identifier(identifier, &map), (mapped.to_owned(), plain));
        }
        let any = BTreeMap::from([("*".to_owned(), "127.0.0.1:5000".to_owned())]);
        assert_eq!(
            map_identifier("public.ecr.aws/a/b:1", &any).0,
            "127.0.0.1:5000/a/b:1"
        );
    }

    #[test]
    fn image_paths_resolve_inside_the_root() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        fs::create_dir_all(r.join("lib/x86_64-linux-gnu")).unwrap();
        fs::write(r.join("lib/x86_64-linux-gnu/ld.so"), "").unwrap();
        fs::create_dir_all(r.join("lib64")).unwrap();
        std::os::unix::fs::symlink("/lib/x86_64-linux-gnu/ld.so", r.join("lib64/ld")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", r.join("lib64/escape")).unwrap();
        assert_eq!(
            host_path(r, "/lib64/ld"),
            Some(r.join("lib/x86_64-linux-gnu/ld.so"))
        );
        assert_eq!(
            host_path(r, "/lib64/escape/passwd"),
            Some(r.join("etc/passwd"))
        );
    }
}
