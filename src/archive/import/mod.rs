//! Reading platform payloads as the platforms send them into [`Observation`]s: what was seen of
//! which item, and what happened to it. One parser per format; all pure.
mod graph;
mod webhook;

use super::rules::{Attachment, Kind, Visibility, parse_id, parse_time};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// A person as the payload names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub platform_id: String,
    pub name: Option<String>,
    pub profile_link: Option<String>,
}

/// What the payload says happened to the item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// The item as it is now (a Graph API object, a webhook `add`).
    Seen,
    /// New content (`edited`, `message_edit`, a reaction changed).
    Edited,
    Hide,
    Unhide,
    /// Removed from the channel by the Page, or a reaction taken back.
    Remove,
    /// Deleted by its author.
    Delete,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    pub kind: Kind,
    pub platform_id: String,
    pub parent_platform_id: Option<String>,
    pub author: Option<Person>,
    pub platform_time: Option<DateTime<Utc>>,
    pub text: Option<String>,
    pub reaction_type: Option<String>,
    pub attachments: Vec<Attachment>,
    /// The visibility the payload states outright (`is_hidden`, `hidden`), if it does.
    pub visibility: Option<Visibility>,
    pub op: Op,
    /// Where in the payload it was found, as a JSON pointer.
    pub pointer: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub pointer: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Parsed {
    pub observations: Vec<Observation>,
    pub skipped: Vec<Skipped>,
}

/// A payload that is not archive content at all: the whole request is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {reason}")]
pub struct Rejected {
    pub pointer: String,
    pub reason: String,
}

impl Parsed {
    fn skip(&mut self, pointer: impl Into<String>, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            pointer: pointer.into(),
            reason: reason.into(),
        });
    }
}

/// Parses one payload (a JSON document or one NDJSON line).
pub fn parse(payload: &Value) -> Result<Parsed, Rejected> {
    let mut out = Parsed::default();
    match payload {
        Value::Object(o) if o.contains_key("entry") && o.contains_key("object") => {
            webhook::parse(payload, &mut out)?
        }
        Value::Object(o) if o.get("data").is_some_and(Value::is_array) => {
            for (i, item) in o["data"].as_array().into_iter().flatten().enumerate() {
                graph::object(item, &format!("/data/{i}"), None, &mut out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                graph::object(item, &format!("/{i}"), None, &mut out);
            }
        }
        Value::Object(o)
            if !o.is_empty()
                && o.iter()
                    .all(|(k, v)| v.get("id").and_then(parse_id).as_deref() == Some(k)) =>
        {
            // The Graph API's `?ids=` answer: an object keyed by id.
            for (k, item) in o {
                graph::object(item, &format!("/{}", escape_pointer(k)), None, &mut out);
            }
        }
        Value::Object(_) => graph::object(payload, "", None, &mut out),
        _ => {
            return Err(Rejected {
                pointer: "".into(),
                reason: "expected a JSON object or array from the Graph API or a webhook".into(),
            });
        }
    }
    if out.observations.is_empty() {
        // Nothing to archive: say why, with the first reason found.
        return Err(match out.skipped.into_iter().next() {
            Some(s) => Rejected {
                pointer: s.pointer,
                reason: format!("no archive content: {}", s.reason),
            },
            None => Rejected {
                pointer: "".into(),
                reason:
                    "no archive content found: not a Graph API object, list or webhook delivery"
                        .into(),
            },
        });
    }
    Ok(out)
}

/// Parses several payloads, each named by a prefix (`line 3: `, `file.json: `) that is put before
/// the JSON pointers it reports. The first payload that is not archive content rejects them all.
pub fn parse_all<'a>(
    documents: impl IntoIterator<Item = (&'a str, &'a Value)>,
) -> Result<Parsed, Rejected> {
    let mut all = Parsed::default();
    for (prefix, doc) in documents {
        let parsed = parse(doc).map_err(|r| Rejected {
            pointer: format!(
                "{prefix}{}",
                if r.pointer.is_empty() {
                    "/"
                } else {
                    &r.pointer
                }
            ),
            reason: r.reason,
        })?;
        all.observations.extend(parsed.observations);
        all.skipped.extend(parsed.skipped.into_iter().map(|mut s| {
            s.pointer = format!("{prefix}{}", s.pointer);
            s
        }));
    }
    Ok(all)
}

/// Splits NDJSON into (prefix, document) pairs; a line that is not JSON is named by its number.
pub fn ndjson(text: &str) -> Result<Vec<(String, Value)>, Rejected> {
    let mut docs = vec![];
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v = serde_json::from_str(line).map_err(|e| Rejected {
            pointer: format!("line {}", n + 1),
            reason: format!("is not valid JSON: {e}"),
        })?;
        docs.push((format!("line {}: ", n + 1), v));
    }
    Ok(docs)
}

pub(crate) fn escape_pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// `from`, `user`, `sender`: `{id, name?, username?}` or a bare id.
pub(crate) fn person(v: Option<&Value>) -> Option<Person> {
    let v = v?;
    let id = v.get("id").and_then(parse_id).or_else(|| parse_id(v))?;
    let username = v.get("username").and_then(Value::as_str).map(str::to_owned);
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| username.clone());
    Some(Person {
        platform_id: id,
        name,
        profile_link: v.get("link").and_then(Value::as_str).map(str::to_owned),
    })
}

pub(crate) fn text_of(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .map(str::to_owned)
}

pub(crate) fn time_of(v: &Value, keys: &[&str]) -> Option<DateTime<Utc>> {
    keys.iter().find_map(|k| v.get(*k).and_then(parse_time))
}

/// Attachments from `attachments.data[]`, `attachment`, or webhook `photo`/`link`/`video` fields.
pub(crate) fn attachments_of(v: &Value) -> Vec<Attachment> {
    let mut out = Vec::new();
    let mut one = |a: &Value| {
        let url = a
            .pointer("/image_data/url")
            .or_else(|| a.pointer("/video_data/url"))
            .or_else(|| a.pointer("/media/image/src"))
            .or_else(|| a.get("file_url"))
            .or_else(|| a.get("url"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mime = a
            .get("mime_type")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let kind = a
            .get("type")
            .or_else(|| a.get("media_type"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                mime.as_deref()
                    .and_then(|m| m.split('/').next())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "file".into());
        out.push(Attachment {
            kind,
            url,
            mime,
            size: a.get("size").and_then(Value::as_i64),
        });
    };
    if let Some(list) = v.pointer("/attachments/data").and_then(Value::as_array) {
        list.iter().for_each(&mut one);
    }
    if let Some(a) = v.get("attachment").filter(|a| a.is_object()) {
        one(a);
    }
    for (key, kind) in [("photo", "photo"), ("video", "video"), ("link", "link")] {
        if let Some(url) = v.get(key).and_then(Value::as_str) {
            out.push(Attachment {
                kind: kind.into(),
                url: Some(url.to_owned()),
                mime: None,
                size: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
