//! The errors resolvers return, and how clients see them.
//!
//! Clients get a short message and a stable `extensions.code`; causes (SQL,
//! S3, HTTP details) go to the logs only.

use async_graphql::ErrorExtensions;

use crate::ai::AiError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not found")]
    NotFound,
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("the database is unavailable; try again shortly")]
    DatabaseUnavailable(#[source] sqlx::Error),
    #[error("internal error")]
    Database(#[source] sqlx::Error),
    #[error("object storage is unavailable")]
    Storage(String),
    #[error("upload rejected: {0}")]
    UploadRejected(String),
    #[error(transparent)]
    Ai(#[from] AiError),
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if is_unavailable(&err) {
            ApiError::DatabaseUnavailable(err)
        } else {
            ApiError::Database(err)
        }
    }
}

/// Errors that mean "the database cannot be reached right now" rather than
/// "this query is wrong": connection failures, pool timeouts, and the server
/// shutting down or not accepting connections (SQLSTATE classes 08 and 57P),
/// and credentials it refuses even after the secret was read again (class 28).
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed => true,
        sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P") || code.starts_with("28")
        }),
        _ => false,
    }
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound => "NOT_FOUND",
            ApiError::InvalidInput(_) => "BAD_USER_INPUT",
            ApiError::DatabaseUnavailable(_) => "DATABASE_UNAVAILABLE",
            ApiError::Database(_) => "INTERNAL",
            ApiError::Storage(_) => "STORAGE_UNAVAILABLE",
            ApiError::UploadRejected(_) => "UPLOAD_REJECTED",
            ApiError::Ai(e) => e.code(),
        }
    }

    /// Logs what the client must not see, then gives the GraphQL error.
    pub fn into_gql(self) -> async_graphql::Error {
        match &self {
            ApiError::Database(e) | ApiError::DatabaseUnavailable(e) => {
                tracing::error!(error = %e, code = self.code(), "database error")
            }
            ApiError::Storage(e) => tracing::error!(error = %e, "object storage error"),
            ApiError::Ai(e) => tracing::warn!(error = %e, "ai service call failed"),
            _ => {}
        }
        self.extend()
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        async_graphql::Error::new(self.to_string())
            .extend_with(|_, ext| ext.set("code", self.code()))
    }
}

/// `?`-friendly conversion for resolvers.
pub trait GqlResultExt<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T, E: Into<ApiError>> GqlResultExt<T> for Result<T, E> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| e.into().into_gql())
    }
}
