use crate::both_backends;
use crate::helpers::{Backend, problem, spawn_app};

both_backends!(
    channels_are_registered_listed_and_audited,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let (_, officer) = app.token("officer").await;
        let body = serde_json::json!({
            "platform": "facebook",
            "account_id": "1234567890321",
            "name": "Linköpings kommun",
            "department": "Kommunikationsavdelningen"
        });
        let r = app.post_json("/api/v1/channels", &archivist, &body).await;
        assert_eq!(r.status(), 201);
        let created: serde_json::Value = r.json().await.unwrap();
        assert_eq!(created["platform"], "facebook");
        assert_eq!(created["name"], "Linköpings kommun");

        let again = app.post_json("/api/v1/channels", &archivist, &body).await;
        problem(again, 409).await;
        let by_officer = app.post_json("/api/v1/channels", &officer, &body).await;
        problem(by_officer, 403).await;
        let bad = app
            .post_json(
                "/api/v1/channels",
                &archivist,
                &serde_json::json!({"platform": "myspace", "account_id": "1", "name": "x"}),
            )
            .await;
        let p = problem(bad, 400).await;
        assert_eq!(p["errors"][0]["field"], "platform");
        let blank = app
            .post_json(
                "/api/v1/channels",
                &archivist,
                &serde_json::json!({"platform": "instagram", "account_id": " ", "name": ""}),
            )
            .await;
        let p = problem(blank, 400).await;
        let fields: Vec<&str> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["account_id", "name"]);

        let list: serde_json::Value = app
            .client
            .get(app.url("/api/v1/channels"))
            .bearer_auth(&officer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1);
        let audit: serde_json::Value = app
            .client
            .get(app.url(&format!("/api/v1/audit?target=channel:{}", created["id"])))
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(audit["entries"][0]["action"], "channel.create");
        assert_eq!(audit["entries"][0]["role"], "archivist");
    }
);

