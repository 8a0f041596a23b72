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
    /// Whom a message was sent to (`recipient`, `to`), as the payload names them.
    pub recipient: Option<Person>,
    /// The others a Graph message's `to` names besides `recipient`: the import, which knows the
    /// channel's account, picks the person among them when `recipient` is the account itself.
    pub also_to: Vec<Person>,
    pub platform_time: Option<DateTime<Utc>>,
    pub text: Option<String>,
    pub reaction_type: Option<String>,
    pub attachments: Vec<Attachment>,
    /// The visibility the payload states outright (`is_hidden`, `hidden`), if it does.
    pub visibility: Option<Visibility>,
    pub op: Op,
    /// Where in the payload it was found, as a JSON pointer.
    pub pointer: String,
    /// The account a webhook delivery's entry names (`entry[].id`): Meta batches the events of
    /// several Pages into one delivery, and each belongs to its own Page's channel.
    pub page: Option<String>,
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
    if let Some(pointer) = has_nul(payload)
        .then(|| nul_at(payload, String::new()))
        .flatten()
    {
        return Err(Rejected {
            pointer,
            reason: format!("{} (PostgreSQL cannot store it)", crate::http::nul::REASON),
        });
    }
    let mut out = Parsed::default();
    match payload {
        Value::Object(o) if o.contains_key("entry") && o.contains_key("object") => {
            webhook::parse(payload, &mut out)?
        }
        Value::Object(o) if o.get("data").is_some_and(Value::is_array) => {
            let items = o["data"].as_array().map(Vec::as_slice).unwrap_or_default();
            match list_owner(payload) {
                Some(Owner::Reacted(target)) => {
                    graph::reactions_in(items, "/data", &target, &mut out)
                }
                Some(Owner::Posted(page)) => {
                    for (i, item) in items.iter().enumerate() {
                        let from = out.observations.len();
                        let pointer = format!("/data/{i}");
                        graph::object(item, &pointer, None, &mut out);
                        // A Page's `posts` are its own: the Page wrote what names no author.
                        for o in &mut out.observations[from..] {
                            if o.pointer == pointer && o.author.is_none() {
                                o.kind = Kind::Post;
                                o.parent_platform_id = None;
                                o.author = Some(Person {
                                    platform_id: page.clone(),
                                    name: None,
                                    profile_link: None,
                                });
                            }
                        }
                    }
                }
                Some(Owner::Answered(id, kind)) => {
                    for (i, item) in items.iter().enumerate() {
                        graph::object(item, &format!("/data/{i}"), Some((&id, kind)), &mut out);
                    }
                }
                None => {
                    for (i, item) in items.iter().enumerate() {
                        graph::object(item, &format!("/data/{i}"), None, &mut out);
                    }
                }
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
    // What an erasure left is named `erased:…`: a payload naming an item or a person so is not
    // taken for it (a tombstone would otherwise take the item in, an erased identity the person).
    let reserved = |id: &str| id.starts_with(super::rules::ERASED_PREFIX);
    let mut kept = Vec::with_capacity(out.observations.len());
    for mut o in std::mem::take(&mut out.observations) {
        if reserved(&o.platform_id) {
            out.skip(
                o.pointer.clone(),
                "an id beginning with erased: names what an erasure left, never a platform's item",
            );
            continue;
        }
        if o.author.as_ref().is_some_and(|p| reserved(&p.platform_id)) {
            o.author = None;
        }
        if o.recipient
            .as_ref()
            .is_some_and(|p| reserved(&p.platform_id))
        {
            o.recipient = None;
        }
        if o.parent_platform_id.as_deref().is_some_and(reserved) {
            o.parent_platform_id = None;
        }
        kept.push(o);
    }
    out.observations = kept;
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

fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(o) => o.iter().any(|(k, item)| k.contains('\0') || has_nul(item)),
        _ => false,
    }
}

/// The JSON pointer of the first string (or object key) in `v` that holds a NUL character.
fn nul_at(v: &Value, at: String) -> Option<String> {
    match v {
        Value::String(s) => s.contains('\0').then_some(at),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_at(item, format!("{at}/{i}"))),
        Value::Object(o) => o.iter().find_map(|(k, item)| {
            let here = format!("{at}/{}", escape_pointer(k));
            if k.contains('\0') {
                Some(here)
            } else {
                nul_at(item, here)
            }
        }),
        _ => None,
    }
}

/// What the items of a Graph API list belong to.
enum Owner {
    /// They answer this object, of this kind.
    Answered(String, Kind),
    /// They are reactions to this object.
    Reacted(String),
    /// They are this Page's own posts.
    Posted(String),
}

/// Whose comments, replies or reactions a Graph API list holds. The items of
/// `GET /{post}/comments`, `GET /{comment}/replies` or `GET /{object}/reactions` do not name
/// what they belong to; the list's paging links do.
fn list_owner(list: &Value) -> Option<Owner> {
    let paging = list.get("paging")?;
    let link = ["next", "previous"]
        .iter()
        .find_map(|k| paging.get(*k)?.as_str())?;
    let url = url::Url::parse(link).ok()?;
    let segments: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
    let [.., owner, edge] = segments.as_slice() else {
        return None;
    };
    let kind = match *edge {
        // Facebook lists a comment's replies as its `comments` too. The Graph API names a post's
        // comments `{post}_{comment}` and a comment's replies `{post}_{reply}`: an item that
        // shares the owner's first part answers a comment, one that starts with its last part a post.
        "comments" if answers_a_comment(owner, list) => Kind::Comment,
        "comments" => Kind::Post,
        "replies" => Kind::Comment,
        "reactions" => return is_id(owner).then(|| Owner::Reacted((*owner).to_owned())),
        // Not `feed`, which holds visitors' posts too.
        "posts" | "published_posts" => {
            return is_id(owner).then(|| Owner::Posted((*owner).to_owned()));
        }
        _ => return None,
    };
    is_id(owner).then(|| Owner::Answered((*owner).to_owned(), kind))
}

/// A Graph API object id, not a version segment (`v11.0`) or an edge.
fn is_id(segment: &str) -> bool {
    !segment.is_empty() && segment.bytes().all(|c| c.is_ascii_digit() || c == b'_')
}

fn answers_a_comment(owner: &str, list: &Value) -> bool {
    let Some((post, _)) = owner.split_once('_') else {
        return false;
    };
    list["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("id").and_then(parse_id))
        .any(|id| id.split_once('_').is_some_and(|(first, _)| first == post))
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

/// An Instagram account's profile is its username's page: with it, a request naming the account
/// by its username (what a person knows of their own account) finds it exactly, not by name.
pub(crate) fn on_instagram(mut p: Person, username: Option<&str>) -> Person {
    if p.profile_link.is_none()
        && let Some(u) = username.filter(|u| {
            !u.is_empty()
                && u.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_')
        })
    {
        p.profile_link = Some(format!("https://www.instagram.com/{u}/"));
    }
    p
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
