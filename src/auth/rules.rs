//! Roles and token secrets. Pure: no HTTP, no database.
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Officer,
    Archivist,
    Auditor,
    Integration,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Officer,
        Role::Archivist,
        Role::Auditor,
        Role::Integration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Officer => "officer",
            Role::Archivist => "archivist",
            Role::Auditor => "auditor",
            Role::Integration => "integration",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown role {0:?}; expected one of admin, officer, archivist, auditor, integration")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// A token's display name: what it is for, so that a list of tokens can be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let t = s.trim();
        if t.is_empty() {
            return Err("must not be empty");
        }
        if t.chars().count() > 100 {
            return Err("must be at most 100 characters");
        }
        if t.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        Ok(TokenName(t.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new secret: shown once, then only its hash is kept.
pub fn new_secret() -> String {
    format!("insyn_{}", hex::encode(rand::random::<[u8; 32]>()))
}

/// A new page session's secret, for the officer's cookie; only its hash is kept.
pub fn new_session_secret() -> String {
    format!("session_{}", hex::encode(rand::random::<[u8; 32]>()))
}

/// Tokens are 256-bit random, so a plain SHA-256 (no salt, no stretching) is enough to make a
/// leaked table useless while keeping lookup a single indexed equality.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_reject_unknown() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("Admin".parse::<Role>().is_err());
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn secrets_are_unique_and_hash_stably() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        assert_eq!(a.len(), "insyn_".len() + 64);
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_ne!(hash_secret(&a), hash_secret(&b));
    }

    #[test]
    fn token_names_are_validated() {
        assert!(TokenName::parse("  ").is_err());
        assert!(TokenName::parse(&"x".repeat(101)).is_err());
        assert!(TokenName::parse("a\nb").is_err());
        assert_eq!(
            TokenName::parse(" registrar ").unwrap().as_str(),
            "registrar"
        );
    }
}
