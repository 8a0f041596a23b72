//! The consent ledger from interactions, withdrawal and unpublish tasks.
use crate::archive::{channel, get, import};
use crate::both_backends;
use crate::helpers::{Backend, TestApp, problem, spawn_app};
use serde_json::{Value, json};

pub(crate) const PAGE: &str = "1234567890321";

/// A post by the Page; a comment by Anna (501) with a reply by the Page and one by Bo (502);
/// reactions by Anna and Cecilia (503) on the comment, and by Anna on the post.
pub(crate) fn thread() -> Value {
    json!({
        "id": format!("{PAGE}_1"),
        "from": {"id": PAGE, "name": "Kommunen"},
        "message": "Nu öppnar badet",
        "created_time": "2024-03-01T10:00:00+0000",
        "reactions": {"data": [{"id": "501", "name": "Anna Andersson", "type": "LIKE"}]},
        "comments": {"data": [{
            "id": "1_10",
            "from": {"id": "501", "name": "Anna Andersson"},
            "message": "Äntligen!",
            "created_time": "2024-03-01T11:00:00+0000",
            "comments": {"data": [
                {"id": "1_11", "from": {"id": PAGE, "name": "Kommunen"}, "message": "Välkommen!",
                 "created_time": "2024-03-01T12:00:00+0000"},
                {"id": "1_12", "from": {"id": "502", "name": "Bo Berg"}, "message": "Håller med",
                 "created_time": "2024-03-01T13:00:00+0000"}
            ]},
            "reactions": {"data": [
                {"id": "501", "name": "Anna Andersson", "type": "LIKE"},
                {"id": "503", "name": "Cecilia Ek", "type": "LOVE"}
            ]}
        }]}
    })
}

pub(crate) async fn identity(app: &TestApp, token: &str, platform_id: &str) -> i64 {
    let found = get(app, token, &format!("/api/v1/identities?q={platform_id}")).await;
    found[0]["id"].as_i64().unwrap()
}

pub(crate) async fn record_id(app: &TestApp, token: &str, channel: i64, platform_id: &str) -> i64 {
    let page = get(
        app,
        token,
        &format!("/api/v1/records?channel={channel}&limit=1000"),
    )
    .await;
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["platform_id"] == platform_id)
        .unwrap_or_else(|| panic!("no record {platform_id}"))["id"]
        .as_i64()
        .unwrap()
}

