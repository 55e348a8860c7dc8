//! `[auth]` resolution: the token issuer is an https URL, and its JWKS
//! defaults to the OpenID location under it.

use super::file::AuthSpec;
use super::layered::{Layered, span};
use super::references::AuthAttribute;
use super::{Diagnostic, Locator};

/// The issuer whose tokens the services accept, in one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub issuer: String,
    pub jwks_url: String,
}

impl Auth {
    /// The issuer at `issuer`, its keys where OpenID issuers publish them.
    pub fn at(issuer: &str) -> Auth {
        Auth {
            issuer: issuer.trim_end_matches('/').to_owned(),
            jwks_url: format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')),
        }
    }

    pub fn get(&self, attribute: AuthAttribute) -> &str {
        match attribute {
            AuthAttribute::Issuer => &self.issuer,
            AuthAttribute::JwksUrl => &self.jwks_url,
        }
    }
}

pub fn resolve(
    base: &AuthSpec,
    over: &AuthSpec,
    env: &str,
    locator: &Locator,
    diags: &mut Vec<Diagnostic>,
) -> Option<Auth> {
    let l = Layered {
        base,
        over,
        env,
        section: "auth",
    };
    let mut https = |value: &str, path: &[String], key: &str| {
        let host = value.strip_prefix("https://").unwrap_or_default();
        if host.is_empty() || host.starts_with('/') || value.contains(char::is_whitespace) {
            diags.push(
                Diagnostic::new(format!("auth.{key} `{value}` is not an https URL"))
                    .at(span(locator, path))
                    .help("write the issuer's https URL, e.g. \"https://clerk.acme.example\""),
            );
        }
    };
    let Some((issuer, path)) = l.pick(|a| a.issuer.as_deref(), &["issuer"]) else {
        diags.push(
            Diagnostic::new("[auth] needs issuer")
                .at(locator.span(&["auth"]))
                .help("name the tokens' issuer, e.g. issuer = \"https://clerk.acme.example\""),
        );
        return None;
    };
    https(issuer, &path, "issuer");
    let mut auth = Auth::at(issuer);
    if let Some((jwks_url, path)) = l.pick(|a| a.jwks_url.as_deref(), &["jwks_url"]) {
        https(jwks_url, &path, "jwks_url");
        auth.jwks_url = jwks_url.to_owned();
    }
    Some(auth)
}
