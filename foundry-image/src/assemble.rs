//! An image from a built binary: the base layer foundry makes itself, the
//! application layer, the config and the manifest, written into a layout.
//! Nothing depends on the clock, the build machine's file owners or
//! timestamps, or the order files were listed in, so the same inputs give
//! the same digest.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::elf::{self, RuntimeNeeds};
use crate::layer::{LayerBuilder, Owner, WrittenLayer};
use crate::layout::{
    CONFIG_MEDIA_TYPE, Descriptor, LAYER_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, Manifest,
};
use crate::{AssembleError, Assembled, OciLayout};

/// Where Debian, Ubuntu and Alpine keep the CA bundle; also where the image
/// has it (and `SSL_CERT_FILE` says so, for TLS stacks that look elsewhere).
pub const DEFAULT_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The binary's directory in the image, and the working directory.
const APP_DIR: &str = "/app";
const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The account the service runs as; never root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl Default for ImageUser {
    /// `app`, 10001:10001 — above any uid a host distribution hands out, so
    /// a file shared with the host never belongs to a real host account.
    fn default() -> Self {
        ImageUser {
            name: "app".into(),
            uid: 10001,
            gid: 10001,
        }
    }
}

/// A file or directory (copied recursively) the service reads at run time,
/// such as its migrations. Owned by root in the image, so the service can
/// read but not change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeFile {
    pub source: PathBuf,
    /// Absolute path in the image, e.g. `/app/migrations`.
    pub destination: String,
}

/// Everything that decides an image. Build one with [`ImageSpec::new`] and
/// set the optional fields.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// The built executable; it runs as `/app/<its file name>`.
    pub binary: PathBuf,
    /// The tag in the layout: the git sha, `-dirty` when the tree was.
    pub tag: String,
    /// Full git sha: label `org.opencontainers.image.revision`.
    pub revision: String,
    /// Label `org.opencontainers.image.source` (repository URL), if known.
    pub source: Option<String>,
    /// Seconds since 1970 for every timestamp in the image
    /// (`SOURCE_DATE_EPOCH`; see [`crate::git::Revision::source_date_epoch`]).
    pub created: u64,
    pub user: ImageUser,
    /// The port the service listens on (`ExposedPorts`).
    pub port: Option<u16>,
    /// Environment baked into the image, beside `PATH` and `SSL_CERT_FILE`.
    pub env: BTreeMap<String, String>,
    /// More labels; the revision and source labels above win on a clash.
    pub labels: BTreeMap<String, String>,
    pub runtime_files: Vec<RuntimeFile>,
    /// The host's CA bundle to copy (default [`DEFAULT_CA_BUNDLE`]).
    pub ca_bundle: PathBuf,
}

impl ImageSpec {
    pub fn new(
        binary: impl Into<PathBuf>,
        tag: impl Into<String>,
        revision: impl Into<String>,
        created: u64,
    ) -> Self {
        ImageSpec {
            binary: binary.into(),
            tag: tag.into(),
            revision: revision.into(),
            source: None,
            created,
            user: ImageUser::default(),
            port: None,
            env: BTreeMap::new(),
            labels: BTreeMap::new(),
            runtime_files: Vec::new(),
            ca_bundle: PathBuf::from(DEFAULT_CA_BUNDLE),
        }
    }

    /// `/app/<binary file name>`.
    pub fn entrypoint(&self) -> Result<String, AssembleError> {
        let name = self
            .binary
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                AssembleError::InvalidSpec(format!(
                    "{} has no usable file name",
                    self.binary.display()
                ))
            })?;
        Ok(format!("{APP_DIR}/{name}"))
    }

    fn validate(&self) -> Result<(), AssembleError> {
        let invalid = |m: String| Err(AssembleError::InvalidSpec(m));
        let tag_ok = !self.tag.is_empty()
            && self.tag.len() <= 128
            && !self.tag.starts_with(['.', '-'])
            && self
                .tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !tag_ok {
            return invalid(format!(
                "{:?} is not a valid image tag (letters, digits, _ . -, at most 128)",
                self.tag
            ));
        }
        let user = &self.user;
        if user.uid == 0 || user.gid == 0 {
            return invalid(format!(
                "the image user {} must not be root (uid and gid above 0)",
                user.name
            ));
        }
        let name_ok = user
            .name
            .starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && user
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !name_ok || user.name == "root" {
            return invalid(format!(
                "{:?} is not a valid user name for the image",
                user.name
            ));
        }
        for (key, value) in &self.env {
            if key.is_empty() || key.contains('=') || value.contains('\0') {
                return invalid(format!(
                    "environment variable {key:?} cannot be set in an image"
                ));
            }
        }
        Ok(())
    }
}

