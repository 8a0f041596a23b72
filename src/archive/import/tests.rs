use super::*;
use crate::archive::rules::Kind;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../shared/fixtures/meta-graph/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

#[test]
fn every_fixture_is_read_or_skipped_with_a_reason() {
    let base = format!(
        "{}/../shared/fixtures/meta-graph",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut seen = 0;
    let mut imported = 0;
    for dir in ["restfb", "python-facebook"] {
        for entry in std::fs::read_dir(format!("{base}/{dir}")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let name = format!("{dir}/{}", path.file_name().unwrap().to_str().unwrap());
            match parse(&fixture(&name)) {
                Ok(parsed) => {
                    for o in &parsed.observations {
                        assert!(!o.platform_id.is_empty(), "{name}");
                    }
                    imported += 1;
                }
                Err(e) => assert!(e.reason.starts_with("no archive content"), "{name}: {e}"),
            }
            seen += 1;
        }
    }
    assert!(seen >= 50, "only {seen} fixtures");
    assert!(imported >= seen - 3, "{imported} of {seen} imported");
}

#[test]
fn webhook_comment_add_is_a_comment_on_its_post() {
    let p = parse(&fixture("restfb/webhooks_feed-comment-add-25.json")).unwrap();
    let o = &p.observations[0];
    assert_eq!(o.kind, Kind::Comment);
    assert_eq!(o.platform_id, "901097836652708_903438993085259");
    assert_eq!(
        o.parent_platform_id.as_deref(),
        Some("1234567890321_901097836652708")
    );
    assert_eq!(o.author.as_ref().unwrap().platform_id, "1234567890321");
    assert_eq!(o.text.as_deref(), Some("and the next one"));
    assert_eq!(o.platform_time.unwrap().timestamp(), 1449135003);
    assert_eq!(o.op, Op::Seen);
}

#[test]
fn graph_post_with_nested_comments_and_reactions() {
    let p = parse(&fixture("restfb/post-with-normal-comments.json")).unwrap();
    assert_eq!(p.observations[0].kind, Kind::Post);
    assert_eq!(p.observations[1].kind, Kind::Comment);
    assert_eq!(
        p.observations[1].parent_platform_id.as_deref(),
        Some("1234")
    );
    let r = parse(&fixture("restfb/v2_9_comment-reactions.json")).unwrap();
    let reactions: Vec<_> = r
        .observations
        .iter()
        .filter(|o| o.kind == Kind::Reaction)
        .collect();
    assert_eq!(reactions.len(), 3);
    assert_eq!(reactions[0].reaction_type.as_deref(), Some("like"));
}

#[test]
fn comments_without_from_or_id_are_kept_with_unknown_author() {
    let p = parse(&fixture(
        "python-facebook/facebook_apidata_comments_comments_p1.json",
    ))
    .unwrap();
    assert!(!p.observations.is_empty());
    assert!(p.observations.iter().all(|o| o.author.is_none()));
    assert!(p.observations.iter().any(|o| o.kind == Kind::Reply));
    // The permalink names the post: the ids are the Graph API's `{post}_{comment}`.
    let reply = p
        .observations
        .iter()
        .find(|o| o.platform_id == "10158407654328553_10158409983033553")
        .expect("the reply under its Graph id");
    assert_eq!(
        reply.parent_platform_id.as_deref(),
        Some("10158407654328553_10158407903973553")
    );
}

#[test]
fn a_lists_paging_link_names_what_its_items_answer() {
    let p = parse(&fixture(
        "python-facebook/facebook_apidata_comments_comments_p1.json",
    ))
    .unwrap();
    let first = &p.observations[0];
    assert_eq!(first.kind, Kind::Comment);
    assert_eq!(
        first.parent_platform_id.as_deref(),
        Some("19292868552_10158407654328553")
    );
    let p = parse(&fixture(
        "python-facebook/instagram_apidata_medias_comments_p1.json",
    ))
    .unwrap();
    assert!(
        p.observations.iter().all(|o| o.kind == Kind::Comment
            && o.parent_platform_id.as_deref() == Some("17846368219941692"))
    );
    // A feed's paging link names the Page, which its posts do not answer.
    let p = parse(&fixture(
        "python-facebook/facebook_apidata_posts_feed_fields_p1.json",
    ))
    .unwrap();
    assert!(
        p.observations
            .iter()
            .all(|o| o.parent_platform_id.is_none())
    );
}

#[test]
fn a_webhook_message_gets_the_graph_apis_id() {
    let p = parse(&fixture("restfb/webhooks_messaging-message-basic.json")).unwrap();
    assert_eq!(
        p.observations[0].platform_id,
        "m_mid.1457764197618:41d102a3e1ae206a38"
    );
}

#[test]
fn messenger_deliveries() {
    let p = parse(&fixture("restfb/webhooks_messaging-message-isdeleted.json")).unwrap();
    assert_eq!(p.observations[0].op, Op::Delete);
    let p = parse(&fixture("restfb/webhooks_messaging-message-edits.json")).unwrap();
    assert_eq!(p.observations[0].op, Op::Edited);
    let p = parse(&fixture("restfb/conversation.json")).unwrap();
    assert!(p.observations.iter().all(|o| o.kind == Kind::Message));
    assert_eq!(
        p.observations[0].parent_platform_id.as_deref(),
        Some("t_id.378684585488220")
    );
}

#[test]
fn instagram_comments_and_replies() {
    let p = parse(&fixture("restfb/instagram_comment.json")).unwrap();
    assert_eq!(p.observations[0].kind, Kind::Comment);
    assert_eq!(
        p.observations[0].parent_platform_id.as_deref(),
        Some("987654321")
    );
    assert_eq!(p.observations[1].kind, Kind::Reply);
    let p = parse(&fixture("restfb/instagram_wh-comments-2021.json")).unwrap();
    assert_eq!(p.observations[0].kind, Kind::Reply);
}

#[test]
fn non_archive_payloads_are_rejected() {
    assert!(parse(&serde_json::json!(42)).is_err());
    assert!(parse(&serde_json::json!({"object": "page"})).is_err());
}

#[test]
fn an_instagram_comment_names_its_commenter_by_username() {
    let p = parse(&fixture("python-facebook/instagram_models_ig_comment.json")).unwrap();
    let o = &p.observations[0];
    let author = o.author.as_ref().unwrap();
    assert_eq!(author.platform_id, "17841406338772941");
    assert_eq!(author.name.as_deref(), Some("ikroskun"));
}

#[test]
fn a_visitors_post_without_comments_is_a_post_not_a_message() {
    let mut post = fixture("restfb/post-with-normal-comments.json");
    post.as_object_mut().unwrap().remove("comments");
    let p = parse(&post).unwrap();
    assert_eq!(p.observations[0].kind, Kind::Post);
}

#[test]
fn an_instagram_message_with_attachments_is_a_message() {
    let p = parse(&fixture("restfb/v10_0_instagram-message.json")).unwrap();
    assert_eq!(p.observations[0].kind, Kind::Message);
}

#[test]
fn a_comments_replies_listed_as_its_comments_are_replies() {
    let list = serde_json::json!({
        "data": [{"id": "901_905", "message": "Svar", "created_time": "2026-11-01T10:00:00+0000"}],
        "paging": {"next": "https://graph.facebook.com/v11.0/901_903/comments?after=x"}
    });
    let p = parse(&list).unwrap();
    assert_eq!(p.observations[0].kind, Kind::Reply);
    assert_eq!(
        p.observations[0].parent_platform_id.as_deref(),
        Some("901_903")
    );
    let list = serde_json::json!({
        "data": [{"id": "901_904", "message": "Kommentar", "created_time": "2026-11-01T10:00:00+0000"}],
        "paging": {"next": "https://graph.facebook.com/v11.0/555_901/comments?after=x"}
    });
    let p = parse(&list).unwrap();
    assert_eq!(p.observations[0].kind, Kind::Comment);
}

#[test]
fn a_page_of_reactions_holds_reactions_to_the_object_its_link_names() {
    let object = fixture("restfb/v2_9_comment-reactions.json");
    let p = parse(&object["reactions"]).unwrap();
    assert_eq!(p.observations.len(), 3);
    assert!(p.observations.iter().all(|o| o.kind == Kind::Reaction
        && o.parent_platform_id.as_deref() == Some("705360702965731_705362516298883")
        && o.author.is_some()));
}

#[test]
fn an_instagram_commenter_known_only_by_handle_is_someone() {
    let p = parse(&fixture("restfb/instagram_comment_missing_user.json")).unwrap();
    let author = p.observations[0].author.as_ref().expect("an author");
    assert_eq!(author.platform_id, "@bincyshiona");
    assert_eq!(
        author.profile_link.as_deref(),
        Some("https://www.instagram.com/bincyshiona/")
    );
}

#[test]
fn an_id_of_what_an_erasure_left_is_no_payloads() {
    let list = serde_json::json!({"data": [
        {"id": "erased:5", "message": "x", "created_time": "2026-11-01T10:00:00+0000"},
        {"id": "555_6", "message": "y", "from": {"id": "erased:7", "name": "N"},
         "created_time": "2026-11-01T10:00:00+0000"}
    ]});
    let p = parse(&list).unwrap();
    assert_eq!(p.observations.len(), 1);
    assert_eq!(p.observations[0].platform_id, "555_6");
    assert!(p.observations[0].author.is_none());
    assert_eq!(p.skipped[0].pointer, "/data/0");
    let only = serde_json::json!({"id": "erased:5", "message": "x"});
    assert!(parse(&only).is_err());
}

#[test]
fn a_message_names_whom_it_was_sent_to() {
    // A webhook names the recipient; the Graph API lists them in `to`, beside the sender.
    let p = parse(&fixture("restfb/webhooks_messaging-message-basic.json")).unwrap();
    let to = p.observations[0].recipient.as_ref().unwrap();
    assert_eq!(to.platform_id, "12345654332");
    let p = parse(&fixture(
        "python-facebook/facebook_apidata_messages_message_info.json",
    ))
    .unwrap();
    let o = &p.observations[0];
    assert_eq!(o.author.as_ref().unwrap().platform_id, "2711636948859886");
    let to = o.recipient.as_ref().unwrap();
    assert_eq!(
        (to.platform_id.as_str(), to.name.as_deref()),
        ("2121008874780932", Some("MyLife"))
    );
    // Instagram names both by username: the recipient's profile is their handle's page.
    let p = parse(
        &serde_json::json!({"id": "aWdfZ", "created_time": "2024-01-01T10:00:00+0000",
        "from": {"id": "17841400", "username": "kommunen"}, "message": "Hej!",
        "to": {"data": [{"id": "17841401", "username": "anna.a"}]}, "is_unsupported": false}),
    )
    .unwrap();
    let to = p.observations[0].recipient.as_ref().unwrap();
    assert_eq!(
        to.profile_link.as_deref(),
        Some("https://www.instagram.com/anna.a/")
    );
    // What is not a message has no recipient, and an erasure's id names nobody.
    let p = parse(&fixture("restfb/webhooks_feed-comment-add-25.json")).unwrap();
    assert!(p.observations[0].recipient.is_none());
    let mut crafted = fixture("restfb/webhooks_messaging-message-basic.json");
    crafted["entry"][0]["messaging"][0]["recipient"]["id"] = "erased:7".into();
    assert!(parse(&crafted).unwrap().observations[0].recipient.is_none());
}

#[test]
fn a_webhook_item_names_the_page_of_its_entry_and_a_graph_object_none() {
    // The Messenger fixtures' entry id is a number; the feed fixtures' a string.
    let messenger = parse(&fixture("restfb/webhooks_messaging-message-basic.json")).unwrap();
    let feed = parse(&fixture("restfb/webhooks_feed-comment-add-25.json")).unwrap();
    let graph = parse(&fixture("restfb/v2_2_comment_object.json")).unwrap();
    assert_eq!(
        messenger.observations[0].page.as_deref(),
        Some("12345654332")
    );
    assert_eq!(feed.observations[0].page.as_deref(), Some("1234567890321"));
    assert!(graph.observations.iter().all(|o| o.page.is_none()));
}
