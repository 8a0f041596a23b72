//! Page and Instagram webhook deliveries: `entry[].changes[]` (`feed`, `comments`) and
//! `entry[].messaging[]` (Messenger).
use super::{Observation, Op, Parsed, Rejected, attachments_of, person, text_of, time_of};
use crate::archive::rules::{Kind, Visibility, message_id, parse_id};
use serde_json::Value;

pub fn parse(v: &Value, out: &mut Parsed) -> Result<(), Rejected> {
    let Some(entries) = v.get("entry").and_then(Value::as_array) else {
        return Err(Rejected {
            pointer: "/entry".into(),
            reason: "a webhook delivery needs an `entry` array".into(),
        });
    };
    for (e, entry) in entries.iter().enumerate() {
        let entry_time = time_of(entry, &["time"]);
        let first = out.observations.len();
        for (c, change) in entry
            .get("changes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let here = format!("/entry/{e}/changes/{c}");
            let Some(value) = change.get("value") else {
                out.skip(&here, "a change without a value");
                continue;
            };
            match change.get("field").and_then(Value::as_str) {
                Some("feed") => feed(value, &format!("{here}/value"), entry_time, out),
                Some("comments") => {
                    instagram_comment(value, &format!("{here}/value"), entry_time, out)
                }
                Some(other) => {
                    out.skip(&here, format!("field `{other}` carries no archive content"))
                }
                None => out.skip(&here, "a change without a field"),
            }
        }
        for (m, msg) in entry
            .get("messaging")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            messaging(msg, &format!("/entry/{e}/messaging/{m}"), out);
        }
        let page = entry.get("id").and_then(parse_id);
        for o in &mut out.observations[first..] {
            o.page.clone_from(&page);
        }
    }
    Ok(())
}

fn op_of(verb: &str) -> Option<Op> {
    Some(match verb {
        "add" => Op::Seen,
        "edited" | "edit" => Op::Edited,
        "hide" => Op::Hide,
        "unhide" => Op::Unhide,
        "remove" | "delete" => Op::Remove,
        _ => return None,
    })
}

fn feed(
    v: &Value,
    pointer: &str,
    entry_time: Option<chrono::DateTime<chrono::Utc>>,
    out: &mut Parsed,
) {
    let item = v.get("item").and_then(Value::as_str).unwrap_or_default();
    let verb = v.get("verb").and_then(Value::as_str).unwrap_or_default();
    let Some(op) = op_of(verb) else {
        out.skip(
            pointer,
            format!("verb `{verb}` is not one the archive records"),
        );
        return;
    };
    let author = person(v.get("from")).or_else(|| {
        v.get("sender_id")
            .and_then(parse_id)
            .map(|id| super::Person {
                platform_id: id,
                name: v
                    .get("sender_name")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                profile_link: None,
            })
    });
    let time = time_of(v, &["created_time"]).or(entry_time);
    let post_id = v.get("post_id").and_then(parse_id);
    let parent_id = v.get("parent_id").and_then(parse_id);
    let base = |kind, platform_id: String, parent: Option<String>| Observation {
        kind,
        platform_id,
        parent_platform_id: parent,
        author: author.clone(),
        recipient: None,
        also_to: vec![],
        platform_time: time,
        text: text_of(v, &["message"]),
        reaction_type: None,
        attachments: attachments_of(v),
        visibility: v.get("is_hidden").and_then(Value::as_bool).map(|h| {
            if h {
                Visibility::Hidden
            } else {
                Visibility::Visible
            }
        }),
        op,
        pointer: pointer.to_owned(),
        page: None,
    };
    match item {
        "comment" => {
            let Some(id) = v.get("comment_id").and_then(parse_id) else {
                out.skip(pointer, "a comment change without comment_id");
                return;
            };
            let kind = if parent_id.is_some() && parent_id != post_id {
                Kind::Reply
            } else {
                Kind::Comment
            };
            out.observations.push(base(kind, id, parent_id.or(post_id)));
        }
        "post" | "status" | "photo" | "video" | "share" | "link" | "note" | "event" | "album" => {
            let Some(id) = post_id else {
                out.skip(pointer, "a post change without post_id");
                return;
            };
            out.observations.push(base(Kind::Post, id, None));
        }
        "reaction" | "like" => {
            let Some(target) = v.get("comment_id").and_then(parse_id).or(post_id) else {
                out.skip(pointer, "a reaction without the item it reacts to");
                return;
            };
            let Some(who) = author.clone() else {
                out.skip(pointer, "a reaction without the reacting person's id");
                return;
            };
            let mut o = base(
                Kind::Reaction,
                format!("{target}/reaction/{}", who.platform_id),
                Some(target),
            );
            o.text = None;
            o.attachments = vec![];
            o.reaction_type = Some(
                text_of(v, &["reaction_type"])
                    .unwrap_or_else(|| "like".into())
                    .to_lowercase(),
            );
            out.observations.push(o);
        }
        other => out.skip(
            pointer,
            format!("item `{other}` carries no archive content"),
        ),
    }
}

