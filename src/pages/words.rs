//! What the stores keep as keys and JSON, told in the page's words: a request's history, how an
//! account was shown to be the person's, a platform's name.
use super::Lang;
use serde_json::Value;
use std::collections::HashMap;

/// A platform's name as people write it ("LinkedIn", not "Linkedin"); one the pages do not know
/// is shown as it is stored.
pub fn platform(lang: Lang, p: &str) -> String {
    let key = format!("platform_{p}");
    let name = lang.text(&key, &[]);
    if name == key { p.to_owned() } else { name }
}

/// "Facebook: anna.andersson", an account as the officer and the person know it.
fn account(lang: Lang, a: &Value) -> String {
    format!(
        "{}: {}",
        platform(lang, a["platform"].as_str().unwrap_or_default()),
        a["value"].as_str().unwrap_or_default()
    )
}

/// How control of an account was shown (`verified_by`): `officer:e_id` is the officer's check
/// with e-ID, `platform_message:record:42` a message from the account, archived as record 42.
pub fn verified_how(lang: Lang, by: &str) -> String {
    if let Some(method) = by.strip_prefix("officer:") {
        let key = format!("method_{method}");
        let words = lang.text(&key, &[]);
        let words = if words == key {
            method.to_owned()
        } else {
            words
        };
        return lang.text("verified_by_officer", &[("method", words)]);
    }
    if let Some(record) = by.strip_prefix("platform_message:record:") {
        return lang.text("verified_by_message", &[("record", record.to_owned())]);
    }
    by.to_owned()
}

/// Gives each named account of the request view `r` its platform's name and, once verified, how
/// (`platform_name`, `verified_how`).
pub fn name_accounts(lang: Lang, r: &mut Value) {
    let Some(accounts) = r.get_mut("identities").and_then(Value::as_array_mut) else {
        return;
    };
    for a in accounts {
        let name = platform(lang, a["platform"].as_str().unwrap_or_default());
        a["platform_name"] = Value::String(name);
        if let Some(by) = a["verified_by"].as_str() {
            a["verified_how"] = Value::String(verified_how(lang, by));
        }
    }
}

/// Gives each entry of the request view `r`'s history what its details say (`said`), where they
/// say something: the note's text, a refusal's reason, an extension's months and reason, the
/// accounts an officer verified. `items` names the erasure items the history mentions.
pub fn tell_history(lang: Lang, r: &mut Value, items: &HashMap<i64, String>) {
    let accounts: HashMap<i64, String> = r["identities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| Some((a["id"].as_i64()?, account(lang, a))))
        .collect();
    let Some(history) = r.get_mut("history").and_then(Value::as_array_mut) else {
        return;
    };
    for h in history {
        let said = said(
            lang,
            h["kind"].as_str().unwrap_or_default(),
            &h["details"],
            &accounts,
            items,
        );
        if !said.is_empty() {
            h["said"] = Value::String(said);
        }
    }
}

/// The erasure items a history mentions, by id, for [`tell_history`] to name.
pub fn mentioned_items(r: &Value) -> Vec<i64> {
    r["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| {
            h["kind"]
                .as_str()
                .is_some_and(|k| k.starts_with("erasure_item_"))
        })
        .filter_map(|h| h["details"]["item"].as_i64())
        .collect()
}

