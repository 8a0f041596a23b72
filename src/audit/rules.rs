//! The hash chain. Each entry's hash covers the previous entry's hash and the entry's own fields,
//! so editing, deleting or reordering any row breaks every link after it.
use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub struct EntryFields<'a> {
    pub at: DateTime<Utc>,
    pub actor: &'a str,
    pub role: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub details: &'a str,
}

/// SHA-256 over a canonical JSON array: unambiguous, whatever the fields contain.
pub fn entry_hash(prev_hash: &str, f: &EntryFields<'_>) -> String {
    let canonical = serde_json::json!([
        prev_hash,
        f.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        f.actor,
        f.role,
        f.action,
        f.target,
        f.details,
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// Why a row breaks the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Break {
    /// The row's `prev_hash` is not the hash of the row before it (a row was removed or reordered).
    Link,
    /// The row's content does not match its stored hash (the row was edited).
    Content,
    /// The anchor the auditor kept (an entry's id and hash, read off an earlier verification)
    /// is not in the chain as it was: entries were removed from the end, or the chain rewritten.
    Anchor,
}

impl Break {
    pub fn as_str(self) -> &'static str {
        match self {
            Break::Link => {
                "prev_hash does not match the previous entry: an entry was removed or reordered"
            }
            Break::Content => "the entry's content does not match its hash: the entry was edited",
            Break::Anchor => {
                "the anchor is not in the chain as it was: entries were removed from its end, or the chain was rewritten"
            }
        }
    }
}

/// Checks one row against the hash of the row before it.
pub fn check(
    expected_prev: &str,
    prev_hash: &str,
    hash: &str,
    f: &EntryFields<'_>,
) -> Option<Break> {
    if prev_hash != expected_prev {
        return Some(Break::Link);
    }
    if entry_hash(prev_hash, f) != hash {
        return Some(Break::Content);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(details: &str) -> EntryFields<'_> {
        EntryFields {
            at: DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap(),
            actor: "token:1",
            role: "admin",
            action: "token.create",
            target: "token:2",
            details,
        }
    }

    #[test]
    fn a_chain_verifies_and_an_edit_breaks_it() {
        let h1 = entry_hash(GENESIS, &fields("{}"));
        let h2 = entry_hash(&h1, &fields("{\"a\":1}"));
        assert_eq!(check(GENESIS, GENESIS, &h1, &fields("{}")), None);
        assert_eq!(check(&h1, &h1, &h2, &fields("{\"a\":1}")), None);
        assert_eq!(
            check(&h1, &h1, &h2, &fields("{\"a\":2}")),
            Some(Break::Content)
        );
        assert_eq!(
            check(GENESIS, &h1, &h2, &fields("{\"a\":1}")),
            Some(Break::Link)
        );
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let a = EntryFields {
            actor: "ab",
            role: "c",
            ..fields("{}")
        };
        let b = EntryFields {
            actor: "a",
            role: "bc",
            ..fields("{}")
        };
        assert_ne!(entry_hash(GENESIS, &a), entry_hash(GENESIS, &b));
    }
}
