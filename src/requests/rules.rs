//! Data-subject requests: types, statuses and the transitions between them, references, the
//! verification code's rules. Pure.
use crate::vocabulary::vocabulary;
use rand::Rng;
use sha2::{Digest, Sha256};

vocabulary!(
    /// What the person asks for (GDPR Art. 15–21 and 7(3)).
    RequestType {
        Access => "access",
        Export => "export",
        Erasure => "erasure",
        Rectification => "rectification",
        Restriction => "restriction",
        Objection => "objection",
        WithdrawConsent => "withdraw_consent",
    }
);

vocabulary!(
    Status {
        AwaitingVerification => "awaiting_verification",
        Verified => "verified",
        InProgress => "in_progress",
        AwaitingApproval => "awaiting_approval",
        Completed => "completed",
        Refused => "refused",
        Cancelled => "cancelled",
    }
);

vocabulary!(
    /// What moves a request from one status to another.
    Action {
        Verify => "verify",
        Start => "start",
        Plan => "plan",
        Complete => "complete",
        Refuse => "refuse",
        Cancel => "cancel",
    }
);

vocabulary!(
    /// How an officer established who the person is, outside the system.
    ProofMethod {
        InPerson => "in_person",
        EId => "e_id",
        Letter => "letter",
        Other => "other",
    }
);

impl Status {
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            Status::Completed | Status::Refused | Status::Cancelled
        )
    }
}

/// The status after `action`, or why it is not allowed from `from`.
pub fn transition(from: Status, action: Action) -> Result<Status, String> {
    use Action as A;
    use Status as S;
    let to = match (from, action) {
        (S::AwaitingVerification, A::Verify) => S::Verified,
        (S::AwaitingVerification | S::Verified, A::Cancel) => S::Cancelled,
        (S::Verified, A::Start) => S::InProgress,
        (S::InProgress | S::AwaitingApproval, A::Plan) => S::AwaitingApproval,
        (S::InProgress | S::AwaitingApproval, A::Complete) => S::Completed,
        (s, A::Refuse) if s.is_open() => S::Refused,
        (s, a) => {
            return Err(format!(
                "a request that is {} cannot be {}",
                s.as_str(),
                match a {
                    A::Verify => "verified",
                    A::Start => "started",
                    A::Plan => "planned",
                    A::Complete => "completed",
                    A::Refuse => "refused",
                    A::Cancel => "cancelled",
                }
            ));
        }
    };
    Ok(to)
}

/// `DSR-2026-000123`: the year it came in and the request's id. Not gap-free (the registration
/// number is), so no counter has to be locked for it.
pub fn reference(year: i32, id: i64) -> String {
    format!("DSR-{year}-{id:06}")
}

/// A new status token: shown once, stored as its SHA-256.
pub fn new_status_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    format!("dsr_{}", hex::encode(bytes))
}

/// Eight digits: 10^8 guesses against five attempts.
pub fn new_code() -> String {
    format!("{:08}", rand::rng().random_range(0..100_000_000u32))
}

/// The unkeyed hash of a code that versions before the server secret keyed them stored; a code
/// mailed just before an upgrade is still checked against it. New codes are hashed by
/// [`crate::secret::ServerSecret::code_hash`].
pub fn unkeyed_code_hash(request_id: i64, code: &str) -> String {
    hex::encode(Sha256::digest(
        format!("{request_id}:{}", code.trim()).as_bytes(),
    ))
}

pub const CODE_MINUTES: i64 = 30;
pub const CODE_ATTEMPTS: i32 = 5;
/// New codes a request may be sent over its life, and the pause between two.
pub const CODES_PER_REQUEST: i32 = 5;
pub const CODE_PAUSE_SECONDS: i64 = 60;

/// A phrase the person sends from the claimed account to prove control of it.
pub fn new_phrase() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    let mut part = || -> String {
        (0..4)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect()
    };
    format!("INSYN-{}-{}", part(), part())
}