fn said(
    lang: Lang,
    kind: &str,
    d: &Value,
    accounts: &HashMap<i64, String>,
    items: &HashMap<i64, String>,
) -> String {
    let s = |key: &str| {
        d[key]
            .as_str()
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    let n = |key: &str| d[key].as_i64();
    let t = |key: &str, args: &[(&str, String)]| lang.text(key, args);
    let named = |id: i64| {
        accounts
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("#{id}"))
    };
    let mut parts: Vec<String> = vec![];
    match kind {
        "received" if !s("due_at").is_empty() => {
            parts.push(t("said_due", &[("date", s("due_at"))]))
        }
        "code_wrong" => {
            if let Some(a) = n("attempt") {
                parts.push(t(
                    "said_attempt",
                    &[
                        ("n", a.to_string()),
                        ("of", crate::requests::rules::CODE_ATTEMPTS.to_string()),
                    ],
                ));
            }
        }
        "account_verified" => {
            if let Some(a) = n("request_identity") {
                parts.push(t("said_account", &[("account", named(a))]));
            }
            if let Some(rec) = n("record") {
                parts.push(t("said_by_record", &[("record", rec.to_string())]));
            }
        }
        "identity_verified" => {
            let method = s("method");
            if !method.is_empty() {
                let key = format!("method_{method}");
                let words = t(&key, &[]);
                parts.push(t(
                    "said_method",
                    &[("method", if words == key { method } else { words })],
                ));
            }
            let which = match d["accounts"].as_array() {
                Some(ids) => ids
                    .iter()
                    .filter_map(Value::as_i64)
                    .map(named)
                    .collect::<Vec<_>>()
                    .join(", "),
                None => t("said_every_account", &[]),
            };
            parts.push(t("said_accounts", &[("accounts", which)]));
            if !s("note").is_empty() {
                parts.push(t("said_note", &[("note", s("note"))]));
            }
        }
        "match_confirmed" | "match_rejected" => {
            if let Some(i) = n("identity") {
                parts.push(t("said_identity", &[("identity", i.to_string())]));
            }
        }
        "assigned" if !s("assignee").is_empty() => {
            parts.push(t("said_assignee", &[("assignee", s("assignee"))]))
        }
        "note" => parts.push(s("text")),
        "extended" => {
            let months = n("months").unwrap_or(1);
            parts.push(t(
                "said_extended",
                &[
                    (
                        "months",
                        t(
                            if months == 1 {
                                "one_month"
                            } else {
                                "two_months"
                            },
                            &[],
                        ),
                    ),
                    ("date", s("due_at")),
                ],
            ));
            if !s("reason").is_empty() {
                parts.push(t("said_reason", &[("reason", s("reason"))]));
            }
        }
        "refused" if !s("reason").is_empty() => {
            parts.push(t("said_reason", &[("reason", s("reason"))]))
        }
        "completed" if !s("summary").is_empty() => {
            parts.push(t("said_summary", &[("summary", s("summary"))]))
        }
        "carried_out" => {
            for key in ["done", "not_done"] {
                parts.extend(
                    d[key]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(str::to_owned),
                );
            }
        }
        "restriction_lifted" => {
            if let Some(records) = n("records") {
                parts.push(t("said_records", &[("n", records.to_string())]));
            }
        }
        "erasure_planned" => {
            let totals = &d["totals"];
            let counted: Vec<String> = ["erase", "unpublish", "retain_under_hold", "retain"]
                .iter()
                .map(|k| (format!("decision_{k}"), totals[k].as_i64()))
                .chain([("excluded".to_owned(), totals["excluded"].as_i64())])
                .filter_map(|(key, count)| Some(format!("{}: {}", t(&key, &[]), count?)))
                .collect();
            if !counted.is_empty() {
                parts.push(counted.join(", "));
            }
        }
        "erasure_item_excluded" | "erasure_item_included" => {
            if let Some(i) = n("item") {
                let label = items.get(&i).cloned().unwrap_or_else(|| format!("#{i}"));
                parts.push(t("said_item", &[("item", label)]));
            }
        }
        "erasure_executed" if d["recomputed"].as_bool() == Some(true) => {
            parts.push(t("said_recomputed", &[]))
        }
        _ => {}
    }
    parts.retain(|p| !p.is_empty());
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_history_is_told_in_words() {
        let mut r = json!({
            "identities": [{"id": 7, "platform": "linkedin", "value": "anna", "verified_by": "officer:e_id"}],
            "history": [
                {"kind": "note", "details": {"text": "Ringde personen."}},
                {"kind": "extended", "details": {"months": 2, "due_at": "2026-05-04", "reason": "Många poster."}},
                {"kind": "identity_verified", "details": {"method": "e_id", "note": null, "accounts": [7]}},
                {"kind": "refused", "details": {"reason": "Uppenbart ogrundad."}},
                {"kind": "erasure_item_excluded", "details": {"plan": 1, "item": 3}},
                {"kind": "cancelled", "details": {}},
            ],
        });
        name_accounts(Lang::Sv, &mut r);
        let items = HashMap::from([(3, "Kommentar 2024-03-01".to_owned())]);
        tell_history(Lang::Sv, &mut r, &items);
        let said: Vec<&str> = r["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["said"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(said[0], "Ringde personen.");
        assert_eq!(
            said[1],
            "Med 2 månader, till 2026-05-04. Skäl: Många poster."
        );
        assert_eq!(said[2], "Sätt: E-legitimation. Konton: LinkedIn: anna.");
        assert_eq!(said[3], "Skäl: Uppenbart ogrundad.");
        assert_eq!(said[4], "Post: Kommentar 2024-03-01.");
        assert_eq!(said[5], "");
        assert_eq!(
            r["identities"][0]["verified_how"],
            "av handläggaren (E-legitimation)"
        );
        assert_eq!(
            verified_how(Lang::En, "platform_message:record:42"),
            "by a message from the account (record 42)"
        );
        assert_eq!(platform(Lang::Sv, "other"), "Annan");
        assert_eq!(platform(Lang::En, "youtube"), "YouTube");
        assert_eq!(platform(Lang::En, "mastodon"), "mastodon");
    }
}

/// The store's reasons (the API's English) that a Swedish page tells in its own words: a part of
/// the reason, and the text that says it.
const REASONS: &[(&str, &str)] = &[
    ("before the original due date", "why_extend_late"),
    ("no more codes can be sent", "why_codes_used"),
    ("is verified yet", "why_unverified"),
    (
        "an erasure request is answered by its plan",
        "why_erasure_by_plan",
    ),
    ("is answered by `carry-out`", "why_by_carry_out"),
    ("is answered by `complete`", "why_by_complete"),
    ("the match is ", "why_match_decided"),
    ("the plan was executed", "why_plan_executed"),
    ("is kept already", "why_item_kept"),
    ("it was lifted before", "why_lifted_before"),
    ("only a restriction can be lifted", "why_not_restriction"),
    ("has no erasure plan", "why_not_erasure"),
    (
        "say what is wrong and what is right",
        "why_correction_needed",
    ),
    (
        "name the records the correction concerns",
        "why_records_needed",
    ),
    (
        "is not an account this request names",
        "why_account_not_named",
    ),
];

/// A reason of the store's that [`REASONS`] (or a pattern with a number in it) knows, in the
/// page's words.
fn known(lang: Lang, reason: &str) -> Option<String> {
    // "at most two months in all; 1 already granted"
    if let Some(rest) = reason.strip_prefix("at most two months in all; ") {
        let granted = rest.split(' ').next().unwrap_or_default();
        let granted = match granted {
            "1" => lang.text("one_month", &[]),
            "2" => lang.text("two_months", &[]),
            _ => lang.text("no_months", &[]),
        };
        return Some(lang.text("why_extend_months", &[("granted", granted)]));
    }
    // "record 42 is not one of the person's verified accounts' records"
    if let Some(rest) = reason.strip_prefix("record ")
        && let Some((record, _)) = rest.split_once(" is not one of the person's")
    {
        return Some(lang.text("why_record_not_theirs", &[("record", record.to_owned())]));
    }
    REASONS
        .iter()
        .find(|(part, _)| reason.contains(part))
        .map(|(_, key)| lang.text(key, &[]))
}

/// Whom a page speaks to: the person the request is about, or the municipality's staff (to whom a
/// status is told about the person, not to them).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Voice {
    Citizen,
    Staff,
}

