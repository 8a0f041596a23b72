//! Erasure (GDPR Art. 17) against the public-records law: what happens to each item held about a
//! person, on which ground, in words the municipality signs. Pure: no HTTP, no database.
//!
//! The order of the grounds is the law's: a legal hold (17(3)(e)) first, then what the registry and
//! moderation keep, then whether the item is a public document at all, then the disposal decisions
//! (Arkivlagen: no disposal without one).
use crate::mail::rules::Language;
use crate::retention::rules::{Decision as DisposalDecision, RecordFacts, Retention, retention_of};
use crate::vocabulary::vocabulary;
use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

vocabulary!(
    /// What an item of the plan is.
    ItemKind {
        Record => "record",
        Publication => "publication",
        Profile => "profile",
        ConsentEvents => "consent_events",
        ConsentWithdrawals => "consent_withdrawals",
        Package => "package",
        Block => "block",
        CaseFile => "case_file",
    }
);

vocabulary!(
    /// What the plan does with an item.
    ItemDecision {
        Retain => "retain",
        RetainUnderHold => "retain_under_hold",
        Erase => "erase",
        Unpublish => "unpublish",
    }
);

vocabulary!(
    /// Why: a machine-readable code, with its sentence in the policy.
    Ground {
        PublicDocument => "public_document",
        PublicDocumentPermanent => "public_document_permanent",
        PublicDocumentNoDecision => "public_document_no_decision",
        SentDocument => "sent_document",
        SentDocumentPermanent => "sent_document_permanent",
        SentDocumentNoDecision => "sent_document_no_decision",
        RegisteredDocument => "registered_document",
        ModerationCase => "moderation_case",
        LegalHold => "legal_hold",
        DisposalDue => "disposal_due",
        NotPublicDocument => "not_public_document",
        Publication => "publication",
        ProfileDetails => "profile_details",
        ConsentEvents => "consent_events",
        WithdrawalRecord => "withdrawal_record",
        EarlierPackage => "earlier_package",
        CaseFile => "case_file",
        Excluded => "excluded",
    }
);

vocabulary!(
    /// What executing the plan did with an item.
    Outcome {
        Erased => "erased",
        Kept => "kept",
        TaskOpened => "task_opened",
        TaskAlreadyOpen => "task_already_open",
        Excluded => "excluded",
    }
);

vocabulary!(
    PlanStatus {
        Proposed => "proposed",
        Superseded => "superseded",
        Executed => "executed",
    }
);

impl ItemDecision {
    /// Erasing and unpublishing change something and may be left out by an officer; keeping does not.
    pub fn acts(self) -> bool {
        matches!(self, ItemDecision::Erase | ItemDecision::Unpublish)
    }
}

/// A text in both languages.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    pub sv: String,
    pub en: String,
}

impl Texts {
    pub fn get(&self, lang: Language) -> &str {
        match lang {
            Language::Sv => &self.sv,
            Language::En => &self.en,
        }
    }
}

/// Which kinds are public documents, and the words of the grounds and the reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub public_document_kinds: Vec<String>,
    pub kinds: BTreeMap<String, Texts>,
    pub grounds: BTreeMap<String, Texts>,
    pub notes: BTreeMap<String, Texts>,
}

/// The file's shape: every part optional, what it leaves out keeps the default.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    public_document_kinds: Option<Vec<String>>,
    #[serde(default)]
    kinds: BTreeMap<String, Texts>,
    #[serde(default)]
    grounds: BTreeMap<String, Texts>,
    #[serde(default)]
    notes: BTreeMap<String, Texts>,
}

/// The notes every erasure reply carries, in this order.
pub const NOTES: &[&str] = &["public_document", "secrecy", "platform", "complaint"];
const PLACEHOLDERS: &[&str] = &["date", "reference", "reason", "until", "count"];

impl Default for Policy {
    fn default() -> Self {
        Policy::from_toml(None).expect("the built-in erasure policy is valid")
    }
}

