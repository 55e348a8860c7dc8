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
    /// Clerk's publishable key, which the web client is built with.
    pub publishable_key: Option<String>,
}

impl Auth {
    /// The issuer at `issuer`, its keys where OpenID issuers publish them.
    pub fn at(issuer: &str) -> Auth {
        Auth {
            issuer: issuer.trim_end_matches('/').to_owned(),
            jwks_url: format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')),
            publishable_key: None,
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
    if let Some((key, path)) = l.pick(|a| a.publishable_key.as_deref(), &["publishable_key"]) {
        // Never echo the value: a secret key pasted here must not reach logs.
        let problem = if key.starts_with("sk_") {
            Some((
                "auth.publishable_key holds a Clerk secret key (sk_…), which must never be in the stack file",
                "remove it, roll the key in Clerk's dashboard (it may have been committed), and copy the publishable key (pk_…) instead",
            ))
        } else if !(key.starts_with("pk_live_") || key.starts_with("pk_test_")) {
            Some((
                "auth.publishable_key is not a Clerk publishable key",
                "copy it from the Clerk dashboard's API keys page: it starts with pk_live_ or pk_test_",
            ))
        } else {
            None
        };
        if let Some((message, help)) = problem {
            diags.push(Diagnostic::new(message).at(span(locator, &path)).help(help));
        }
        auth.publishable_key = Some(key.to_owned());
    }
    Some(auth)
}