fn fixture(name: &str) -> serde_json::Value {
    let path = format!(
        "{}/../shared/fixtures/meta-graph/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The municipality's Page in the restfb webhook fixtures.
const PAGE_ID: &str = "1234567890321";

pub(crate) async fn channel(
    app: &crate::helpers::TestApp,
    archivist: &str,
    platform: &str,
    account: &str,
) -> i64 {
    let r = app
        .post_json(
            "/api/v1/channels",
            archivist,
            &serde_json::json!({"platform": platform, "account_id": account, "name": "Kommunen"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

pub(crate) async fn import(
    app: &crate::helpers::TestApp,
    token: &str,
    channel: i64,
    body: &serde_json::Value,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/imports?channel={channel}")))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn get(
    app: &crate::helpers::TestApp,
    token: &str,
    path: &str,
) -> serde_json::Value {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

both_backends!(
    every_fixture_imports_or_is_rejected_with_a_reason,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let ch = channel(&app, &archivist, "facebook", PAGE_ID).await;
        let base = format!(
            "{}/../shared/fixtures/meta-graph",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut created = 0;
        for dir in ["restfb", "python-facebook"] {
            for entry in std::fs::read_dir(format!("{base}/{dir}")).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().and_then(|e| e.to_str()) != Some("json") {
                    continue;
                }
                let body: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                let r = import(&app, &archivist, ch, &body).await;
                match r.status().as_u16() {
                    200 => {
                        let counts: serde_json::Value = r.json().await.unwrap();
                        created += counts["created"].as_u64().unwrap();
                    }
                    400 => {
                        let p = problem(r, 400).await;
                        assert!(
                            p["errors"][0]["reason"]
                                .as_str()
                                .unwrap()
                                .contains("no archive content"),
                            "{path:?}: {p}"
                        );
                    }
                    s => panic!("{path:?}: {s}"),
                }
            }
        }
        assert!(created > 50, "only {created} records");
        let verify = app
            .client
            .get(app.url("/api/v1/audit/verify"))
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(
            verify.json::<serde_json::Value>().await.unwrap()["intact"],
            true
        );
    }
);

both_backends!(
    a_comment_lifecycle_through_webhooks_keeps_five_versions,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let ch = channel(&app, &archivist, "facebook", PAGE_ID).await;
        // The fixtures come from separate captures; point them all at one comment on one post.
        let steps = [
            "webhooks_feed-comment-add-25.json",
            "webhooks_feed-comment-edited-25.json",
            "webhooks_feed-comment-hide.json",
            "webhooks_feed-comment-unhide.json",
            "webhooks_feed-comment-remove-25.json",
        ];
        for step in steps {
            let mut body = fixture(&format!("restfb/{step}"));
            let v = &mut body["entry"][0]["changes"][0]["value"];
            v["comment_id"] = "901097836652708_903438993085259".into();
            v["post_id"] = "1234567890321_901097836652708".into();
            v["parent_id"] = "1234567890321_901097836652708".into();
            let r = import(&app, &archivist, ch, &body).await;
            assert_eq!(r.status(), 200, "{step}");
        }
        let page = get(&app, &archivist, "/api/v1/records?kind=comment").await;
        let id = page["records"][0]["id"].as_i64().unwrap();
        let detail = get(&app, &archivist, &format!("/api/v1/records/{id}")).await;
        let changes: Vec<&str> = detail["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["change"].as_str().unwrap())
            .collect();
        assert_eq!(
            changes,
            ["created", "edited", "hidden", "unhidden", "removed"]
        );
        assert_eq!(detail["visibility"], "removed");
        assert_eq!(detail["versions"][0]["content"]["text"], "and the next one");
        assert_eq!(
            detail["versions"][1]["content"]["text"],
            "Let's see the Webhooks in action :D"
        );
        assert!(
            detail["versions"]
                .as_array()
                .unwrap()
                .iter()
                .all(|v| v["hash"].as_str().unwrap().len() == 64)
        );
        // The Page's own comment is drawn up, and the platform's time differs from the archive's.
        assert_eq!(detail["direction"], "drawn_up");
        assert_eq!(detail["platform_time"], "2015-12-03T09:30:03+00:00");
    }
);

both_backends!(
    reimport_is_a_no_op_and_direction_follows_the_page,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let ch = channel(&app, &archivist, "facebook", PAGE_ID).await;
        for name in [
            "webhooks_feed-status-add-25.json",
            "webhooks_feed-post-add-25.json",
        ] {
            let body = fixture(&format!("restfb/{name}"));
            let first: serde_json::Value = import(&app, &archivist, ch, &body)
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(first["created"], 1, "{name}");
            let second: serde_json::Value = import(&app, &archivist, ch, &body)
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(
                (
                    second["created"].as_u64(),
                    second["new_versions"].as_u64(),
                    second["unchanged"].as_u64()
                ),
                (Some(0), Some(0), Some(1))
            );
        }
        let page = get(&app, &archivist, "/api/v1/records?kind=post").await;
        let dirs: Vec<(&str, &str)> = page["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["platform_id"].as_str().unwrap(),
                    r["direction"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            dirs,
            [
                ("1234567890321_930145403745849", "drawn_up"),
                ("1234567890321_7293787835232", "received")
            ]
        );
        // The member of the public is an identity, and their records are found by it.
        let ids = get(
            &app,
            &archivist,
            "/api/v1/identities?platform=facebook&q=John",
        )
        .await;
        assert_eq!(ids.as_array().unwrap().len(), 1);
        let person = ids[0]["id"].as_i64().unwrap();
        let theirs = get(
            &app,
            &archivist,
            &format!("/api/v1/records?identity={person}"),
        )
        .await;
        assert_eq!(theirs["records"].as_array().unwrap().len(), 1);
        assert_eq!(theirs["records"][0]["text"], "Let's check this");
    }
);

both_backends!(
    fixity_verify_detects_a_record_altered_behind_the_service,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let ch = channel(&app, &archivist, "facebook", PAGE_ID).await;
        import(
            &app,
            &archivist,
            ch,
            &fixture("restfb/post-with-normal-comments.json"),
        )
        .await;
        let page = get(&app, &archivist, "/api/v1/records").await;
        let id = page["records"][1]["id"].as_i64().unwrap();
        let ok = get(&app, &archivist, &format!("/api/v1/records/{id}/verify")).await;
        assert_eq!(ok["intact"], true);
        use sea_orm::ConnectionTrait;
        app.db
        .execute_unprepared(&format!(
            "UPDATE record_version SET content = replace(content, 'Test comment', 'Edited comment') WHERE record_id = {id}"
        ))
        .await
        .unwrap();
        let bad = get(&app, &archivist, &format!("/api/v1/records/{id}/verify")).await;
        assert_eq!(bad["intact"], false);
        assert_eq!(bad["versions"][0]["matches"], false);
        let missing = app
            .client
            .get(app.url("/api/v1/records/999999/verify"))
            .bearer_auth(&archivist)
            .send()
            .await
            .unwrap();
        problem(missing, 404).await;
    }
);

both_backends!(bad_imports_are_rejected_whole, |b: Backend| async move {
    let app = spawn_app(b).await;
    let (_, archivist) = app.token("archivist").await;
    let (_, officer) = app.token("officer").await;
    let ch = channel(&app, &archivist, "facebook", PAGE_ID).await;
    let p = problem(
        import(&app, &archivist, ch, &serde_json::json!({"hello": "world"})).await,
        400,
    )
    .await;
    assert!(
        p["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("no archive content"),
        "{p}"
    );
    problem(
        import(
            &app,
            &officer,
            ch,
            &fixture("restfb/webhooks_feed-post-add-25.json"),
        )
        .await,
        403,
    )
    .await;
    let p = problem(
        import(
            &app,
            &archivist,
            9999,
            &fixture("restfb/webhooks_feed-post-add-25.json"),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "channel");

    // NDJSON: a bad third line rejects the request and nothing of the first two is written.
    let good = serde_json::to_string(&fixture("restfb/webhooks_feed-post-add-25.json")).unwrap();
    let good2 = serde_json::to_string(&fixture("restfb/webhooks_feed-status-add-25.json")).unwrap();
    let body = format!("{good}\n{good2}\n{{not json\n");
    let r = app
        .client
        .post(app.url(&format!("/api/v1/imports?channel={ch}")))
        .bearer_auth(&archivist)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    let p = problem(r, 400).await;
    assert_eq!(p["errors"][0]["field"], "line 3");
    let page = get(&app, &archivist, "/api/v1/records").await;
    assert_eq!(page["records"].as_array().unwrap().len(), 0);
    // And the same two good lines import together.
    let r = app
        .client
        .post(app.url(&format!("/api/v1/imports?channel={ch}")))
        .bearer_auth(&archivist)
        .header("content-type", "application/x-ndjson")
        .body(format!("{good}\n{good2}\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["created"], 2);
});

both_backends!(
    imports_that_arrive_together_each_succeed_and_archive_once,
    |b: Backend| async move {
        let app = crate::helpers::spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let ch = channel(&app, &archivist, "facebook", crate::consent::PAGE).await;
        // Webhook deliveries of one thread come in parallel: each finds the same new commenters
        // and records missing.
        let url = app.url(&format!("/api/v1/imports?channel={ch}"));
        let sent: Vec<_> = (0..6)
            .map(|_| {
                let (client, url, token) = (app.client.clone(), url.clone(), archivist.clone());
                tokio::spawn(async move {
                    client
                        .post(url)
                        .bearer_auth(token)
                        .json(&crate::consent::thread())
                        .send()
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut created = 0;
        for s in sent {
            let r = s.await.unwrap();
            assert_eq!(r.status(), 200);
            created += r.json::<serde_json::Value>().await.unwrap()["created"]
                .as_i64()
                .unwrap();
        }
        // The post, the comment, two replies and three reactions, once.
        let once = import(&app, &archivist, ch, &crate::consent::thread()).await;
        assert_eq!(
            once.json::<serde_json::Value>().await.unwrap()["created"],
            0
        );
        let records = get(
            &app,
            &archivist,
            &format!("/api/v1/records?channel={ch}&limit=100"),
        )
        .await;
        assert_eq!(records["records"].as_array().unwrap().len() as i64, created);
        assert_eq!(created, 7, "{records}");
    }
);

both_backends!(
    a_reaction_taken_back_and_given_again_is_visible,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let ch = channel(&app, &archivist, "facebook", PAGE_ID).await;
        for step in [
            "webhooks_feed-reaction-add.json",
            "webhooks_feed-reaction-remove.json",
            "webhooks_feed-reaction-add.json",
        ] {
            let r = import(&app, &archivist, ch, &fixture(&format!("restfb/{step}"))).await;
            assert_eq!(r.status(), 200, "{step}");
        }
        let page = get(&app, &archivist, "/api/v1/records?kind=reaction").await;
        assert_eq!(page["records"].as_array().unwrap().len(), 1, "{page}");
        let id = page["records"][0]["id"].as_i64().unwrap();
        let detail = get(&app, &archivist, &format!("/api/v1/records/{id}")).await;
        assert_eq!(detail["visibility"], "visible", "{detail}");
        let seen: Vec<&str> = detail["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["content"]["visibility"].as_str().unwrap())
            .collect();
        assert_eq!(seen, ["visible", "removed", "visible"]);
    }
);

both_backends!(
    a_pages_feed_listed_by_id_and_message_is_its_own_posts,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        // The feed of the Page whose id is 4, as the Graph API lists it with fields=message.
        let ch = channel(&app, &archivist, "facebook", "4").await;
        let feed = fixture("python-facebook/facebook_apidata_posts_feed_fields_p1.json");
        let r = import(&app, &archivist, ch, &feed).await;
        assert_eq!(r.status(), 200);
        let posts = get(&app, &archivist, "/api/v1/records?kind=post").await;
        let posts = posts["records"].as_array().unwrap();
        assert_eq!(posts.len(), feed["data"].as_array().unwrap().len());
        assert!(
            posts.iter().all(|p| p["direction"] == "drawn_up"),
            "{posts:?}"
        );
        let comments = get(&app, &archivist, "/api/v1/records?kind=comment").await;
        assert!(comments["records"].as_array().unwrap().is_empty());
    }
);

both_backends!(
    a_record_that_learns_its_parent_later_is_linked_to_it,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let ch = channel(&app, &archivist, "facebook", PAGE_ID).await;
        let comment = |parent: Option<&str>| {
            let mut c = serde_json::json!({"id": "555_50", "from": {"id": "501", "name": "Anna"},
                "message": "Hej", "created_time": "2026-11-01T10:00:00+0000"});
            if let Some(p) = parent {
                c["parent"] = serde_json::json!({"id": p});
            }
            c
        };
        // Listed first without its parent, then the post, then the comment naming it.
        assert_eq!(
            import(&app, &archivist, ch, &comment(None)).await.status(),
            200
        );
        let post = serde_json::json!({"id": format!("{PAGE_ID}_555"), "type": "status",
            "from": {"id": PAGE_ID, "name": "Kommunen"}, "message": "Badet",
            "created_time": "2026-11-01T09:00:00+0000"});
        assert_eq!(import(&app, &archivist, ch, &post).await.status(), 200);
        let parent = format!("{PAGE_ID}_555");
        let r = import(&app, &archivist, ch, &comment(Some(&parent))).await;
        assert_eq!(r.status(), 200);
        let posts = get(&app, &archivist, "/api/v1/records?kind=post").await;
        let post_id = posts["records"][0]["id"].as_i64().unwrap();
        let comments = get(&app, &archivist, "/api/v1/records?kind=comment").await;
        let c = &comments["records"][0];
        assert_eq!(c["parent_platform_id"], parent.as_str(), "{c}");
        assert_eq!(c["parent_id"], post_id, "{c}");
    }
);

both_backends!(
    a_later_observation_naming_someone_else_does_not_take_the_record_over,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let ch = channel(&app, &archivist, "facebook", PAGE_ID).await;
        let comment = |from: &str, text: &str| {
            serde_json::json!({"id": "888_80", "from": {"id": from, "name": format!("Person {from}")},
                "message": text, "created_time": "2026-11-01T10:00:00+0000",
                "parent": {"id": format!("{PAGE_ID}_888")}})
        };
        let r = import(&app, &archivist, ch, &comment("801", "Hej")).await;
        assert_eq!(r.status(), 200);
        let first = get(&app, &archivist, "/api/v1/records?kind=reply").await;
        let record = &first["records"][0];
        let (id, author) = (
            record["id"].as_i64().unwrap(),
            record["author_identity_id"].clone(),
        );
        assert!(author.is_i64(), "{record}");
        let r = import(&app, &archivist, ch, &comment("802", "Hej igen")).await;
        assert_eq!(r.status(), 200);
        let after = get(&app, &archivist, &format!("/api/v1/records/{id}")).await;
        assert_eq!(after["text"], "Hej igen", "{after}");
        assert_eq!(after["author_identity_id"], author, "{after}");
    }
);

both_backends!(
    every_name_of_one_object_is_one_record,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let ch = channel(&app, &archivist, "facebook", "19292868552").await;
        // Listed without ids: the permalinks name the post, so the comments get the Graph ids.
        let r = import(
            &app,
            &archivist,
            ch,
            &fixture("python-facebook/facebook_apidata_comments_comments_p1.json"),
        )
        .await;
        assert_eq!(r.status(), 200);
        let listed = get(&app, &archivist, "/api/v1/records?limit=100").await;
        let records = listed["records"].as_array().unwrap();
        let held = records.len();
        let by_id = |id: &str| {
            records
                .iter()
                .find(|r| r["platform_id"] == id)
                .unwrap_or_else(|| panic!("{id} in {listed}"))
                .clone()
        };
        let comment = by_id("10158407654328553_10158407903973553");
        let reply = by_id("10158407654328553_10158409983033553");
        assert_eq!(reply["parent_id"], comment["id"], "{reply}");

        // The same comment listed later with its id and author: a new version of the one record.
        let r = import(
            &app,
            &archivist,
            ch,
            &serde_json::json!({"id": "10158407654328553_10158407903973553",
                "from": {"id": "4242", "name": "Ada Lind"},
                "message": "Can someone from Instagram please assist me?",
                "created_time": "2021-08-10T19:38:44+0000"}),
        )
        .await;
        let counts: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            (counts["created"].as_u64(), counts["new_versions"].as_u64()),
            (Some(0), Some(1)),
            "{counts}"
        );
        let after = get(
            &app,
            &archivist,
            &format!("/api/v1/records/{}", comment["id"]),
        )
        .await;
        assert!(after["author_identity_id"].is_i64(), "{after}");

        // A link that does not name the post gives the bare id; the Graph id finds that record.
        let bare = serde_json::json!({"message": "Hej", "created_time": "2021-08-12T10:00:00+0000",
            "permalink_url": "https://www.facebook.com/permalink.php?story_fbid=555&id=19292868552&comment_id=9001"});
        assert_eq!(import(&app, &archivist, ch, &bare).await.status(), 200);
        let graph = serde_json::json!({"id": "555_9001", "message": "Hej då",
            "from": {"id": "4243", "name": "Bo Berg"}, "created_time": "2021-08-12T10:00:00+0000"});
        let counts: serde_json::Value = import(&app, &archivist, ch, &graph)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            (counts["created"].as_u64(), counts["new_versions"].as_u64()),
            (Some(0), Some(1)),
            "{counts}"
        );
        let listed = get(&app, &archivist, "/api/v1/records?limit=100").await;
        assert_eq!(
            listed["records"].as_array().unwrap().len(),
            held + 1,
            "{listed}"
        );

        // A message from the Messenger webhook (`mid.…`) and from the Graph API (`m_mid.…`).
        let messenger = channel(&app, &archivist, "messenger", "12345654332").await;
        let r = import(
            &app,
            &archivist,
            messenger,
            &fixture("restfb/webhooks_messaging-message-basic.json"),
        )
        .await;
        assert_eq!(r.status(), 200);
        let sender = fixture("restfb/webhooks_messaging-message-basic.json")["entry"][0]["messaging"][0]["sender"]["id"].clone();
        let graph = serde_json::json!({"id": "m_mid.1457764197618:41d102a3e1ae206a38",
            "from": {"id": sender, "name": "Cecilia"}, "message": "hello, world!",
            "created_time": "2016-03-12T06:29:57+0000"});
        let counts: serde_json::Value = import(&app, &archivist, messenger, &graph)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(counts["created"].as_u64(), Some(0), "{counts}");
        let messages = get(
            &app,
            &archivist,
            &format!("/api/v1/records?kind=message&channel={messenger}"),
        )
        .await;
        let messages = messages["records"].as_array().unwrap();
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(
            messages[0]["platform_id"],
            "m_mid.1457764197618:41d102a3e1ae206a38"
        );
    }
);

both_backends!(
    a_removed_comment_delivered_again_stays_removed,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let ch = channel(&app, &archivist, "facebook", PAGE_ID).await;
        let add = fixture("restfb/webhooks_feed-comment-add-25.json");
        let mut remove = add.clone();
        remove["entry"][0]["changes"][0]["value"]["verb"] = "remove".into();
        for body in [&add, &remove, &add] {
            assert_eq!(import(&app, &archivist, ch, body).await.status(), 200);
        }
        let page = get(&app, &archivist, "/api/v1/records?kind=comment").await;
        let id = page["records"][0]["id"].as_i64().unwrap();
        let detail = get(&app, &archivist, &format!("/api/v1/records/{id}")).await;
        assert_eq!(detail["visibility"], "removed", "{detail}");
        assert_eq!(detail["versions"].as_array().unwrap().len(), 2, "{detail}");
    }
);

both_backends!(
    a_post_listed_without_its_author_is_not_taken_for_the_pages_own,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let ch = channel(&app, &archivist, "facebook", PAGE_ID).await;
        // A visitor's post on the Page carries the Page's id as the Page's own posts do.
        let listed = serde_json::json!({"data": [{"id": "1234567890321_7293787835232",
            "message": "Let's check this", "created_time": "2015-12-03T09:00:00+0000"}]});
        assert_eq!(import(&app, &archivist, ch, &listed).await.status(), 200);
        let posts = get(&app, &archivist, "/api/v1/records?kind=post").await;
        let post = &posts["records"][0];
        assert_eq!(post["direction"], "received", "{post}");
        // Its author, learned later, is a member of the public: still received.
        let r = import(
            &app,
            &archivist,
            ch,
            &fixture("restfb/webhooks_feed-post-add-25.json"),
        )
        .await;
        assert_eq!(r.status(), 200);
        let after = get(&app, &archivist, &format!("/api/v1/records/{}", post["id"])).await;
        assert_eq!(after["direction"], "received", "{after}");
        assert!(after["author_identity_id"].is_i64(), "{after}");
        // The Page's own post, listed without author and then named by a webhook as the Page's.
        let own = serde_json::json!({"data": [{"id": "1234567890321_930145403745849",
            "message": "Välkomna", "created_time": "2015-12-03T09:00:00+0000"}]});
        assert_eq!(import(&app, &archivist, ch, &own).await.status(), 200);
        let r = import(
            &app,
            &archivist,
            ch,
            &fixture("restfb/webhooks_feed-status-add-25.json"),
        )
        .await;
        assert_eq!(r.status(), 200);
        let posts = get(&app, &archivist, "/api/v1/records?kind=post").await;
        let own = posts["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["platform_id"] == "1234567890321_930145403745849")
            .unwrap();
        assert_eq!(own["direction"], "drawn_up", "{own}");
    }
);

both_backends!(
    a_delivery_of_several_pages_is_archived_under_each_pages_channel,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let posted = channel(&app, &archivist, "facebook", PAGE_ID).await;
        let other = channel(&app, &archivist, "facebook", "999000111").await;
        // The same account on another platform is another channel's business.
        let messenger = channel(&app, &archivist, "messenger", "777000111").await;

        // One delivery, as Meta batches them: the posted Page's post, the other Page's post, a
        // post under an account with no facebook channel, and one naming no channel at all.
        let entry = |page: &str, post: &str| {
            let mut e = fixture("restfb/webhooks_feed-status-add-25.json")["entry"][0].clone();
            e["id"] = page.into();
            let v = &mut e["changes"][0]["value"];
            v["from"]["id"] = page.into();
            v["post_id"] = format!("{page}_{post}").into();
            e
        };
        let delivery = serde_json::json!({"object": "page", "entry": [
            entry(PAGE_ID, "1"),
            entry("999000111", "2"),
            entry("777000111", "3"),
            entry("424242", "4"),
        ]});
        let r = import(&app, &archivist, posted, &delivery).await;
        assert_eq!(r.status(), 200);
        let counts: serde_json::Value = r.json().await.unwrap();
        assert_eq!(counts["created"], 4, "{counts}");
        assert_eq!(
            counts["routed"],
            serde_json::json!([{"channel": other, "items": 1}])
        );

        let platform_ids = |ch: i64| {
            let (app, archivist) = (&app, &archivist);
            async move {
                let page = get(app, archivist, &format!("/api/v1/records?channel={ch}")).await;
                let mut ids: Vec<String> = page["records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["platform_id"].as_str().unwrap().to_owned())
                    .collect();
                ids.sort();
                ids
            }
        };
        assert_eq!(
            platform_ids(posted).await,
            [
                format!("{PAGE_ID}_1"),
                "424242_4".to_owned(),
                "777000111_3".to_owned()
            ]
        );
        assert_eq!(platform_ids(other).await, ["999000111_2"]);
        assert!(platform_ids(messenger).await.is_empty());
        // The other Page's post is its own, drawn up, as if it had been posted to its channel.
        let page = get(
            &app,
            &archivist,
            &format!("/api/v1/records?channel={other}"),
        )
        .await;
        assert_eq!(page["records"][0]["direction"], "drawn_up");

        // Each channel's import is in the audit log, the routed one naming where it was posted.
        let audit = get(
            &app,
            &app.admin,
            &format!("/api/v1/audit?target=channel:{other}"),
        )
        .await;
        let entry = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "archive.import")
            .expect("the routed import is audited under its channel");
        assert_eq!(entry["details"]["created"], 1);
        assert_eq!(entry["details"]["posted_to"], format!("channel:{posted}"));

        // Delivered again: nothing new anywhere.
        let r = import(&app, &archivist, posted, &delivery).await;
        let counts: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            (&counts["created"], &counts["unchanged"]),
            (&0.into(), &4.into())
        );
        assert_eq!(platform_ids(other).await, ["999000111_2"]);

        // The Page that had no channel gets one: what its entries brought before stays where it
        // was archived, and is found there again (an edit becomes its version, not a copy).
        let late = channel(&app, &archivist, "facebook", "424242").await;
        let mut edited = delivery.clone();
        edited["entry"][3]["changes"][0]["value"]["message"] = "Ändrat".into();
        edited["entry"][3]["changes"][0]["value"]["verb"] = "edited".into();
        let r = import(&app, &archivist, posted, &edited).await;
        let counts: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            (&counts["created"], &counts["new_versions"]),
            (&0.into(), &1.into()),
            "{counts}"
        );
        assert!(platform_ids(late).await.is_empty());
        assert!(platform_ids(posted).await.contains(&"424242_4".to_owned()));
    }
);

both_backends!(
    a_message_has_a_recipient_only_when_the_municipality_sent_it,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let ch = channel(&app, &archivist, "messenger", "100").await;
        let message = |id: &str, from: Option<&str>, to: &[&str]| {
            let mut m = serde_json::json!({"id": id, "message": "Kallelse",
                "created_time": "2026-11-01T10:00:00+0000",
                "to": {"data": to.iter().map(|t| serde_json::json!({"id": t})).collect::<Vec<_>>()}});
            if let Some(f) = from {
                m["from"] = serde_json::json!({"id": f});
            }
            m
        };
        for m in [
            // The Page's own, to one person.
            message("m_a", Some("100"), &["100", "202"]),
            // Listed without `from`: naming someone beside the Page, it is the Page's.
            message("m_b", None, &["100", "203"]),
            // Someone else's: the people it names are not given it by the municipality.
            message("m_c", Some("300"), &["201", "100"]),
        ] {
            assert_eq!(import(&app, &archivist, ch, &m).await.status(), 200);
        }
        let records = get(&app, &archivist, &format!("/api/v1/records?channel={ch}")).await;
        let by_id = |id: &str| {
            records["records"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["platform_id"] == id)
                .unwrap()
                .clone()
        };
        let someone = |platform_id: &str| {
            let app = &app;
            let archivist = archivist.clone();
            let platform_id = platform_id.to_owned();
            async move {
                let id = get(
                    app,
                    &archivist,
                    &format!("/api/v1/identities?q={platform_id}"),
                )
                .await[0]["id"]
                    .clone();
                assert!(id.is_i64(), "no identity {platform_id}");
                id
            }
        };
        let a = by_id("m_a");
        assert_eq!(a["direction"], "drawn_up");
        assert_eq!(a["recipient_identity_id"], someone("202").await);
        let b = by_id("m_b");
        assert_eq!(b["direction"], "drawn_up", "{b}");
        assert_eq!(b["recipient_identity_id"], someone("203").await);
        let c = by_id("m_c");
        assert_eq!(c["direction"], "received");
        assert!(c.get("recipient_identity_id").is_none(), "{c}");
    }
);
