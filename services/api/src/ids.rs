//! Relay global ids: opaque to clients, `base64url("Kind:uuid")` inside.
//!
//! Decoding never trusts the id to grant access: it only says which table to
//! look in; the organization scope of `store` decides whether the row exists.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    User,
    Organization,
    Project,
    Document,
    Upload,
    Job,
    AuditEvent,
}

impl NodeKind {
    const ALL: [NodeKind; 7] = [
        NodeKind::User,
        NodeKind::Organization,
        NodeKind::Project,
        NodeKind::Document,
        NodeKind::Upload,
        NodeKind::Job,
        NodeKind::AuditEvent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            NodeKind::User => "User",
            NodeKind::Organization => "Organization",
            NodeKind::Project => "Project",
            NodeKind::Document => "Document",
            NodeKind::Upload => "Upload",
            NodeKind::Job => "Job",
            NodeKind::AuditEvent => "AuditEvent",
        }
    }
}

pub fn encode(kind: NodeKind, id: Uuid) -> async_graphql::ID {
    // "Kind:uuid" assembled on the stack: one allocation, the id's own.
    let mut raw = [0u8; 12 + 1 + uuid::fmt::Hyphenated::LENGTH];
    let name = kind.name().as_bytes();
    raw[..name.len()].copy_from_slice(name);
    raw[name.len()] = b':';
    let end = name.len() + 1 + uuid::fmt::Hyphenated::LENGTH;
    id.as_hyphenated()
        .encode_lower(&mut raw[name.len() + 1..end]);
    async_graphql::ID(URL_SAFE_NO_PAD.encode(&raw[..end]))
}

/// `None` for anything that is not an id we issued.
pub fn decode(id: &str) -> Option<(NodeKind, Uuid)> {
    if id.len() > 128 {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(id).ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    let (kind, uuid) = text.split_once(':')?;
    let kind = NodeKind::ALL.into_iter().find(|k| k.name() == kind)?;
    Some((kind, Uuid::parse_str(uuid).ok()?))
}

/// Decodes an id that must be of `kind`.
pub fn decode_as(kind: NodeKind, id: &str) -> Option<Uuid> {
    decode(id).filter(|(k, _)| *k == kind).map(|(_, uuid)| uuid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_kind() {
        let id = Uuid::new_v4();
        for kind in NodeKind::ALL {
            assert_eq!(decode(&encode(kind, id)), Some((kind, id)));
        }
    }

    #[test]
    fn ids_are_base64url_of_kind_colon_hyphenated_uuid() {
        // Ids handed out earlier must keep naming the same objects.
        let id = Uuid::parse_str("0191e4c2-7b1a-7c3d-8e4f-5a6b7c8d9e0f").unwrap();
        assert_eq!(
            encode(NodeKind::Document, id).0,
            "RG9jdW1lbnQ6MDE5MWU0YzItN2IxYS03YzNkLThlNGYtNWE2YjdjOGQ5ZTBm"
        );
        for kind in NodeKind::ALL {
            let expected = URL_SAFE_NO_PAD.encode(format!("{}:{}", kind.name(), id.hyphenated()));
            assert_eq!(encode(kind, id).0, expected, "{kind:?}");
        }
    }

    #[test]
    fn rejects_garbage_and_wrong_kinds() {
        for bad in [
            "",
            "abc",
            "!!!",
            "RG9jdW1lbnQ6bm90LWEtdXVpZA",
            &"A".repeat(500),
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
        let id = encode(NodeKind::Document, Uuid::new_v4());
        assert_eq!(decode_as(NodeKind::Project, &id), None);
    }
}