impl Policy {
    /// The built-in policy, with `overrides` (a TOML text in the same shape) laid over it.
    pub fn from_toml(overrides: Option<&str>) -> Result<Policy, String> {
        let base: PolicyFile = toml::from_str(include_str!("policy.toml"))
            .map_err(|e| format!("the built-in policy: {e}"))?;
        let mut p = Policy {
            public_document_kinds: base.public_document_kinds.unwrap_or_default(),
            kinds: base.kinds,
            grounds: base.grounds,
            notes: base.notes,
        };
        if let Some(text) = overrides {
            let o: PolicyFile = toml::from_str(text).map_err(|e| e.to_string())?;
            if let Some(k) = o.public_document_kinds {
                p.public_document_kinds = k;
            }
            p.kinds.extend(o.kinds);
            p.grounds.extend(o.grounds);
            p.notes.extend(o.notes);
        }
        p.check()?;
        Ok(p)
    }

    fn check(&self) -> Result<(), String> {
        use crate::archive::rules::Kind;
        for k in &self.public_document_kinds {
            if Kind::parse(k).is_none() {
                return Err(format!(
                    "public_document_kinds: {k:?} is not a kind of record"
                ));
            }
        }
        for (name, t) in self.grounds.iter().chain(&self.notes).chain(&self.kinds) {
            for text in [&t.sv, &t.en] {
                if text.trim().is_empty() {
                    return Err(format!("{name}: a text is empty"));
                }
                let mut rest = text.as_str();
                while let Some(open) = rest.find('{') {
                    let close = rest[open..]
                        .find('}')
                        .ok_or_else(|| format!("{name}: a `{{` is never closed"))?;
                    let word = &rest[open + 1..open + close];
                    if !PLACEHOLDERS.contains(&word) {
                        return Err(format!("{name}: {{{word}}} is not a placeholder"));
                    }
                    rest = &rest[open + close..];
                }
            }
        }
        for g in Ground::ALL {
            if !self.grounds.contains_key(g.as_str()) {
                return Err(format!("grounds.{} is missing", g.as_str()));
            }
        }
        for n in NOTES {
            if !self.notes.contains_key(*n) {
                return Err(format!("notes.{n} is missing"));
            }
        }
        Ok(())
    }

    pub fn is_public_document(&self, kind: &str) -> bool {
        self.public_document_kinds.iter().any(|k| k == kind)
    }

    /// The ground's sentence in `lang` with its placeholders filled; a missing value reads "–".
    pub fn sentence(&self, ground: Ground, lang: Language, p: &Params) -> String {
        let text = self
            .grounds
            .get(ground.as_str())
            .map(|t| t.get(lang))
            .unwrap_or(ground.as_str());
        let date = |d: Option<NaiveDate>| d.map_or_else(|| "–".to_owned(), |d| d.to_string());
        text.replace("{date}", &date(p.date))
            .replace("{until}", &date(p.until))
            .replace("{reference}", p.reference.as_deref().unwrap_or("–"))
            .replace("{reason}", p.reason.as_deref().unwrap_or("–"))
            .replace("{count}", &p.count.to_string())
    }

    /// "Kommentar 2024-03-01": what the item is, without its content.
    pub fn label(&self, kind: &str, lang: Language, date: Option<NaiveDate>) -> String {
        let name = self.kinds.get(kind).map_or(kind, |t| t.get(lang));
        match date {
            Some(d) => format!("{name} {d}"),
            None => name.to_owned(),
        }
    }

    pub fn notes(&self, lang: Language) -> Vec<String> {
        NOTES
            .iter()
            .filter_map(|n| self.notes.get(*n))
            .map(|t| t.get(lang).to_owned())
            .collect()
    }
}

/// What fills a ground's sentence.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    pub date: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    pub reference: Option<String>,
    pub reason: Option<String>,
    pub count: i64,
}

/// A hold as the plan names it.
#[derive(Clone, Debug)]
pub struct HoldFacts {
    pub id: i64,
    pub reason: String,
    pub until: Option<NaiveDate>,
}

/// The decision on one archived record of the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordDecision {
    pub decision: ItemDecision,
    pub ground: Ground,
    pub params: Params,
}

