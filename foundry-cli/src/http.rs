//! The HTTP client of foundry's own requests (health probes, an issuer's
//! documents, S3's clock): rustls with the bundled Mozilla roots, plus the
//! PEM certificates of `SSL_CERT_FILE` when it is set, as curl and
//! OpenSSL-based tools honour it (a corporate proxy's CA, a test's own CA).
//! The AWS SDK's clients are not these: they keep the SDK's own TLS setup.

use std::time::Duration;

/// A client whose requests give up after `timeout`; the error is one sentence.
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder().timeout(timeout);
    if let Some(path) = std::env::var_os("SSL_CERT_FILE") {
        let shown = std::path::Path::new(&path).display().to_string();
        let pem = std::fs::read(&path)
            .map_err(|e| format!("SSL_CERT_FILE {shown} cannot be read: {e}"))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("SSL_CERT_FILE {shown} holds no PEM certificates: {e}"))?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}
