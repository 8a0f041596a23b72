//! The archive's vocabulary, the canonical form of a record's content and its fixity hash, and the
//! platforms' timestamp and id shapes. Pure: no HTTP, no database.
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::vocabulary::vocabulary;

vocabulary!(
    /// Where a channel lives.
    Platform {
        Facebook => "facebook",
        Instagram => "instagram",
        Messenger => "messenger",
        X => "x",
        Linkedin => "linkedin",
        Youtube => "youtube",
        Other => "other",
    }
);

vocabulary!(
    /// What an archived item is.
    Kind {
        Post => "post",
        Comment => "comment",
        Reply => "reply",
        Reaction => "reaction",
        Message => "message",
    }
);

vocabulary!(
    /// TF 2 kap.: received from someone else (inkommen) or drawn up by the authority (upprättad).
    Direction {
        Received => "received",
        DrawnUp => "drawn_up",
    }
);

vocabulary!(
    /// The item's state on the platform, as last seen.
    Visibility {
        Visible => "visible",
        Hidden => "hidden",
        Removed => "removed",
        DeletedByAuthor => "deleted_by_author",
    }
);

vocabulary!(
    /// Why a version was recorded.
    Change {
        Created => "created",
        Edited => "edited",
        Hidden => "hidden",
        Unhidden => "unhidden",
        Removed => "removed",
        Deleted => "deleted",
        Moderated => "moderated",
        Registered => "registered",
    }
);

/// One attachment as the platform described it; media bytes are not fetched.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attachment {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: Option<String>,
    pub mime: Option<String>,
    pub size: Option<i64>,
}

/// What a version holds: the record's content at the time it was seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content {
    pub kind: Kind,
    pub platform_id: String,
    pub parent_platform_id: Option<String>,
    pub author_platform_id: Option<String>,
    /// Whom a message was sent to, when the payload names someone other than the channel.
    pub recipient_platform_id: Option<String>,
    pub direction: Direction,
    pub platform_time: Option<DateTime<Utc>>,
    pub text: Option<String>,
    pub reaction_type: Option<String>,
    pub attachments: Vec<Attachment>,
    pub visibility: Visibility,
    /// The latest moderation decision under the comment rules, if any.
    pub moderation: Option<ModerationMark>,
    /// The registration number (diarienummer), once registered.
    pub registration_number: Option<String>,
}

/// A moderation decision as a version records it: the rule broken and the action taken.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModerationMark {
    pub rule: String,
    pub action: String,
}

fn time_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl Content {
    /// The canonical serialisation: a JSON object with keys in a fixed (sorted) order, no
    /// insignificant whitespace, times as RFC 3339 UTC with microseconds. Stored with each version,
    /// so the hash can be recomputed from what is stored, forever.
    pub fn canonical(&self) -> String {
        // serde_json's Map is a BTreeMap here (no preserve_order feature): keys come out sorted.
        let v = serde_json::json!({
            "attachments": self.attachments,
            "author_platform_id": self.author_platform_id,
            "direction": self.direction.as_str(),
            "kind": self.kind.as_str(),
            "parent_platform_id": self.parent_platform_id,
            "platform_id": self.platform_id,
            "platform_time": self.platform_time.as_ref().map(time_text),
            "reaction_type": self.reaction_type,
            "text": self.text,
            "visibility": self.visibility.as_str(),
        });
        // Added only when present, so that the hashes of versions written before a record was
        // moderated or registered, or before recipients were kept, stay what they were.
        let mut v = v;
        if let Some(obj) = v.as_object_mut() {
            if let Some(m) = &self.moderation {
                obj.insert("moderation".into(), serde_json::json!(m));
            }
            if let Some(n) = &self.registration_number {
                obj.insert("registration_number".into(), n.clone().into());
            }
            if let Some(to) = &self.recipient_platform_id {
                obj.insert("recipient_platform_id".into(), to.clone().into());
            }
        }
        v.to_string()
    }

    pub fn fixity(&self) -> String {
        fixity_of(&self.canonical())
    }
}

impl Content {
    /// Reads back a stored canonical serialisation.
    pub fn from_canonical(s: &str) -> Option<Content> {
        let v: serde_json::Value = serde_json::from_str(s).ok()?;
        let opt = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(Content {
            kind: Kind::parse(v.get("kind")?.as_str()?)?,
            platform_id: opt("platform_id")?,
            parent_platform_id: opt("parent_platform_id"),
            author_platform_id: opt("author_platform_id"),
            recipient_platform_id: opt("recipient_platform_id"),
            direction: Direction::parse(v.get("direction")?.as_str()?)?,
            platform_time: v.get("platform_time").and_then(parse_time),
            text: opt("text"),
            reaction_type: opt("reaction_type"),
            attachments: serde_json::from_value(v.get("attachments")?.clone()).ok()?,
            visibility: Visibility::parse(v.get("visibility")?.as_str()?)?,
            moderation: v
                .get("moderation")
                .and_then(|m| serde_json::from_value(m.clone()).ok()),
            registration_number: opt("registration_number"),
        })
    }
}

