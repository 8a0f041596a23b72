//! Graph API objects: posts, comments (with replies and reactions), conversations, messages, and
//! Instagram comments.
use super::{Observation, Op, Parsed, attachments_of, person, text_of, time_of};
use crate::archive::rules::{Kind, Visibility, message_id, parse_id};
use serde_json::Value;

/// The id in a comment's `permalink_url` (`…/posts/{post}/?comment_id=…&reply_comment_id=…`)
/// when the object itself carries none, which happens when the caller did not ask for `id`. The
/// Graph API names a comment `{post}_{comment}`, and so does this where the link names the post:
/// the same comment listed with its `id` is then the same record.
fn ids_from_permalink(v: &Value) -> Option<(String, Option<String>)> {
    let link = v.get("permalink_url")?.as_str()?;
    let url = url::Url::parse(link).ok()?;
    let q = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let post = url
        .path_segments()
        .and_then(|mut s| {
            s.by_ref().find(|p| *p == "posts")?;
            s.next()
        })
        .filter(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()));
    let named = |id: String| match post {
        Some(post) => format!("{post}_{id}"),
        None => id,
    };
    match (q("comment_id"), q("reply_comment_id")) {
        (Some(c), Some(r)) => Some((named(r), Some(named(c)))),
        (Some(c), None) => Some((named(c), None)),
        _ => None,
    }
}

fn looks_like_message(v: &Value, id: &str) -> bool {
    id.starts_with("m_")
        || id.starts_with("mid.")
        // A visitor's post has `from` and `to` too, and the Graph API leaves out an empty
        // `comments` edge: what marks a post (its `type`, …) outweighs the pair.
        || (v.get("to").is_some() && v.get("from").is_some() && !looks_like_post(v))
        // What only a message has (Instagram's message ids have no prefix, and its attachments
        // would otherwise make it look like a post).
        || v.get("is_unsupported").is_some()
        || v.pointer("/shares/data").is_some()
        || v.pointer("/story/reply_to").is_some()
        || v.pointer("/story/mention").is_some()
}

fn looks_like_instagram(v: &Value) -> bool {
    v.get("timestamp").is_some() || v.get("username").is_some() || v.get("media").is_some()
}

fn looks_like_post(v: &Value) -> bool {
    [
        "type",
        "status_type",
        "attachments",
        "full_picture",
        "is_published",
        "privacy",
        "actions",
    ]
    .iter()
    .any(|k| v.get(*k).is_some())
        || v.get("comments").is_some()
}

/// One Graph API object at `pointer`; `parent` is the object it was nested under, if any.
pub fn object(v: &Value, pointer: &str, parent: Option<(&str, Kind)>, out: &mut Parsed) {
    if !v.is_object() {
        out.skip(pointer, "not a JSON object");
        return;
    }
    let id = v.get("id").and_then(parse_id);
    // Conversations hold messages; they are not records themselves.
    if v.get("participants").is_some() || id.as_deref().is_some_and(|i| i.starts_with("t_")) {
        let conv = id.clone().unwrap_or_default();
        match v.pointer("/messages/data").and_then(Value::as_array) {
            Some(msgs) => {
                for (i, m) in msgs.iter().enumerate() {
                    message(m, &format!("{pointer}/messages/data/{i}"), Some(&conv), out);
                }
            }
            None => out.skip(
                pointer,
                "a conversation without messages holds nothing to archive",
            ),
        }
        return;
    }
    let (id, permalink_parent) = match id {
        Some(id) => (id, None),
        None => match ids_from_permalink(v) {
            Some((id, p)) => (id, p),
            None => {
                out.skip(
                    pointer,
                    "the object has no id and no permalink_url to take one from",
                );
                return;
            }
        },
    };
    if looks_like_message(v, &id) && parent.is_none() {
        message(v, pointer, None, out);
        return;
    }
    let instagram = looks_like_instagram(v);
    let explicit_parent = v
        .get("parent")
        .and_then(|p| p.get("id"))
        .and_then(parse_id)
        .or(permalink_parent)
        .or_else(|| v.get("parent_id").and_then(parse_id));
    let (kind, parent_id) = match (parent, explicit_parent) {
        (_, Some(p)) => (Kind::Reply, Some(p)),
        (Some((pid, Kind::Post)), None) => (Kind::Comment, Some(pid.to_owned())),
        (Some((pid, _)), None) => (Kind::Reply, Some(pid.to_owned())),
        (None, None) if instagram => (Kind::Comment, v.pointer("/media/id").and_then(parse_id)),
        (None, None) if looks_like_post(v) => (Kind::Post, None),
        (None, None) => (Kind::Comment, v.pointer("/object/id").and_then(parse_id)),
    };
    let hidden = v
        .get("is_hidden")
        .or_else(|| v.get("hidden"))
        .and_then(Value::as_bool);
    // Instagram may give only `username`: with no id there is no identity to link. A Graph
    // comment gives `user: {id}` and the `username` beside it: the name a person gives us.
    let who = v.get("from").or_else(|| v.get("user"));
    let username = who
        .and_then(|w| w.get("username"))
        .or_else(|| v.get("username"))
        .and_then(Value::as_str);
    let author = person(who)
        .map(|mut p| {
            if p.name.is_none() {
                p.name = username.map(str::to_owned);
            }
            if instagram {
                p = super::on_instagram(p, username);
            }
            p
        })
        // Listed with `fields=…,username` an Instagram comment names its commenter by the handle
        // alone: the person is known by it (`@handle`, which no account id can be), so that their
        // comments are theirs to ask for and to have erased. A handle can pass to another account
        // later; the identity is the handle's as the comment gave it.
        .or_else(|| {
            let handle = username.filter(|_| instagram)?;
            let p = super::on_instagram(
                super::Person {
                    platform_id: format!("@{handle}"),
                    name: Some(handle.to_owned()),
                    profile_link: None,
                },
                Some(handle),
            );
            p.profile_link.is_some().then_some(p)
        });
    out.observations.push(Observation {
        kind,
        platform_id: id.clone(),
        parent_platform_id: parent_id,
        author,
        recipient: None,
        also_to: vec![],
        platform_time: time_of(v, &["created_time", "timestamp"]),
        text: text_of(v, &["message", "text"]),
        reaction_type: None,
        attachments: attachments_of(v),
        visibility: hidden.map(|h| {
            if h {
                Visibility::Hidden
            } else {
                Visibility::Visible
            }
        }),
        op: Op::Seen,
        pointer: pointer.to_owned(),
        page: None,
    });
    for key in ["comments", "replies"] {
        if let Some(items) = v.pointer(&format!("/{key}/data")).and_then(Value::as_array) {
            for (i, c) in items.iter().enumerate() {
                object(
                    c,
                    &format!("{pointer}/{key}/data/{i}"),
                    Some((&id, kind)),
                    out,
                );
            }
        }
    }
    reactions(v, pointer, &id, out);
}

