//! Bearer-token authentication: Clerk session JWTs verified against the JWKS.
//!
//! Only RS256 and ES256 are accepted; the algorithm must also match the key
//! the `kid` names, so `none` and HS256-signed-with-the-public-key tokens fail
//! before any signature check. Tokens are never logged.

pub mod jwks;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, Validation, decode, decode_header};
use moka::sync::Cache;
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub use jwks::JwksCache;

/// Who a verified token speaks for: Clerk's claims, nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// Clerk user id (`sub`).
    pub subject: String,
    /// Clerk organization id (`org_id`, or `o.id` in v2 session tokens).
    pub org_id: Option<String>,
    pub org_role: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("malformed bearer token")]
    Malformed,
    #[error("token algorithm not accepted")]
    UnsupportedAlgorithm,
    #[error("token signed with an unknown key")]
    UnknownKey,
    #[error("token expired")]
    Expired,
    #[error("invalid token: {0}")]
    Invalid(&'static str),
    #[error("signing keys are unavailable; try again shortly")]
    KeysUnavailable,
}

impl AuthError {
    /// 503 when we could not check (our side), 401 otherwise.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, AuthError::KeysUnavailable)
    }
}

/// Clerk session token claims (v1 and v2 shapes).
#[derive(Debug, Deserialize)]
struct ClerkClaims {
    sub: String,
    #[serde(default)]
    org_id: Option<String>,
    #[serde(default)]
    org_role: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    o: Option<OrgClaim>,
    /// Authorized party: the origin of the frontend that requested the token.
    #[serde(default)]
    azp: Option<String>,
    /// Required by the validation; kept to bound the cache entry.
    exp: u64,
}

#[derive(Debug, Deserialize)]
struct OrgClaim {
    id: Option<String>,
    rol: Option<String>,
}

const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;

/// Tokens verified recently, by SHA-256 of the token: a client's burst costs
/// one signature check. Bounded in size; an entry is used only until the
/// token's `exp` (plus the same leeway the full check allows) and only while
/// the JWKS still holds the very key that verified it, so a key removed from
/// the JWKS stops being accepted once the key set is refetched
/// (`JWKS_CACHE_TTL_SECS`).
const VERIFIED_CACHE_CAPACITY: u64 = 50_000;
/// Entries older than this are verified again whatever their `exp`.
const VERIFIED_CACHE_MAX_AGE: Duration = Duration::from_secs(3600);

struct Verified {
    identity: Identity,
    exp: u64,
    kid: String,
    key: Arc<jwks::VerifyingKey>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub struct Authenticator {
    verified: Cache<[u8; 32], Arc<Verified>>,
    jwks: JwksCache,
    issuer: String,
    audience: Option<String>,
    /// Origins whose tokens are accepted (`azp`); empty = not checked.
    authorized_parties: Vec<String>,
}

impl Authenticator {
    pub fn new(
        jwks: JwksCache,
        issuer: String,
        audience: Option<String>,
        authorized_parties: Vec<String>,
    ) -> Self {
        Self {
            verified: Cache::builder()
                .max_capacity(VERIFIED_CACHE_CAPACITY)
                .time_to_live(VERIFIED_CACHE_MAX_AGE)
                .build(),
            jwks,
            issuer,
            audience,
            authorized_parties,
        }
    }

    /// Clerk's rule (`authorizedParties` in its SDKs): a token that names
    /// the origin it was requested from must name one of ours. Clerk omits
    /// `azp` when the browser sent no usable Origin, and such a token passes,
    /// as it does in Clerk's own verification.
    fn check_authorized_party(&self, azp: Option<&str>) -> Result<(), AuthError> {
        match azp {
            Some(azp)
                if !self.authorized_parties.is_empty()
                    && !self
                        .authorized_parties
                        .iter()
                        .any(|p| p == azp.trim_end_matches('/')) =>
            {
                Err(AuthError::Invalid("unauthorized party"))
            }
            _ => Ok(()),
        }
    }

    /// The bearer token of an `Authorization` header value.
    pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
        let value = header.ok_or(AuthError::Missing)?;
        let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Malformed);
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        Ok(token)
    }

    pub async fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        if token.len() > MAX_TOKEN_BYTES || token.split('.').count() != 3 {
            return Err(AuthError::Malformed);
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(hit) = self.verified.get(&digest) {
            if unix_now() > hit.exp.saturating_add(LEEWAY_SECS) {
                self.verified.invalidate(&digest);
                return Err(AuthError::Expired);
            }
            // The key must still be the one the JWKS serves for this kid
            // (the JWKS cache's TTL bounds how long a removed key lives).
            match self.jwks.key(&hit.kid).await {
                Ok(key) if Arc::ptr_eq(&key, &hit.key) => return Ok(hit.identity.clone()),
                Err(AuthError::KeysUnavailable) => return Err(AuthError::KeysUnavailable),
                _ => self.verified.invalidate(&digest),
            }
        }
        let (identity, verified) = self.verify_signature(token).await?;
        self.verified.insert(digest, Arc::new(verified));
        Ok(identity)
    }

    /// The full check: header, key, signature, claims.
    async fn verify_signature(&self, token: &str) -> Result<(Identity, Verified), AuthError> {
        // Unknown algorithms such as `none` do not even parse.
        let header = decode_header(token).map_err(|_| AuthError::Malformed)?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(AuthError::UnsupportedAlgorithm);
        }
        let kid = header.kid.ok_or(AuthError::Invalid("no key id"))?;
        let kid_of_key = kid.clone();
        let key = self.jwks.key(&kid).await?;
        if key.algorithm != header.alg {
            return Err(AuthError::UnsupportedAlgorithm);
        }

        let mut validation = Validation::new(key.algorithm);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        match &self.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
            }
            None => {
                validation.validate_aud = false;
                validation.set_required_spec_claims(&["exp", "sub", "iss"]);
            }
        }
        let claims = decode::<ClerkClaims>(token, &key.key, &validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::ExpiredSignature => AuthError::Expired,
                    ErrorKind::ImmatureSignature => AuthError::Invalid("not yet valid"),
                    ErrorKind::InvalidIssuer => AuthError::Invalid("wrong issuer"),
                    ErrorKind::InvalidAudience => AuthError::Invalid("wrong audience"),
                    ErrorKind::InvalidSignature => AuthError::Invalid("bad signature"),
                    ErrorKind::MissingRequiredClaim(_) => AuthError::Invalid("missing claim"),
                    _ => AuthError::Invalid("rejected"),
                }
            })?
            .claims;
        if claims.sub.is_empty() {
            return Err(AuthError::Invalid("empty subject"));
        }
        self.check_authorized_party(claims.azp.as_deref())?;
        let (o_id, o_rol) = claims.o.map(|o| (o.id, o.rol)).unwrap_or_default();
        let identity = Identity {
            subject: claims.sub,
            org_id: claims.org_id.or(o_id).filter(|s| !s.is_empty()),
            org_role: claims.org_role.or(o_rol),
            email: claims.email,
        };
        let verified = Verified {
            identity: identity.clone(),
            exp: claims.exp,
            kid: kid_of_key,
            key,
        };
        Ok((identity, verified))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(Authenticator::bearer(None), Err(AuthError::Missing));
        assert_eq!(
            Authenticator::bearer(Some("Basic abc")),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            Authenticator::bearer(Some("Bearer")),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            Authenticator::bearer(Some("Bearer  ")),
            Err(AuthError::Malformed)
        );
        assert_eq!(Authenticator::bearer(Some("bearer a.b.c")), Ok("a.b.c"));
    }
}