/// SHA-256 of a stored canonical serialisation, in lowercase hex.
pub fn fixity_of(canonical: &str) -> String {
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// What changed between two contents of one record, if anything.
pub fn change_between(before: &Content, after: &Content) -> Option<Change> {
    if before == after {
        return None;
    }
    if before.visibility != after.visibility {
        return Some(match (before.visibility, after.visibility) {
            (_, Visibility::Hidden) => Change::Hidden,
            (Visibility::Hidden, Visibility::Visible) => Change::Unhidden,
            (_, Visibility::Removed) => Change::Removed,
            (_, Visibility::DeletedByAuthor) => Change::Deleted,
            (_, Visibility::Visible) => Change::Unhidden,
        });
    }
    if before.moderation != after.moderation {
        return Some(Change::Moderated);
    }
    if before.registration_number != after.registration_number {
        return Some(Change::Registered);
    }
    Some(Change::Edited)
}

/// A platform timestamp: ISO 8601 (`2021-07-23T09:50:48+0000`, `…Z`, `…+00:00`), Unix seconds or
/// Unix milliseconds, as a number or a numeric string.
pub fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::Number(n) => n.as_i64().and_then(from_unix),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(n) = s.parse::<i64>() {
                return from_unix(n);
            }
            DateTime::parse_from_rfc3339(s)
                .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z"))
                .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
                .map(|t| t.with_timezone(&Utc))
                .ok()
                .or_else(|| {
                    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
                        .ok()
                        .map(|t| t.and_utc())
                })
        }
        _ => None,
    }
}

/// Seconds and milliseconds are told apart by size: 10^11 seconds is the year 5138.
fn from_unix(n: i64) -> Option<DateTime<Utc>> {
    if n.abs() >= 100_000_000_000 {
        DateTime::from_timestamp_millis(n)
    } else {
        DateTime::from_timestamp(n, 0)
    }
}

/// The `visibility` of a tombstone: the row an erasure leaves of a record that kept records still
/// answer, so that their rows stay as they were, link to the parent included. Everything personal
/// in it is gone (text, author, time, the platform's id, its versions); the archive's reads pass
/// over it as over a deleted record.
pub const TOMBSTONE: &str = "erased";

/// How the platform id of what an erasure left begins (a tombstone, an erased identity:
/// `erased:{id}`). No platform's id does; an import that brings one is not taken for either.
pub const ERASED_PREFIX: &str = "erased:";

/// A platform id, given as a string or a number.
pub fn parse_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A message's id as the Graph API gives it: the Messenger webhook names the same message
/// `mid.…` where the Graph API says `m_mid.…`.
pub fn message_id(mid: String) -> String {
    if mid.starts_with("mid.") {
        format!("m_{mid}")
    } else {
        mid
    }
}