/// Writes the image `spec` describes into `layout` under `spec.tag`, and
/// returns its manifest digest (what deploys name) and sizes.
pub fn assemble(spec: &ImageSpec, layout: &OciLayout) -> Result<Assembled, AssembleError> {
    spec.validate()?;
    let needs = elf::runtime_needs(&spec.binary, None)?;
    let base = base_layer(spec, &needs)?;
    let app = app_layer(spec)?;
    let base_written = layout.write_layer(&base)?;
    let app_written = layout.write_layer(&app)?;

    let config = image_config(spec, &needs, [&base_written, &app_written])?;
    let config_bytes = serde_json::to_vec(&config).expect("config serializes");
    let config_digest = layout.write_blob(&config_bytes)?;

    let layer_descriptor = |layer: &WrittenLayer| Descriptor {
        media_type: LAYER_MEDIA_TYPE.into(),
        digest: layer.digest.to_string(),
        size: layer.size,
        annotations: BTreeMap::new(),
    };
    let manifest = Manifest {
        schema_version: 2,
        media_type: MANIFEST_MEDIA_TYPE.into(),
        config: Descriptor {
            media_type: CONFIG_MEDIA_TYPE.into(),
            digest: config_digest.to_string(),
            size: config_bytes.len() as u64,
            annotations: BTreeMap::new(),
        },
        layers: vec![
            layer_descriptor(&base_written),
            layer_descriptor(&app_written),
        ],
    };
    let manifest_bytes = serde_json::to_vec(&manifest).expect("manifest serializes");
    let manifest_digest = layout.write_blob(&manifest_bytes)?;
    layout.tag(&spec.tag, &manifest_digest, manifest_bytes.len() as u64)?;

    Ok(Assembled {
        manifest_digest,
        tag: spec.tag.clone(),
        config_digest,
        layer_digests: vec![base_written.digest, app_written.digest],
        size: manifest_bytes.len() as u64
            + config_bytes.len() as u64
            + base_written.size
            + app_written.size,
        architecture: needs.architecture.to_owned(),
    })
}

fn base_layer(spec: &ImageSpec, needs: &RuntimeNeeds) -> Result<LayerBuilder, AssembleError> {
    let user = &spec.user;
    let owner = Owner {
        uid: user.uid.into(),
        gid: user.gid.into(),
    };
    if !spec.ca_bundle.is_file() {
        return Err(AssembleError::MissingCaBundle {
            path: spec.ca_bundle.clone(),
        });
    }
    let passwd = format!(
        "root:x:0:0:root:/root:/sbin/nologin\n{name}:x:{uid}:{gid}:{name}:/home/{name}:/sbin/nologin\n",
        name = user.name,
        uid = user.uid,
        gid = user.gid
    );
    let group = format!("root:x:0:\n{}:x:{}:\n", user.name, user.gid);
    // glibc reads users and hosts from files first; the platform provides
    // /etc/hosts and /etc/resolv.conf at run time.
    let nsswitch = "passwd: files\ngroup: files\nhosts: files dns\n";

    let mut layer = LayerBuilder::new(spec.created);
    let invalid = |m: String| AssembleError::InvalidSpec(m);
    layer
        .file_bytes("/etc/passwd", passwd.into_bytes(), 0o644, Owner::ROOT)
        .map_err(invalid)?;
    layer
        .file_bytes("/etc/group", group.into_bytes(), 0o644, Owner::ROOT)
        .map_err(invalid)?;
    layer
        .file_bytes("/etc/nsswitch.conf", nsswitch.into(), 0o644, Owner::ROOT)
        .map_err(invalid)?;
    layer
        .file_from(DEFAULT_CA_BUNDLE, &spec.ca_bundle, 0o644, Owner::ROOT)
        .map_err(invalid)?;
    layer.dir("/tmp", 0o1777, Owner::ROOT).map_err(invalid)?;
    layer
        .dir(&format!("/home/{}", user.name), 0o755, owner)
        .map_err(invalid)?;
    for file in &needs.files {
        layer
            .file_from(&file.image_path, &file.host_path, 0o755, Owner::ROOT)
            .map_err(|m| invalid(format!("shared library: {m}")))?;
    }
    Ok(layer)
}

fn app_layer(spec: &ImageSpec) -> Result<LayerBuilder, AssembleError> {
    let mut layer = LayerBuilder::new(spec.created);
    layer
        .file_from(&spec.entrypoint()?, &spec.binary, 0o755, Owner::ROOT)
        .map_err(AssembleError::InvalidSpec)?;
    for file in &spec.runtime_files {
        add_runtime_file(&mut layer, &file.source, &file.destination)?;
    }
    Ok(layer)
}

