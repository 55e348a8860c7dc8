//! Sending an image from the layout to a registry over the OCI distribution
//! API (through `oci-client`): a HEAD per blob, a cross-repository mount
//! before any upload where the registry allows it, an upload only of what is
//! still missing, then the manifest.

use std::fmt;

use base64::Engine as _;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};

use crate::layout::MANIFEST_MEDIA_TYPE;
use crate::{BlobOutcome, Digest, OciLayout, Progress, PushError};

/// Credentials for a registry. `Debug` never shows a secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Anonymous,
    /// HTTP basic authentication; ECR's authorization token is one of these
    /// (see [`Credentials::from_ecr_authorization_token`]).
    Basic {
        username: String,
        password: String,
    },
    /// A bearer token the caller already holds.
    Bearer(String),
}

impl Credentials {
    /// ECR's `GetAuthorizationToken` answers base64(`AWS:<password>`).
    pub fn from_ecr_authorization_token(token: &str) -> Result<Credentials, PushError> {
        let refused = || {
            PushError::InvalidTarget(
                "the ECR authorization token is not base64 of user:password".into(),
            )
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .map_err(|_| refused())?;
        let text = String::from_utf8(decoded).map_err(|_| refused())?;
        let (username, password) = text.split_once(':').ok_or_else(refused)?;
        Ok(Credentials::Basic {
            username: username.to_owned(),
            password: password.to_owned(),
        })
    }

    fn to_registry_auth(&self) -> RegistryAuth {
        match self {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { username, password } => {
                RegistryAuth::Basic(username.clone(), password.clone())
            }
            Credentials::Bearer(token) => RegistryAuth::Bearer(token.clone()),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => write!(
                f,
                "Basic {{ username: {username:?}, password: <redacted> }}"
            ),
            Credentials::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// A registry: `host[:port]` (e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com`).
#[derive(Debug, Clone)]
pub struct Registry {
    pub host: String,
    /// Plain HTTP instead of HTTPS: only for a registry on loopback in tests
    /// and local setups.
    pub insecure_http: bool,
    pub credentials: Credentials,
}

/// Where in the registry the image goes.
#[derive(Debug, Clone)]
pub struct PushTarget {
    /// e.g. `shop/prod/api`.
    pub repository: String,
    pub tag: String,
    /// Other repositories of the same registry that may hold the same blobs
    /// (other services built from the same base): a blob found there is
    /// mounted instead of uploaded.
    pub mount_from: Vec<String>,
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    pub manifest_digest: Digest,
    /// `host/repository@sha256:…`: what deploys should name.
    pub pinned_reference: String,
    /// Blob bytes sent (the manifest itself, a few hundred bytes, not counted).
    pub bytes_uploaded: u64,
    pub blobs_uploaded: usize,
    pub blobs_present: usize,
    pub blobs_mounted: usize,
}

/// Pushes the layout's image tagged (or with manifest digest) `image` to
/// `registry` as `target`. Blobs the repository already has are never sent
/// again; the manifest goes last, so a tag never names an incomplete image.
pub async fn push(
    layout: &OciLayout,
    image: &str,
    registry: &Registry,
    target: &PushTarget,
    progress: &dyn Progress,
) -> Result<PushReport, PushError> {
    let found = layout.find(image)?.ok_or_else(|| PushError::NotInLayout {
        layout: layout.root().to_owned(),
        wanted: image.to_owned(),
    })?;
    let manifest_bytes = layout.read_blob(&found.manifest_digest)?;
    let manifest = layout.read_manifest(&found.manifest_digest)?;
    let mut blobs = Vec::new();
    for descriptor in manifest.layers.iter().chain([&manifest.config]) {
        let digest = Digest::parse(&descriptor.digest).ok_or_else(|| {
            PushError::InvalidTarget(format!("unsupported digest {}", descriptor.digest))
        })?;
        blobs.push((digest, descriptor.size));
    }

    let reference = Reference::try_from(format!(
        "{}/{}:{}",
        registry.host, target.repository, target.tag
    ))
    .map_err(|e| {
        PushError::InvalidTarget(format!(
            "{}/{}:{}: {e}",
            registry.host, target.repository, target.tag
        ))
    })?;
    let client = Client::new(ClientConfig {
        protocol: if registry.insecure_http {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        ..ClientConfig::default()
    });
    let context = ErrorContext {
        registry: &registry.host,
        repository: &target.repository,
    };
    client
        .auth(
            &reference,
            &registry.credentials.to_registry_auth(),
            RegistryOperation::Push,
        )
        .await
        .map_err(|e| context.classify(e, "authentication"))?;

    let mut report = PushReport {
        manifest_digest: found.manifest_digest.clone(),
        pinned_reference: format!(
            "{}/{}@{}",
            registry.host, target.repository, found.manifest_digest
        ),
        bytes_uploaded: 0,
        blobs_uploaded: 0,
        blobs_present: 0,
        blobs_mounted: 0,
    };
    for (digest, size) in blobs {
        let outcome = push_blob(&client, &reference, layout, &digest, target, context).await?;
        match outcome {
            BlobOutcome::Present => report.blobs_present += 1,
            BlobOutcome::Mounted => report.blobs_mounted += 1,
            BlobOutcome::Uploaded => {
                report.blobs_uploaded += 1;
                report.bytes_uploaded += size;
            }
        }
        progress.blob(&digest, size, outcome);
    }

    let content_type = MANIFEST_MEDIA_TYPE.parse().expect("a valid header value");
    client
        .push_manifest_raw(&reference, manifest_bytes, content_type)
        .await
        .map_err(|e| context.classify(e, "the manifest"))?;
    progress.manifest_pushed(&reference.whole(), &found.manifest_digest);
    Ok(report)
}

async fn push_blob(
    client: &Client,
    reference: &Reference,
    layout: &OciLayout,
    digest: &Digest,
    target: &PushTarget,
    context: ErrorContext<'_>,
) -> Result<BlobOutcome, PushError> {
    let what = || format!("blob {digest}");
    if client
        .blob_exists(reference, digest.as_str())
        .await
        .map_err(|e| context.classify(e, &what()))?
    {
        return Ok(BlobOutcome::Present);
    }
    for source in target
        .mount_from
        .iter()
        .filter(|r| **r != target.repository)
    {
        let Ok(source) = Reference::try_from(format!("{}/{source}", reference.registry())) else {
            continue;
        };
        // A registry that cannot mount answers 202 and opens an upload
        // instead (which expires unused): fall back to uploading. Refused
        // credentials are not a reason to try the next source.
        match client.mount_blob(reference, &source, digest.as_str()).await {
            Ok(()) => return Ok(BlobOutcome::Mounted),
            Err(e) => {
                if let err @ PushError::Unauthorized { .. } = context.classify(e, &what()) {
                    return Err(err);
                }
            }
        }
    }
    let bytes = layout.read_blob(digest)?;
    client
        .push_blob(reference, bytes, digest.as_str())
        .await
        .map_err(|e| context.classify(e, &what()))?;
    Ok(BlobOutcome::Uploaded)
}

#[derive(Clone, Copy)]
struct ErrorContext<'a> {
    registry: &'a str,
    repository: &'a str,
}

impl ErrorContext<'_> {
    /// One of our errors from one of oci-client's; the messages name URLs
    /// and codes, never credentials.
    fn classify(&self, error: OciDistributionError, what: &str) -> PushError {
        let unauthorized = |detail: String| PushError::Unauthorized {
            registry: self.registry.to_owned(),
            repository: self.repository.to_owned(),
            detail,
        };
        let refused = |detail: String| PushError::Refused {
            registry: self.registry.to_owned(),
            repository: self.repository.to_owned(),
            what: what.to_owned(),
            detail,
        };
        match error {
            OciDistributionError::AuthenticationFailure(detail) => unauthorized(detail),
            OciDistributionError::UnauthorizedError { url } => {
                unauthorized(format!("401 from {url}"))
            }
            OciDistributionError::ServerError {
                code: code @ (401 | 403),
                url,
                ..
            } => unauthorized(format!("{code} from {url}")),
            OciDistributionError::RegistryError { envelope, url }
                if envelope.errors.iter().any(|e| {
                    matches!(e.code, OciErrorCode::Unauthorized | OciErrorCode::Denied)
                }) =>
            {
                unauthorized(format!("{envelope} from {url}"))
            }
            OciDistributionError::RequestError(e) => match e.status().map(|s| s.as_u16()) {
                Some(code @ (401 | 403)) => unauthorized(format!("{code} for {what}")),
                Some(code) => refused(format!("HTTP {code}")),
                None if e.is_connect() || e.is_timeout() => PushError::Unreachable {
                    registry: self.registry.to_owned(),
                    detail: error_chain(&e),
                },
                None => refused(error_chain(&e)),
            },
            other => refused(other.to_string()),
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ecr_token_is_basic_auth_for_user_aws() {
        let token = base64::engine::general_purpose::STANDARD.encode("AWS:eyJwYXlsb2FkIjoi");
        let credentials = Credentials::from_ecr_authorization_token(&token).unwrap();
        assert_eq!(
            credentials,
            Credentials::Basic {
                username: "AWS".into(),
                password: "eyJwYXlsb2FkIjoi".into()
            }
        );
        assert!(!format!("{credentials:?}").contains("eyJ"));
        assert!(Credentials::from_ecr_authorization_token("not base64!").is_err());
        let no_colon = base64::engine::general_purpose::STANDARD.encode("AWS");
        assert!(Credentials::from_ecr_authorization_token(&no_colon).is_err());
    }

    #[test]
    fn debug_never_shows_a_bearer_token() {
        assert_eq!(
            format!("{:?}", Credentials::Bearer("tok123".into())),
            "Bearer(<redacted>)"
        );
    }
}