/// Decides one record. `holding` is the first hold in force that covers it, if any.
pub fn decide_record(
    policy: &Policy,
    r: &RecordFacts,
    registration_number: Option<&str>,
    moderated: bool,
    holding: Option<&HoldFacts>,
    decisions: &[DisposalDecision],
    today: NaiveDate,
) -> RecordDecision {
    let keep = |ground, params| RecordDecision {
        decision: ItemDecision::Retain,
        ground,
        params,
    };
    if let Some(h) = holding {
        return RecordDecision {
            decision: ItemDecision::RetainUnderHold,
            ground: Ground::LegalHold,
            params: Params {
                reason: Some(h.reason.clone()),
                until: h.until,
                ..Params::default()
            },
        };
    }
    if let Some(number) = registration_number {
        return keep(
            Ground::RegisteredDocument,
            Params {
                reference: Some(number.to_owned()),
                ..Params::default()
            },
        );
    }
    if moderated {
        return keep(Ground::ModerationCase, Params::default());
    }
    // What the municipality drew up and sent (a reply to the person) is a public document once
    // sent (TF 2 kap. 10 §), whatever the policy says of what it receives.
    let sent = r.direction == crate::archive::rules::Direction::DrawnUp.as_str();
    if !sent && !policy.is_public_document(r.kind) {
        return RecordDecision {
            decision: ItemDecision::Erase,
            ground: Ground::NotPublicDocument,
            params: Params::default(),
        };
    }
    let [kept, permanent, no_decision] = if sent {
        [
            Ground::SentDocument,
            Ground::SentDocumentPermanent,
            Ground::SentDocumentNoDecision,
        ]
    } else {
        [
            Ground::PublicDocument,
            Ground::PublicDocumentPermanent,
            Ground::PublicDocumentNoDecision,
        ]
    };
    match retention_of(r, decisions) {
        Retention::NoDecision => keep(no_decision, Params::default()),
        Retention::Permanent { reference, .. } => keep(
            permanent,
            Params {
                reference: Some(reference),
                ..Params::default()
            },
        ),
        Retention::DisposableFrom {
            reference, date, ..
        } => {
            let params = Params {
                reference: Some(reference),
                date: Some(date),
                ..Params::default()
            };
            if date <= today {
                RecordDecision {
                    decision: ItemDecision::Erase,
                    ground: Ground::DisposalDue,
                    params,
                }
            } else {
                keep(kept, params)
            }
        }
    }
}

/// Whether a record's publication on the channel can still be taken down: a comment, reply or
/// reaction that the platform still shows (or shows hidden). Messages are never published.
pub fn is_published(kind: &str, visibility: &str) -> bool {
    matches!(kind, "comment" | "reply" | "reaction" | "post")
        && matches!(visibility, "visible" | "hidden")
}

/// The server's key for the suppression list: HMAC-SHA256, so that a hash names an erased item to
/// whoever holds the key and to nobody else.
#[derive(Clone)]
pub struct SuppressionKey(Vec<u8>);

impl std::fmt::Debug for SuppressionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SuppressionKey(***)")
    }
}

vocabulary!(
    SuppressionKind {
        Record => "record",
        Identity => "identity",
    }
);

impl SuppressionKey {
    pub fn new(secret: &[u8]) -> SuppressionKey {
        SuppressionKey(secret.to_vec())
    }

    fn mac(&self, parts: &[&str]) -> String {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key");
        for p in parts {
            m.update(p.as_bytes());
            // A separator no id contains, so ("ab","c") and ("a","bc") differ.
            m.update(&[0]);
        }
        hex::encode(m.finalize().into_bytes())
    }

    /// A record is named by its channel and the platform's id for it.
    pub fn record(&self, channel_id: i64, platform_id: &str) -> String {
        self.mac(&["record", &channel_id.to_string(), platform_id])
    }

    /// An identity is named by its platform and the platform's id for the person.
    pub fn identity(&self, platform: &str, platform_id: &str) -> String {
        self.mac(&["identity", platform, platform_id])
    }
}