impl Voice {
    /// The text key of a status in this voice.
    pub fn status_key(self, status: &str) -> String {
        match self {
            Voice::Citizen => format!("status_{status}"),
            Voice::Staff => format!("staff_status_{status}"),
        }
    }
}

/// What the page says of an action the request's state does not allow (`RequestError::Illegal`).
/// English pages keep the store's reason, which is English. A Swedish page says a reason it knows
/// in Swedish, and otherwise what could not be done (`doing`: `doing_assign`, …) and the request's
/// status now, in words, in the page's `voice`.
pub fn illegal(lang: Lang, voice: Voice, doing: &str, status: Option<&str>, why: &str) -> String {
    if lang == Lang::En {
        return lang.text("not_allowed", &[("reason", why.to_owned())]);
    }
    if let Some(said) = known(lang, why) {
        return said;
    }
    let doing = lang.text(doing, &[]);
    let mut said = match status {
        Some(s) => lang.text(
            "not_possible_now",
            &[
                ("doing", doing),
                ("status", lang.text(&voice.status_key(s), &[])),
            ],
        ),
        None => lang.text("not_possible", &[("doing", doing)]),
    };
    for (end, hint) in [
        ("assign it first", "hint_assign_first"),
        ("compute a plan first", "hint_plan_first"),
    ] {
        if why.ends_with(end) {
            said = format!("{said} {}", lang.text(hint, &[]));
        }
    }
    said
}

