//! Postgres credentials the way AWS hands them over.
//!
//! RDS keeps an instance's master password in an RDS-managed Secrets Manager
//! secret (`{"username": …, "password": …}`) and rotates it. A service
//! configured with `DATABASE_HOST`, `DATABASE_PORT`, `DATABASE_NAME` and
//! `DATABASE_SECRET_ARN` reads the secret at start-up and again whenever
//! Postgres refuses the password, so a rotation never needs a restart;
//! `DATABASE_URL` keeps working for local development and tests.
//!
//! - [`source`]: the environment contract ([`DatabaseSource::from_lookup`]).
//! - [`secret`]: reading and parsing the secret; values never appear in
//!   `Debug` output or error messages.
//! - [`pool`]: [`CredentialedPool`], a lazy sqlx pool whose `acquire` reads
//!   the secret again on SQLSTATE 28P01/28000 (one read in flight) and which
//!   runs queries like `&PgPool` does.

pub mod pool;
pub mod secret;
pub mod source;

pub use pool::{
    CredentialedPool, MIN_REFRESH_INTERVAL, PoolError, is_auth_failure, is_connection_lost,
};
pub use secret::{Credentials, CredentialsError, Password, SecretReader, parse_secret};
pub use source::{DatabaseSource, SecretSource, SourceError};