/// What makes two plans the same plan: every item's kind, target, decision, ground and dates.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ItemKey {
    pub kind: String,
    pub target_id: Option<i64>,
    pub decision: String,
    pub ground: String,
    pub until: Option<NaiveDate>,
    pub reference: Option<String>,
    pub count: i64,
}

pub fn fingerprint(items: &[ItemKey]) -> String {
    let mut sorted: Vec<&ItemKey> = items.iter().collect();
    sorted.sort();
    let mut h = Sha256::new();
    for k in sorted {
        h.update(format!("{k:?}\n").as_bytes());
    }
    hex::encode(h.finalize())
}

/// How a recomputed plan differs from the one the officer saw, item by item.
pub fn differences(before: &[ItemKey], after: &[ItemKey]) -> Vec<String> {
    let key = |k: &ItemKey| (k.kind.clone(), k.target_id);
    let old: BTreeMap<_, &ItemKey> = before.iter().map(|k| (key(k), k)).collect();
    let new: BTreeMap<_, &ItemKey> = after.iter().map(|k| (key(k), k)).collect();
    let target = |k: &ItemKey| {
        k.target_id
            .map_or_else(|| k.kind.clone(), |t| format!("{} {t}", k.kind))
    };
    let mut out = vec![];
    for (k, a) in &new {
        match old.get(k) {
            None => out.push(format!(
                "{} is new: {} ({})",
                target(a),
                a.decision,
                a.ground
            )),
            Some(b) if b != a => out.push(format!(
                "{}: {} ({}) became {} ({})",
                target(a),
                b.decision,
                b.ground,
                a.decision,
                a.ground
            )),
            _ => {}
        }
    }
    for (k, b) in &old {
        if !new.contains_key(k) {
            out.push(format!("{} is gone: it was to {}", target(b), b.decision));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::rules::DisposalRule;

    fn facts(kind: &str) -> RecordFacts<'_> {
        RecordFacts {
            id: 1,
            kind,
            direction: "received",
            channel_id: 1,
            registered: false,
            author_identity_id: Some(3),
            recipient_identity_id: None,
            made_on: chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
        }
    }

    fn decision(kind: &str, keep: &str) -> DisposalDecision {
        DisposalDecision {
            id: 1,
            reference: "KS 2024-0456".into(),
            decided_on: chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
            rules: vec![DisposalRule {
                kind: Some(kind.into()),
                direction: None,
                channel_id: None,
                registered: None,
                keep: keep.into(),
            }],
        }
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn grounds_follow_the_law_in_order() {
        let p = Policy::default();
        let today = day(2026, 11, 24);
        let ds = [decision("comment", "P5Y"), decision("reaction", "P0D")];
        let hold = HoldFacts {
            id: 4,
            reason: "tvist".into(),
            until: Some(day(2027, 1, 1)),
        };
        let d = |kind, reg, moderated, hold| {
            decide_record(&p, &facts(kind), reg, moderated, hold, &ds, today)
        };
        assert_eq!(
            d("comment", None, false, Some(&hold)).ground,
            Ground::LegalHold
        );
        assert_eq!(
            d("comment", Some("KS 2026-000001"), false, None).ground,
            Ground::RegisteredDocument
        );
        assert_eq!(
            d("comment", None, true, None).ground,
            Ground::ModerationCase
        );
        let kept = d("comment", None, false, None);
        assert_eq!(
            (kept.decision, kept.ground, kept.params.date),
            (
                ItemDecision::Retain,
                Ground::PublicDocument,
                Some(day(2029, 3, 1))
            )
        );
        let gone = d("reaction", None, false, None);
        assert_eq!(
            (gone.decision, gone.ground),
            (ItemDecision::Erase, Ground::DisposalDue)
        );
        assert_eq!(
            d("message", None, false, None).ground,
            Ground::PublicDocumentNoDecision
        );
    }

    #[test]
    fn what_the_municipality_sent_is_kept_as_sent_whatever_the_policy_counts() {
        let p = Policy::from_toml(Some(r#"public_document_kinds = ["comment"]"#)).unwrap();
        let sent = RecordFacts {
            direction: "drawn_up",
            ..facts("message")
        };
        let d = |decisions: &[DisposalDecision]| {
            decide_record(&p, &sent, None, false, None, decisions, day(2026, 1, 1)).ground
        };
        assert_eq!(d(&[]), Ground::SentDocumentNoDecision);
        assert_eq!(d(&[decision("message", "P10Y")]), Ground::SentDocument);
        assert_eq!(d(&[decision("message", "P1D")]), Ground::DisposalDue);
        let words = p.sentence(
            Ground::SentDocumentNoDecision,
            Language::Sv,
            &Params::default(),
        );
        assert!(words.contains("upprättat"), "{words}");
    }

    #[test]
    fn a_kind_the_policy_does_not_count_is_erased() {
        let p = Policy::from_toml(Some(r#"public_document_kinds = ["comment"]"#)).unwrap();
        let d = decide_record(
            &p,
            &facts("reaction"),
            None,
            false,
            None,
            &[],
            day(2026, 1, 1),
        );
        assert_eq!(
            (d.decision, d.ground),
            (ItemDecision::Erase, Ground::NotPublicDocument)
        );
    }

    #[test]
    fn sentences_name_the_rule_and_the_date() {
        let p = Policy::default();
        let s = p.sentence(
            Ground::PublicDocument,
            Language::Sv,
            &Params {
                date: Some(day(2029, 5, 1)),
                reference: Some("KS 2024-0456".into()),
                ..Params::default()
            },
        );
        assert_eq!(
            s,
            "Behålls: allmän handling som inkommit till kommunen (TF 2 kap.), får gallras tidigast \
             2029-05-01 enligt gallringsbeslut KS 2024-0456; GDPR art. 17.3 b och d."
        );
        assert!(
            p.sentence(Ground::LegalHold, Language::En, &Params::default())
                .contains("–")
        );
    }

    #[test]
    fn a_policy_file_overrides_and_is_checked() {
        let p = Policy::from_toml(Some(
            "[grounds.case_file]\nsv = \"Ärendet {reference} bevaras.\"\nen = \"Case {reference} is kept.\"\n",
        ))
        .unwrap();
        assert_eq!(p.grounds["case_file"].en, "Case {reference} is kept.");
        assert!(
            p.grounds.contains_key("public_document"),
            "the rest is kept"
        );
        for bad in [
            "public_document_kinds = [\"tweet\"]",
            "[grounds.case_file]\nsv = \"{name}\"\nen = \"x\"",
            "[grounds.case_file]\nsv = \"\"\nen = \"x\"",
            "[grounds.case_file]\nsv = \"x\"",
            "surprise = 1",
        ] {
            assert!(Policy::from_toml(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn suppression_hashes_need_the_key() {
        let a = SuppressionKey::new(b"one key");
        let b = SuppressionKey::new(b"another key");
        assert_eq!(a.record(1, "1_10"), a.record(1, "1_10"));
        assert_ne!(a.record(1, "1_10"), b.record(1, "1_10"));
        assert_ne!(a.record(1, "1_10"), a.record(11, "_10"));
        assert_ne!(a.identity("facebook", "501"), a.record(1, "501"));
        assert_eq!(a.record(1, "x").len(), 64);
        assert!(!format!("{a:?}").contains("one key"));
    }

    #[test]
    fn differences_are_told_item_by_item() {
        let k = |t, d: &str| ItemKey {
            kind: "record".into(),
            target_id: Some(t),
            decision: d.into(),
            ground: "g".into(),
            until: None,
            reference: None,
            count: 0,
        };
        let before = [k(1, "retain"), k(2, "erase")];
        let after = [k(1, "erase"), k(3, "retain")];
        assert_ne!(fingerprint(&before), fingerprint(&after));
        assert_eq!(
            fingerprint(&before),
            fingerprint(&[k(2, "erase"), k(1, "retain")])
        );
        assert_eq!(
            differences(&before, &after),
            [
                "record 1: retain (g) became erase (g)",
                "record 3 is new: retain (g)",
                "record 2 is gone: it was to erase"
            ]
        );
    }
}