/// The phrases a message may carry, as they are stored (`INSYN-ABCD-EFGH`): case, spacing and
/// punctuation do not matter, so "insyn abcd efgh" counts. Every run of `INSYN` and the eight
/// letters or digits after it is a candidate; the import looks the candidates up, so that a
/// message is checked against the requests whose phrase it holds, not against every open one.
pub fn phrases_in(text: &str) -> Vec<String> {
    let squashed: Vec<char> = text
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect();
    let mut found: Vec<String> = squashed
        .windows(13)
        .filter(|w| w[..5].iter().copied().eq("INSYN".chars()))
        .map(|w| {
            let (a, b): (String, String) = (w[5..9].iter().collect(), w[9..].iter().collect());
            format!("INSYN-{a}-{b}")
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

/// What a person gave to name an account, normalised for matching an identity: a platform id, a
/// profile link (`https://www.facebook.com/anna.andersson`, `…/profile.php?id=123`) or a username.
pub fn account_key(value: &str) -> String {
    let v = value.trim();
    // A link copied without its scheme (`www.facebook.com/anna.andersson`) is a link all the same.
    let with_scheme;
    let v = match v.split_once('/') {
        Some((host, _)) if !v.contains("://") && host.contains('.') && !host.contains(' ') => {
            with_scheme = format!("https://{v}");
            with_scheme.as_str()
        }
        _ => v,
    };
    if let Ok(u) = url::Url::parse(v) {
        if let Some(id) = u
            .query_pairs()
            .find(|(k, _)| k == "id")
            .map(|(_, v)| v.to_string())
        {
            return id;
        }
        let path = u.path().trim_matches('/');
        return path.rsplit('/').next().unwrap_or(path).to_lowercase();
    }
    v.trim_start_matches('@').to_lowercase()
}

/// Whether what a person gave could be a display name worth comparing with the archive's names:
/// three characters or more, and neither a link nor a number (those name an account, and are
/// matched as one).
pub fn may_be_name(value: &str) -> bool {
    let v = value.trim();
    v.chars().count() >= 3
        && url::Url::parse(v).is_err()
        && !v
            .trim_start_matches('@')
            .chars()
            .all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_told_from_links_and_numbers() {
        assert!(may_be_name("Bo Berg"));
        assert!(may_be_name("anna.andersson"));
        assert!(!may_be_name("Bo"));
        assert!(!may_be_name("100004567"));
        assert!(!may_be_name(" @12345 "));
        assert!(!may_be_name("https://www.facebook.com/anna.andersson"));
    }

    #[test]
    fn transitions_follow_the_case_flow() {
        use Action as A;
        use Status as S;
        assert_eq!(
            transition(S::AwaitingVerification, A::Verify),
            Ok(S::Verified)
        );
        assert_eq!(transition(S::Verified, A::Start), Ok(S::InProgress));
        assert_eq!(transition(S::InProgress, A::Plan), Ok(S::AwaitingApproval));
        assert_eq!(
            transition(S::AwaitingApproval, A::Complete),
            Ok(S::Completed)
        );
        assert_eq!(transition(S::InProgress, A::Complete), Ok(S::Completed));
        assert_eq!(transition(S::Verified, A::Cancel), Ok(S::Cancelled));
        assert!(transition(S::InProgress, A::Cancel).is_err());
        assert!(transition(S::AwaitingVerification, A::Start).is_err());
        assert!(transition(S::Completed, A::Refuse).is_err());
        assert!(transition(S::Cancelled, A::Verify).is_err());
        assert_eq!(transition(S::Verified, A::Refuse), Ok(S::Refused));
    }

    #[test]
    fn secrets_and_phrases() {
        let t = new_status_token();
        assert!(t.starts_with("dsr_") && t.len() == 68);
        let c = new_code();
        assert_eq!(c.len(), 8);
        assert_ne!(unkeyed_code_hash(1, &c), unkeyed_code_hash(2, &c));
        assert_eq!(
            unkeyed_code_hash(1, &format!(" {c} ")),
            unkeyed_code_hash(1, &c)
        );
        let p = new_phrase();
        assert!(p.starts_with("INSYN-") && p.len() == 15);
        assert_eq!(
            phrases_in(&format!("Hej! Min kod: {}", p.to_lowercase())),
            vec![p.clone()]
        );
        assert_eq!(phrases_in("insyn abcd efgh."), vec!["INSYN-ABCD-EFGH"]);
        assert_eq!(phrases_in("INSYN-ÅBCD-EFGH"), vec!["INSYN-ÅBCD-EFGH"]);
        // A phrase after a false start is found all the same.
        assert_eq!(
            phrases_in("insyn INSYN-ABCD-EFGH"),
            vec!["INSYN-ABCD-EFGH", "INSYN-INSY-NABC"]
        );
        assert!(phrases_in("Hej kommunen!").is_empty());
        assert!(phrases_in("INSYN-ABCD").is_empty());
        assert_eq!(reference(2026, 123), "DSR-2026-000123");
    }

    #[test]
    fn accounts_are_matched_by_id_link_or_username() {
        assert_eq!(
            account_key("https://www.facebook.com/profile.php?id=1234"),
            "1234"
        );
        assert_eq!(
            account_key("https://www.facebook.com/Anna.Andersson/"),
            "anna.andersson"
        );
        assert_eq!(account_key("@anna_a"), "anna_a");
        // A link copied without its scheme is the same link; a name with a dot is no link.
        assert_eq!(
            account_key("www.facebook.com/Anna.Andersson"),
            account_key("https://www.facebook.com/anna.andersson")
        );
        assert_eq!(account_key("anna.andersson"), "anna.andersson");
        assert_eq!(account_key(" 98765 "), "98765");
    }
}
