//! ECR's registry side: the login `docker login` would use.

use super::{Aws, AwsError, SdkResultExt};

/// What GetAuthorizationToken hands out: the registry's address and a token
/// valid for 12 hours. `Debug` never shows the token.
pub struct RegistryLogin {
    /// `https://<account>.dkr.ecr.<region>.amazonaws.com`.
    pub endpoint: String,
    /// base64 of `AWS:<password>`.
    pub token: String,
}

impl std::fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLogin")
            .field("endpoint", &self.endpoint)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// The login for the caller's own account's registry.
pub async fn registry_login(aws: &Aws) -> Result<RegistryLogin, AwsError> {
    let out = aws
        .ecr
        .get_authorization_token()
        .send()
        .await
        .or_aws("GetAuthorizationToken")?;
    let data = out.authorization_data().first();
    let (Some(endpoint), Some(token)) = (
        data.and_then(|d| d.proxy_endpoint()),
        data.and_then(|d| d.authorization_token()),
    ) else {
        return Err(AwsError::Api {
            operation: "GetAuthorizationToken",
            code: None,
            message: "ECR answered without a registry endpoint or token".into(),
        });
    };
    Ok(RegistryLogin {
        endpoint: endpoint.to_string(),
        token: token.to_string(),
    })
}