both_backends!(
    interactions_give_consent_and_withdrawal_opens_unpublish_tasks,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let (_, officer) = app.token("officer").await;
        let ch = channel(&app, &archivist, "facebook", PAGE).await;
        assert_eq!(import(&app, &archivist, ch, &thread()).await.status(), 200);
        let anna = identity(&app, &officer, "501").await;

        let ledger = get(&app, &officer, &format!("/api/v1/consents?identity={anna}")).await;
        let events = ledger["events"].as_array().unwrap();
        let mut interactions: Vec<&str> = events
            .iter()
            .map(|e| e["interaction"].as_str().unwrap())
            .collect();
        interactions.sort();
        assert_eq!(interactions, ["comment", "reaction", "reaction"]);
        assert!(events.iter().all(|e| e["event"] == "given"
            && e["purpose"] == "publication_on_channel"
            && e["policy_version"] == "sociala-medier-2024"
            && e["record_id"].is_i64()));
        let comment = events
            .iter()
            .find(|e| e["interaction"] == "comment")
            .unwrap();
        assert_eq!(comment["at"], "2024-03-01T11:00:00+00:00");
        let purposes = ledger["purposes"].as_array().unwrap();
        let basis = |p: &str| {
            purposes.iter().find(|x| x["purpose"] == p).unwrap()["legal_basis"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(basis("archiving"), "legal_obligation");
        assert_eq!(basis("publication_on_channel"), "consent");
        assert_eq!(ledger["channels"][0]["state"], "given");

        // The Page's own reply gives no consent; re-importing gives nothing new.
        let page_identity = identity(&app, &officer, PAGE).await;
        let own = get(
            &app,
            &officer,
            &format!("/api/v1/consents?identity={page_identity}"),
        )
        .await;
        assert_eq!(own["events"].as_array().unwrap().len(), 0);
        assert_eq!(import(&app, &archivist, ch, &thread()).await.status(), 200);
        let again = get(&app, &officer, &format!("/api/v1/consents?identity={anna}")).await;
        assert_eq!(again["events"].as_array().unwrap().len(), 3);

        // Only officers withdraw; bad ids name the field.
        let body = json!({"identity_id": anna, "note": "Per telefon"});
        let r = app
            .post_json("/api/v1/consents/withdraw", &archivist, &body)
            .await;
        problem(r, 403).await;
        let r = app
            .post_json(
                "/api/v1/consents/withdraw",
                &officer,
                &json!({"identity_id": 999999}),
            )
            .await;
        assert_eq!(problem(r, 400).await["errors"][0]["field"], "identity_id");
        let r = app
            .client
            .get(app.url("/api/v1/consents?identity=999999"))
            .bearer_auth(&officer)
            .send()
            .await
            .unwrap();
        assert_eq!(problem(r, 400).await["errors"][0]["field"], "identity");

        let r = app
            .post_json("/api/v1/consents/withdraw", &officer, &body)
            .await;
        assert_eq!(r.status(), 200);
        let w: Value = r.json().await.unwrap();
        assert_eq!(w["events"][0]["event"], "withdrawn");
        let tasks = w["unpublish_tasks"].as_array().unwrap();
        assert_eq!(tasks.len(), 3, "{w}");
        assert!(
            tasks
                .iter()
                .all(|t| t["status"] == "open" && t["reason"] == "consent_withdrawn")
        );
        let links: Vec<&str> = tasks.iter().map(|t| t["link"].as_str().unwrap()).collect();
        assert!(
            links.contains(&"https://www.facebook.com/1_10"),
            "{links:?}"
        );

        // The archive is not touched.
        let comment_id = record_id(&app, &officer, ch, "1_10").await;
        let rec = get(&app, &officer, &format!("/api/v1/records/{comment_id}")).await;
        assert_eq!(rec["version_count"], 1);
        assert_eq!(rec["visibility"], "visible");

        let ledger = get(&app, &officer, &format!("/api/v1/consents?identity={anna}")).await;
        assert_eq!(ledger["channels"][0]["state"], "withdrawn");

        // A later interaction is a new consent, and the ledger shows both. (One imported late but
        // made before the withdrawal would sort before it: the withdrawal still stands.)
        let later_time = (chrono::Utc::now() + chrono::Duration::minutes(1)).timestamp();
        let later = json!({"id": "1_20", "from": {"id": "501", "name": "Anna Andersson"},
            "message": "En fråga till", "created_time": later_time,
            "parent": {"id": "1_10"}});
        assert_eq!(import(&app, &archivist, ch, &later).await.status(), 200);
        let ledger = get(&app, &officer, &format!("/api/v1/consents?identity={anna}")).await;
        let kinds: Vec<&str> = ledger["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(kinds.last(), Some(&"given"));
        assert!(kinds.contains(&"withdrawn"));
        assert_eq!(ledger["channels"][0]["state"], "given");

        // Closing tasks: done, not possible with a reason, never twice.
        let open = get(&app, &archivist, "/api/v1/unpublish-tasks?status=open").await;
        assert_eq!(open["tasks"].as_array().unwrap().len(), 3);
        let first = open["tasks"][0]["id"].as_i64().unwrap();
        let second = open["tasks"][1]["id"].as_i64().unwrap();
        let close = |id: i64| format!("/api/v1/unpublish-tasks/{id}/close");
        let r = app
            .post_json(&close(first), &archivist, &json!({"status": "done"}))
            .await;
        assert_eq!(r.status(), 200);
        let r = app
            .post_json(&close(first), &archivist, &json!({"status": "done"}))
            .await;
        problem(r, 409).await;
        let r = app
            .post_json(
                &close(second),
                &archivist,
                &json!({"status": "not_possible"}),
            )
            .await;
        assert_eq!(problem(r, 400).await["errors"][0]["field"], "note");
        let r = app
            .post_json(
                &close(second),
                &archivist,
                &json!({"status": "not_possible", "note": "The platform no longer shows it"}),
            )
            .await;
        assert_eq!(r.json::<Value>().await.unwrap()["status"], "not_possible");
        let r = app
            .post_json(&close(999999), &archivist, &json!({"status": "done"}))
            .await;
        problem(r, 404).await;
        let open = get(&app, &archivist, "/api/v1/unpublish-tasks?status=open").await;
        assert_eq!(open["tasks"].as_array().unwrap().len(), 1);

        let audit = get(
            &app,
            &app.admin,
            &format!("/api/v1/audit?target=identity:{anna}"),
        )
        .await;
        assert_eq!(audit["entries"][0]["action"], "consent.withdraw");
    }
);

both_backends!(
    an_author_learned_later_is_in_the_ledger,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let (_, officer) = app.token("officer").await;
        let ch = channel(&app, &archivist, "facebook", PAGE).await;
        // Listed first without `from` (the caller did not ask for it), then with it.
        let mut c = json!({"id": "777_70", "message": "Hej", "created_time": "2026-11-01T10:00:00+0000",
            "parent": {"id": format!("{PAGE}_777")}});
        assert_eq!(import(&app, &archivist, ch, &c).await.status(), 200);
        c["from"] = json!({"id": "701", "name": "Greta Ek"});
        assert_eq!(import(&app, &archivist, ch, &c).await.status(), 200);
        let greta = identity(&app, &officer, "701").await;
        let ledger = get(
            &app,
            &officer,
            &format!("/api/v1/consents?identity={greta}"),
        )
        .await;
        let events = ledger["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{ledger}");
        assert_eq!(events[0]["event"], "given");
        // Seeing it again changes nothing.
        assert_eq!(import(&app, &archivist, ch, &c).await.status(), 200);
        let again = get(
            &app,
            &officer,
            &format!("/api/v1/consents?identity={greta}"),
        )
        .await;
        assert_eq!(again["events"].as_array().unwrap().len(), 1);
    }
);

/// A Page webhook delivery of one feed item by `who` at `time`.
fn feed_item(item: &str, id: &str, parent: Option<&str>, who: &str, time: &str) -> Value {
    let mut value = json!({"item": item, "verb": "add", "from": {"id": who, "name": "Anna Andersson"},
        "message": "Hej kommunen", "created_time": time});
    match item {
        "comment" => {
            value["comment_id"] = id.into();
            value["post_id"] = parent.unwrap().into();
            value["parent_id"] = parent.unwrap().into();
        }
        _ => value["post_id"] = id.into(),
    }
    json!({"object": "page", "entry": [{"id": PAGE, "time": 1, "changes": [{"field": "feed", "value": value}]}]})
}

both_backends!(
    a_visitors_post_and_what_arrives_after_a_withdrawal_are_taken_down,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let (_, officer) = app.token("officer").await;
        let ch = channel(&app, &archivist, "facebook", PAGE).await;
        assert_eq!(import(&app, &archivist, ch, &thread()).await.status(), 200);
        let anna = identity(&app, &officer, "501").await;
        // Anna writes on the Page's wall: a visitor's post is an interaction like a comment.
        let wall = format!("{PAGE}_77");
        let r = import(
            &app,
            &archivist,
            ch,
            &feed_item("status", &wall, None, "501", "2024-03-05T10:00:00+0000"),
        )
        .await;
        assert_eq!(r.status(), 200);
        let ledger = get(&app, &officer, &format!("/api/v1/consents?identity={anna}")).await;
        assert!(
            ledger["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["interaction"] == "post"),
            "{ledger}"
        );
        let r = app
            .post_json(
                "/api/v1/consents/withdraw",
                &officer,
                &json!({"identity_id": anna}),
            )
            .await;
        let w: Value = r.json().await.unwrap();
        let post = record_id(&app, &archivist, ch, &wall).await;
        assert!(
            w["unpublish_tasks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["record_id"] == post),
            "{w}"
        );
        let open = || {
            let (app, archivist) = (&app, archivist.clone());
            async move {
                get(app, &archivist, "/api/v1/unpublish-tasks?status=open").await["tasks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|t| t["record_id"].as_i64())
                    .collect::<Vec<i64>>()
            }
        };
        let before = open().await.len();

        // A comment she made before withdrawing, delivered only now, is covered by the
        // withdrawal; one made after it is consent given anew.
        let r = import(
            &app,
            &archivist,
            ch,
            &feed_item(
                "comment",
                "1_90",
                Some(&format!("{PAGE}_1")),
                "501",
                "2024-03-06T10:00:00+0000",
            ),
        )
        .await;
        assert_eq!(r.status(), 200);
        let late = record_id(&app, &archivist, ch, "1_90").await;
        let tasks = open().await;
        assert!(tasks.contains(&late), "{tasks:?}");
        assert_eq!(tasks.len(), before + 1);
        let r = import(
            &app,
            &archivist,
            ch,
            &feed_item(
                "comment",
                "1_91",
                Some(&format!("{PAGE}_1")),
                "501",
                "2099-01-01T10:00:00+0000",
            ),
        )
        .await;
        assert_eq!(r.status(), 200);
        assert_eq!(open().await.len(), before + 1);

        // A reaction the platform gives no time for (a Graph listing) is taken as covered, and
        // the ledger does not read it as consent given anew.
        let later = json!({"id": format!("{PAGE}_2"), "from": {"id": PAGE, "name": "Kommunen"},
            "message": "Nu stänger badet", "created_time": "2024-09-01T10:00:00+0000",
            "reactions": {"data": [{"id": "501", "name": "Anna Andersson", "type": "LIKE"}]}});
        assert_eq!(import(&app, &archivist, ch, &later).await.status(), 200);
        let reaction = record_id(&app, &archivist, ch, &format!("{PAGE}_2/reaction/501")).await;
        assert!(open().await.contains(&reaction));
        let ledger = get(&app, &officer, &format!("/api/v1/consents?identity={anna}")).await;
        let events = ledger["events"].as_array().unwrap();
        let at =
            |pick: &dyn Fn(&Value) -> bool| events.iter().find(|e| pick(e)).unwrap()["at"].clone();
        // Dated at the withdrawal, and listed before it.
        let withdrawn = at(&|e| e["event"] == "withdrawn");
        assert_eq!(at(&|e| e["record_id"] == reaction), withdrawn, "{ledger}");
        let place = |pick: &dyn Fn(&Value) -> bool| events.iter().position(pick).unwrap();
        assert!(
            place(&|e| e["record_id"] == reaction) < place(&|e| e["event"] == "withdrawn"),
            "{ledger}"
        );
    }
);