/// The form that every name of one platform object comes down to. The Graph API names a comment
/// `{post}_{comment}` and its permalink names it by the bare `{comment}`; a message is `m_mid.…`
/// there and `mid.…` in a webhook. The importer writes the first forms where it can, but records
/// archived before it did, and objects seen only through a permalink without a post, keep the
/// others: the suppression list and the look-up of held records go by this key, so that every
/// form finds the one record and an erased item does not come back under another of its names.
/// An id built on another (`{target}/reaction/{person}`) comes down by its first part.
pub fn object_key(platform_id: &str) -> std::borrow::Cow<'_, str> {
    let (head, tail) = match platform_id.split_once('/') {
        Some((head, _)) => (head, &platform_id[head.len()..]),
        None => (platform_id, ""),
    };
    let key = if let Some(mid) = head.strip_prefix("m_").filter(|m| m.starts_with("mid.")) {
        mid
    } else {
        match head.split_once('_') {
            Some((a, b))
                if !a.is_empty()
                    && !b.is_empty()
                    && a.bytes().all(|c| c.is_ascii_digit())
                    && b.bytes().all(|c| c.is_ascii_digit()) =>
            {
                b
            }
            _ => return std::borrow::Cow::Borrowed(platform_id),
        }
    };
    std::borrow::Cow::Owned(format!("{key}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_name_of_an_object_comes_down_to_one_key() {
        assert_eq!(
            object_key("2954961744718970_2966313500250461"),
            "2966313500250461"
        );
        assert_eq!(object_key("2966313500250461"), "2966313500250461");
        assert_eq!(
            object_key("m_mid.1457764197618:41d1"),
            "mid.1457764197618:41d1"
        );
        assert_eq!(
            object_key("mid.1457764197618:41d1"),
            "mid.1457764197618:41d1"
        );
        assert_eq!(object_key("1_2/reaction/77"), "2/reaction/77");
        assert_eq!(object_key("m_mid.9:a/reaction/77"), "mid.9:a/reaction/77");
        // Not Graph API numeric pairs: left as they are.
        assert_eq!(object_key("t_123_456"), "t_123_456");
        assert_eq!(object_key("m_AbC_12"), "m_AbC_12");
        assert_eq!(object_key("_10"), "_10");
        assert_eq!(object_key("17895695668004550"), "17895695668004550");
        assert_eq!(message_id("mid.1:a".into()), "m_mid.1:a");
        assert_eq!(message_id("m_AbC".into()), "m_AbC");
    }

    fn content() -> Content {
        Content {
            kind: Kind::Comment,
            platform_id: "1_2".into(),
            parent_platform_id: Some("1".into()),
            author_platform_id: Some("42".into()),
            recipient_platform_id: None,
            direction: Direction::Received,
            platform_time: parse_time(&json!("2021-07-23T09:50:48+0000")),
            text: Some("Hej! \"citat\" och åäö".into()),
            reaction_type: None,
            attachments: vec![],
            visibility: Visibility::Visible,
            moderation: None,
            registration_number: None,
        }
    }

    #[test]
    fn moderation_and_registration_are_versions_and_leave_older_hashes_alone() {
        let before = content();
        let plain = before.canonical();
        assert!(
            !plain.contains("moderation")
                && !plain.contains("registration_number")
                && !plain.contains("recipient")
        );
        let mut addressed = before.clone();
        addressed.recipient_platform_id = Some("43".into());
        let back = Content::from_canonical(&addressed.canonical()).unwrap();
        assert_eq!(back.recipient_platform_id.as_deref(), Some("43"));
        let mut after = before.clone();
        after.moderation = Some(ModerationMark {
            rule: "profanity".into(),
            action: "remove".into(),
        });
        after.registration_number = Some("KS 2026-000001".into());
        assert_eq!(change_between(&before, &after), Some(Change::Moderated));
        let back = Content::from_canonical(&after.canonical()).unwrap();
        assert_eq!(back, after);
        let mut registered = before.clone();
        registered.registration_number = Some("KS 2026-000002".into());
        assert_eq!(
            change_between(&before, &registered),
            Some(Change::Registered)
        );
    }

    #[test]
    fn timestamps_in_every_shape_the_platforms_send() {
        let expected = DateTime::from_timestamp(1_627_033_848, 0).unwrap();
        assert_eq!(
            parse_time(&json!("2021-07-23T09:50:48+0000")),
            Some(expected)
        );
        assert_eq!(parse_time(&json!("2021-07-23T09:50:48Z")), Some(expected));
        assert_eq!(
            parse_time(&json!("2021-07-23T11:50:48+02:00")),
            Some(expected)
        );
        assert_eq!(parse_time(&json!(1_627_033_848)), Some(expected));
        assert_eq!(parse_time(&json!(1_627_033_848_000_i64)), Some(expected));
        assert_eq!(parse_time(&json!("1627033848")), Some(expected));
        assert_eq!(parse_time(&json!("<TIMESTAMP>")), None);
        assert_eq!(parse_time(&json!(null)), None);
    }

    #[test]
    fn ids_as_strings_or_numbers() {
        assert_eq!(parse_id(&json!("123_456")), Some("123_456".into()));
        assert_eq!(
            parse_id(&json!(1234567890321_i64)),
            Some("1234567890321".into())
        );
        assert_eq!(parse_id(&json!("")), None);
        assert_eq!(parse_id(&json!({"id": 1})), None);
    }

    #[test]
    fn the_canonical_form_is_stable_and_the_hash_sees_every_field() {
        let c = content();
        assert_eq!(c.canonical(), content().canonical());
        assert!(
            c.canonical()
                .starts_with("{\"attachments\":[],\"author_platform_id\":\"42\"")
        );
        assert_eq!(c.fixity().len(), 64);
        let mut edited = content();
        edited.text = Some("Hej!".into());
        assert_ne!(c.fixity(), edited.fixity());
        let mut hidden = content();
        hidden.visibility = Visibility::Hidden;
        assert_ne!(c.fixity(), hidden.fixity());
        assert_eq!(fixity_of(&c.canonical()), c.fixity());
        assert_eq!(Content::from_canonical(&c.canonical()), Some(c.clone()));
    }

    #[test]
    fn changes_are_named() {
        let c = content();
        assert_eq!(change_between(&c, &content()), None);
        let mut e = content();
        e.text = Some("x".into());
        assert_eq!(change_between(&c, &e), Some(Change::Edited));
        let mut h = content();
        h.visibility = Visibility::Hidden;
        assert_eq!(change_between(&c, &h), Some(Change::Hidden));
        assert_eq!(change_between(&h, &c), Some(Change::Unhidden));
        let mut r = content();
        r.visibility = Visibility::Removed;
        assert_eq!(change_between(&h, &r), Some(Change::Removed));
        let mut d = content();
        d.visibility = Visibility::DeletedByAuthor;
        assert_eq!(change_between(&c, &d), Some(Change::Deleted));
    }

    #[test]
    fn vocabularies_round_trip() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(*p));
        }
        assert_eq!(Kind::parse("like"), None);
        assert_eq!(Direction::DrawnUp.as_str(), "drawn_up");
    }
}
