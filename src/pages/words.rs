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