/// What the page says of a field the store would not take (`RequestError::Invalid`): the pages'
/// own checks give their reasons in the page's language already; the store's known reasons are
/// told in Swedish on a Swedish page.
pub fn invalid(lang: Lang, reason: &str) -> String {
    match lang {
        Lang::Sv => known(lang, reason).unwrap_or_else(|| reason.to_owned()),
        Lang::En => reason.to_owned(),
    }
}

#[cfg(test)]
mod reasons {
    use super::*;

    /// The Swedish texts match the store's English by a part of it: should the store reword a
    /// reason, this fails rather than the page quietly falling back to English.
    #[test]
    fn every_reason_told_in_swedish_is_one_the_store_gives() {
        let store = [
            include_str!("../requests/store/officer.rs"),
            include_str!("../requests/store/proof.rs"),
            include_str!("../requests/store/rights.rs"),
            include_str!("../erasure/store.rs"),
        ]
        .concat();
        for (part, _) in REASONS {
            assert!(store.contains(part), "no store reason holds {part:?}");
        }
        for part in ["at most two months in all; ", " is not one of the person's"] {
            assert!(store.contains(part), "no store reason holds {part:?}");
        }
    }

    #[test]
    fn a_swedish_page_tells_the_stores_reasons_in_swedish() {
        let said = illegal(
            Lang::Sv,
            Voice::Citizen,
            "doing_complete",
            Some("verified"),
            "a request that is verified cannot be completed",
        );
        assert_eq!(
            said,
            "Det går inte att slutföra ärendet nu. Ärendets status är ”Bekräftad, väntar på handläggning”."
        );
        assert_eq!(
            illegal(
                Lang::Sv,
                Voice::Citizen,
                "doing_plan",
                Some("verified"),
                "a request that is verified cannot be planned; assign it first"
            ),
            "Det går inte att beräkna raderingsplanen nu. Ärendets status är ”Bekräftad, väntar på handläggning”. Tilldela ärendet först."
        );
        assert_eq!(
            invalid(Lang::Sv, "at most two months in all; 2 already granted"),
            "Svarstiden kan förlängas med högst två månader sammanlagt. Redan beviljat: 2 månader."
        );
        assert_eq!(
            invalid(
                Lang::Sv,
                "record 42 is not one of the person's verified accounts' records"
            ),
            "Post 42 hör inte till något av personens bekräftade konton."
        );
        // A reason the page gave in its own words passes as it is.
        assert_eq!(invalid(Lang::Sv, "Fyll i fältet."), "Fyll i fältet.");
        // English pages keep the store's English.
        assert_eq!(
            illegal(
                Lang::En,
                Voice::Citizen,
                "doing_complete",
                Some("verified"),
                "no more codes can be sent"
            ),
            "That is not possible now: no more codes can be sent"
        );
        for (_, key) in REASONS {
            let sv = Lang::Sv.text(key, &[]);
            assert!(sv != *key && !sv.is_empty(), "no Swedish for {key}");
        }
    }
}