/// `reactions.data[]` as `{id, name, type}` (Facebook) or `{reaction, users[]}` (Instagram).
fn reactions(v: &Value, pointer: &str, target: &str, out: &mut Parsed) {
    let Some(items) = v.pointer("/reactions/data").and_then(Value::as_array) else {
        return;
    };
    reactions_in(items, &format!("{pointer}/reactions/data"), target, out);
}

/// The reactions `items` (at `pointer`) to `target`.
pub fn reactions_in(items: &[Value], pointer: &str, target: &str, out: &mut Parsed) {
    for (i, r) in items.iter().enumerate() {
        let here = format!("{pointer}/{i}");
        let (people, kind): (Vec<Option<super::Person>>, Option<String>) =
            match r.get("users").and_then(Value::as_array) {
                Some(users) => (
                    users.iter().map(|u| person(Some(u))).collect(),
                    text_of(r, &["reaction"]),
                ),
                None => (vec![person(Some(r))], text_of(r, &["type", "reaction"])),
            };
        for p in people {
            let Some(p) = p else {
                out.skip(&here, "a reaction without the reacting person's id");
                continue;
            };
            out.observations.push(Observation {
                kind: Kind::Reaction,
                platform_id: format!("{target}/reaction/{}", p.platform_id),
                parent_platform_id: Some(target.to_owned()),
                author: Some(p),
                recipient: None,
                also_to: vec![],
                platform_time: None,
                text: None,
                reaction_type: kind.as_ref().map(|k| k.to_lowercase()),
                attachments: vec![],
                visibility: None,
                op: Op::Seen,
                pointer: here.clone(),
                page: None,
            });
        }
    }
}

fn message(v: &Value, pointer: &str, conversation: Option<&str>, out: &mut Parsed) {
    let Some(id) = v.get("id").and_then(parse_id).map(message_id) else {
        out.skip(pointer, "a message without an id");
        return;
    };
    // Only Instagram names people by `username`.
    let someone = |who: &Value| {
        let username = who.get("username").and_then(Value::as_str);
        person(Some(who)).map(|p| super::on_instagram(p, username))
    };
    let author = v.get("from").and_then(someone);
    // A Page's conversation has two people in it: `to` names the one who is not `from` (and the
    // Page itself, when `from` is left out; the import knows which that is).
    let mut to: Vec<_> = v
        .pointer("/to/data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(someone)
        .filter(|p| {
            author
                .as_ref()
                .is_none_or(|a| a.platform_id != p.platform_id)
        })
        .collect();
    let recipient = (!to.is_empty()).then(|| to.remove(0));
    out.observations.push(Observation {
        kind: Kind::Message,
        platform_id: id.clone(),
        parent_platform_id: conversation.map(str::to_owned),
        author,
        recipient,
        also_to: to,
        platform_time: time_of(v, &["created_time", "timestamp"]),
        text: text_of(v, &["message", "text"]),
        reaction_type: None,
        attachments: attachments_of(v),
        visibility: None,
        op: Op::Seen,
        pointer: pointer.to_owned(),
        page: None,
    });
    reactions(v, pointer, &id, out);
}
