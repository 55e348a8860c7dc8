//! Users, organizations and memberships are created on first sight of a
//! verified token, then remembered for a minute so that steady traffic costs
//! no writes.

use std::time::Duration;

use crate::db::Db;
use moka::sync::Cache;

use super::{Tenant, new_id};
use crate::auth::Identity;
use crate::error::ApiError;

/// Identities seen recently, keyed by everything the claims say about them,
/// so a changed role or email is written through at once.
#[derive(Clone)]
pub struct IdentityCache(Cache<Identity, Tenant>);

impl IdentityCache {
    pub fn new() -> Self {
        Self(
            Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
        )
    }
}

impl Default for IdentityCache {
    fn default() -> Self {
        Self::new()
    }
}

/// The organization a token acts in: its Clerk organization, or a personal
/// one for users outside any organization.
pub fn clerk_org_key(identity: &Identity) -> String {
    match &identity.org_id {
        Some(org) => org.clone(),
        None => format!("personal:{}", identity.subject),
    }
}

pub async fn resolve(
    db: &Db,
    cache: &IdentityCache,
    identity: &Identity,
) -> Result<Tenant, ApiError> {
    if let Some(tenant) = cache.0.get(identity) {
        return Ok(tenant);
    }
    let mut tx = db.begin().await?;
    // DO UPDATE (not DO NOTHING) so RETURNING yields the id under concurrency too.
    let org_id: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO organizations (id, clerk_org_id) VALUES ($1, $2) \
         ON CONFLICT (clerk_org_id) DO UPDATE SET clerk_org_id = EXCLUDED.clerk_org_id RETURNING id",
    )
    .bind(new_id())
    .bind(clerk_org_key(identity))
    .fetch_one(&mut *tx)
    .await?;
    let user_id: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO users (id, clerk_user_id, email) VALUES ($1, $2, $3) \
         ON CONFLICT (clerk_user_id) DO UPDATE SET email = COALESCE(EXCLUDED.email, users.email) RETURNING id",
    )
    .bind(new_id())
    .bind(&identity.subject)
    .bind(&identity.email)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3) \
         ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(&identity.org_role)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let tenant = Tenant {
        org_id,
        user_id,
        role: identity.org_role.clone(),
    };
    cache.0.insert(identity.clone(), tenant.clone());
    Ok(tenant)
}
