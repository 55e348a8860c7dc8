//! `--local`'s token issuer: an ES256 key kept under the foundry home, its
//! JWKS served on loopback by the `issuer` stand-in, and the tokens
//! `foundry local token` signs with it. A local stack's `${auth.*}` name this
//! issuer (see [`super::localize`]); no stack on AWS ever does, so these
//! tokens are accepted nowhere else.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::json;

use super::LocalError;

/// Where OpenID issuers publish their keys; the api's default too.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The local issuer's signing key.
pub struct Issuer {
    key: EcdsaKeyPair,
    pub kid: String,
}

fn key_path() -> PathBuf {
    super::dir().join("issuer").join("es256.pk8")
}

impl Issuer {
    /// The key under the foundry home, made on first use (mode 0600).
    pub fn load_or_create() -> Result<Issuer, LocalError> {
        let path = key_path();
        let pkcs8 = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(&path)?,
            Err(e) => return Err(super::io(&path)(e)),
        };
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &pkcs8,
            &SystemRandom::new(),
        )
        .map_err(|_| LocalError::BadIssuerKey { path: path.clone() })?;
        let digest = ring::digest::digest(&ring::digest::SHA256, key.public_key().as_ref());
        let kid = format!(
            "foundry-local-{}",
            digest.as_ref()[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        Ok(Issuer { key, kid })
    }

    /// The public key as a JWK set (P-256: the point's x and y).
    pub fn jwks(&self) -> serde_json::Value {
        let point = self.key.public_key().as_ref();
        json!({ "keys": [{
            "kty": "EC",
            "crv": "P-256",
            "alg": "ES256",
            "use": "sig",
            "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        }]})
    }

    /// A Clerk-shaped session token for `claims` from `issuer`, valid for `ttl`.
    pub fn sign(&self, issuer: &str, claims: &TokenClaims, ttl: Duration) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let header = json!({ "alg": "ES256", "typ": "JWT", "kid": self.kid });
        let payload = json!({
            "iss": issuer,
            "sub": claims.user,
            "org_id": claims.org,
            "org_role": "org:admin",
            "email": claims.email,
            "iat": now,
            "nbf": now,
            "exp": now + ttl.as_secs(),
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let signature = self
            .key
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .expect("P-256 signing does not fail");
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        )
    }
}

/// Who a local token speaks for.
#[derive(Debug, Clone)]
pub struct TokenClaims {
    pub user: String,
    pub org: String,
    pub email: String,
}

fn create_key(path: &Path) -> Result<Vec<u8>, LocalError> {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| LocalError::BadIssuerKey {
                path: path.to_owned(),
            })?;
    let dir = path.parent().expect("the key has a directory");
    fs::create_dir_all(dir).map_err(super::io(dir))?;
    // Written aside and renamed: two first uses at once keep one key.
    let partial = dir.join(format!(".es256.{}.tmp", std::process::id()));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .map_err(super::io(&partial))?;
    file.write_all(pkcs8.as_ref())
        .and_then(|()| file.sync_all())
        .map_err(super::io(&partial))?;
    if path.exists() {
        let _ = fs::remove_file(&partial);
        return fs::read(path).map_err(super::io(path));
    }
    fs::rename(&partial, path).map_err(super::io(path))?;
    Ok(pkcs8.as_ref().to_vec())
}

/// Serves the JWKS (and a minimal OpenID configuration) on `port` until the
/// process ends: the `issuer` stand-in (`foundry local serve-issuer`).
pub fn serve(port: u16) -> Result<(), LocalError> {
    let issuer = Issuer::load_or_create()?;
    let url = issuer_url(port);
    let jwks = issuer.jwks().to_string();
    let openid = json!({ "issuer": url, "jwks_uri": format!("{url}{JWKS_PATH}") }).to_string();
    let listener =
        TcpListener::bind(("127.0.0.1", port)).map_err(super::io(Path::new("127.0.0.1")))?;
    println!("local token issuer listening on {url}");
    for stream in listener.incoming().flatten() {
        let (jwks, openid) = (jwks.clone(), openid.clone());
        std::thread::spawn(move || {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(&stream);
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                return;
            }
            // Headers are read and ignored; GETs carry no body.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("");
            let (status, body) = match path {
                JWKS_PATH => ("200 OK", jwks),
                "/.well-known/openid-configuration" => ("200 OK", openid),
                _ => ("404 Not Found", r#"{"error":"not found"}"#.to_owned()),
            };
            let _ = write!(
                &stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        });
    }
    Ok(())
}

/// The issuer's URL (`iss`) when its stand-in listens on `port`.
pub fn issuer_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_token_verifies_with_the_published_key() {
        let issuer = Issuer {
            key: EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                EcdsaKeyPair::generate_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &SystemRandom::new(),
                )
                .unwrap()
                .as_ref(),
                &SystemRandom::new(),
            )
            .unwrap(),
            kid: "k".into(),
        };
        let claims = TokenClaims {
            user: "user_1".into(),
            org: "org_1".into(),
            email: "a@b.test".into(),
        };
        let token = issuer.sign("http://127.0.0.1:1", &claims, Duration::from_secs(60));
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(payload["iss"], "http://127.0.0.1:1");
        assert_eq!(payload["org_id"], "org_1");
        // Rebuild the public point from the JWKS, as a verifier does.
        let jwk = &issuer.jwks()["keys"][0];
        let mut point = vec![4u8];
        for c in ["x", "y"] {
            point.extend(URL_SAFE_NO_PAD.decode(jwk[c].as_str().unwrap()).unwrap());
        }
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            point,
        );
        let signed = format!("{}.{}", parts[0], parts[1]);
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        public
            .verify(signed.as_bytes(), &signature)
            .expect("verifies");
        let mut tampered = signed.into_bytes();
        tampered[0] ^= 1;
        assert!(public.verify(&tampered, &signature).is_err());
    }
}