fn instagram_comment(
    v: &Value,
    pointer: &str,
    entry_time: Option<chrono::DateTime<chrono::Utc>>,
    out: &mut Parsed,
) {
    let Some(id) = v.get("id").and_then(parse_id) else {
        out.skip(pointer, "an Instagram comment without an id");
        return;
    };
    let media = v.pointer("/media/id").and_then(parse_id);
    let parent = v.get("parent_id").and_then(parse_id);
    let kind = if parent.is_some() && parent != media {
        Kind::Reply
    } else {
        Kind::Comment
    };
    out.observations.push(Observation {
        kind,
        platform_id: id,
        parent_platform_id: parent.or(media),
        author: person(v.get("from")).map(|p| {
            let username = v.pointer("/from/username").and_then(Value::as_str);
            super::on_instagram(p, username)
        }),
        recipient: None,
        also_to: vec![],
        platform_time: time_of(v, &["timestamp", "created_time"]).or(entry_time),
        text: text_of(v, &["text"]),
        reaction_type: None,
        attachments: vec![],
        visibility: None,
        op: Op::Seen,
        pointer: pointer.to_owned(),
        page: None,
    });
}

fn messaging(v: &Value, pointer: &str, out: &mut Parsed) {
    let author = person(v.get("sender"));
    let time = time_of(v, &["timestamp"]);
    let (body, op) = if let Some(m) = v.get("message") {
        let deleted = m.get("is_deleted").and_then(Value::as_bool) == Some(true);
        (m, if deleted { Op::Delete } else { Op::Seen })
    } else if let Some(m) = v.get("message_edit") {
        (m, Op::Edited)
    } else if let Some(r) = v.get("reaction") {
        let (Some(mid), Some(who)) = (
            r.get("mid").and_then(parse_id).map(message_id),
            author.clone(),
        ) else {
            out.skip(pointer, "a message reaction without mid or sender");
            return;
        };
        let unreact = r.get("action").and_then(Value::as_str) == Some("unreact");
        out.observations.push(Observation {
            kind: Kind::Reaction,
            platform_id: format!("{mid}/reaction/{}", who.platform_id),
            parent_platform_id: Some(mid),
            author: Some(who),
            recipient: None,
            also_to: vec![],
            platform_time: time,
            text: None,
            reaction_type: text_of(r, &["reaction", "emoji"]),
            attachments: vec![],
            visibility: None,
            op: if unreact { Op::Remove } else { Op::Seen },
            pointer: format!("{pointer}/reaction"),
            page: None,
        });
        return;
    } else {
        out.skip(
            pointer,
            "a messaging event that is not a message, edit or reaction (read, delivery, postback)",
        );
        return;
    };
    let Some(mid) = body.get("mid").and_then(parse_id).map(message_id) else {
        out.skip(pointer, "a message without mid");
        return;
    };
    let mut attachments = Vec::new();
    for a in body
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        attachments.push(crate::archive::rules::Attachment {
            kind: text_of(a, &["type"]).unwrap_or_else(|| "file".into()),
            url: a
                .pointer("/payload/url")
                .and_then(Value::as_str)
                .map(str::to_owned),
            mime: None,
            size: None,
        });
    }
    out.observations.push(Observation {
        kind: Kind::Message,
        platform_id: mid,
        parent_platform_id: None,
        author,
        recipient: person(v.get("recipient")),
        also_to: vec![],
        platform_time: time,
        text: text_of(body, &["text"]),
        reaction_type: None,
        attachments,
        visibility: None,
        op,
        pointer: pointer.to_owned(),
        page: None,
    });
}
