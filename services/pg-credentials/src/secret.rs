//! The database user and password from a Secrets Manager secret in the shape
//! RDS manages (`{"username": "...", "password": "...", ...}`; RDS may add
//! other keys such as `engine` or `host`, which are ignored).

use std::fmt;

use aws_smithy_types::error::display::DisplayErrorContext;

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Password,
}

/// Never shown by `Debug`; [`Password::expose`] is the only way to the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

/// Why the secret gave no credentials. Messages name the secret, never its
/// value (not even a fragment of it).
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read the database secret {arn} from Secrets Manager: {message}")]
    Fetch { arn: String, message: String },
    #[error(
        "the database secret {arn} holds no text (a binary secret?); it must be JSON with string fields \"username\" and \"password\""
    )]
    NotText { arn: String },
    #[error(
        "the database secret {arn} is not JSON with string fields \"username\" and \"password\" ({problem}); its value is not shown"
    )]
    Malformed { arn: String, problem: &'static str },
    #[error(
        "database credentials were read from the secret less than {0:?} ago; not reading again yet"
    )]
    TooSoon(std::time::Duration),
}

/// Reads one secret by ARN (or name) with the caller's client, so the caller
/// decides region, credentials and endpoint (`AWS_ENDPOINT_URL_SECRETS_MANAGER`).
#[derive(Clone)]
pub struct SecretReader {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
}

impl SecretReader {
    pub fn new(client: aws_sdk_secretsmanager::Client, arn: impl Into<String>) -> Self {
        Self {
            client,
            arn: arn.into(),
        }
    }

    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The current version (`AWSCURRENT`) of the secret.
    pub async fn read(&self) -> Result<Credentials, CredentialsError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.arn)
            .send()
            .await
            .map_err(|e| CredentialsError::Fetch {
                arn: self.arn.clone(),
                message: DisplayErrorContext(&e).to_string(),
            })?;
        let text = output
            .secret_string()
            .ok_or_else(|| CredentialsError::NotText {
                arn: self.arn.clone(),
            })?;
        parse_secret(&self.arn, text)
    }
}

/// `{"username": "...", "password": "..."}` → credentials. serde_json's own
/// messages are not passed on: some quote the input.
pub fn parse_secret(arn: &str, text: &str) -> Result<Credentials, CredentialsError> {
    let malformed = |problem| CredentialsError::Malformed {
        arn: arn.to_string(),
        problem,
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| malformed("not JSON"))?;
    let object = value
        .as_object()
        .ok_or_else(|| malformed("not a JSON object"))?;
    let field = |name: &str, missing: &'static str| {
        object
            .get(name)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| malformed(missing))
    };
    Ok(Credentials {
        username: field("username", "no string field \"username\"")?,
        password: Password(field("password", "no string field \"password\"")?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:1:secret:db";

    #[test]
    fn rds_managed_secret_gives_user_and_password() {
        let creds = parse_secret(
            ARN,
            r#"{"username":"postgres","password":"p@ss\"word","engine":"postgres"}"#,
        )
        .unwrap();
        assert_eq!(creds.username, "postgres");
        assert_eq!(creds.password.expose(), "p@ss\"word");
        assert!(!format!("{creds:?}").contains("p@ss"));
    }

    #[test]
    fn malformed_secrets_say_what_is_wrong_without_the_value() {
        let cases = [
            ("hunter2-not-json", "not JSON"),
            (r#"["hunter2"]"#, "not a JSON object"),
            (r#"{"password":"hunter2"}"#, "\"username\""),
            (r#"{"username":"app","password":7}"#, "\"password\""),
            (r#"{"username":"app","pass":"hunter2"}"#, "\"password\""),
        ];
        for (text, expected) in cases {
            let err = parse_secret(ARN, text).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
            assert!(err.contains(ARN), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
}