/// Adds a file, or a directory with everything under it; symlinks are
/// followed (the image gets what they point at).
fn add_runtime_file(
    layer: &mut LayerBuilder,
    source: &Path,
    destination: &str,
) -> Result<(), AssembleError> {
    let bad = |reason: String| AssembleError::BadRuntimeFile {
        source_path: source.to_owned(),
        reason,
    };
    let metadata = fs::metadata(source).map_err(|source_err| AssembleError::Read {
        path: source.to_owned(),
        source: source_err,
    })?;
    if metadata.is_dir() {
        layer.dir(destination, 0o755, Owner::ROOT).map_err(bad)?;
        let entries = fs::read_dir(source).map_err(|e| AssembleError::Read {
            path: source.to_owned(),
            source: e,
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| AssembleError::Read {
                path: source.to_owned(),
                source: e,
            })?;
            let name = entry.file_name();
            let name = name
                .to_str()
                .ok_or_else(|| bad(format!("{} is not a UTF-8 name", entry.path().display())))?;
            add_runtime_file(
                layer,
                &entry.path(),
                &format!("{}/{name}", destination.trim_end_matches('/')),
            )?;
        }
        Ok(())
    } else if metadata.is_file() {
        // Only the executable bit is kept: the build machine's umask and
        // group-write settings must not change the digest.
        let mode = if metadata.permissions().mode() & 0o111 != 0 {
            0o755
        } else {
            0o644
        };
        layer
            .file_from(destination, source, mode, Owner::ROOT)
            .map_err(bad)
    } else {
        Err(bad(
            "only regular files and directories can go into an image".into(),
        ))
    }
}

#[derive(Serialize)]
struct ImageConfig {
    created: String,
    architecture: String,
    os: &'static str,
    config: RunConfig,
    rootfs: RootFs,
    history: Vec<History>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RunConfig {
    user: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    exposed_ports: BTreeMap<String, Empty>,
    env: Vec<String>,
    entrypoint: Vec<String>,
    working_dir: String,
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<String>,
}

#[derive(Serialize)]
struct History {
    created: String,
    created_by: String,
}

fn image_config(
    spec: &ImageSpec,
    needs: &RuntimeNeeds,
    layers: [&WrittenLayer; 2],
) -> Result<ImageConfig, AssembleError> {
    let created = rfc3339(spec.created);
    let mut env = vec![
        PATH_ENV.to_owned(),
        format!("SSL_CERT_FILE={DEFAULT_CA_BUNDLE}"),
    ];
    if !needs.extra_library_dirs.is_empty() {
        env.push(format!(
            "LD_LIBRARY_PATH={}",
            needs.extra_library_dirs.join(":")
        ));
    }
    for (key, value) in &spec.env {
        env.retain(|e| !e.starts_with(&format!("{key}=")));
        env.push(format!("{key}={value}"));
    }
    let mut labels = spec.labels.clone();
    labels.insert(
        "org.opencontainers.image.revision".into(),
        spec.revision.clone(),
    );
    labels.insert("org.opencontainers.image.created".into(), created.clone());
    if let Some(source) = &spec.source {
        labels.insert("org.opencontainers.image.source".into(), source.clone());
    }
    let libraries = match needs.files.len() {
        0 => "static binary".to_owned(),
        n => format!("loader and {} shared libraries", n - 1),
    };
    Ok(ImageConfig {
        created: created.clone(),
        architecture: needs.architecture.to_owned(),
        os: "linux",
        config: RunConfig {
            user: format!("{}:{}", spec.user.uid, spec.user.gid),
            exposed_ports: spec
                .port
                .map(|p| (format!("{p}/tcp"), Empty {}))
                .into_iter()
                .collect(),
            env,
            entrypoint: vec![spec.entrypoint()?],
            working_dir: APP_DIR.into(),
            labels,
        },
        rootfs: RootFs {
            kind: "layers",
            diff_ids: layers.iter().map(|l| l.diff_id.to_string()).collect(),
        },
        history: vec![
            History {
                created: created.clone(),
                created_by: format!("foundry: base (CA certificates, users, /tmp, {libraries})"),
            },
            History {
                created,
                created_by: format!("foundry: app ({})", spec.entrypoint()?),
            },
        ],
    })
}

/// `2023-11-14T22:13:20Z` from seconds since 1970 (proleptic Gregorian, UTC).
fn rfc3339(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rem = seconds % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        for (seconds, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_700_000_000, "2023-11-14T22:13:20Z"),
            (4_102_444_799, "2099-12-31T23:59:59Z"),
        ] {
            assert_eq!(rfc3339(seconds), text);
        }
    }

    #[test]
    fn specs_that_would_run_as_root_or_break_the_tag_are_refused() {
        let base = ImageSpec::new("/bin/true", "abc", "abc", 0);
        type Change = fn(&mut ImageSpec);
        let cases: [(&str, Change); 8] = [
            ("root uid", |s| s.user.uid = 0),
            ("root gid", |s| s.user.gid = 0),
            ("root name", |s| s.user.name = "root".into()),
            ("bad name", |s| s.user.name = "App User".into()),
            ("empty tag", |s| s.tag.clear()),
            ("slash in tag", |s| s.tag = "a/b".into()),
            ("long tag", |s| s.tag = "a".repeat(129)),
            ("env key with =", |s| {
                _ = s.env.insert("A=B".into(), "c".into())
            }),
        ];
        assert!(base.validate().is_ok());
        for (what, change) in cases {
            let mut spec = base.clone();
            change(&mut spec);
            assert!(
                matches!(spec.validate(), Err(AssembleError::InvalidSpec(_))),
                "{what}"
            );
        }
    }
}
