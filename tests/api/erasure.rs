//! Erasure: the plan's decisions and grounds over the real fixtures, exclusions, approval in one
//! transaction, the archive untouched where it keeps, suppression on re-import, the reply.
use crate::archive::{channel, get, import};
use crate::both_backends;
use crate::helpers::{Backend, TestApp, problem, spawn_app};
use crate::packages::{completed, download, files, ready};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, QueryOrder};
use serde_json::{Value, json};

/// The Page the fixtures' member of the public writes to. In the restfb captures the sender
/// `1234567890321` is the capturing Page itself; here the municipality's Page is another, so that
/// "Tester" / "John Doe" (`1234567890321`) is the citizen.
const PAGE: &str = "555000111";
const PERSON: &str = "1234567890321";
const POST: &str = "1234567890321_901097836652708";
const C1: &str = "901097836652708_903438993085259";
const C2: &str = "900728623356296_900744590021366";
const REPLY: &str = "901097836652708_903438993085260";
const BO_REPLY: &str = "901097836652708_903438993085261";
/// The reaction capture: the person's love of another post of the Page.
const REACTION: &str = "1234567890321_98735342324352/reaction/1234567890321";
/// The messenger Page of the messaging fixtures, and the person's id there.
const MESSENGER_PAGE: &str = "12345654332";
const MESSENGER_PERSON: &str = "987654321432";

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../shared/fixtures/meta-graph/restfb/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The comment-add capture, as a comment (or reply) with `id` under `parent`, by `who`.
fn comment(id: &str, parent: &str, who: (&str, &str)) -> Value {
    let mut body = fixture("webhooks_feed-comment-add-25.json");
    let v = &mut body["entry"][0]["changes"][0]["value"];
    v["comment_id"] = id.into();
    v["parent_id"] = parent.into();
    v["post_id"] = POST.into();
    v["sender_id"] = who.0.into();
    v["sender_name"] = who.1.into();
    body
}

struct World {
    facebook: i64,
    messenger: i64,
    archivist: String,
    officer: String,
}

