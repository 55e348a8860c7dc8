//! What is checked or changed before anything leaves for a provider.

pub mod moderation;
pub mod pii;