async fn ids_by_platform_id(app: &TestApp, token: &str) -> std::collections::HashMap<String, i64> {
    let page = get(app, token, "/api/v1/records?limit=1000").await;
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["platform_id"].as_str().unwrap().to_owned(),
                r["id"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Two comments, a reply and a reaction by the person on Facebook, a reply by Bo to the first
/// comment, and a private message by the person on Messenger; a disposal decision that lets
/// reactions go at once and keeps comments twenty years; a hold on the second comment.
async fn world(app: &TestApp) -> World {
    let (_, archivist) = app.token("archivist").await;
    let (_, officer) = app.token("officer").await;
    let facebook = channel(app, &archivist, "facebook", PAGE).await;
    let messenger = channel(app, &archivist, "messenger", MESSENGER_PAGE).await;
    for body in [
        fixture("webhooks_feed-comment-add-25.json"),
        fixture("webhooks_feed-comment-edited-25.json"),
        comment(REPLY, C1, (PERSON, "Tester")),
        comment(BO_REPLY, C1, ("777", "Bo Berg")),
        fixture("webhooks_feed-reaction-add.json"),
    ] {
        let r = import(app, &archivist, facebook, &body).await;
        assert_eq!(r.status(), 200);
    }
    let r = import(
        app,
        &archivist,
        messenger,
        &fixture("webhooks_messaging-message-basic.json"),
    )
    .await;
    assert_eq!(r.status(), 200);
    crate::retention::decide(app, &archivist, json!({"reference": "KS 2024-0456", "title": "Gallring av sociala medier",
                "decided_on": "2024-05-01",
                "rules": [{"kind": "reaction", "keep": "P0D"}, {"kind": "comment", "keep": "P20Y"}]})).await;
    let ids = ids_by_platform_id(app, &officer).await;
    let r = app
        .post_json(
            "/api/v1/legal-holds",
            &officer,
            &json!({"reason": "Tvist om bygglov, mål 1234-26", "scope": "records",
                "record_ids": [ids[C2]], "from": "2026-01-01", "until": "2027-06-30"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    World {
        facebook,
        messenger,
        archivist,
        officer,
    }
}

/// An erasure request naming both accounts, verified by an officer and assigned.
async fn erasure_request(app: &TestApp, officer: &str) -> (i64, String) {
    crate::packages::started(
        app,
        officer,
        json!({"type": "erasure", "email": "tester@example.se", "language": "sv",
            "identities": [{"platform": "facebook", "value": PERSON},
                           {"platform": "messenger", "value": MESSENGER_PERSON}]}),
    )
    .await
}

/// The officer's `action` (`plan`, `approve`) on request `id`, which must succeed; its answer.
async fn act(app: &TestApp, officer: &str, id: i64, action: &str) -> Value {
    let r = app
        .post_json(
            &format!("/api/v1/requests/{id}/{action}"),
            officer,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 200, "{action}");
    r.json().await.unwrap()
}

/// `(kind, target, decision, ground)` of every item, in the plan's order.
fn decisions(plan: &Value) -> Vec<(String, i64, String, String)> {
    plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_owned(),
                i["target_id"].as_i64().unwrap_or(0),
                i["decision"].as_str().unwrap().to_owned(),
                i["ground"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn item<'a>(plan: &'a Value, kind: &str, target: i64) -> &'a Value {
    plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == kind && i["target_id"] == target)
        .unwrap_or_else(|| panic!("no {kind} item for {target}"))
}

async fn identity_id(app: &TestApp, token: &str, platform: &str, platform_id: &str) -> i64 {
    let found = get(
        app,
        token,
        &format!("/api/v1/identities?platform={platform}&q={platform_id}"),
    )
    .await;
    found[0]["id"].as_i64().unwrap()
}

both_backends!(
    the_plan_holds_a_decision_and_ground_per_item_and_approval_keeps_the_archive,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let w = world(&app).await;
        let officer = w.officer.clone();
        let ids = ids_by_platform_id(&app, &officer).await;
        let reaction = ids[REACTION];
        let messages = get(&app, &officer, "/api/v1/records?kind=message").await;
        let message = messages["records"][0]["id"].as_i64().unwrap();
        let fb_person = identity_id(&app, &officer, "facebook", PERSON).await;
        let ms_person = identity_id(&app, &officer, "messenger", MESSENGER_PERSON).await;

        // An earlier access request of the person, with its package.
        let (access, access_token, _) = completed(
            &app,
            &officer,
            json!({"type": "access", "email": "tester@example.se",
                "identities": [{"platform": "facebook", "value": PERSON}]}),
        )
        .await;
        let before = files(&ready(&app, &access_token, access).await);
        assert!(String::from_utf8_lossy(&before["data.json"]).contains(REACTION));
        // Someone else's request that named the person's account too, but acted only on their own
        // (the person's account was never verified there): its package is not the person's.
        let (others, others_token, _) = completed(
            &app,
            &officer,
            json!({"type": "access", "email": "bo@example.se",
                "identities": [{"platform": "facebook", "value": "98765"},
                               {"platform": "facebook", "value": PERSON}]}),
        )
        .await;
        ready(&app, &others_token, others).await;
        {
            use sea_orm::{ColumnTrait, QueryFilter};
            entities::request_identity::Entity::update_many()
                .col_expr(
                    entities::request_identity::Column::VerifiedAt,
                    sea_orm::sea_query::Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
                )
                .filter(entities::request_identity::Column::RequestId.eq(others))
                .filter(entities::request_identity::Column::Value.eq(PERSON))
                .exec(&app.db)
                .await
                .unwrap();
        }

        let (id, status_token) = erasure_request(&app, &officer).await;
        let plan_path = format!("/api/v1/requests/{id}/plan");
        // Not before a plan exists.
        let r = app
            .client
            .get(app.url(&plan_path))
            .bearer_auth(&officer)
            .send()
            .await
            .unwrap();
        problem(r, 404).await;
        let r = app
            .post_json(
                &format!("/api/v1/requests/{id}/approve"),
                &officer,
                &json!({}),
            )
            .await;
        problem(r, 409).await;
        // Only officers plan.
        let r = app.post_json(&plan_path, &w.archivist, &json!({})).await;
        problem(r, 403).await;

        let r = app.post_json(&plan_path, &officer, &json!({})).await;
        assert_eq!(r.status(), 200);
        let plan: Value = r.json().await.unwrap();
        assert_eq!(plan["status"], "proposed");
        // The answer is the plan as stored, to the last item.
        assert_eq!(get(&app, &officer, &plan_path).await, plan);
        let package_id = {
            let p = entities::package::Entity::find()
                .order_by_asc(entities::package::Column::Id)
                .one(&app.db)
                .await
                .unwrap()
                .unwrap();
            p.id
        };
        let s = |x: &str| x.to_owned();
        let mut expected = vec![
            (s("record"), ids[C1], s("retain"), s("public_document")),
            (
                s("record"),
                ids[C2],
                s("retain_under_hold"),
                s("legal_hold"),
            ),
            (
                s("record"),
                ids[REPLY],
                s("retain"),
                s("public_document_no_decision"),
            ),
            (s("record"), reaction, s("erase"), s("disposal_due")),
            (
                s("record"),
                message,
                s("retain"),
                s("public_document_no_decision"),
            ),
            (s("publication"), ids[C1], s("unpublish"), s("publication")),
            (s("publication"), ids[C2], s("unpublish"), s("publication")),
            (
                s("publication"),
                ids[REPLY],
                s("unpublish"),
                s("publication"),
            ),
            (s("publication"), reaction, s("unpublish"), s("publication")),
            (s("profile"), fb_person, s("erase"), s("profile_details")),
            (s("profile"), ms_person, s("erase"), s("profile_details")),
            (
                s("consent_events"),
                fb_person,
                s("erase"),
                s("consent_events"),
            ),
            (s("package"), package_id, s("erase"), s("earlier_package")),
            (s("case_file"), id, s("retain"), s("case_file")),
        ];
        let mut got = decisions(&plan);
        expected.sort();
        got.sort();
        assert_eq!(got, expected);
        assert_eq!(
            plan["totals"],
            json!({"retain": 4, "retain_under_hold": 1, "erase": 5, "unpublish": 4, "excluded": 0})
        );
        // Grounds name the rule and the date, in the request's language.
        let c1 = item(&plan, "record", ids[C1]);
        assert_eq!(c1["until"], "2035-12-03");
        assert_eq!(
            c1["sentence"],
            "Behålls: allmän handling som inkommit till kommunen (TF 2 kap.), får gallras tidigast \
             2035-12-03 enligt gallringsbeslut KS 2024-0456; GDPR art. 17.3 b och d."
        );
        let held = item(&plan, "record", ids[C2]);
        assert_eq!(held["until"], "2027-06-30");
        assert!(
            held["sentence"]
                .as_str()
                .unwrap()
                .contains("Tvist om bygglov, mål 1234-26")
        );
        // Disposable since the decision was made, not since the reaction (of 2016) plus P0D.
        let gone = item(&plan, "record", reaction);
        assert_eq!(gone["until"], "2024-05-01");
        assert_eq!(gone["label"], "Reaktion 2016-10-04");
        assert_eq!(item(&plan, "consent_events", fb_person)["count"], 1);
        // Computing changed nothing: the reaction is there, no task is open.
        get(&app, &officer, &format!("/api/v1/records/{reaction}")).await;
        let tasks = get(&app, &officer, "/api/v1/unpublish-tasks?status=open").await;
        assert_eq!(tasks["tasks"].as_array().unwrap().len(), 0);

        // Exclusions: only what acts can be left out; a reason is needed; it can be undone.
        let excl = |item_id: i64| format!("/api/v1/requests/{id}/plan/items/{item_id}/exclude");
        let kept = c1["id"].as_i64().unwrap();
        let r = app
            .post_json(&excl(kept), &officer, &json!({"reason": "x"}))
            .await;
        problem(r, 409).await;
        let task_item = item(&plan, "publication", ids[REPLY])["id"]
            .as_i64()
            .unwrap();
        let r = app
            .post_json(&excl(task_item), &officer, &json!({"reason": "  "}))
            .await;
        assert_eq!(problem(r, 400).await["errors"][0]["field"], "reason");
        let r = app
            .post_json(&excl(999_999), &officer, &json!({"reason": "x"}))
            .await;
        problem(r, 404).await;
        let r = app
            .post_json(
                &excl(task_item),
                &officer,
                &json!({"reason": "Svaret är redan borttaget av Meta."}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["totals"]["excluded"], 1);
        let profile_item = item(&plan, "profile", ms_person)["id"].as_i64().unwrap();
        app.post_json(
            &excl(profile_item),
            &officer,
            &json!({"reason": "tillfälligt"}),
        )
        .await;
        let r = app
            .post_json(
                &format!("/api/v1/requests/{id}/plan/items/{profile_item}/include"),
                &officer,
                &json!({}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["totals"]["excluded"], 1);
        // A record left out keeps its consent entry, and the consent item says so; back in, it goes.
        let reaction_item = item(&plan, "record", reaction)["id"].as_i64().unwrap();
        let r = app
            .post_json(&excl(reaction_item), &officer, &json!({"reason": "prövas"}))
            .await;
        let p: Value = r.json().await.unwrap();
        let consents = item(&p, "consent_events", fb_person);
        assert_eq!(consents["count"], 0, "{consents}");
        assert!(
            consents["sentence"].as_str().unwrap().contains('0'),
            "{consents}"
        );
        let r = app
            .post_json(
                &format!("/api/v1/requests/{id}/plan/items/{reaction_item}/include"),
                &officer,
                &json!({}),
            )
            .await;
        let p: Value = r.json().await.unwrap();
        assert_eq!(item(&p, "consent_events", fb_person)["count"], 1);

        // What the archive keeps, as it is now, to the byte.
        let retained = [ids[C1], ids[C2], ids[REPLY], ids[BO_REPLY], message];
        let mut snapshot = vec![];
        for rid in retained {
            snapshot.push(get(&app, &officer, &format!("/api/v1/records/{rid}")).await);
        }

        let done = act(&app, &officer, id, "approve").await;
        assert_eq!(done["recomputed"], false);
        assert_eq!(done["already_executed"], false);
        let plan = &done["plan"];
        assert_eq!(plan["status"], "executed");
        assert_eq!(item(plan, "record", reaction)["outcome"], "erased");
        assert_eq!(item(plan, "record", ids[C1])["outcome"], "kept");
        assert_eq!(item(plan, "publication", ids[REPLY])["outcome"], "excluded");
        let opened = item(plan, "publication", ids[C1]);
        assert_eq!(opened["outcome"], "task_opened");
        assert_eq!(opened["task"]["status"], "open");

        // Kept records and their versions are byte-identical, and fixity holds.
        for (rid, before) in retained.iter().zip(&snapshot) {
            let after = get(&app, &officer, &format!("/api/v1/records/{rid}")).await;
            assert_eq!(&after, before, "record {rid}");
            let v = get(&app, &officer, &format!("/api/v1/records/{rid}/verify")).await;
            assert_eq!(v["intact"], true, "record {rid}");
        }
        // The erased reaction is gone from every API.
        let r = app
            .client
            .get(app.url(&format!("/api/v1/records/{reaction}")))
            .bearer_auth(&officer)
            .send()
            .await
            .unwrap();
        problem(r, 404).await;
        let theirs = get(
            &app,
            &officer,
            &format!("/api/v1/records?identity={fb_person}"),
        )
        .await;
        assert!(
            theirs["records"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["id"] != reaction)
        );
        assert_eq!(theirs["records"].as_array().unwrap().len(), 3);
        let consents = get(
            &app,
            &officer,
            &format!("/api/v1/consents?identity={fb_person}"),
        )
        .await;
        assert!(
            !consents
                .to_string()
                .contains(&format!("\"record_id\":{reaction}"))
        );
        // Unpublish tasks: the three not left out.
        let tasks = get(&app, &officer, "/api/v1/unpublish-tasks?status=open").await;
        let tasks = tasks["tasks"].as_array().unwrap();
        assert_eq!(tasks.len(), 3);
        assert!(tasks.iter().all(|t| t["reason"] == "erasure"));
        // The earlier package is erased.
        let r = download(&app, &access_token, access).await;
        assert_eq!(
            problem(r, 410).await["type"],
            "https://insyn.example/problems/package-erased"
        );
        // A new access package no longer holds the reaction.
        let (again, again_token, _) = completed(
            &app,
            &officer,
            json!({"type": "access", "email": "tester@example.se",
                "identities": [{"platform": "facebook", "value": PERSON}]}),
        )
        .await;
        let after = files(&ready(&app, &again_token, again).await);
        let data = String::from_utf8_lossy(&after["data.json"]).to_string();
        assert!(
            !data.contains(REACTION),
            "the erased reaction is not in a new package"
        );
        assert!(data.contains(C1));

        // The audit names what was erased, by id.
        let audit = get(
            &app,
            &app.admin,
            &format!("/api/v1/audit?target=request:{id}&action=erasure.execute"),
        )
        .await;
        let entry = &audit["entries"][0]["details"];
        assert_eq!(entry["erased_records"], json!([reaction]));
        assert_eq!(entry["packages"], json!([package_id]));
        let verify = get(&app, &app.admin, "/api/v1/audit/verify").await;
        assert_eq!(verify["intact"], true);

        // Re-importing the same payload does not bring the reaction back.
        let r = import(
            &app,
            &w.archivist,
            w.facebook,
            &fixture("webhooks_feed-reaction-add.json"),
        )
        .await;
        let counts: Value = r.json().await.unwrap();
        assert_eq!(
            (counts["created"].as_u64(), counts["suppressed"].as_u64()),
            (Some(0), Some(1))
        );
        // Nor does a Graph API listing that names the reacted post by its bare id.
        let post = REACTION
            .split('/')
            .next()
            .unwrap()
            .split_once('_')
            .unwrap()
            .1;
        let listed = json!({"id": post, "message": "Välkommen", "type": "status",
            "reactions": {"data": [{"id": PERSON, "name": "John Doe", "type": "LOVE"}]}});
        let counts: Value = import(&app, &w.archivist, w.facebook, &listed)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(counts["suppressed"].as_u64(), Some(1), "{counts}");
        let r = app
            .client
            .get(app.url("/api/v1/records?kind=reaction"))
            .bearer_auth(&officer)
            .send()
            .await
            .unwrap();
        let page: Value = r.json().await.unwrap();
        assert_eq!(page["records"].as_array().unwrap().len(), 0);
        let _ = w.messenger;
        // Nothing of the erased reaction stays in SQLite's files either: not in the free space of
        // the database's pages, nor in earlier page images in the write-ahead log, once the
        // service has emptied the log after the erasure (in the background, so this waits for it).
        if app.database_url.starts_with("sqlite:") {
            let path = app.database_url["sqlite://".len()..]
                .split('?')
                .next()
                .unwrap()
                .to_owned();
            let found = |file: &str| {
                std::fs::read(file).map_or(0, |bytes| {
                    bytes
                        .windows(REACTION.len())
                        .filter(|w| *w == REACTION.as_bytes())
                        .count()
                })
            };
            let wal = format!("{path}-wal");
            let mut left = (usize::MAX, usize::MAX);
            for _ in 0..100 {
                left = (found(&path), found(&wal));
                if left == (0, 0) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            assert_eq!(
                left,
                (0, 0),
                "the erased reaction's id is still in the database file or its log"
            );
        }
        // The person's profile details stay erased: a later comment of theirs is archived (it is
        // new), but the name it carries is not written to the erased identity again.
        let before = get(
            &app,
            &officer,
            &format!("/api/v1/identities?platform=facebook&q={PERSON}"),
        )
        .await;
        let r = import(
            &app,
            &w.archivist,
            w.facebook,
            &comment(
                "901097836652708_903438993085300",
                POST,
                (PERSON, "Ett Nytt Namn"),
            ),
        )
        .await;
        let counts: Value = r.json().await.unwrap();
        assert_eq!(counts["created"], 1);
        let after = get(
            &app,
            &officer,
            &format!("/api/v1/identities?platform=facebook&q={PERSON}"),
        )
        .await;
        assert_eq!(after[0]["display_name"], before[0]["display_name"]);
        assert!(after[0]["profile_link"].is_null());

        // Approving again changes nothing and answers the same plan.
        let r = app
            .post_json(
                &format!("/api/v1/requests/{id}/approve"),
                &officer,
                &json!({}),
            )
            .await;
        let again: Value = r.json().await.unwrap();
        assert_eq!(again["already_executed"], true);
        // The same plan, to the last outcome and task: the first answer was assembled as the
        // execution went, this one is read back from the store.
        assert_eq!(&again["plan"], plan);

        // The person reads the outcome item by item on the status page, and in the mail.
        let view = get(&app, &status_token, &format!("/api/v1/requests/{id}")).await;
        assert_eq!(view["status"], "completed");
        let outcome = view["erasure_outcome"].as_array().unwrap();
        assert!(
            outcome
                .iter()
                .any(|o| o["label"] == "Reaktion 2016-10-04" && o["decision"] == "erase")
        );
        assert!(outcome.iter().any(|o| o["decision"] == "retain"
            && o["ground"] == "excluded"
            && o["sentence"] == "Behålls efter prövning: Svaret är redan borttaget av Meta."));
        assert!(
            outcome
                .iter()
                .any(|o| o["decision"] == "unpublish" && o["task_status"] == "open")
        );
        let mails = entities::outbox::Entity::find().all(&app.db).await.unwrap();
        let reply = mails
            .iter()
            .find(|m| m.subject.starts_with("Svar på din begäran om radering"))
            .expect("the reply is queued");
        for part in [
            "Raderat:",
            "Reaktion 2016-10-04: Raderas: gallringsbeslut KS 2024-0456 medger gallring sedan 2024-05-01.",
            "Bevarat:",
            "får gallras tidigast 2035-12-03",
            "Tvist om bygglov",
            "Meta",
            "sekretessprövning",
            "IMY",
        ] {
            assert!(
                reply.body_text.contains(part),
                "the reply says {part:?}:\n{}",
                reply.body_text
            );
        }
        assert!(
            !reply.body_text.contains("and the next one"),
            "no message text in the mail"
        );
    }
);

both_backends!(
    a_stale_plan_is_recomputed_and_the_officer_told,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let w = world(&app).await;
        let (id, _) = erasure_request(&app, &w.officer).await;
        act(&app, &w.officer, id, "plan").await;
        // A new comment of the person reaches the archive after the plan was computed.
        let r = import(
            &app,
            &w.archivist,
            w.facebook,
            &comment("901097836652708_903438993085299", POST, (PERSON, "Tester")),
        )
        .await;
        assert_eq!(r.status(), 200);
        let done = act(&app, &w.officer, id, "approve").await;
        assert_eq!(done["recomputed"], true);
        let changes = done["changes"].as_array().unwrap();
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert!(
            changes
                .iter()
                .all(|c| c.as_str().unwrap().contains("is new"))
        );
        assert_eq!(done["plan"]["status"], "executed");
        assert!(done["plan"]["supersedes"].is_i64());
        assert_eq!(done["plan"]["totals"]["unpublish"], 5);
    }
);

both_backends!(
    a_block_of_the_person_is_kept_and_the_person_told,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let w = world(&app).await;
        // The person's reply breaks a rule and they are blocked on the Page for it.
        let ids = ids_by_platform_id(&app, &w.officer).await;
        let r = app
            .post_json(
                &format!("/api/v1/records/{}/moderation", ids[REPLY]),
                &w.archivist,
                &json!({"rule": "profanity", "action": "block_author"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let blocks = get(&app, &w.officer, "/api/v1/blocks").await;
        let block = blocks[0]["id"].as_i64().unwrap();

        let (id, status_token) = erasure_request(&app, &w.officer).await;
        let plan = act(&app, &w.officer, id, "plan").await;
        let kept = item(&plan, "block", block);
        assert_eq!(kept["decision"], "retain");
        assert_eq!(kept["ground"], "moderation_case");
        assert!(
            kept["label"]
                .as_str()
                .unwrap()
                .starts_with("Blockering på facebook "),
            "{kept}"
        );
        // A kept item cannot be excluded: there is nothing to leave undone.
        let r = app
            .post_json(
                &format!("/api/v1/requests/{id}/plan/items/{}/exclude", kept["id"]),
                &w.officer,
                &json!({"reason": "Ingen anledning"}),
            )
            .await;
        assert_eq!(r.status(), 409);

        let done = act(&app, &w.officer, id, "approve").await;
        assert_eq!(item(&done["plan"], "block", block)["outcome"], "kept");
        let blocks = get(&app, &w.officer, "/api/v1/blocks").await;
        assert_eq!(blocks.as_array().unwrap().len(), 1, "the block stays");
        let view = get(&app, &status_token, &format!("/api/v1/requests/{id}")).await;
        assert!(view["erasure_outcome"].as_array().unwrap().iter().any(|o| {
            o["label"].as_str().unwrap().starts_with("Blockering på")
                && o["ground"] == "moderation_case"
        }));
    }
);

both_backends!(
    an_execution_that_fails_midway_leaves_nothing_half_done,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let w = world(&app).await;
        let (id, _) = erasure_request(&app, &w.officer).await;
        act(&app, &w.officer, id, "plan").await;
        let records_before = ids_by_platform_id(&app, &w.officer).await;
        let audit_before = get(&app, &app.admin, "/api/v1/audit?limit=500").await["entries"]
            .as_array()
            .unwrap()
            .len();

        // The suppression list is written after the unpublish tasks and before the records go:
        // a failure there is a failure in the middle of the execution.
        let backend = app.db.get_database_backend();
        let install: &[&str] = match backend {
            DbBackend::Postgres => &[
                "CREATE FUNCTION fail_midway() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER fail_midway BEFORE INSERT ON suppression FOR EACH ROW EXECUTE FUNCTION fail_midway()",
            ],
            _ => &[
                "CREATE TRIGGER fail_midway BEFORE INSERT ON suppression BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
            ],
        };
        for sql in install {
            app.db.execute_unprepared(sql).await.unwrap();
        }
        let r = app
            .post_json(
                &format!("/api/v1/requests/{id}/approve"),
                &w.officer,
                &json!({}),
            )
            .await;
        assert_eq!(r.status(), 500);
        let p: Value = r.json().await.unwrap();
        assert!(
            !p.to_string().contains("injected"),
            "the cause stays in the log"
        );

        // Nothing happened: records, tasks, mail, the request, the plan, the audit log.
        assert_eq!(ids_by_platform_id(&app, &w.officer).await, records_before);
        let tasks = get(&app, &w.officer, "/api/v1/unpublish-tasks").await;
        assert_eq!(tasks["tasks"].as_array().unwrap().len(), 0);
        let view = get(&app, &w.officer, &format!("/api/v1/requests/{id}")).await;
        assert_eq!(view["status"], "awaiting_approval");
        let plan = get(&app, &w.officer, &format!("/api/v1/requests/{id}/plan")).await;
        assert_eq!(plan["status"], "proposed");
        assert!(
            plan["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["outcome"].is_null())
        );
        let mails = entities::outbox::Entity::find().all(&app.db).await.unwrap();
        assert!(mails.iter().all(|m| !m.subject.contains("radering –")));
        let audit_after = get(&app, &app.admin, "/api/v1/audit?limit=500").await["entries"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(audit_after, audit_before);

        // After the fault is gone, approval does all of it, once.
        app.db
            .execute_unprepared("DROP TRIGGER fail_midway".to_owned().as_str())
            .await
            .ok();
        if backend == DbBackend::Postgres {
            app.db
                .execute_unprepared("DROP TRIGGER IF EXISTS fail_midway ON suppression")
                .await
                .unwrap();
        }
        let done = act(&app, &w.officer, id, "approve").await;
        assert_eq!(done["plan"]["status"], "executed");
        assert_eq!(done["plan"]["totals"]["erase"], 4);
        let tasks = get(&app, &w.officer, "/api/v1/unpublish-tasks").await;
        assert_eq!(tasks["tasks"].as_array().unwrap().len(), 4);
    }
);

both_backends!(
    only_a_verified_erasure_request_in_progress_is_planned,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, officer) = app.token("officer").await;
        let submit = |kind: &'static str| {
            let app = &app;
            async move {
                let s: Value = app
                    .client
                    .post(app.url("/api/v1/requests"))
                    .json(&json!({"type": kind, "email": "a@example.se",
                        "identities": [{"platform": "facebook", "value": "1"}]}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                s["id"].as_i64().unwrap()
            }
        };
        let plan = |id: i64| {
            let (app, officer) = (&app, &officer);
            async move {
                app.post_json(&format!("/api/v1/requests/{id}/plan"), officer, &json!({}))
                    .await
            }
        };
        // An access request has no plan.
        problem(plan(submit("access").await).await, 409).await;
        // An erasure request not yet started cannot be planned.
        let r = plan(submit("erasure").await).await;
        let p = problem(r, 409).await;
        assert!(
            p["detail"].as_str().unwrap().contains("assign it first"),
            "{p}"
        );
        let r = app
            .post_json("/api/v1/requests/999999/plan", &officer, &json!({}))
            .await;
        problem(r, 404).await;
    }
);

both_backends!(
    an_erased_comment_that_kept_replies_answer_leaves_them_as_they_were,
    |b: Backend| async move {
        use crate::consent::{PAGE, record_id, thread};
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let (_, officer) = app.token("officer").await;
        let ch = channel(&app, &archivist, "facebook", PAGE).await;
        assert_eq!(import(&app, &archivist, ch, &thread()).await.status(), 200);
        // Anna's comment may go at once; the Page's reply to it and Bo's are kept.
        crate::retention::decide(
            &app,
            &archivist,
            json!({"reference": "KS 2024-0456", "title": "Kommentarer", "decided_on": "2024-05-01",
                    "rules": [{"kind": "comment", "keep": "P0D"}]}),
        )
        .await;
        let comment = record_id(&app, &officer, ch, "1_10").await;
        let replies = [
            record_id(&app, &officer, ch, "1_11").await,
            record_id(&app, &officer, ch, "1_12").await,
        ];
        let mut before = vec![];
        for r in replies {
            let rec = get(&app, &officer, &format!("/api/v1/records/{r}")).await;
            assert_eq!(rec["parent_id"], comment, "{rec}");
            before.push(rec);
        }
        let (id, _) = crate::packages::started(
            &app,
            &officer,
            json!({"type": "erasure", "email": "anna@example.se",
                "identities": [{"platform": "facebook", "value": "501"}]}),
        )
        .await;
        let plan = act(&app, &officer, id, "plan").await;
        assert_eq!(
            item(&plan, "record", comment)["decision"],
            "erase",
            "{plan}"
        );
        act(&app, &officer, id, "approve").await;

        // The replies are as they were, to the byte, their link to the erased comment included.
        for (r, was) in replies.iter().zip(&before) {
            let now = get(&app, &officer, &format!("/api/v1/records/{r}")).await;
            assert_eq!(&now, was);
            let v = get(&app, &officer, &format!("/api/v1/records/{r}/verify")).await;
            assert_eq!(v["intact"], true, "{v}");
        }
        // The comment is gone from every read; its row holds nothing of Anna's.
        let r = app
            .client
            .get(app.url(&format!("/api/v1/records/{comment}")))
            .bearer_auth(&officer)
            .send()
            .await
            .unwrap();
        problem(r, 404).await;
        let listed = get(
            &app,
            &officer,
            &format!("/api/v1/records?channel={ch}&limit=1000"),
        )
        .await;
        assert!(
            listed["records"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["id"] != comment),
            "{listed}"
        );
        let row = entities::record::Entity::find_by_id(comment)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                row.text,
                row.author_identity_id,
                row.platform_time,
                row.version_count
            ),
            (None, None, None, 0)
        );
        assert_eq!(row.platform_id, format!("erased:{comment}"));
        let versions = entities::record_version::Entity::find()
            .all(&app.db)
            .await
            .unwrap();
        assert!(versions.iter().all(|v| v.record_id != comment));
        // Imported again, the comment stays erased and the replies stay linked to its tombstone.
        let again: Value = import(&app, &archivist, ch, &thread())
            .await
            .json()
            .await
            .unwrap();
        assert!(again["suppressed"].as_u64().unwrap() >= 1, "{again}");
        let listed = get(
            &app,
            &officer,
            &format!("/api/v1/records?channel={ch}&limit=1000"),
        )
        .await;
        assert!(
            listed["records"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["platform_id"] != "1_10"),
            "{listed}"
        );
        for (r, was) in replies.iter().zip(&before) {
            assert_eq!(
                &get(&app, &officer, &format!("/api/v1/records/{r}")).await,
                was
            );
        }
        // A payload naming the tombstone's id is not taken for it.
        let crafted = json!({"id": format!("erased:{comment}"), "message": "x",
            "from": {"id": "9", "name": "N"}, "created_time": "2026-11-01T10:00:00+0000"});
        problem(import(&app, &archivist, ch, &crafted).await, 400).await;
        // A disposal run passes over the tombstone.
        let done = crate::retention::dispose(&app, &archivist, crate::retention::DryRun::Yes).await;
        assert_eq!(done["disposed"], 0, "{done}");
    }
);

/// The Page's answer to the person on Messenger, as the webhook echoes it: the Page the sender,
/// the person the recipient.
pub(crate) fn page_answer(page: &str, person: &str, mid: &str, text: &str) -> Value {
    let mut body = fixture("webhooks_messaging-message-basic.json");
    let m = &mut body["entry"][0]["messaging"][0];
    m["sender"]["id"] = page.into();
    m["recipient"]["id"] = person.into();
    m["timestamp"] = 1_457_764_297_627_i64.into();
    m["message"] = json!({"mid": mid, "is_echo": true, "text": text});
    body
}

both_backends!(
    a_message_the_municipality_sent_the_person_is_kept_as_sent_and_keeps_them_named,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let (_, officer) = app.token("officer").await;
        let messenger = channel(&app, &archivist, "messenger", MESSENGER_PAGE).await;
        for body in [
            fixture("webhooks_messaging-message-basic.json"),
            page_answer(
                MESSENGER_PAGE,
                MESSENGER_PERSON,
                "mid.answer",
                "Hej! Vi återkommer.",
            ),
        ] {
            assert_eq!(
                import(&app, &archivist, messenger, &body).await.status(),
                200
            );
        }
        // What the person sent may go at once; what the municipality sent is under no decision.
        crate::retention::decide(
            &app,
            &archivist,
            json!({"reference": "KS 2024-0456", "title": "Gallring av meddelanden",
                    "decided_on": "2024-05-01",
                    "rules": [{"kind": "message", "direction": "received", "keep": "P0D"}]}),
        )
        .await;
        let person = identity_id(&app, &officer, "messenger", MESSENGER_PERSON).await;
        let ids = ids_by_platform_id(&app, &officer).await;
        let (theirs, answer) = (
            ids["m_mid.1457764197618:41d102a3e1ae206a38"],
            ids["m_mid.answer"],
        );
        let sent = get(
            &app,
            &officer,
            &format!("/api/v1/records?recipient={person}"),
        )
        .await;
        assert_eq!(sent["records"].as_array().unwrap().len(), 1, "{sent}");
        assert_eq!(sent["records"][0]["id"], answer);
        assert_eq!(sent["records"][0]["direction"], "drawn_up");

        let (id, _) = crate::packages::started(
            &app,
            &officer,
            json!({"type": "erasure", "email": "tester@example.se", "language": "sv",
                "identities": [{"platform": "messenger", "value": MESSENGER_PERSON}]}),
        )
        .await;
        let plan = act(&app, &officer, id, "plan").await;
        let s = |x: &str| x.to_owned();
        let records: Vec<_> = decisions(&plan)
            .into_iter()
            .filter(|d| d.0 == "record" || d.0 == "profile")
            .collect();
        assert_eq!(
            records,
            [
                (s("record"), theirs, s("erase"), s("disposal_due")),
                (
                    s("record"),
                    answer,
                    s("retain"),
                    s("sent_document_no_decision")
                ),
                (s("profile"), person, s("erase"), s("profile_details")),
            ]
        );
        let sentence = item(&plan, "record", answer)["sentence"].as_str().unwrap();
        assert!(sentence.contains("upprättat och skickat"), "{sentence}");
        // The kept answer names the person: their account's id and name stay with it.
        assert_eq!(item(&plan, "profile", person)["count"], 0);
        act(&app, &officer, id, "approve").await;
        let ids = ids_by_platform_id(&app, &officer).await;
        assert!(!ids.contains_key("m_mid.1457764197618:41d102a3e1ae206a38"));
        assert_eq!(ids["m_mid.answer"], answer);
        assert_eq!(
            identity_id(&app, &officer, "messenger", MESSENGER_PERSON).await,
            person
        );
        let sent = get(
            &app,
            &officer,
            &format!("/api/v1/records?recipient={person}"),
        )
        .await;
        assert_eq!(sent["records"][0]["id"], answer);
    }
);

both_backends!(
    a_hold_over_a_person_keeps_what_the_municipality_sent_them,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let (_, officer) = app.token("officer").await;
        let messenger = channel(&app, &archivist, "messenger", MESSENGER_PAGE).await;
        let answer = page_answer(
            MESSENGER_PAGE,
            MESSENGER_PERSON,
            "mid.answer",
            "Vi ringer dig.",
        );
        assert_eq!(
            import(&app, &archivist, messenger, &answer).await.status(),
            200
        );
        crate::retention::decide(
            &app,
            &archivist,
            json!({"reference": "KS 2024-0457", "title": "Gallring av svar",
                    "decided_on": "2024-05-01",
                    "rules": [{"kind": "message", "direction": "drawn_up", "keep": "P0D"}]}),
        )
        .await;
        let person = identity_id(&app, &officer, "messenger", MESSENGER_PERSON).await;
        let r = app
            .post_json(
                "/api/v1/legal-holds",
                &officer,
                &json!({"reason": "Polisanmälan", "scope": "identity", "identity_id": person,
                    "from": "2026-01-01"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let answer = ids_by_platform_id(&app, &officer).await["m_mid.answer"];

        // The disposal run passes it over, and the erasure plan keeps it under the hold.
        let run = crate::retention::dispose(&app, &archivist, crate::retention::DryRun::Yes).await;
        assert_eq!(run["disposed"], 0, "{run}");
        let (id, _) = crate::packages::started(
            &app,
            &officer,
            json!({"type": "erasure", "email": "held@example.se", "language": "en",
                "identities": [{"platform": "messenger", "value": MESSENGER_PERSON}]}),
        )
        .await;
        let plan = act(&app, &officer, id, "plan").await;
        let kept = item(&plan, "record", answer);
        assert_eq!(
            (&kept["decision"], &kept["ground"]),
            (&json!("retain_under_hold"), &json!("legal_hold"))
        );
        assert!(kept["sentence"].as_str().unwrap().contains("Polisanmälan"));
    }
);

both_backends!(
    a_closed_task_forgets_what_it_took_down_once_the_record_is_erased,
    |b: Backend| async move {
        use crate::consent::{PAGE as THREAD_PAGE, identity, record_id, thread};
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let (_, officer) = app.token("officer").await;
        let ch = channel(&app, &archivist, "facebook", THREAD_PAGE).await;
        assert_eq!(import(&app, &archivist, ch, &thread()).await.status(), 200);
        // Reactions may go at once: Cecilia's one reaction will be erased.
        crate::retention::decide(
            &app,
            &archivist,
            json!({"reference": "KS 2024-0456", "title": "Reaktioner", "decided_on": "2024-05-01",
                        "rules": [{"kind": "reaction", "keep": "P0D"}]}),
        )
        .await;
        let cecilia = identity(&app, &officer, "503").await;
        let reaction = record_id(&app, &archivist, ch, "1_10/reaction/503").await;
        assert_eq!(
            get(&app, &archivist, &format!("/api/v1/records/{reaction}")).await["author_identity_id"],
            cecilia
        );
        // Her consent withdrawn, its task done by the team.
        let w: Value = app
            .post_json(
                "/api/v1/consents/withdraw",
                &officer,
                &json!({"identity_id": cecilia}),
            )
            .await
            .json()
            .await
            .unwrap();
        let withdrawn = w["unpublish_tasks"][0]["id"].as_i64().unwrap();
        let r = app
            .post_json(
                &format!("/api/v1/unpublish-tasks/{withdrawn}/close"),
                &archivist,
                &json!({"status": "done"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let task = |id: i64| {
            let (app, archivist) = (&app, archivist.clone());
            async move {
                get(app, &archivist, "/api/v1/unpublish-tasks?limit=1000").await["tasks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|t| t["id"] == id)
                    .cloned()
                    .unwrap()
            }
        };
        assert!(
            task(withdrawn).await["link"]
                .as_str()
                .unwrap()
                .contains("1_10")
        );

        let (id, _) = crate::packages::started(
            &app,
            &officer,
            json!({"type": "erasure", "email": "cecilia@example.se", "language": "sv",
                "identities": [{"platform": "facebook", "value": "503"}]}),
        )
        .await;
        let plan = act(&app, &officer, id, "plan").await;
        // Her withdrawal is kept, and she is told so and why.
        let kept = plan["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["kind"] == "consent_withdrawals")
            .unwrap_or_else(|| panic!("no item for her withdrawal: {plan}"));
        assert_eq!(
            (&kept["decision"], &kept["ground"], &kept["count"]),
            (&json!("retain"), &json!("withdrawal_record"), &json!(1))
        );
        assert!(kept["sentence"].as_str().unwrap().contains("art. 7.1"));
        act(&app, &officer, id, "approve").await;
        let ledger = get(
            &app,
            &officer,
            &format!("/api/v1/consents?identity={cecilia}"),
        )
        .await;
        assert_eq!(ledger["events"][0]["event"], "withdrawn", "{ledger}");
        // The closed task keeps no trace of her or of the item.
        let closed = task(withdrawn).await;
        assert_eq!(closed["link"], "", "{closed}");
        assert!(closed.get("identity_id").is_none(), "{closed}");
        assert!(
            closed.get("record_id").is_none(),
            "the record is gone: {closed}"
        );
        // The erasure's own task to take the reaction down keeps its link until it is done (the
        // record itself is gone), and forgets it as it closes.
        let open = get(&app, &archivist, "/api/v1/unpublish-tasks?status=open").await;
        let own: Vec<&Value> = open["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["reason"] == "erasure" && t.get("record_id").is_none())
            .collect();
        assert_eq!(own.len(), 1, "{open}");
        assert!(own[0]["link"].as_str().unwrap().contains("1_10"));
        let r = app
            .post_json(
                &format!("/api/v1/unpublish-tasks/{}/close", own[0]["id"]),
                &archivist,
                &json!({"status": "done"}),
            )
            .await;
        let closed: Value = r.json().await.unwrap();
        assert_eq!(closed["link"], "", "{closed}");
        assert!(closed.get("identity_id").is_none(), "{closed}");
    }
);

both_backends!(
    a_recipient_learned_of_a_message_archived_before_is_no_edit,
    |b: Backend| async move {
        use sea_orm::{ActiveModelTrait, ColumnTrait, IntoActiveModel, QueryFilter, Set};
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let (_, officer) = app.token("officer").await;
        let messenger = channel(&app, &archivist, "messenger", MESSENGER_PAGE).await;
        let answer = page_answer(MESSENGER_PAGE, MESSENGER_PERSON, "mid.answer", "Vi ringer.");
        assert_eq!(
            import(&app, &archivist, messenger, &answer).await.status(),
            200
        );
        let id = ids_by_platform_id(&app, &officer).await["m_mid.answer"];
        let person = identity_id(&app, &officer, "messenger", MESSENGER_PERSON).await;

        // As an archive made before recipients were kept holds it: no recipient in the row or
        // in the version's content (whose hash is over that content).
        let v = entities::record_version::Entity::find()
            .filter(entities::record_version::Column::RecordId.eq(id))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let mut old = insyn::archive::rules::Content::from_canonical(&v.content).unwrap();
        assert!(old.recipient_platform_id.is_some());
        old.recipient_platform_id = None;
        let (content, hash) = {
            let c = old.canonical();
            let h = insyn::archive::rules::fixity_of(&c);
            (c, h)
        };
        let mut a = v.into_active_model();
        a.content = Set(content);
        a.hash = Set(hash.clone());
        a.update(&app.db).await.unwrap();
        let r = entities::record::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let mut a = r.into_active_model();
        a.current_hash = Set(hash);
        a.recipient_identity_id = Set(None);
        a.update(&app.db).await.unwrap();
        assert!(
            get(
                &app,
                &officer,
                &format!("/api/v1/records?recipient={person}")
            )
            .await["records"]
                .as_array()
                .unwrap()
                .is_empty()
        );

        // The same delivery again: the row learns whom it went to; no version says it changed.
        let r = import(&app, &archivist, messenger, &answer).await;
        let counts: Value = r.json().await.unwrap();
        assert_eq!(
            (&counts["unchanged"], &counts["new_versions"]),
            (&json!(1), &json!(0)),
            "{counts}"
        );
        let rec = get(&app, &officer, &format!("/api/v1/records/{id}")).await;
        assert_eq!(rec["versions"].as_array().unwrap().len(), 1, "{rec}");
        assert_eq!(rec["recipient_identity_id"], person);
        let verify = get(&app, &officer, &format!("/api/v1/records/{id}/verify")).await;
        assert_eq!(verify["intact"], true);
    }
);
